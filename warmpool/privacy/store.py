"""The privacy store: what Warmpool keeps to prove it honoured people's rights, and nothing more.

Two SQLite files in ``Settings.privacy_dir``, owned by this module only:

``privacy.sqlite`` — no personal data, only keyed hashes (``warmpool.privacy.keys``):
  ``do_not_reingest``  keyed hashes of an erased person's emails, phones, profile URLs and source
                       records; ingestion drops a record that carries one
  ``erasures``         the erasure log: one row per executed erasure (the subject's keyed hash, how it
                       was asked, when, the deadline, rows removed per store, held records)
  ``web_requests_done`` the web store's erasure requests already worked (the queue's progress)
  ``rewritten_files``  landing files rewritten without an erased person's rows (their new sha256):
                       the vendor loader skips them, so a rewrite is not a new purchase
  ``access_log``       every privacy operation and who ran it (export, erase, retention, auditor export)

``legal_hold.sqlite`` (file mode 0600) — the restricted place: the minimal fields of records a law
obliges Warmpool to keep although the person asked to be erased (an applicant record inside the
OFCCP/Title VII period, a search-audit row inside its floor), each with the date its hold ends;
``release_expired`` erases them then.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from warmpool.config import Settings, get_settings
from warmpool.sqlite_store import compact as compact_sqlite

SCHEMA = """
create table if not exists do_not_reingest (
    key          text primary key,   -- HMAC-SHA256 of kind + normalised identifier
    kind         text not null,      -- email | phone | profile_url | source_record | person
    erasure_id   text not null,
    added_at     text not null
);
create table if not exists erasures (
    erasure_id    text primary key,
    subject_key   text not null,      -- keyed hash of the person id (or of the email when never ingested)
    requested_at  text not null,
    requested_via text not null,      -- cli | web:<request_seq> | retention
    deadline      text not null,      -- one month after the request
    executed_at   text not null,
    stores        text not null,      -- JSON: rows or files removed per store
    held_records  integer not null default 0
);
create table if not exists web_requests_done (
    request_seq   integer primary key,
    erasure_id    text not null
);
create table if not exists rewritten_files (
    sha256        text primary key,   -- the file's content after the rewrite
    vendor        text not null,
    file_name     text not null,
    rewritten_at  text not null
);
create table if not exists access_log (
    seq           integer primary key autoincrement,
    at            text not null,
    actor         text not null,
    action        text not null,      -- export | erase | retention | retention_dry_run | auditor_export | hold_release
    subject_key   text,
    detail        text
);
"""

HOLD_SCHEMA = """
create table if not exists holds (
    hold_id       integer primary key autoincrement,
    subject_key   text not null,
    kind          text not null,      -- applicant_record | search_audit
    reason        text not null,      -- the law and what it requires
    held_until    text not null,      -- ISO date: erased on the first run after it
    recorded_at   text not null,
    record        text not null       -- JSON: the minimal fields only
);
create index if not exists holds_by_end on holds (held_until);
"""


def now_iso(at: dt.datetime | None = None) -> str:
    return (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _connect(path: Path, schema: str, private: bool = False) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    if private and not path.exists():
        path.touch(mode=0o600)
    con = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute("pragma secure_delete=on")  # a deleted row's bytes are overwritten, not left in free pages
    con.execute("pragma busy_timeout=30000")
    con.executescript(schema)
    return con


class PrivacyStore:
    def __init__(self, settings: Settings | None = None):
        s = settings or get_settings()
        self.path = Path(s.privacy_dir) / "privacy.sqlite"
        self.hold_path = Path(s.privacy_dir) / "legal_hold.sqlite"
        self.con = _connect(self.path, SCHEMA)
        self.holds = _connect(self.hold_path, HOLD_SCHEMA, private=True)

    def close(self) -> None:
        self.con.close()
        self.holds.close()

    def __enter__(self) -> "PrivacyStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- do-not-reingest -------------------------------------------------------------------
    def add_do_not_reingest(self, keys: Iterable[tuple[str, str]], erasure_id: str, at: str) -> int:
        """Add (kind, key) pairs; returns how many were new."""
        before = self.con.total_changes
        self.con.executemany("insert or ignore into do_not_reingest values (?, ?, ?, ?)",
                             [(k, kind, erasure_id, at) for kind, k in keys])
        return self.con.total_changes - before

    def do_not_reingest(self) -> frozenset[str]:
        return frozenset(r[0] for r in self.con.execute("select key from do_not_reingest"))

    # --- the erasure log and the web queue -----------------------------------------------------
    def log_erasure(self, row: dict[str, Any]) -> None:
        self.con.execute("insert or replace into erasures values (:erasure_id, :subject_key, :requested_at, "
                         ":requested_via, :deadline, :executed_at, :stores, :held_records)",
                         dict(row, stores=json.dumps(row["stores"], sort_keys=True)))

    def erasures(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        rows = self.con.execute("select * from erasures where executed_at >= ? and executed_at < ? "
                                "order by executed_at", (since or "", until or "9999")).fetchall()
        return [dict(r, stores=json.loads(r["stores"])) for r in rows]

    def erasure_for_subject(self, subject_key: str) -> dict[str, Any] | None:
        row = self.con.execute("select * from erasures where subject_key = ? order by executed_at limit 1",
                               (subject_key,)).fetchone()
        return dict(row) if row else None

    def web_requests_done(self) -> set[int]:
        return {r[0] for r in self.con.execute("select request_seq from web_requests_done")}

    def mark_web_requests_done(self, request_seqs: Iterable[int], erasure_id: str) -> None:
        self.con.executemany("insert or ignore into web_requests_done values (?, ?)",
                             [(int(s), erasure_id) for s in request_seqs])

    # --- rewritten landing files ----------------------------------------------------------------
    def add_rewritten_file(self, sha256: str, vendor: str, file_name: str, at: str) -> None:
        self.con.execute("insert or ignore into rewritten_files values (?, ?, ?, ?)", (sha256, vendor, file_name, at))

    def rewritten_files(self) -> set[str]:
        return {r[0] for r in self.con.execute("select sha256 from rewritten_files")}

    # --- access log ------------------------------------------------------------------------------
    def log_access(self, actor: str, action: str, subject_key: str | None = None, detail: Any = None,
                   at: str | None = None) -> None:
        self.con.execute("insert into access_log (at, actor, action, subject_key, detail) values (?, ?, ?, ?, ?)",
                         (at or now_iso(), actor, action, subject_key,
                          None if detail is None else json.dumps(detail, sort_keys=True, default=str)))

    def access_log(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in self.con.execute("select * from access_log where at >= ? and at < ? order by seq",
                                                  (since or "", until or "9999"))]

    # --- legal hold ------------------------------------------------------------------------------
    def hold(self, subject_key: str, kind: str, reason: str, held_until: str, record: dict[str, Any],
             at: str) -> None:
        self.holds.execute("insert into holds (subject_key, kind, reason, held_until, recorded_at, record) "
                           "values (?, ?, ?, ?, ?, ?)",
                           (subject_key, kind, reason, held_until, at, json.dumps(record, sort_keys=True, default=str)))

    def held(self, subject_key: str | None = None) -> list[dict[str, Any]]:
        rows = self.holds.execute("select * from holds where ? is null or subject_key = ? order by hold_id",
                                  (subject_key, subject_key)).fetchall()
        return [dict(r, record=json.loads(r["record"])) for r in rows]

    def held_subjects(self, on: str) -> set[str]:
        """Subjects with a hold still running on date ``on`` (ISO)."""
        return {r[0] for r in self.holds.execute("select subject_key from holds where held_until >= ?", (on,))}

    def release_expired(self, on: str) -> int:
        """Erase held records whose hold ended before ``on`` (ISO date); returns how many."""
        n = self.holds.execute("delete from holds where held_until < ?", (on,)).rowcount
        if n:
            compact_sqlite(self.holds)
        return n

    def compact(self) -> None:
        compact_sqlite(self.con)
        compact_sqlite(self.holds)


@contextmanager
def privacy_store(settings: Settings | None = None) -> Iterator[PrivacyStore]:
    store = PrivacyStore(settings)
    try:
        yield store
    finally:
        store.close()


def restrict(path: Path) -> None:
    """Owner-only permissions on a file holding held records or an export."""
    os.chmod(path, 0o600)
