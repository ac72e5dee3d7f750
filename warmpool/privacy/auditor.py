"""Auditor exports: for a date range, the records that show Warmpool kept the rules, as CSV files a
spreadsheet opens, with a ``manifest.json`` (period, files, rows, when made).

- ``consent_evidence.csv``  every consent, confirmation, withdrawal and suppressing event in the period
                            (who, when, channel, the wording's version and SHA-256, IP, user agent)
- ``erasure_log.csv``       erasures carried out in the period (keyed subject, how asked, deadline, when
                            done, rows removed per store, records held)
- ``search_audit.csv``      every search of the resume database in the period: who, when, the
                            requisition, the query and filters, the person ids returned (41 CFR 60-1.12)
- ``access_log.csv``        every privacy operation in the period and who ran it
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from warmpool import tables
from warmpool.config import Settings, get_settings
from warmpool.privacy.render import write_csv, write_private
from warmpool.privacy.store import now_iso, privacy_store
from warmpool.search import audit_log
from warmpool.warehouse import table_exists, warehouse

CONSENT_TABLE = f"{tables.MARTS}.fct_consent_records"
CONSENT_COLUMNS = ["consent_event_id", "person_id", "email", "event", "occurred_at", "channel", "wording_version",
                   "wording_hash", "ip", "user_agent", "submission_id", "provider_event_id", "campaign_id"]
ERASURE_COLUMNS = ["erasure_id", "subject_key", "requested_at", "requested_via", "deadline", "executed_at",
                   "stores", "held_records"]
ACCESS_COLUMNS = ["seq", "at", "actor", "action", "subject_key", "detail"]


def export_for_auditor(since: dt.date, until: dt.date, output_dir: Path, settings: Settings | None = None,
                       actor: str = "cli") -> dict:
    """Write the period's files (``since`` inclusive, ``until`` exclusive) into ``output_dir``; the manifest."""
    s = settings or get_settings()
    start, end = since.isoformat(), until.isoformat()
    output_dir = Path(output_dir)
    files: dict[str, int] = {}
    consent: list[dict] = []
    if Path(s.warehouse_path).exists():
        with warehouse(s.warehouse_path, read_only=True) as con:
            if table_exists(con, CONSENT_TABLE):
                cur = con.execute(f"select {', '.join(CONSENT_COLUMNS)} from {CONSENT_TABLE} "
                                  "where occurred_at >= ?::timestamp and occurred_at < ?::timestamp "
                                  "order by occurred_at, consent_event_id", [start, end])
                consent = [dict(zip(CONSENT_COLUMNS, r)) for r in cur.fetchall()]
    write_csv(output_dir / "consent_evidence.csv", consent, CONSENT_COLUMNS)
    files["consent_evidence.csv"] = len(consent)
    with privacy_store(s) as privacy:
        erasures = privacy.erasures(start, end)
        write_csv(output_dir / "erasure_log.csv", erasures, ERASURE_COLUMNS)
        files["erasure_log.csv"] = len(erasures)
        searches: list[dict] = []
        if s.search_audit_path.exists():
            with audit_log.audit_log(s.search_audit_path) as con:
                searches = audit_log.rows(con, dt.datetime.combine(since, dt.time(), dt.timezone.utc),
                                          dt.datetime.combine(until, dt.time(), dt.timezone.utc))
        write_csv(output_dir / "search_audit.csv", searches, list(audit_log.COLUMNS))
        files["search_audit.csv"] = len(searches)
        accesses = privacy.access_log(start, end)
        write_csv(output_dir / "access_log.csv", accesses, ACCESS_COLUMNS)
        files["access_log.csv"] = len(accesses)
        manifest = {"period": {"from": start, "until_exclusive": end}, "generated_at": now_iso(), "files": files}
        privacy.log_access(actor, "auditor_export", None, manifest)
    write_private(output_dir / "manifest.json", json.dumps(manifest, indent=2))
    return manifest
