"""The search audit log: one append-only row per search, kept for OFCCP record keeping.

41 CFR 60-1.12 asks a contractor that searches an internal resume database to keep, for each
search, the position it was for, the criteria used and the date, for two years. Every search a
person makes (command line, search page, saved search, look-up, talent rediscovery, notebook) writes
one row here: who, when, the requisition if given, the query and filters verbatim, and the person
ids returned, in the order shown.

This module is the only code that opens the file (``Settings.search_audit_path``, SQLite in WAL
mode, its own file so a legal hold or a retention purge never touches anything else). The store
itself refuses changes: triggers abort every UPDATE, and every DELETE of a row still inside its
retention period (``retain_until`` = searched_at + the retention floor, default 730 days, set
when the row is written). Reads: ``rows`` and ``export_csv`` for an audit period.
"""
from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

from warmpool.sqlite_store import open_store, opened

DEFAULT_RETENTION_DAYS = 730
CHANNELS = ("cli", "page", "saved_search", "lookup", "rediscovery", "notebook")
COLUMNS = ("audit_seq", "searched_at", "searched_by", "channel", "requisition_id", "query", "filters",
           "result_person_ids", "result_count", "retain_until")

SCHEMA = f"""
create table if not exists search_audit (
    audit_seq          integer primary key autoincrement,
    searched_at        text not null,                        -- ISO-8601 UTC
    searched_by        text not null check (length(trim(searched_by)) > 0),
    channel            text not null check (channel in ({", ".join(f"'{c}'" for c in CHANNELS)})),
    requisition_id     text,                                 -- the ATS job / requisition, when given
    query              text not null,                        -- verbatim
    filters            text not null,                        -- JSON, verbatim
    result_person_ids  text not null,                        -- JSON list, in the order shown
    result_count       integer not null,
    retain_until       text not null                         -- ISO-8601 UTC; no delete before it
);
create index if not exists search_audit_searched_at on search_audit(searched_at);
create trigger if not exists search_audit_refuses_update before update on search_audit
begin
    select raise(abort, 'search audit rows are append-only: an update is refused');
end;
create trigger if not exists search_audit_refuses_early_delete before delete on search_audit
when old.retain_until > strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
begin
    select raise(abort, 'search audit rows are kept until their retention date: a delete is refused');
end;
"""


class AuditError(ValueError):
    """A search could not be recorded (a required field is missing)."""


@dataclass(frozen=True)
class AuditEntry:
    searched_by: str
    channel: str
    query: str
    filters: dict[str, Any]
    result_person_ids: Sequence[str]
    requisition_id: str | None = None


def _utc(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def connect(path: Path) -> sqlite3.Connection:
    return open_store(path, SCHEMA)


def audit_log(path: Path):
    """The store at ``path``, opened for a ``with`` block and closed after it."""
    return opened(path, SCHEMA)


def record(con: sqlite3.Connection, entry: AuditEntry, *, retention_days: int = DEFAULT_RETENTION_DAYS,
           at: datetime | None = None) -> int:
    """Append one search; returns its audit_seq."""
    if not entry.searched_by or not str(entry.searched_by).strip():
        raise AuditError("a search must name who searched (searched_by)")
    if entry.channel not in CHANNELS:
        raise AuditError(f"unknown channel {entry.channel!r}; one of {', '.join(CHANNELS)}")
    if retention_days < 1:
        raise AuditError("the retention floor must be at least one day")
    at = at or datetime.now(timezone.utc)
    ids = [str(p) for p in entry.result_person_ids]
    cur = con.execute(
        f"insert into search_audit ({', '.join(COLUMNS[1:])}) values (?,?,?,?,?,?,?,?,?)",
        (_utc(at), str(entry.searched_by).strip(), entry.channel, entry.requisition_id, entry.query or "",
         json.dumps(entry.filters or {}, sort_keys=True, default=str), json.dumps(ids), len(ids),
         _utc(at + timedelta(days=retention_days))))
    return int(cur.lastrowid)


def rows(con: sqlite3.Connection, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """Audit rows with ``start <= searched_at < end`` (UTC), oldest first."""
    sql = f"select {', '.join(COLUMNS)} from search_audit where 1=1"
    args: list[str] = []
    if start is not None:
        sql += " and searched_at >= ?"
        args.append(_utc(start))
    if end is not None:
        sql += " and searched_at < ?"
        args.append(_utc(end))
    return [dict(r) for r in con.execute(sql + " order by audit_seq", args).fetchall()]


def export_csv(con: sqlite3.Connection, output: Path, start: datetime | None = None,
               end: datetime | None = None) -> int:
    """Write the audit period's rows to ``output`` (CSV, every column); returns the row count."""
    found = rows(con, start, end)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(found)
    return len(found)
