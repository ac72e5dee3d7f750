"""The sourcing store: what recruiters write while a pipeline run may be writing the warehouse.

Pipelines per requisition (a recruiter's list of people for an ATS job or a future need) with their
members' stages, saved searches and what each has matched, and the ledger of pushes to the ATS.
SQLite in WAL mode, its own file (``Settings.sourcing_store_path``); this module is the only code
that opens it. ``pipeline_events`` is append-only with an increasing ``event_seq``: the pipeline
loads it into the warehouse incrementally (``pipelines/sourcing_store.py``), as it does the web store.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from warmpool.sqlite_store import compact, open_store, opened

STAGES = ("identified", "contacted", "replied", "submitted")
ADDED_VIA = ("hand", "search", "rule", "saved_search", "rediscovery")

SCHEMA = f"""
create table if not exists pipelines (
    pipeline_id       integer primary key autoincrement,
    name              text not null unique,
    job_id            integer,                 -- the ATS job (requisition) it sources for; null = a future need
    owner             text not null,
    created_at        text not null,
    tags              text not null default '[]'   -- JSON list: tags pushed to the ATS with each prospect
);
create table if not exists pipeline_members (
    pipeline_id       integer not null references pipelines(pipeline_id),
    person_id         text not null,
    stage             text not null check (stage in ({", ".join(f"'{s}'" for s in STAGES)})),
    added_at          text not null,
    added_by          text not null,
    added_via         text not null check (added_via in ({", ".join(f"'{s}'" for s in ADDED_VIA)})),
    saved_search_id   integer,
    primary key (pipeline_id, person_id)
);
create table if not exists pipeline_events (
    event_seq         integer primary key autoincrement,
    pipeline_id       integer not null,
    person_id         text not null,
    event             text not null check (event in ('added', 'stage_changed')),
    stage             text not null,
    added_via         text,
    occurred_at       text not null,
    actor             text not null
);
create table if not exists saved_searches (
    saved_search_id   integer primary key autoincrement,
    name              text not null unique,
    query             text not null,
    filters           text not null default '{{}}',   -- JSON (SearchFilters.as_dict)
    pipeline_id       integer not null references pipelines(pipeline_id),
    owner             text not null,
    top_n             integer not null default 25,  -- the saved search keeps its best top_n; newcomers among them join
    created_at        text not null,
    is_active         integer not null default 1
);
create table if not exists saved_search_matches (
    saved_search_id   integer not null references saved_searches(saved_search_id),
    person_id         text not null,
    first_matched_at  text not null,
    primary key (saved_search_id, person_id)
);
create table if not exists saved_search_runs (
    run_seq           integer primary key autoincrement,
    saved_search_id   integer not null,
    ran_at            text not null,
    results           integer not null,
    added             integer not null
);
create table if not exists ats_pushes (
    pipeline_id       integer not null,
    person_id         text not null,
    job_id            integer,
    claimed_at        text not null,
    pushed_at         text,                    -- null: claimed, the ATS's answer not recorded yet
    ats_candidate_id  integer,
    request           text,                    -- what was sent (JSON), for the record
    primary key (pipeline_id, person_id)
);
"""


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def connect(path: Path) -> sqlite3.Connection:
    return open_store(path, SCHEMA)


def sourcing_store(path: Path):
    """The store at ``path``, opened for a ``with`` block and closed after it."""
    return opened(path, SCHEMA)


@contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    con.execute("begin immediate")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


# --- pipelines --------------------------------------------------------------------------------
def create_pipeline(con, name: str, owner: str, job_id: int | None = None, tags: Iterable[str] = ()) -> int:
    """A pipeline's id; a pipeline of that name that exists already is returned as it is."""
    with _transaction(con):
        row = con.execute("select pipeline_id from pipelines where name = ?", (name,)).fetchone()
        if row:
            return int(row[0])
        cur = con.execute("insert into pipelines (name, job_id, owner, created_at, tags) values (?,?,?,?,?)",
                          (name, job_id, owner, now_utc(), json.dumps(list(tags))))
        return int(cur.lastrowid)


def pipeline(con, pipeline_id_or_name) -> dict | None:
    key = "pipeline_id" if isinstance(pipeline_id_or_name, int) else "name"
    row = con.execute(f"select * from pipelines where {key} = ?", (pipeline_id_or_name,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    out["tags"] = json.loads(out["tags"] or "[]")
    return out


def pipelines(con) -> list[dict]:
    return [dict(r, tags=json.loads(r["tags"] or "[]")) for r in
            con.execute("select * from pipelines order by pipeline_id").fetchall()]


def add_members(con, pipeline_id: int, person_ids: Iterable[str], actor: str, added_via: str,
                saved_search_id: int | None = None) -> list[str]:
    """Add people at stage ``identified``; people already in the pipeline are left as they are.
    Returns the person ids actually added."""
    added = []
    at = now_utc()
    with _transaction(con):
        for pid in dict.fromkeys(str(p) for p in person_ids):
            cur = con.execute(
                "insert into pipeline_members (pipeline_id, person_id, stage, added_at, added_by, added_via, "
                "saved_search_id) values (?,?,?,?,?,?,?) on conflict(pipeline_id, person_id) do nothing",
                (pipeline_id, pid, STAGES[0], at, actor, added_via, saved_search_id))
            if cur.rowcount:
                added.append(pid)
                con.execute("insert into pipeline_events (pipeline_id, person_id, event, stage, added_via, "
                            "occurred_at, actor) values (?,?,?,?,?,?,?)",
                            (pipeline_id, pid, "added", STAGES[0], added_via, at, actor))
    return added


def set_stage(con, pipeline_id: int, person_id: str, stage: str, actor: str) -> bool:
    """Move a member to ``stage``; False when the member is already there."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}")
    with _transaction(con):
        row = con.execute("select stage from pipeline_members where pipeline_id = ? and person_id = ?",
                          (pipeline_id, person_id)).fetchone()
        if row is None:
            raise KeyError(f"{person_id} is not in pipeline {pipeline_id}")
        if row[0] == stage:
            return False
        at = now_utc()
        con.execute("update pipeline_members set stage = ? where pipeline_id = ? and person_id = ?",
                    (stage, pipeline_id, person_id))
        con.execute("insert into pipeline_events (pipeline_id, person_id, event, stage, occurred_at, actor) "
                    "values (?,?,?,?,?,?)", (pipeline_id, person_id, "stage_changed", stage, at, actor))
    return True


def members(con, pipeline_id: int) -> list[dict]:
    return [dict(r) for r in con.execute("select * from pipeline_members where pipeline_id = ? "
                                         "order by added_at, person_id", (pipeline_id,)).fetchall()]


# --- saved searches ---------------------------------------------------------------------------
def save_search(con, name: str, query: str, filters: dict[str, Any], pipeline_id: int, owner: str,
                top_n: int = 25) -> int:
    with _transaction(con):
        row = con.execute("select saved_search_id from saved_searches where name = ?", (name,)).fetchone()
        if row:
            return int(row[0])
        cur = con.execute("insert into saved_searches (name, query, filters, pipeline_id, owner, top_n, "
                          "created_at) values (?,?,?,?,?,?,?)",
                          (name, query, json.dumps(filters, sort_keys=True), pipeline_id, owner, top_n,
                           now_utc()))
        return int(cur.lastrowid)


def saved_searches(con, active_only: bool = True) -> list[dict]:
    sql = "select * from saved_searches" + (" where is_active = 1" if active_only else "") + " order by saved_search_id"
    return [dict(r, filters=json.loads(r["filters"] or "{}")) for r in con.execute(sql).fetchall()]


def matched_person_ids(con, saved_search_id: int) -> set[str]:
    return {r[0] for r in con.execute("select person_id from saved_search_matches where saved_search_id = ?",
                                      (saved_search_id,)).fetchall()}


def record_matches(con, saved_search: dict, person_ids: list[str], results: int, actor: str) -> list[str]:
    """Record a saved-search run: its new matches (never seen before by this saved search) join its
    pipeline, once each, in the same transaction as the matches. Returns the person ids added."""
    at = now_utc()
    sid, pid_ = saved_search["saved_search_id"], saved_search["pipeline_id"]
    added = []
    with _transaction(con):
        for person_id in person_ids:
            cur = con.execute("insert into saved_search_matches (saved_search_id, person_id, first_matched_at) "
                              "values (?,?,?) on conflict do nothing", (sid, person_id, at))
            if not cur.rowcount:
                continue
            joined = con.execute(
                "insert into pipeline_members (pipeline_id, person_id, stage, added_at, added_by, added_via, "
                "saved_search_id) values (?,?,?,?,?,?,?) on conflict(pipeline_id, person_id) do nothing",
                (pid_, person_id, STAGES[0], at, actor, "saved_search", sid))
            if joined.rowcount:
                added.append(person_id)
                con.execute("insert into pipeline_events (pipeline_id, person_id, event, stage, added_via, "
                            "occurred_at, actor) values (?,?,?,?,?,?,?)",
                            (pid_, person_id, "added", STAGES[0], "saved_search", at, actor))
        con.execute("insert into saved_search_runs (saved_search_id, ran_at, results, added) values (?,?,?,?)",
                    (sid, at, results, len(added)))
    return added


# --- the ATS push ledger ----------------------------------------------------------------------
def claim_push(con, pipeline_id: int, person_id: str, job_id: int | None) -> dict | None:
    """Claim the push of one member: None when it was pushed before; else the claim (a claim left
    unconfirmed by a crash is returned again, with ``pushed_at`` null, so the caller checks the ATS
    before writing twice)."""
    with _transaction(con):
        row = con.execute("select * from ats_pushes where pipeline_id = ? and person_id = ?",
                          (pipeline_id, person_id)).fetchone()
        if row is not None:
            return None if row["pushed_at"] else dict(row)
        con.execute("insert into ats_pushes (pipeline_id, person_id, job_id, claimed_at) values (?,?,?,?)",
                    (pipeline_id, person_id, job_id, now_utc()))
    return {"pipeline_id": pipeline_id, "person_id": person_id, "job_id": job_id, "pushed_at": None,
            "fresh": True}


def confirm_push(con, pipeline_id: int, person_id: str, ats_candidate_id: int | None, request: dict) -> None:
    with _transaction(con):
        con.execute("update ats_pushes set pushed_at = ?, ats_candidate_id = ?, request = ? "
                    "where pipeline_id = ? and person_id = ?",
                    (now_utc(), ats_candidate_id, json.dumps(request, sort_keys=True), pipeline_id, person_id))


def pushes(con, pipeline_id: int) -> list[dict]:
    return [dict(r) for r in con.execute("select * from ats_pushes where pipeline_id = ? order by person_id",
                                         (pipeline_id,)).fetchall()]


# --- incremental reads (the warehouse's sourcing source) ------------------------------------
INCREMENTAL_KEYS = {"pipeline_events": "event_seq"}


def read_after(con, table: str, after: int, limit: int = 10_000) -> list[dict]:
    key = INCREMENTAL_KEYS[table]
    return [dict(r) for r in con.execute(f"select * from {table} where {key} > ? order by {key} limit ?",
                                         (after, limit)).fetchall()]


def read_all(con, table: str) -> list[dict]:
    """A small reference table whole (pipelines, saved_searches)."""
    if table not in ("pipelines", "saved_searches"):
        raise ValueError(f"{table} is not a reference table of the sourcing store")
    return [dict(r) for r in con.execute(f"select * from {table}").fetchall()]


# --- a person's rows: access and erasure (warmpool.privacy asks, this answers) -------------------
# Added by the privacy piece (issue 16): the sourcing store's owner answers for a person's rows.
_PERSON_TABLES = ("pipeline_members", "pipeline_events", "saved_search_matches", "ats_pushes")


def person_rows(con: sqlite3.Connection, person_ids: Iterable[str]) -> dict[str, list[dict]]:
    """Every row naming one of ``person_ids``: pipeline memberships and their events, saved-search
    matches, pushes to the ATS (an access export)."""
    ids = sorted({str(p) for p in person_ids})
    out: dict[str, list[dict]] = {}
    for table in _PERSON_TABLES:
        rows = [dict(r) for r in con.execute(f"select * from {table} where person_id in ({','.join('?' * len(ids))})",
                                             ids)]
        if rows:
            out[table] = rows
    return out


def forget_person(con: sqlite3.Connection, person_ids: Iterable[str]) -> dict[str, int]:
    """Delete every row naming one of ``person_ids`` (an erasure), then compact the file so the
    deleted bytes are gone; rows per table. The pipeline reads events by increasing key, so deleting
    never makes it load anything again."""
    ids = sorted({str(p) for p in person_ids})
    removed: dict[str, int] = {}
    con.execute("pragma secure_delete=on")
    with _transaction(con):
        for table in _PERSON_TABLES:
            n = con.execute(f"delete from {table} where person_id in ({','.join('?' * len(ids))})", ids).rowcount
            if n:
                removed[table] = n
    compact(con)
    return removed
