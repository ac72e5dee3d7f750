"""Durable store of the candidate-facing web service (SQLite in WAL mode).

The web service writes here (many concurrent requests; SQLite's WAL handles that on one machine),
the sandbox seeds history here, and the pipeline reads from here incrementally by the
monotonically increasing ``submission_id`` / ``received_seq``. It is deliberately not the warehouse's
DuckDB file, which has one writer at a time. No web framework imports: plain functions.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

SCHEMA = """
create table if not exists form_submissions (
    submission_id        integer primary key autoincrement,
    form                 text not null check (form in ('talent_network', 'referral')),
    submitted_at         text not null,              -- ISO-8601 UTC
    first_name           text,
    last_name            text,
    email                text,
    phone                text,
    city                 text,
    region               text,
    country              text,
    linkedin_url         text,
    current_title        text,
    current_company      text,
    skills               text,                       -- ';'-separated
    job_families         text,                       -- ';'-separated interests
    years_experience     text,
    resume_text          text,
    consent_marketing    integer not null default 0, -- ticked by the person (never pre-ticked)
    consent_wording_version text,
    consent_wording_hash text,
    confirmed_at         text,                       -- double opt-in confirmation; null = pending
    ip                   text,
    user_agent           text,
    referrer_name        text,
    referrer_email       text,
    relationship         text
);
create table if not exists email_events (
    received_seq         integer primary key autoincrement,
    provider_event_id    text not null unique,       -- a repeated delivery is stored once
    provider             text not null,
    event                text not null check (event in
                           ('delivered','open','click','bounce','complaint','unsubscribe')),
    email                text not null,
    campaign_id          text,
    message_id           text,
    occurred_at          text not null,
    url                  text,
    bounce_type          text,                       -- hard / soft for bounces
    is_machine_open      integer not null default 0, -- e.g. Apple Mail Privacy Protection prefetch
    payload              text                        -- the provider's raw JSON
);
"""

FORM_COLUMNS = (
    "form", "submitted_at", "first_name", "last_name", "email", "phone", "city", "region", "country",
    "linkedin_url", "current_title", "current_company", "skills", "job_families", "years_experience",
    "resume_text", "consent_marketing", "consent_wording_version", "consent_wording_hash", "confirmed_at",
    "ip", "user_agent", "referrer_name", "referrer_email", "relationship",
)
EVENT_COLUMNS = (
    "provider_event_id", "provider", "event", "email", "campaign_id", "message_id", "occurred_at", "url",
    "bounce_type", "is_machine_open", "payload",
)


def connect(path: Path) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=full")  # acknowledged means on disk
    con.execute("pragma busy_timeout=30000")
    con.executescript(SCHEMA)
    return con


@contextmanager
def store(path: Path) -> Iterator[sqlite3.Connection]:
    con = connect(path)
    try:
        yield con
    finally:
        con.close()


def insert_submissions(con: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> int:
    cols = ",".join(FORM_COLUMNS)
    marks = ",".join("?" for _ in FORM_COLUMNS)
    with con:  # one transaction
        con.execute("begin")
        cur = con.executemany(
            f"insert into form_submissions ({cols}) values ({marks})",
            ([row.get(c) for c in FORM_COLUMNS] for row in rows),
        )
    return cur.rowcount


def insert_email_events(con: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Insert provider events; an event id seen before is ignored (idempotent)."""
    cols = ",".join(EVENT_COLUMNS)
    marks = ",".join("?" for _ in EVENT_COLUMNS)

    def values(row: dict[str, Any]) -> list[Any]:
        out = [row.get(c) for c in EVENT_COLUMNS]
        payload = row.get("payload")
        if payload is not None and not isinstance(payload, str):
            out[-1] = json.dumps(payload, sort_keys=True)
        if out[EVENT_COLUMNS.index("is_machine_open")] is None:
            out[EVENT_COLUMNS.index("is_machine_open")] = 0
        return out

    with con:
        con.execute("begin")
        cur = con.executemany(
            f"insert into email_events ({cols}) values ({marks}) on conflict(provider_event_id) do nothing",
            (values(r) for r in rows),
        )
    return cur.rowcount


def read_submissions_after(con: sqlite3.Connection, after_id: int, limit: int = 10_000) -> list[dict[str, Any]]:
    rows = con.execute(
        "select * from form_submissions where submission_id > ? order by submission_id limit ?", (after_id, limit)
    ).fetchall()
    return [dict(r) for r in rows]


def read_email_events_after(con: sqlite3.Connection, after_seq: int, limit: int = 10_000) -> list[dict[str, Any]]:
    rows = con.execute(
        "select * from email_events where received_seq > ? order by received_seq limit ?", (after_seq, limit)
    ).fetchall()
    return [dict(r) for r in rows]
