"""Erasure carried out, and the access export, over every store in the registry.

``erase(asked_as, stores)``:
 1. locate the person: from an address or any person id they ever had to every record, person id,
    address, phone and profile URL Warmpool holds (``warehouse.WarehouseRows.locate``, identity's ids,
    the web store's submissions);
 2. put the keyed hashes of those identifiers on the do-not-reingest list *first*, so a pipeline run
    that starts meanwhile cannot bring back what step 4 removes;
 3. copy what a law obliges Warmpool to keep (an applicant record inside its hold period) with its
    minimal fields into the legal-hold store, with the date the hold ends;
 4. ask every store's owner to forget the person (the warehouse's stores in one transaction);
 5. build the aggregate marts again so their counts leave the person out, and rewrite their exports
    (``aggregates``); compact the warehouse file (and each SQLite store compacts itself) so the bytes
    are gone;
 6. log the erasure (keyed subject, counts per store, deadline) — no personal data.
Re-running it is safe: a person already erased is found nowhere and nothing changes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from warmpool import tables, web_store
from warmpool.config import Settings, get_settings
from warmpool.privacy.aggregates import rebuild_aggregates
from warmpool.privacy.keys import EMAIL, PERSON, PHONE, PROFILE_URL, SOURCE_RECORD, Keyer
from warmpool.privacy.registry import Context, Store
from warmpool.privacy.rules import PrivacyRules
from warmpool.privacy.store import PrivacyStore, now_iso, privacy_store
from warmpool.privacy.warehouse import Subject, WarehouseRows
from warmpool.warehouse import compact, connect, table_exists

T = TypeVar("T")
APPLICANT_HOLD_REASON = ("applicant record: 41 CFR 60-1.12 (OFCCP) and 29 CFR 1602.14 (Title VII) oblige keeping "
                         "it for the hold period after the last action on the application")


@dataclass
class ErasureReport:
    erasure_id: str
    asked_as: str
    found: bool
    person_ids: int
    records: int
    stores: dict[str, dict[str, int]] = field(default_factory=dict)
    held_records: int = 0
    do_not_reingest_added: int = 0
    warehouse_bytes: tuple[int, int] | None = None
    aggregates: dict[str, int] = field(default_factory=dict)  # aggregate marts rebuilt, exports rewritten
    seconds: dict[str, float] = field(default_factory=dict)   # where the time went: each step and store

    @property
    def rows_removed(self) -> int:
        """Rows and files removed (rows a store keeps under a legal hold, ``kept_*``, are not)."""
        return sum(n for v in self.stores.values() for k, n in v.items() if not k.startswith("kept"))

    def describe(self) -> str:
        lines = [f"erasure {self.erasure_id}: {self.person_ids} person id(s), {self.records} source record(s)"]
        for name, places in self.stores.items():
            if places:
                lines.append(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in sorted(places.items())))
        lines.append(f"  held under legal hold: {self.held_records} record(s); do-not-reingest keys added: "
                     f"{self.do_not_reingest_added}")
        if self.aggregates:
            lines.append(f"  aggregates rebuilt without them: {self.aggregates.get('marts_rebuilt', 0)} mart(s), "
                         f"{self.aggregates.get('exports_rewritten', 0)} export file(s)")
        if self.warehouse_bytes:
            lines.append(f"  warehouse compacted: {self.warehouse_bytes[0]:,} -> {self.warehouse_bytes[1]:,} bytes")
        return "\n".join(lines)


def _utc(at: dt.datetime | None) -> dt.datetime:
    return (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)


def new_subject(asked_as: str) -> Subject:
    asked = asked_as.strip()
    subject = Subject(asked)
    if "@" in asked:
        subject.add_emails([asked])
    else:
        subject.person_ids.add(asked)
    return subject


def locate(subject: Subject, settings: Settings, con) -> Subject:
    """``subject`` filled from the web store and the warehouse (``con``: open, may be read-only)."""
    if settings.web_store_path.exists():
        with web_store.store(settings.web_store_path) as wcon:
            subject.submission_ids |= set(web_store.person_submission_ids(wcon, subject.emails))
    if con is not None:
        WarehouseRows(con, settings).locate(subject)
    if settings.web_store_path.exists():  # addresses found in the warehouse may have web rows too
        with web_store.store(settings.web_store_path) as wcon:
            subject.submission_ids |= set(web_store.person_submission_ids(wcon, subject.emails))
    return subject


def subject_key(subject: Subject, keyer: Keyer) -> str:
    """The keyed name the logs use for a person: their smallest person id, else the address asked."""
    if subject.person_ids:
        return keyer.key(PERSON, min(subject.person_ids)) or ""
    return keyer.key(EMAIL, subject.asked_as) or keyer.key(PERSON, subject.asked_as) or ""


def do_not_reingest_keys(subject: Subject, keyer: Keyer) -> list[tuple[str, str]]:
    keys = [(EMAIL, k) for k in keyer.keys(EMAIL, subject.emails)]
    keys += [(PHONE, k) for k in keyer.keys(PHONE, subject.phones)]
    keys += [(PROFILE_URL, k) for k in keyer.keys(PROFILE_URL, subject.profile_urls)]
    keys += [(SOURCE_RECORD, keyer.record_key(s, r)) for s, r in sorted(subject.records)]
    return keys


def applicant_holds(con, subject: Subject, rules: PrivacyRules, today: dt.date) -> list[tuple[str, dict]]:
    """(held_until, minimal record) for each of the person's applications still inside its hold."""
    if con is None or not subject.person_ids or not table_exists(con, tables.FCT_APPLICATIONS):
        return []
    rows = con.execute(f"""select a.application_id, a.job_id, a.job_name, a.applied_at, a.status, a.current_stage,
            a.rejected_at, a.rejection_reason, a.hired_at,
            greatest(a.applied_at, a.last_activity_at, a.rejected_at, a.hired_at) as last_action_at,
            c.first_name, c.last_name, c.email
        from {tables.FCT_APPLICATIONS} a left join {tables.DIM_CANDIDATES} c using (person_id)
        where a.person_id in (select unnest(?::VARCHAR[]))""", [sorted(subject.person_ids)]).fetchall()
    names = ("application_id", "job_id", "job_name", "applied_at", "status", "current_stage", "rejected_at",
             "rejection_reason", "hired_at", "last_action_at", "first_name", "last_name", "email")
    held = []
    for row in rows:
        record = dict(zip(names, row))
        last = record["last_action_at"]
        if last is None:
            continue
        until = (last.date() if hasattr(last, "date") else last) + dt.timedelta(days=rules.applicant_hold_days)
        if until >= today:
            held.append((until.isoformat(), {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                             for k, v in record.items()}))
    return held


def erase(asked_as: str | Subject, stores: Sequence[Store], settings: Settings | None = None, *,
          requested_via: str = "cli", requested_at: dt.datetime | None = None, at: dt.datetime | None = None,
          actor: str = "cli", finish: bool = True) -> ErasureReport:
    """Erase one person from every store (see the module's docstring). ``at`` is the clock (tests).
    ``finish`` False: the caller erasing several people runs ``finish_erasures`` once after the last."""
    s = settings or get_settings()
    keyer = Keyer.from_settings(s)  # refuses the sandbox's public key outside demo mode
    rules = PrivacyRules.from_settings(s)
    now = _utc(at)
    subject = new_subject(asked_as) if isinstance(asked_as, str) else asked_as
    con = connect(s.warehouse_path) if Path(s.warehouse_path).exists() else None
    report_seconds: dict[str, float] = {}
    with privacy_store(s) as privacy:
        try:
            _timed(report_seconds, "locate", lambda: locate(subject, s, con))
            key = subject_key(subject, keyer)
            erasure_id = "er-" + hashlib.sha256(f"{key}|{now_iso(now)}".encode()).hexdigest()[:16]
            added = privacy.add_do_not_reingest(do_not_reingest_keys(subject, keyer), erasure_id, now_iso(now))
            held = applicant_holds(con, subject, rules, now.date())
            for until, record in held:
                privacy.hold(key, "applicant_record", APPLICANT_HOLD_REASON, until, record, now_iso(now))
            report = ErasureReport(erasure_id, subject.asked_as, subject.found, len(subject.person_ids),
                                   len(subject.records), held_records=len(held), do_not_reingest_added=added,
                                   seconds=report_seconds)
            ctx = Context(s, con, keyer, privacy, now_iso(now), removed=report.stores)
            if con is not None:
                con.execute("begin transaction")
                try:
                    for store in stores:
                        if store.warehouse:
                            report.stores[store.name] = _timed(report.seconds, store.name,
                                                               lambda: store.forget(subject, ctx))
                    con.execute("commit")
                except BaseException:
                    con.execute("rollback")
                    raise
        finally:
            if con is not None:
                con.close()
        ctx.con = None
        for store in stores:
            if not store.warehouse:
                report.stores[store.name] = _timed(report.seconds, store.name, lambda: store.forget(subject, ctx))
        if finish and (report.stores.get("warehouse") or report.stores.get("identity")):
            report.aggregates, report.warehouse_bytes = finish_erasures(s, report.seconds)
        privacy.log_erasure({"erasure_id": erasure_id, "subject_key": key,
                             "requested_at": now_iso(_utc(requested_at or now)), "requested_via": requested_via,
                             "deadline": (_utc(requested_at or now) + dt.timedelta(days=rules.erasure_deadline_days)
                                          ).date().isoformat(),
                             "executed_at": now_iso(now), "stores": report.stores, "held_records": len(held)})
        privacy.log_access(actor, "erase", key, {"erasure_id": erasure_id, "rows_removed": report.rows_removed}, now_iso(now))
        privacy.compact()
    return report


def finish_erasures(settings: Settings, seconds: dict[str, float] | None = None
                    ) -> tuple[dict[str, int], tuple[int, int]]:
    """After the erasures of one run: the aggregate marts and their exports rebuilt without the people
    (``aggregates``), then the warehouse file compacted; (what was rebuilt, bytes before and after)."""
    seconds = {} if seconds is None else seconds
    rebuilt = _timed(seconds, "aggregates", lambda: rebuild_aggregates(settings))
    return rebuilt, _timed(seconds, "compaction", lambda: compact(settings.warehouse_path))


def _timed(seconds: dict[str, float], name: str, step: Callable[[], T]) -> T:
    started = time.perf_counter()
    try:
        return step()
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started


def work_queue(stores: Sequence[Store], settings: Settings | None = None, *, at: dt.datetime | None = None,
               actor: str = "dagster") -> list[ErasureReport]:
    """Carry out every confirmed erasure request of the web store not worked yet, oldest first."""
    s = settings or get_settings()
    with privacy_store(s) as privacy:
        done = privacy.web_requests_done()
    with web_store.reader(s.web_store_path) as wcon:
        queue = web_store.erasure_requests_after(wcon, done)
    reports = []
    for request in queue:
        requested = dt.datetime.fromisoformat(str(request["requested_at"]).replace("Z", "+00:00"))
        report = erase(request["email"], stores, s, requested_via=f"web:{request['request_seq']}",
                       requested_at=requested, at=at, actor=actor, finish=False)
        with privacy_store(s) as privacy:
            privacy.mark_web_requests_done([request["request_seq"]], report.erasure_id)
        reports.append(report)
    if any(r.stores.get("warehouse") or r.stores.get("identity") for r in reports):
        reports[-1].aggregates, reports[-1].warehouse_bytes = finish_erasures(s, reports[-1].seconds)
    return reports


def export_person(asked_as: str, stores: Sequence[Store], settings: Settings | None = None, *,
                  at: dt.datetime | None = None, actor: str = "cli") -> dict[str, Any]:
    """Everything held on the person, per store (``found`` False when nothing matches)."""
    s = settings or get_settings()
    keyer = Keyer.from_settings(s)
    now = _utc(at)
    subject = new_subject(asked_as)
    con = connect(s.warehouse_path, read_only=True) if Path(s.warehouse_path).exists() else None
    with privacy_store(s) as privacy:
        try:
            locate(subject, s, con)
            ctx = Context(s, con, keyer, privacy, now_iso(now))
            held: dict[str, Any] = {}
            for store in stores:
                if store.export is not None and (con is not None or not store.warehouse):
                    found = store.export(subject, ctx)
                    if found:
                        held[store.name] = found
        finally:
            if con is not None:
                con.close()
        key = subject_key(subject, keyer)
        legal_hold = privacy.held(key)
        privacy.log_access(actor, "export", key, {"stores": sorted(held)}, now_iso(now))
    return {"asked_as": subject.asked_as, "generated_at": now_iso(now), "found": bool(held or legal_hold),
            "person_ids": sorted(subject.person_ids),
            "source_records": [{"source": src, "source_record_id": rid} for src, rid in sorted(subject.records)],
            "stores": held, "legal_hold": legal_hold,
            # the wording behind each consent's version and SHA-256 (the brand's current one)
            "consent_wording": {s.brand.consent_version: {"text": s.brand.consent_text, "sha256": s.brand.consent_hash}},
            "where_each_store_lives": [{"store": st.name, "owner": st.owner, "holds": st.holds} for st in stores]}
