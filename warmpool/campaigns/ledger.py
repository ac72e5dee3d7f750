"""The send ledger: the truth about who was mailed what (SQLite, its own file).

One row per (campaign_id, person_id, content_version). States::

    planned ──claim──> claimed ──begin_send──> submitted ──SMTP 250──> accepted
       ^                  │                        │
       └── release ───────┘                        ├── SMTP 5xx ──> failed      (never retried)
           (lease expired before submit,           ├── SMTP 4xx ──> planned     (retried next run)
            4xx, cap, run stopped)                 └── unknown ───> ambiguous   (never resent blindly)
    claimed ──suppressed at send time──> suppressed
    claimed ──this person or address already mailed this version under another person id──> duplicate
    claimed ──the day's limit of mails reached (every campaign)──> planned (sent on a later day)

Person ids change when identity resolution merges people. ``person_ids`` holds the retired ids and
the id each now belongs to (``set_person_ids``, from the warehouse's ``identity.person_id_map``), so
a row written under a retired id still counts for its surviving person: duplicate checks and the
frequency cap follow merges, and nobody gets the same version twice because their records merged.

``submitted`` is written (with the Message-ID) *before* the SMTP transaction starts, so a crash at any
point after it leaves evidence: a ``submitted`` row whose lease has expired is turned into
``ambiguous`` and reported, to be reconciled from provider events, not resent. A ``claimed`` row whose
lease expired never reached SMTP and is safely planned again.

No provider offers an idempotency key over SMTP, so exactly-once is this ledger's job (docs/campaigns.md).

Erasure (``forget``) replaces a person's ids and address in every row by keyed hashes (HMAC-SHA256
with the deployment's secret): nothing readable about them stays, yet the duplicate check and the
frequency cap still recognise them (``begin_send`` compares the hashed forms too), so a forgotten
person who somehow reappears is never mailed a version twice. The counts stay right as well.

``campaign_controls`` holds a campaign's pause (by the reputation guard or a person) until someone
resumes it explicitly; a paused campaign sends nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Mapping, NamedTuple, Sequence

from warmpool.sqlite_store import compact, enable_wal

STATES = ("planned", "claimed", "submitted", "accepted", "failed", "ambiguous", "suppressed", "duplicate")
# States in which the recipient may have received the mail: they count for caps, duplicates and the
# daily limit (an ambiguous or still-submitted row may have gone out, so it is never counted as unsent).
MAILED_STATES = ("submitted", "accepted", "ambiguous")
# States no run ever leaves (``reconcile`` only turns ambiguous into accepted): a member whose row is in
# one has nothing left to plan, claim or send for that version.
SETTLED_STATES = ("accepted", "failed", "ambiguous", "suppressed", "duplicate")

SCHEMA = f"""
create table if not exists sends (
    campaign_id       text not null,
    person_id         text not null,
    content_version   text not null,
    email             text,
    email_key         text,               -- canonical address: caps and duplicates across person ids
    state             text not null check (state in ({", ".join(repr(s) for s in STATES)})),
    planned_at        text not null,
    lease_owner       text,
    lease_expires_at  text,
    message_id        text unique,
    submitted_at      text,
    finished_at       text,
    smtp_response     text,
    error             text,
    attempts          integer not null default 0,
    variant           text,               -- A/B variant name (null: the campaign has one)
    sequence_step     integer,            -- drip step number, 1-based (null: not a sequence)
    change_seq        integer,            -- increases with every change: the warehouse load's cursor
    primary key (campaign_id, person_id, content_version)
);
create index if not exists sends_by_state on sends (campaign_id, content_version, state);
create index if not exists sends_by_person on sends (person_id, submitted_at);
create index if not exists sends_by_email on sends (email_key, submitted_at);
create index if not exists sends_by_change on sends (change_seq);  -- the warehouse load reads only what changed
create table if not exists person_ids (
    any_person_id     text primary key,   -- a retired person id
    person_id         text not null       -- the person it now belongs to
);
create index if not exists person_ids_by_person on person_ids (person_id);
create table if not exists campaign_controls (
    campaign_id       text primary key,
    paused_at         text,               -- null: running
    paused_by         text,               -- 'reputation_guard' or who paused it
    paused_reason     text,
    guard_baseline    text                -- "sent,bounced,complained" when last resumed: the guard counts from there
);
create table if not exists replies (
    message_id        text primary key,   -- the message of ours that was answered
    campaign_id       text not null,
    person_id         text not null,
    received_at       text not null
);
create table if not exists provider_list_members (
    campaign_id       text not null,
    email_key         text not null,      -- canonical address
    email             text not null,      -- as pushed to the provider
    contact_digest    text,               -- of the contact as pushed: a later sync re-pushes it only when it changed
    primary key (campaign_id, email_key)
);
create table if not exists imap_cursors (
    mailbox           text primary key,   -- user@host:port/mailbox
    uid_validity      integer not null,   -- the mailbox's UIDVALIDITY: UIDs mean nothing across two
    last_uid          integer not null    -- every message up to this UID has been read
);
create table if not exists ledger_seq (id integer primary key check (id = 1), value integer not null);
insert or ignore into ledger_seq values (1, 0);
-- Every insert and change takes the next number, so a reader can load only what changed since.
create trigger if not exists sends_seq_insert after insert on sends when new.change_seq is null begin
    update ledger_seq set value = value + 1;
    update sends set change_seq = (select value from ledger_seq) where rowid = new.rowid;
end;
create trigger if not exists sends_seq_update after update of state, email, email_key, person_id, message_id,
    finished_at on sends begin
    update ledger_seq set value = value + 1;
    update sends set change_seq = (select value from ledger_seq) where rowid = new.rowid;
end;
"""
FORGOTTEN_PREFIX = "forgotten:"

# The daily limit's tally: rows in MAILED_STATES per UTC day of their `submitted_at`, every campaign. The
# limit is checked in every send transaction, and counting the day's rows there would cost as much as the
# day's mails (a full day's worth per group of mails: quadratic in the limit); triggers on every insert,
# delete and change of state or submitted_at keep it instead, in the same transaction as the change, so
# it is the ledger's own count at every commit and the check reads one row. Created, and filled from the
# rows already there, in one transaction the first time a ledger is opened by this version.
_MAILED = ", ".join(repr(s) for s in MAILED_STATES)
DAILY_TALLY = (
    """create table mailed_per_day (
        day     text primary key,   -- UTC day, yyyy-mm-dd (the first ten characters of iso())
        mailed  integer not null    -- rows submitted that day now submitted, accepted or ambiguous
    )""",
    f"""create trigger mailed_per_day_insert after insert on sends
        when new.state in ({_MAILED}) and new.submitted_at is not null begin
        insert into mailed_per_day values (substr(new.submitted_at, 1, 10), 1)
            on conflict (day) do update set mailed = mailed + 1;
    end""",
    f"""create trigger mailed_per_day_update after update of state, submitted_at on sends
        when old.state in ({_MAILED}) or new.state in ({_MAILED}) begin
        update mailed_per_day set mailed = mailed - 1
            where day = substr(old.submitted_at, 1, 10) and old.state in ({_MAILED});
        insert into mailed_per_day select substr(new.submitted_at, 1, 10), 1
            where new.state in ({_MAILED}) and new.submitted_at is not null
            on conflict (day) do update set mailed = mailed + 1;
    end""",
    f"""create trigger mailed_per_day_delete after delete on sends when old.state in ({_MAILED}) begin
        update mailed_per_day set mailed = mailed - 1 where day = substr(old.submitted_at, 1, 10);
    end""",
    f"""insert into mailed_per_day select substr(submitted_at, 1, 10), count(*) from sends
        where state in ({_MAILED}) and submitted_at is not null group by 1""",
)


class SendIntent(NamedTuple):
    """One row about to be sent: its address and Message-ID, and the time since which any mail to
    this person defers it (the frequency cap; None: no cap)."""
    person_id: str
    email: str
    email_key: str
    message_id: str
    cap_since: dt.datetime | None


def _bare_message_id(value: str) -> str:
    # Providers report Message-IDs with or without the angle brackets.
    return value.strip().strip("<>").strip().lower()


def iso(t: dt.datetime) -> str:
    """UTC, fixed width: ISO strings then compare in time order inside SQL."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pseudonym(value: str, key: str) -> str:
    """The keyed hash that replaces a forgotten person id or address (stable for one secret)."""
    digest = hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    return FORGOTTEN_PREFIX + digest


class SendLedger:
    """``pseudonym_key``: the secret ``forget`` hashes with; given, ``begin_send`` also recognises
    forgotten people (the sender always passes the deployment's secret)."""

    def __init__(self, path: Path | str, pseudonym_key: str | None = None):
        self.path = Path(path)
        self.pseudonym_key = pseudonym_key
        self._settled_later: list[tuple] = []  # `finish_later` rows, written with the next transaction
        self._synchronous: str | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        self.con.row_factory = sqlite3.Row
        enable_wal(self.con)
        self.con.execute("pragma synchronous=full")  # a state we wrote survives power loss
        self.con.execute("pragma busy_timeout=30000")
        self._migrate()
        self.con.execute("pragma secure_delete=on")  # an erased person's bytes are overwritten, not left behind
        self.con.executescript(SCHEMA)
        self._add_daily_tally()
        if self.con.execute("select 1 from sends where change_seq is null limit 1").fetchone():
            with self._tx() as con:  # rows of a ledger older than change numbers: number them once
                con.execute("update sends set change_seq = (select value from ledger_seq) + rowid "
                            "where change_seq is null")
                con.execute("update ledger_seq set value = (select max(change_seq) from sends)")

    def _migrate(self) -> None:
        # Ledgers written before variants, steps and change numbers existed gain the columns.
        controls = {r[1] for r in self.con.execute("pragma table_info(campaign_controls)").fetchall()}
        if controls and "guard_baseline" not in controls:
            self.con.execute("alter table campaign_controls add column guard_baseline text")
        listed = {r[1] for r in self.con.execute("pragma table_info(provider_list_members)").fetchall()}
        if listed and "contact_digest" not in listed:
            self.con.execute("alter table provider_list_members add column contact_digest text")
        cols = {r[1] for r in self.con.execute("pragma table_info(sends)").fetchall()}
        if cols:
            for name, kind in (("variant", "text"), ("sequence_step", "integer"), ("change_seq", "integer")):
                if name not in cols:
                    self.con.execute(f"alter table sends add column {name} {kind}")

    def _add_daily_tally(self) -> None:
        exists = "select 1 from sqlite_master where type = 'table' and name = 'mailed_per_day'"
        if self.con.execute(exists).fetchone():
            return
        with self._tx() as con:  # under the write lock: of two processes opening at once, one creates it
            if not con.execute(exists).fetchone():
                for statement in DAILY_TALLY:
                    con.execute(statement)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.con.close()

    def flush(self) -> None:
        """Write the rows ``finish_later`` holds (in their own transaction; usually the next
        ``begin_send`` carries them)."""
        if self._settled_later:
            with self._tx(durable=False):
                pass

    def __enter__(self) -> "SendLedger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _tx(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: check-then-update is atomic across processes.
        # Only writes whose loss could send a mail twice must reach the disk before we go on (`submitted`
        # before SMTP, pauses, erasure); a lost claim, finish or release leaves a row that a later run
        # settles safely (planned again, or ambiguous after its lease), so those skip the fsync (WAL
        # with synchronous=NORMAL stays consistent; the next durable commit syncs them too).
        synchronous = "full" if durable else "normal"
        if synchronous != self._synchronous:
            self.con.execute(f"pragma synchronous={synchronous}")
            self._synchronous = synchronous
        self.con.execute("begin immediate")
        settled = len(self._settled_later)
        try:
            if settled:
                self._finish_rows(self.con, self._settled_later[:settled])
            yield self.con
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")
        del self._settled_later[:settled]  # written: only rows added meanwhile stay

    # --- identity -------------------------------------------------------------------------------
    def set_person_ids(self, mapping: Iterable[tuple[str, str]]) -> int:
        """Replace the retired-id map with ``(any_person_id, person_id)`` pairs (identity pairs ignored)."""
        wanted = {str(a): str(b) for a, b in mapping if a is not None and b is not None and str(a) != str(b)}
        # Each send of a run passes the same map: only what differs from the stored one is written.
        stored = {r[0]: r[1] for r in self.con.execute("select any_person_id, person_id from person_ids").fetchall()}
        gone = [(a,) for a in stored if a not in wanted]
        changed = [(a, b) for a, b in wanted.items() if stored.get(a) != b]
        if gone or changed:
            with self._tx() as con:
                con.executemany("delete from person_ids where any_person_id = ?", gone)
                con.executemany("insert into person_ids values (?, ?) "
                                "on conflict do update set person_id = excluded.person_id", changed)
        return len(wanted)

    # Every id a row of this person may carry: the id itself and each retired id now mapped to the
    # same person. Parameters: the person id three times.
    _SAME_PERSON = ("person_id in (select ? union select any_person_id from person_ids where person_id = "
                    "coalesce((select person_id from person_ids where any_person_id = ?), ?))")

    # --- erasure --------------------------------------------------------------------------------
    def _hashed(self, value: str | None) -> str | None:
        return pseudonym(value, self.pseudonym_key) if value and self.pseudonym_key else None

    def forget(self, person_ids: Iterable[str] = (), email_keys: Iterable[str] = ()) -> int:
        """Erase people from the ledger: every row of these person ids (and ids merged into them) or
        canonical addresses keeps its state and counts, with the person id and address replaced by
        keyed hashes and the readable address and SMTP reply removed. Returns the rows changed.
        Safe to repeat. Needs ``pseudonym_key``."""
        if not self.pseudonym_key:
            raise ValueError("forget needs the ledger's pseudonym_key (the deployment's secret)")
        ids = {str(p) for p in person_ids if p}
        keys = {str(k) for k in email_keys if k}
        with self._tx() as con:
            for pid in list(ids):  # the retired ids of these people, and the person a retired id became
                ids.update(r[0] for r in con.execute(
                    "select any_person_id from person_ids where person_id = ? "
                    "union select person_id from person_ids where any_person_id = ?", (pid, pid)).fetchall())
            rows = con.execute(
                f"select rowid, person_id, email_key from sends where person_id in ({','.join('?' * len(ids))}) "
                f"or email_key in ({','.join('?' * len(keys))})", (*ids, *keys)).fetchall() if ids or keys else []
            # `or ignore`: a row the person got again after an earlier forget (a duplicate of the forgotten
            # one) would collide with it; such rows get the hash with their row number instead.
            con.executemany(
                "update or ignore sends set person_id = ?, email_key = ?, email = null, smtp_response = null, "
                "error = null where rowid = ?",
                [(self._hashed(r["person_id"]), self._hashed(r["email_key"]), r["rowid"]) for r in rows])
            con.executemany("update sends set person_id = ? || '#' || rowid, email_key = ?, email = null, "
                            "smtp_response = null, error = null where rowid = ? and person_id not like 'forgotten:%'",
                            [(self._hashed(r["person_id"]), self._hashed(r["email_key"]), r["rowid"]) for r in rows])
            con.executemany("update replies set person_id = ? where person_id = ?",
                            [(self._hashed(pid), pid) for pid in ids])
            if ids:
                marks = ",".join("?" * len(ids))
                con.execute(f"delete from person_ids where any_person_id in ({marks}) or person_id in ({marks})",
                            (*ids, *ids))
        return len(rows)

    # --- sequences and replies ----------------------------------------------------------------------
    def steps_sent(self, campaign_id: str) -> dict[str, tuple[int, str]]:
        """Per person: the highest sequence step they may have received and when it was submitted."""
        mailed = ",".join(repr(s) for s in MAILED_STATES)
        return {r[0]: (r[1], r[2]) for r in self.con.execute(
            f"select person_id, max(sequence_step), max(submitted_at) from sends where campaign_id = ? "
            f"and sequence_step is not null and state in ({mailed}) group by person_id", (campaign_id,)).fetchall()}

    def steps_open(self, campaign_id: str) -> set[str]:
        """People with a step row not settled yet (planned, claimed, submitted): one step at a time."""
        return {r[0] for r in self.con.execute(
            "select distinct person_id from sends where campaign_id = ? and sequence_step is not null "
            "and state in ('planned', 'claimed', 'submitted')", (campaign_id,)).fetchall()}

    def record_reply(self, message_ids: Iterable[str], received_at: dt.datetime) -> tuple[str, str] | None:
        """A reply whose In-Reply-To / References name one of our messages: returns (campaign_id,
        person_id) of the message it answers (recorded once), or None when it answers none of ours."""
        keys = [_bare_message_id(m) for m in message_ids if m and m.strip()]
        if not keys:
            return None
        with self._tx() as con:
            for key in keys:
                row = con.execute("select campaign_id, person_id, message_id from sends "
                                  "where lower(trim(message_id, '<> ')) = ?", (key,)).fetchone()
                if row:
                    con.execute("insert into replies values (?, ?, ?, ?) on conflict do nothing",
                                (row["message_id"], row["campaign_id"], row["person_id"], iso(received_at)))
                    return row["campaign_id"], row["person_id"]
        return None

    def imap_last_uid(self, mailbox: str, uid_validity: int) -> int:
        """The last UID read from ``mailbox`` (0: none yet, or the mailbox was renumbered since)."""
        row = self.con.execute("select uid_validity, last_uid from imap_cursors where mailbox = ?",
                               (mailbox,)).fetchone()
        return int(row["last_uid"]) if row and int(row["uid_validity"]) == uid_validity else 0

    def set_imap_last_uid(self, mailbox: str, uid_validity: int, last_uid: int) -> None:
        with self._tx(durable=False) as con:  # lost: the messages are read again; replies record once
            con.execute("insert into imap_cursors values (?, ?, ?) on conflict(mailbox) do update set "
                        "uid_validity = excluded.uid_validity, last_uid = excluded.last_uid",
                        (mailbox, uid_validity, last_uid))

    def replied(self, campaign_id: str) -> set[str]:
        return {r[0] for r in self.con.execute("select person_id from replies where campaign_id = ?",
                                               (campaign_id,)).fetchall()}

    # --- provider contact lists ---------------------------------------------------------------------
    def provider_list_members(self, campaign_id: str) -> dict[str, str]:
        """canonical address -> address, as last pushed to the campaign's provider list."""
        return {r[0]: r[1] for r in self.con.execute(
            "select email_key, email from provider_list_members where campaign_id = ?", (campaign_id,)).fetchall()}

    def provider_list_digests(self, campaign_id: str) -> dict[str, str | None]:
        """canonical address -> digest of the contact as last pushed (None: pushed before digests)."""
        return {r[0]: r[1] for r in self.con.execute(
            "select email_key, contact_digest from provider_list_members where campaign_id = ?",
            (campaign_id,)).fetchall()}

    def provider_list_campaigns(self) -> list[str]:
        return [r[0] for r in self.con.execute("select distinct campaign_id from provider_list_members").fetchall()]

    def set_provider_list_members(self, campaign_id: str, members: Mapping[str, str],
                                  digests: Mapping[str, str] | None = None) -> None:
        """What the campaign's provider list now holds: canonical address -> address, with each
        contact's digest as pushed."""
        digests = digests or {}
        with self._tx() as con:
            con.execute("delete from provider_list_members where campaign_id = ?", (campaign_id,))
            con.executemany("insert into provider_list_members values (?, ?, ?, ?)",
                            [(campaign_id, k, v, digests.get(k)) for k, v in members.items()])

    def drop_provider_list_members(self, campaign_id: str, email_keys: Iterable[str]) -> None:
        """These canonical addresses are no longer on the campaign's provider list."""
        with self._tx() as con:
            con.executemany("delete from provider_list_members where campaign_id = ? and email_key = ?",
                            [(campaign_id, k) for k in email_keys])

    # --- reading for the warehouse ----------------------------------------------------------------
    WAREHOUSE_COLUMNS = ("ledger_row_id", "change_seq", "campaign_id", "person_id", "content_version", "variant",
                         "sequence_step", "state", "message_id", "planned_at", "submitted_at", "finished_at",
                         "attempts")

    def last_change(self) -> int | None:
        """The newest change number of any row (None: no row yet)."""
        return self.con.execute("select max(change_seq) from sends").fetchone()[0]

    def changed_after(self, change_seq: int, limit: int) -> list[dict]:
        """Rows changed after ``change_seq``, oldest change first, in the columns the warehouse keeps
        (no address, no SMTP text): ``ledger_row_id`` (stable through erasure) is the merge key."""
        return [dict(r) for r in self.con.execute(
            "select rowid as ledger_row_id, change_seq, campaign_id, person_id, content_version, variant, sequence_step, "
            "state, message_id, planned_at, submitted_at, finished_at, attempts "
            "from sends where change_seq > ? order by change_seq limit ?", (change_seq, limit)).fetchall()]

    # --- pause and resume ------------------------------------------------------------------------
    def pause(self, campaign_id: str, by: str, reason: str, now: dt.datetime) -> None:
        """Stop a campaign's sends until ``resume``; the first pause's time and reason are kept."""
        with self._tx() as con:
            con.execute("insert into campaign_controls (campaign_id, paused_at, paused_by, paused_reason) "
                        "values (?, ?, ?, ?) on conflict (campaign_id) do update set "
                        "paused_at = coalesce(paused_at, excluded.paused_at), "
                        "paused_by = case when paused_at is null then excluded.paused_by else paused_by end, "
                        "paused_reason = case when paused_at is null then excluded.paused_reason else paused_reason end",
                        (campaign_id, iso(now), by, reason))

    def resume(self, campaign_id: str, guard_baseline: tuple[int, int, int] | None = None) -> bool:
        """Lift a pause; False if the campaign was not paused. ``guard_baseline`` (sent, bounced,
        complained now): the reputation guard measures what happens after the resume."""
        baseline = ",".join(map(str, guard_baseline)) if guard_baseline else None
        with self._tx() as con:
            return con.execute("update campaign_controls set paused_at = null, paused_by = null, paused_reason = null, "
                               "guard_baseline = coalesce(?, guard_baseline) "
                               "where campaign_id = ? and paused_at is not null", (baseline, campaign_id)).rowcount > 0

    def guard_baseline(self, campaign_id: str) -> tuple[int, int, int]:
        r = self.con.execute("select guard_baseline from campaign_controls where campaign_id = ?",
                             (campaign_id,)).fetchone()
        return tuple(int(x) for x in r[0].split(",")) if r and r[0] else (0, 0, 0)

    def paused(self, campaign_id: str) -> dict | None:
        """``{paused_at, paused_by, paused_reason}`` while paused, else None."""
        r = self.con.execute("select paused_at, paused_by, paused_reason from campaign_controls "
                             "where campaign_id = ? and paused_at is not null", (campaign_id,)).fetchone()
        return dict(r) if r else None

    def counts(self, campaign_id: str) -> dict[str, int]:
        """Rows per state over every version of the campaign."""
        return {r[0]: r[1] for r in self.con.execute(
            "select state, count(*) from sends where campaign_id = ? group by state", (campaign_id,)).fetchall()}

    # --- planning -------------------------------------------------------------------------------
    def plan(self, campaign_id: str, version: str, rows: Iterable[tuple[str, str | None, str | None, str | None]],
             now: dt.datetime, *, sequence_step: int | None = None,
             variants: Mapping[str, str] | None = None) -> int:
        """Insert-or-ignore (person_id, email, email_key, error) rows; a row with an error is planned as failed.
        ``variants``: person_id -> A/B variant; ``sequence_step``: the drip step these rows are for."""
        variants = variants or {}
        rows = list(rows)
        with self._tx(durable=False) as con:
            # change numbers for the whole batch at once (the per-row trigger is for single writes)
            first = con.execute("update ledger_seq set value = value + ? returning value - ?",
                                (len(rows), len(rows))).fetchone()[0] + 1
            cur = con.executemany(
                "insert into sends (campaign_id, person_id, content_version, email, email_key, state, planned_at, "
                "error, finished_at, variant, sequence_step, change_seq) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "on conflict do nothing",
                [(campaign_id, pid, version, email, key, "failed" if err else "planned", iso(now), err,
                  iso(now) if err else None, variants.get(pid), sequence_step, first + i)
                 for i, (pid, email, key, err) in enumerate(rows)])
        return cur.rowcount

    def recover_stale(self, campaign_id: str, version: str, now: dt.datetime) -> tuple[int, int]:
        """Expired leases of crashed runs: submitted → ambiguous, claimed → planned. Returns the counts."""
        with self._tx(durable=False) as con:
            amb = con.execute(
                "update sends set state = 'ambiguous', lease_owner = null, lease_expires_at = null, "
                "error = coalesce(error, 'lease expired after submission: outcome unknown') "
                "where campaign_id = ? and content_version = ? and state = 'submitted' and lease_expires_at < ?",
                (campaign_id, version, iso(now))).rowcount
            rel = con.execute(
                "update sends set state = 'planned', lease_owner = null, lease_expires_at = null "
                "where campaign_id = ? and content_version = ? and state = 'claimed' and lease_expires_at < ?",
                (campaign_id, version, iso(now))).rowcount
        return amb, rel

    def ambiguous_message_ids(self, campaign_id: str, version: str) -> list[str]:
        return [r[0] for r in self.con.execute(
            "select message_id from sends where campaign_id = ? and content_version = ? and state = 'ambiguous' "
            "and message_id is not null", (campaign_id, version)).fetchall()]

    def reconcile(self, campaign_id: str, version: str, delivered_message_ids: Iterable[str],
                  now: dt.datetime) -> int:
        """``ambiguous`` rows whose Message-ID the provider reported (delivered, opened, clicked,
        bounced: it had the message) become ``accepted``; returns how many. The rest stay ambiguous."""
        ids = {_bare_message_id(m) for m in delivered_message_ids if m}
        settled = [m for m in self.ambiguous_message_ids(campaign_id, version) if _bare_message_id(m) in ids]
        if not settled:
            return 0
        with self._tx() as con:
            return con.executemany(
                "update sends set state = 'accepted', finished_at = ?, "
                "error = 'reconciled: the provider reported this message after an unknown SMTP outcome' "
                "where campaign_id = ? and content_version = ? and state = 'ambiguous' and message_id = ?",
                [(iso(now), campaign_id, version, m) for m in settled]).rowcount

    def states(self, campaign_id: str, version: str, person_ids: Sequence[str] | None = None) -> dict[str, str]:
        rows = self.con.execute("select person_id, state from sends where campaign_id = ? and content_version = ?",
                                (campaign_id, version)).fetchall()
        wanted = None if person_ids is None else set(person_ids)
        return {r["person_id"]: r["state"] for r in rows if wanted is None or r["person_id"] in wanted}

    def settled(self, campaign_id: str, version: str) -> set[str]:
        """Person ids whose row for this version is in a state no run leaves (``SETTLED_STATES``)."""
        return self._person_ids_in(campaign_id, version, SETTLED_STATES)

    def planned(self, campaign_id: str, version: str) -> set[str]:
        """Person ids whose row for this version waits to be sent (one index range, not the version)."""
        return self._person_ids_in(campaign_id, version, ("planned",))

    def _person_ids_in(self, campaign_id: str, version: str, states: Sequence[str]) -> set[str]:
        return {r[0] for r in self.con.execute(
            f"select person_id from sends where campaign_id = ? and content_version = ? "
            f"and state in ({','.join('?' * len(states))})", (campaign_id, version, *states)).fetchall()}

    def row(self, campaign_id: str, person_id: str, version: str) -> dict | None:
        r = self.con.execute("select * from sends where campaign_id = ? and person_id = ? and content_version = ?",
                             (campaign_id, person_id, version)).fetchone()
        return dict(r) if r else None

    # --- sending --------------------------------------------------------------------------------
    def claim(self, campaign_id: str, version: str, person_ids: Sequence[str], owner: str,
              lease_until: dt.datetime) -> list[str]:
        """Atomically lease the still-planned rows among ``person_ids``; returns the ones this owner got."""
        if not person_ids:
            return []
        marks = ",".join("?" for _ in person_ids)
        with self._tx(durable=False) as con:
            got = con.execute(
                f"update sends set state = 'claimed', lease_owner = ?, lease_expires_at = ? "
                f"where campaign_id = ? and content_version = ? and state = 'planned' and person_id in ({marks}) "
                f"returning person_id",
                (owner, iso(lease_until), campaign_id, version, *person_ids)).fetchall()
        return [r[0] for r in got]

    def begin_send(self, campaign_id: str, person_id: str, version: str, owner: str, *, email: str, email_key: str,
                   message_id: str, now: dt.datetime, lease_until: dt.datetime, cap_since: dt.datetime | None) -> str:
        """Check duplicates and the frequency cap and mark ``submitted`` in one transaction, on disk
        when this returns.

        Returns 'ok', 'duplicate' (this person, under a retired id, or this address already got this
        version under another person id),
        'deferred' (mailed by any campaign since ``cap_since``) or 'lost' (our lease is gone).
        """
        return self.begin_sends(campaign_id, version, owner, [SendIntent(person_id, email, email_key, message_id,
                                                                         cap_since)], now, lease_until)[0]

    def begin_sends(self, campaign_id: str, version: str, owner: str, intents: Sequence["SendIntent"],
                    now: dt.datetime, lease_until: dt.datetime, daily_limit: int = 0) -> list[str]:
        """``begin_send`` for several rows in one transaction and one disk sync (group commit), in
        order, so of two rows sharing an address the second sees the first; the outcome of each.

        ``daily_limit`` (0: none): at most this many rows of every campaign mailed on ``now``'s UTC day
        (``mailed_on``). Counted under the write lock every sender takes here, so several connections,
        processes or campaigns never pass it together; a row beyond it goes back to planned and its
        outcome is 'limited'."""
        mailed = ",".join(repr(s) for s in MAILED_STATES)
        out = []
        with self._tx() as con:
            # One count per transaction; the rows this transaction marks are added as they are marked.
            room = daily_limit - self._mailed_on(con, now) if daily_limit else None
            for i in intents:
                if room is not None and room <= 0:
                    released = self._release(con, campaign_id, i.person_id, version, owner,
                                             error="deferred: the daily limit of mails was reached")
                    out.append("limited" if released else "lost")
                    continue
                outcome = self._begin_send(con, campaign_id, i.person_id, version, owner, email=i.email,
                                           email_key=i.email_key, message_id=i.message_id, now=now,
                                           lease_until=lease_until, cap_since=i.cap_since, mailed=mailed)
                if room is not None and outcome == "ok":
                    room -= 1
                out.append(outcome)
        return out

    def mailed_on(self, day: dt.datetime) -> int:
        """Rows of every campaign mailed (submitted, accepted or ambiguous: ``MAILED_STATES``) on the
        UTC day of ``day``, by the day they were marked submitted: what the daily limit counts."""
        return self._mailed_on(self.con, day)

    @staticmethod
    def _mailed_on(con, day: dt.datetime) -> int:
        # the triggers' tally (DAILY_TALLY), keyed like `submitted_at` (iso(): UTC, fixed width)
        row = con.execute("select mailed from mailed_per_day where day = ?", (iso(day)[:10],)).fetchone()
        return row[0] if row else 0

    def _begin_send(self, con, campaign_id, person_id, version, owner, *, email, email_key, message_id, now,
                    lease_until, cap_since, mailed) -> str:
        mine = con.execute("select 1 from sends where campaign_id = ? and person_id = ? and content_version = ? "
                           "and state = 'claimed' and lease_owner = ?",
                           (campaign_id, person_id, version, owner)).fetchone()
        if not mine:
            return "lost"
        # Serialised by the write lock: of two person ids sharing an address, the second sees the first.
        # The same person under a retired id (people merged since) counts as well.
        same = self._SAME_PERSON
        # A forgotten person's rows carry keyed hashes of their id and address: still recognised.
        pid_h, key_h = self._hashed(person_id), self._hashed(email_key)
        # One index look-up per way a row can be the same recipient (address, hashed id, any id of
        # the person), not a scan of the version's mailed rows: that grew with every mail sent. The
        # unary `+` keeps SQLite from choosing sends_by_state, which matches the whole version.
        rest = f"+content_version = ? and +state in ({mailed}) and person_id <> ?"
        dup = con.execute(f"select 1 from sends where email_key in (?, ?) and +campaign_id = ? and {rest} "
                          f"union all select 1 from sends where campaign_id = ? and person_id = ? and {rest} "
                          f"union all select 1 from sends where campaign_id = ? and {same} and {rest} limit 1",
                          (email_key, key_h, campaign_id, version, person_id,
                           campaign_id, pid_h, version, person_id,
                           campaign_id, person_id, person_id, person_id, version, person_id)).fetchone()
        if dup:
            con.execute("update sends set state = 'duplicate', lease_owner = null, lease_expires_at = null, "
                        "finished_at = ?, error = 'this person or address already got this version under "
                        "another person id' where campaign_id = ? and person_id = ? and content_version = ?",
                        (iso(now), campaign_id, person_id, version))
            return "duplicate"
        if cap_since is not None:
            recent = con.execute(
                f"select 1 from sends where ({same} or email_key in (?, ?) or person_id = ?) "
                f"and state in ({mailed}) "
                f"and submitted_at >= ? and not (campaign_id = ? and content_version = ? and person_id = ?) limit 1",
                (person_id, person_id, person_id, email_key, key_h, pid_h, iso(cap_since), campaign_id, version,
                 person_id)).fetchone()
            if recent:
                self._release(con, campaign_id, person_id, version, owner)
                return "deferred"
        con.execute("update sends set state = 'submitted', email = ?, email_key = ?, message_id = ?, "
                    "submitted_at = ?, lease_expires_at = ?, attempts = attempts + 1 "
                    "where campaign_id = ? and person_id = ? and content_version = ?",
                    (email, email_key, message_id, iso(now), iso(lease_until), campaign_id, person_id, version))
        return "ok"

    def finish(self, campaign_id: str, person_id: str, version: str, state: str, now: dt.datetime, *,
               message_id: str | None = None, smtp_response: str | None = None, error: str | None = None) -> None:
        """Terminal state for a row (accepted / failed / ambiguous / suppressed)."""
        assert state in ("accepted", "failed", "ambiguous", "suppressed"), state
        with self._tx(durable=False) as con:
            self._finish_rows(con, [(state, iso(now), smtp_response, error, campaign_id, person_id, version,
                                     message_id, message_id)])

    def finish_later(self, campaign_id: str, person_id: str, version: str, state: str, now: dt.datetime, *,
                     message_id: str | None = None, smtp_response: str | None = None, error: str | None = None) -> None:
        """``finish`` written with this ledger's next transaction (group commit): the sender's next
        ``begin_sends`` carries the ``accepted`` marks of the mails sent meanwhile, one transaction
        and one disk sync for all, or ``flush`` / ``close`` writes them. Until then an accepted row
        reads ``submitted``; a crash before the write leaves it so, and it turns ``ambiguous`` when
        its lease expires (reconciled from provider events, never resent), as after a crash right
        after SMTP. A lost ``suppressed`` / ``failed`` mark leaves the row claimed: planned again."""
        assert state in ("accepted", "failed", "ambiguous", "suppressed"), state
        self._settled_later.append((state, iso(now), smtp_response, error, campaign_id, person_id, version,
                                    message_id, message_id))

    @staticmethod
    def _finish_rows(con, rows: list[tuple]) -> None:
        con.executemany("update sends set state = ?, finished_at = ?, smtp_response = coalesce(?, smtp_response), "
                        "error = ?, lease_owner = null, lease_expires_at = null "
                        "where campaign_id = ? and person_id = ? and content_version = ? "
                        "and (? is null or message_id = ?)", rows)

    def release(self, campaign_id: str, person_id: str, version: str, owner: str, error: str | None = None) -> None:
        """Back to planned (nothing was transmitted): a later run sends it."""
        with self._tx(durable=False) as con:
            self._release(con, campaign_id, person_id, version, owner, error)

    def release_all(self, campaign_id: str, version: str, owner: str) -> int:
        """Every row this run still holds in ``claimed``: the run stops, nothing of them was sent."""
        with self._tx(durable=False) as con:
            return con.execute("update sends set state = 'planned', lease_owner = null, lease_expires_at = null "
                               "where campaign_id = ? and content_version = ? and state = 'claimed' and lease_owner = ?",
                               (campaign_id, version, owner)).rowcount

    @staticmethod
    def _release(con, campaign_id, person_id, version, owner, error=None) -> int:
        # From 'claimed' (before SMTP) or 'submitted' when the server answered with a definite 4xx.
        # Returns the rows released (0: the lease is no longer this owner's).
        return con.execute("update sends set state = 'planned', lease_owner = null, lease_expires_at = null, "
                           "message_id = null, submitted_at = null, error = ? "
                           "where campaign_id = ? and person_id = ? and content_version = ? and lease_owner = ? "
                           "and state in ('claimed', 'submitted')",
                           (error, campaign_id, person_id, version, owner)).rowcount

    # --- erasure (warmpool.privacy asks; owned here so the ledger's rules stay in one place) --------
    def person_rows(self, person_ids: Iterable[str], email_keys: Iterable[str]) -> list[dict]:
        """Every send row of these person ids or canonical addresses (an access export)."""
        ids, keys = sorted(set(person_ids)), sorted(set(email_keys))
        rows = self.con.execute(
            f"select * from sends where person_id in ({','.join('?' * len(ids))}) "
            f"or email_key in ({','.join('?' * len(keys))}) order by planned_at", [*ids, *keys]).fetchall()
        return [dict(r) for r in rows]

    def compact(self) -> None:
        """Rewrite the file so bytes ``forget`` replaced are gone from it (an erasure)."""
        compact(self.con)
