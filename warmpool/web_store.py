"""Durable store of the candidate-facing web service (SQLite in WAL mode).

The web service writes here (many concurrent requests; SQLite's WAL handles that on one machine),
the sandbox seeds history here, the pipeline reads from here incrementally by each table's
monotonically increasing key, and the campaign sender reads the consent events right before each
mail. This module is the one owner of the schema and of every read and write: nothing else runs SQL
against the store. It is deliberately not the warehouse's DuckDB file, which has one writer at a
time. No web framework imports: plain functions.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from warmpool.emails import canonical_email
from warmpool.sqlite_store import compact, open_store

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
    con = open_store(path, SCHEMA)
    # Suppression compares mailboxes, not spellings (Gmail dots and +tags, case): the one canonical
    # form (`warmpool.emails`), as a SQL function so the queries below can use it.
    con.create_function("canonical_email", 1, canonical_email, deterministic=True)
    return con


def _mailbox(email: str) -> str:
    """The key ``canonical_email(column) = ?`` compares on (an address with no usable shape: itself)."""
    return canonical_email(email) or email.strip().lower()


@contextmanager
def store(path: Path) -> Iterator[sqlite3.Connection]:
    """The store at ``path``, opened for a ``with`` block and closed after it."""
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


# --- Added for the web service (issue 6). Additive only: the tables above are the pipeline's
# contract and keep their shape. --------------------------------------------------------------

WEB_SCHEMA = """
-- Double opt-in confirmations, append-only. A confirmation updates an *old* form_submissions row,
-- which an incremental reader keyed on submission_id would miss; this table gives it an
-- increasing key of its own. token_nonce unique = each confirmation link works once.
create table if not exists consent_confirmations (
    confirmation_seq     integer primary key autoincrement,
    submission_id        integer not null references form_submissions(submission_id),
    token_nonce          text not null unique,
    confirmed_at         text not null,
    ip                   text,
    user_agent           text
);
-- Preference-centre changes, append-only (the latest row per email is the current state; the
-- history is the consent ledger for "withdrawing is as easy as giving").
create table if not exists preference_changes (
    change_seq           integer primary key autoincrement,
    email                text not null,
    person_id            text,
    campaign_id          text,
    topics               text,                       -- ';'-separated topic keys kept
    frequency            text,                       -- normal | monthly | quarterly
    unsubscribed_all     integer not null default 0,
    changed_at           text not null,
    source               text not null,              -- one_click | page
    ip                   text,
    user_agent           text
);
create index if not exists preference_changes_email on preference_changes(email, change_seq);
-- Mailgun webhook tokens seen (replay protection); written in the same transaction as the event.
create table if not exists webhook_tokens (
    provider             text not null,
    token                text not null,
    received_at          text not null,
    primary key (provider, token)
);
-- Mails the web service itself sent (confirmation, referral notice): the per-address daily cap.
create table if not exists web_mail_log (
    mail_seq             integer primary key autoincrement,
    email                text not null,
    kind                 text not null,              -- confirm | referral_notice
    submission_id        integer,
    claimed_at           text not null,
    sent_at              text,
    message_id           text
);
create index if not exists web_mail_log_email on web_mail_log(email, kind, claimed_at);
-- Erasure (GDPR Art. 17) requests, append-only, one per mailbox (the canonical address: case, Gmail
-- dots and +tags ignored): a repeat records nothing. The pipeline loads them into raw_forms.erasure_requests (int_candidate_consent
-- then suppresses the whole person) and the campaign sender blocks the address at send time.
create table if not exists erasure_requests (
    request_seq          integer primary key autoincrement,
    email                text not null,
    person_id            text,                       -- from the mail's signed link, if any
    campaign_id          text,
    requested_at         text not null,              -- ISO-8601 UTC
    ip                   text,
    user_agent           text,
    source               text not null               -- preference_centre | privacy_page
);
create index if not exists erasure_requests_email on erasure_requests(lower(trim(email)));
-- Single-use links (nonce of a signed token) other than the double opt-in's: the erasure
-- confirmation mailed from /privacy/erase, the access-export link mailed from /privacy/access.
create table if not exists used_link_tokens (
    purpose              text not null,
    nonce                text not null,
    used_at              text not null,
    primary key (purpose, nonce)
);
"""


def _ensure_web_schema(con: sqlite3.Connection) -> None:
    con.executescript(WEB_SCHEMA)


def connect_web(path: Path) -> sqlite3.Connection:
    """``connect`` plus the web service's own tables."""
    con = connect(path)
    _ensure_web_schema(con)
    return con


def insert_submission(con: sqlite3.Connection, row: dict[str, Any]) -> int:
    """Insert one form submission; returns its submission_id (committed when this returns)."""
    cols = ",".join(FORM_COLUMNS)
    marks = ",".join("?" for _ in FORM_COLUMNS)
    with con:
        con.execute("begin")
        cur = con.execute(f"insert into form_submissions ({cols}) values ({marks})", [row.get(c) for c in FORM_COLUMNS])
    return int(cur.lastrowid)


def get_submission(con: sqlite3.Connection, submission_id: int) -> dict[str, Any] | None:
    row = con.execute("select * from form_submissions where submission_id = ?", (submission_id,)).fetchone()
    return dict(row) if row else None


def confirm_submission(con: sqlite3.Connection, submission_id: int, email: str, token_nonce: str, at: str,
                       ip: str | None = None, user_agent: str | None = None) -> str:
    """Double opt-in: 'confirmed', 'used' (this link was used before) or 'unknown' (no such pending row)."""
    _ensure_web_schema(con)
    con.execute("begin immediate")
    try:
        if con.execute("select 1 from consent_confirmations where token_nonce = ?", (token_nonce,)).fetchone():
            con.execute("rollback")
            return "used"
        row = con.execute(
            "select confirmed_at from form_submissions where submission_id = ? and email = ? and form = 'talent_network'",
            (submission_id, email),
        ).fetchone()
        if row is None:
            con.execute("rollback")
            return "unknown"
        con.execute("insert into consent_confirmations (submission_id, token_nonce, confirmed_at, ip, user_agent) "
                    "values (?,?,?,?,?)", (submission_id, token_nonce, at, ip, user_agent))
        con.execute("update form_submissions set confirmed_at = ? where submission_id = ? and confirmed_at is null",
                    (at, submission_id))
        con.execute("commit")
        return "confirmed"
    except BaseException:
        con.execute("rollback")
        raise


def record_preferences(con: sqlite3.Connection, change: dict[str, Any],
                       unsubscribe_event: dict[str, Any] | None = None) -> None:
    """Append a preference change, and (for a full unsubscribe) the email event the pipeline's
    suppression reads, in one transaction. The event id is derived from the link, so repeats of
    the same unsubscribe are stored once."""
    cols = ("email", "person_id", "campaign_id", "topics", "frequency", "unsubscribed_all", "changed_at", "source",
            "ip", "user_agent")
    _ensure_web_schema(con)
    con.execute("begin immediate")
    try:
        latest = con.execute("select topics, frequency, unsubscribed_all from preference_changes where email = ? "
                             "order by change_seq desc limit 1", (change["email"],)).fetchone()
        same = latest is not None and (latest["topics"], latest["frequency"], latest["unsubscribed_all"]) == (
            change.get("topics"), change.get("frequency"), int(bool(change.get("unsubscribed_all"))))
        if not same:  # idempotent: a repeated one-click POST appends nothing
            con.execute(f"insert into preference_changes ({','.join(cols)}) values ({','.join('?' for _ in cols)})",
                        [int(bool(change.get(c))) if c == "unsubscribed_all" else change.get(c) for c in cols])
        if unsubscribe_event is not None:
            ev = [unsubscribe_event.get(c) for c in EVENT_COLUMNS]
            ev[EVENT_COLUMNS.index("is_machine_open")] = 0
            if not isinstance(ev[-1], (str, type(None))):
                ev[-1] = json.dumps(ev[-1], sort_keys=True)
            con.execute(f"insert into email_events ({','.join(EVENT_COLUMNS)}) values ({','.join('?' for _ in EVENT_COLUMNS)}) "
                        "on conflict(provider_event_id) do nothing", ev)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def current_preferences(con: sqlite3.Connection, email: str) -> dict[str, Any] | None:
    _ensure_web_schema(con)
    row = con.execute("select * from preference_changes where email = ? order by change_seq desc limit 1",
                      (email,)).fetchone()
    return dict(row) if row else None


def has_unsubscribed(con: sqlite3.Connection, email: str) -> bool:
    """Whether the mailbox ever unsubscribed or complained (here or at the provider), under any spelling
    of the address. The pipeline (`int_candidate_consent`) and the campaign sender treat that as
    permanent suppression."""
    _ensure_web_schema(con)
    row = con.execute("select 1 from email_events where event in ('unsubscribe', 'complaint') "
                      "and coalesce(canonical_email(email), lower(trim(email))) = ? limit 1",
                      (_mailbox(email),)).fetchone()
    return row is not None


def _spend_token(con: sqlite3.Connection, provider: str, token: str, at: str, forget_before: str | None) -> bool:
    """Inside a write transaction: record a signing token; False if it was seen before (a replay).
    Tokens received before ``forget_before`` go: their signatures are too old to be accepted again."""
    if forget_before is not None:
        con.execute("delete from webhook_tokens where provider = ? and received_at < ?", (provider, forget_before))
    return con.execute("insert into webhook_tokens (provider, token, received_at) values (?,?,?) "
                       "on conflict(provider, token) do nothing", (provider, token, at)).rowcount == 1


def spend_webhook_token(con: sqlite3.Connection, provider: str, token: str, at: str,
                        forget_before: str | None = None) -> bool:
    """Record the signing token of a webhook request that carries no events (an inbound reply);
    False when it was seen before: the request is a replay."""
    _ensure_web_schema(con)
    con.execute("begin immediate")
    try:
        fresh = _spend_token(con, provider, token, at, forget_before)
        con.execute("commit")
        return fresh
    except BaseException:
        con.execute("rollback")
        raise


def insert_webhook_events(con: sqlite3.Connection, provider: str, token: str, at: str,
                          rows: Iterable[dict[str, Any]], forget_before: str | None = None) -> tuple[bool, int]:
    """Record a webhook's signing token and its events atomically.

    Returns (fresh, inserted): fresh is False when the token was seen before (a replay; nothing
    is written). Because the token is only recorded together with the events, a delivery that
    failed to store can be retried by the provider with a new token and nothing is lost.
    """
    _ensure_web_schema(con)
    rows = list(rows)
    con.execute("begin immediate")
    try:
        if not _spend_token(con, provider, token, at, forget_before):
            con.execute("rollback")
            return False, 0
        inserted = 0
        for row in rows:
            ev = [row.get(c) for c in EVENT_COLUMNS]
            if ev[EVENT_COLUMNS.index("is_machine_open")] is None:
                ev[EVENT_COLUMNS.index("is_machine_open")] = 0
            if not isinstance(ev[-1], (str, type(None))):
                ev[-1] = json.dumps(ev[-1], sort_keys=True)
            inserted += con.execute(
                f"insert into email_events ({','.join(EVENT_COLUMNS)}) values ({','.join('?' for _ in EVENT_COLUMNS)}) "
                "on conflict(provider_event_id) do nothing", ev).rowcount
        con.execute("commit")
        return True, inserted
    except BaseException:
        con.execute("rollback")
        raise


def claim_mail(con: sqlite3.Connection, email: str, kind: str, at: str, since: str,
               submission_id: int | None = None, limit: int = 1) -> int | None:
    """Claim the right to send one mail of ``kind`` to ``email``: None if ``limit`` were already
    claimed since ``since`` (the per-address cap). Serialised with ``begin immediate`` so two
    concurrent submissions cannot both pass the check."""
    _ensure_web_schema(con)
    con.execute("begin immediate")
    try:
        claimed = con.execute("select count(*) from web_mail_log where email = ? and kind = ? and claimed_at > ?",
                              (email, kind, since)).fetchone()[0]
        if claimed >= limit:
            con.execute("rollback")
            return None
        cur = con.execute("insert into web_mail_log (email, kind, submission_id, claimed_at) values (?,?,?,?)",
                          (email, kind, submission_id, at))
        con.execute("commit")
        return int(cur.lastrowid)
    except BaseException:
        con.execute("rollback")
        raise


def mark_mail_sent(con: sqlite3.Connection, mail_seq: int, at: str, message_id: str) -> None:
    with con:
        con.execute("update web_mail_log set sent_at = ?, message_id = ? where mail_seq = ?", (at, message_id, mail_seq))


def release_mail_claim(con: sqlite3.Connection, mail_seq: int) -> None:
    """Sending failed: give the claim back so a retry may send."""
    with con:
        con.execute("delete from web_mail_log where mail_seq = ? and sent_at is null", (mail_seq,))


# --- Erasure requests (right to be forgotten) --------------------------------------------------

ERASURE_COLUMNS = ("email", "person_id", "campaign_id", "requested_at", "ip", "user_agent", "source")


def erasure_request_for(con: sqlite3.Connection, email: str) -> dict[str, Any] | None:
    """The (first) erasure request recorded for this mailbox, under any spelling of the address."""
    _ensure_web_schema(con)
    return _first_erasure_request(con, email)


def _first_erasure_request(con: sqlite3.Connection, email: str) -> dict[str, Any] | None:
    row = con.execute("select * from erasure_requests where coalesce(canonical_email(email), lower(trim(email))) = ? "
                      "order by request_seq limit 1", (_mailbox(email),)).fetchone()
    return dict(row) if row else None


def has_erasure_request(con: sqlite3.Connection, email: str) -> bool:
    return erasure_request_for(con, email) is not None


def link_token_used(con: sqlite3.Connection, purpose: str, nonce: str) -> bool:
    _ensure_web_schema(con)
    return con.execute("select 1 from used_link_tokens where purpose = ? and nonce = ?",
                       (purpose, nonce)).fetchone() is not None


def spend_link_token(con: sqlite3.Connection, purpose: str, nonce: str, at: str) -> bool:
    """Mark a single-use link used; False when it already was (the caller refuses it)."""
    _ensure_web_schema(con)
    with con:
        cur = con.execute("insert into used_link_tokens (purpose, nonce, used_at) values (?,?,?) "
                          "on conflict(purpose, nonce) do nothing", (purpose, nonce, at))
    return cur.rowcount == 1


def record_erasure_request(con: sqlite3.Connection, row: dict[str, Any],
                           token: tuple[str, str] | None = None) -> tuple[str, dict[str, Any] | None]:
    """Record an erasure request: ('recorded', row) | ('exists', first row) | ('used', None).

    Idempotent per mailbox: a second request for an address that has one (any spelling) stores nothing. ``token``
    = (purpose, nonce) of a single-use link: a used nonce stores nothing ('used'); otherwise the
    nonce is spent in the same transaction as the request. Serialised with ``begin immediate``."""
    _ensure_web_schema(con)
    con.execute("begin immediate")
    try:
        if token is not None:
            if con.execute("select 1 from used_link_tokens where purpose = ? and nonce = ?", token).fetchone():
                con.execute("rollback")
                return "used", None
            con.execute("insert into used_link_tokens (purpose, nonce, used_at) values (?,?,?)",
                        (*token, row["requested_at"]))
        existing = _first_erasure_request(con, row["email"])
        if existing is not None:
            con.execute("commit")  # the link is spent either way
            return "exists", existing
        cur = con.execute(f"insert into erasure_requests ({','.join(ERASURE_COLUMNS)}) "
                          f"values ({','.join('?' for _ in ERASURE_COLUMNS)})",
                          [row.get(c) for c in ERASURE_COLUMNS])
        seq = int(cur.lastrowid)
        con.execute("commit")
        return "recorded", dict(row, request_seq=seq)
    except BaseException:
        con.execute("rollback")
        raise


# --- readers for the pipeline, the campaign sender and the sandbox ----------------------------

# Each table the pipeline loads, with its increasing key: rows are read with the key above the last
# one loaded, so a re-run reads nothing twice.
INCREMENTAL_KEYS = {
    "form_submissions": "submission_id",
    "consent_confirmations": "confirmation_seq",
    "preference_changes": "change_seq",
    "erasure_requests": "request_seq",
    "email_events": "received_seq",
}


@lru_cache(maxsize=None)
def table_columns(table: str) -> dict[str, str]:
    """Column name -> declared type (``INTEGER`` / ``TEXT``) of a store table, in table order, read
    from the schema above itself (so the pipeline's column hints cannot drift from it)."""
    con = sqlite3.connect(":memory:")
    try:
        con.executescript(SCHEMA + WEB_SCHEMA)
        columns = {name: decl.upper() for _, name, decl, *_ in con.execute(f"pragma table_info({table})")}
    finally:
        con.close()
    if not columns:
        raise KeyError(f"the web store has no table {table!r}")
    return columns


def read_after(con: sqlite3.Connection, table: str, after: int, limit: int = 10_000) -> list[dict[str, Any]]:
    """Rows of ``table`` (one of ``INCREMENTAL_KEYS``) whose key is above ``after``, in key order."""
    key = INCREMENTAL_KEYS[table]  # identifiers from this fixed map only
    _ensure_web_schema(con)
    rows = con.execute(f"select * from {table} where {key} > ? order by {key} limit ?", (after, limit)).fetchall()
    return [dict(r) for r in rows]


def last_key(con: sqlite3.Connection, table: str) -> int:
    """The largest key in ``table`` (one of ``INCREMENTAL_KEYS``); 0 when it is empty."""
    key = INCREMENTAL_KEYS[table]
    return int(con.execute(f"select coalesce(max({key}), 0) from {table}").fetchone()[0])


@contextmanager
def reader(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection for readers that must never create or change the store (the campaign
    sender); None when there is no store yet. Tables the web service has not created yet read as empty."""
    path = Path(path)
    if not path.exists():
        yield None
        return
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    con.row_factory = sqlite3.Row
    try:
        yield con
    finally:
        con.close()


def _select(con: sqlite3.Connection | None, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    if con is None:
        return []
    try:
        return [dict(r) for r in con.execute(sql, tuple(params)).fetchall()]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # the web service has not created it yet: nothing recorded
            return []
        raise


def count_rows(con: sqlite3.Connection | None, table: str) -> int:
    """Rows in ``table`` (one of ``INCREMENTAL_KEYS``); 0 when it does not exist yet."""
    INCREMENTAL_KEYS[table]  # identifiers from this fixed map only
    rows = _select(con, f"select count(*) as n from {table}")
    return int(rows[0]["n"]) if rows else 0


def consent_rows(con: sqlite3.Connection | None) -> dict[str, list[dict[str, Any]]]:
    """Everything the consent and suppression rules read (``warmpool.consent.events_from_store``),
    per table: talent-network sign-ups, double opt-in confirmations, preference changes, erasure
    requests, and the email events that suppress or prove an address reached (no payloads)."""
    return {
        "form_submissions": _select(con, (
            "select submission_id, form, email, submitted_at, consent_marketing, confirmed_at from form_submissions "
            "where form = 'talent_network' and consent_marketing = 1")),
        "consent_confirmations": _select(con, "select confirmation_seq, submission_id, confirmed_at "
                                              "from consent_confirmations"),
        "preference_changes": _select(con, "select change_seq, email, topics, frequency, unsubscribed_all, changed_at "
                                           "from preference_changes"),
        "erasure_requests": _select(con, "select request_seq, email, requested_at from erasure_requests"),
        "email_events": _select(con, (
            "select received_seq, email, event, bounce_type, occurred_at from email_events "
            "where event in ('unsubscribe', 'complaint', 'bounce', 'delivered', 'open', 'click')")),
    }


def message_ids_with_events(con: sqlite3.Connection | None, message_ids: Iterable[str]) -> list[str]:
    """Those of ``message_ids`` that some provider event (webhook, tracking) refers to."""
    wanted = list(dict.fromkeys(message_ids))
    seen: list[str] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        seen += [r["message_id"] for r in _select(con, (
            f"select distinct message_id from email_events where message_id in ({','.join('?' * len(chunk))})"), chunk)]
    return seen


def messages_with_event(con: sqlite3.Connection | None, campaign_id: str, events: Iterable[str]) -> dict[str, int]:
    """Per event type: how many distinct messages of one campaign the provider reported it for (by
    the event's campaign id); the reputation guard's bounces and complaints."""
    wanted = list(events)
    rows = _select(con, (f"select event, count(distinct coalesce(message_id, email)) as n from email_events "
                         f"where campaign_id = ? and event in ({','.join('?' * len(wanted))}) group by event"),
                   [campaign_id, *wanted])
    return {r["event"]: int(r["n"]) for r in rows}


def message_ids_with_event(con: sqlite3.Connection | None, message_ids: Iterable[str], event: str) -> list[str]:
    """Those of ``message_ids`` (as sent, with or without angle brackets) the provider reported ``event`` for."""
    wanted = {m.strip().strip("<>").lower(): m for m in message_ids if m}
    found: list[str] = []
    keys = list(wanted)
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        rows = _select(con, (f"select distinct lower(trim(message_id, '<> ')) as k from email_events where event = ? "
                             f"and lower(trim(message_id, '<> ')) in ({','.join('?' * len(chunk))})"), [event, *chunk])
        found += [wanted[r["k"]] for r in rows]
    return found


# --- a person's rows: access and erasure (warmpool.privacy asks, this answers) -------------------

# table -> the column holding the person's address (compared lower-cased and trimmed)
_EMAIL_COLUMNS = {"form_submissions": "email", "email_events": "email", "preference_changes": "email",
                  "web_mail_log": "email", "erasure_requests": "email"}
# table -> the column holding the person's submission id
_SUBMISSION_COLUMNS = {"form_submissions": "submission_id", "consent_confirmations": "submission_id",
                       "web_mail_log": "submission_id"}
# what a referral row says about the person who referred (kept for the candidate, blanked for the referrer)
_REFERRER_COLUMNS = ("referrer_name", "referrer_email", "relationship")


def _person_where(table: str, emails: list[str], submission_ids: list[int]) -> tuple[str, list[Any]]:
    parts, params = [], []
    if table in _EMAIL_COLUMNS and emails:
        parts.append(f"lower(trim({_EMAIL_COLUMNS[table]})) in ({','.join('?' * len(emails))})")
        params += emails
    if table in _SUBMISSION_COLUMNS and submission_ids:
        parts.append(f"{_SUBMISSION_COLUMNS[table]} in ({','.join('?' * len(submission_ids))})")
        params += submission_ids
    return " or ".join(parts) or "0", params


def _person_args(emails: Iterable[str], submission_ids: Iterable[int]) -> tuple[list[str], list[int]]:
    return sorted({e.strip().lower() for e in emails if e}), sorted({int(s) for s in submission_ids})


def person_submission_ids(con: sqlite3.Connection, emails: Iterable[str]) -> list[int]:
    """Submissions made with one of these addresses (a person's own sign-ups and referrals of them)."""
    _ensure_web_schema(con)
    wanted, _ = _person_args(emails, ())
    where, params = _person_where("form_submissions", wanted, [])
    return [r[0] for r in con.execute(f"select submission_id from form_submissions where {where}", params)]


def person_rows(con: sqlite3.Connection, emails: Iterable[str], submission_ids: Iterable[int] = ()) -> dict[str, list]:
    """Every row of the store about a person (their addresses, their submissions), per table, and the
    referrals they made for others (``referrals_made``: only their own fields)."""
    _ensure_web_schema(con)
    emails, submission_ids = _person_args(emails, submission_ids)
    out: dict[str, list] = {}
    for table in dict.fromkeys([*_EMAIL_COLUMNS, *_SUBMISSION_COLUMNS]):
        where, params = _person_where(table, emails, submission_ids)
        rows = [dict(r) for r in con.execute(f"select * from {table} where {where}", params)]
        if rows:
            out[table] = rows
    if emails:
        made = con.execute(f"select submission_id, submitted_at, {', '.join(_REFERRER_COLUMNS)} from form_submissions "
                           f"where lower(trim(referrer_email)) in ({','.join('?' * len(emails))})", emails).fetchall()
        if made:
            out["referrals_made"] = [dict(r) for r in made]
    return out


def forget_person(con: sqlite3.Connection, emails: Iterable[str], submission_ids: Iterable[int] = ()) -> dict[str, int]:
    """Delete the person's rows (sign-ups, referrals of them, confirmations, preference changes,
    provider events, mail log, erasure requests) and blank their name and address in referrals they
    made for others; then compact the file so the deleted bytes are gone. Rows changed per table.
    The pipeline reads by increasing key, so deleting never makes it load anything again."""
    _ensure_web_schema(con)
    emails, submission_ids = _person_args(emails, submission_ids)
    changed: dict[str, int] = {}
    con.execute("pragma secure_delete=on")
    con.execute("begin immediate")
    try:
        # children first: a confirmation references its submission
        for table in ("consent_confirmations", "web_mail_log", "form_submissions", "email_events",
                      "preference_changes", "erasure_requests"):
            where, params = _person_where(table, emails, submission_ids)
            n = con.execute(f"delete from {table} where {where}", params).rowcount
            if n:
                changed[table] = n
        if emails:
            n = con.execute(f"update form_submissions set {', '.join(c + ' = null' for c in _REFERRER_COLUMNS)} "
                            f"where lower(trim(referrer_email)) in ({','.join('?' * len(emails))})", emails).rowcount
            if n:
                changed["form_submissions.referrer"] = n
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    compact(con)
    return changed


def erasure_requests_after(con: sqlite3.Connection | None, done: Iterable[int]) -> list[dict[str, Any]]:
    """Erasure requests not in ``done`` (request_seq), oldest first: the queue the privacy job works."""
    skip = set(done)
    return [r for r in _select(con, "select * from erasure_requests order by request_seq") if r["request_seq"] not in skip]
