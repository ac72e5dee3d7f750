"""Person id history: what each run changed, and where every id ever issued points now.

Tables (names in ``warmpool.tables``):
- ``PERSON_MERGES`` (identity.person_merge_history), append-only, one row per id change:
  ``retired_person_id, surviving_person_id, reason, records_moved, run_id, recorded_at``.
  ``merge`` / ``review_link``: the retired id is gone; its records now live in the surviving id
  (``review_link`` when a reviewer's link decision made the merge).
  ``split`` / ``unmerge``: some records of ``retired_person_id`` (which usually lives on: it stays
  with the part holding most of its records) moved to ``surviving_person_id``, a new or another
  person. The column names follow the merge case; for a split read them as "from" -> "to".
- ``RESOLUTION_RUNS``: ``run_id, kind (resolve|resolve_incremental|review|unmerge), started_at, records,
  persons, merges, splits, model_version``, and for resolve runs ``new_records, changed_records,
  removed_records`` (since the previous resolve run), ``drift_bits`` (incremental runs: the bound on
  how far stored pair scores may have moved, see ``resolve``) and ``note`` (why a run was full).
- ``PERSON_ID_MAP``: ``any_person_id -> person_id`` for every current id (to itself) and every
  retired id (following merge rows to the current holder). Downstream tables keyed by a person id
  join through it so an id that was merged away is never orphaned.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl

from warmpool import tables

MERGE_REASONS = ("merge", "review_link")
SPLIT_REASONS = ("split", "unmerge")

_DDL = {
    tables.PERSON_MERGES: """(
        retired_person_id VARCHAR NOT NULL, surviving_person_id VARCHAR NOT NULL, reason VARCHAR NOT NULL,
        records_moved BIGINT NOT NULL, run_id VARCHAR NOT NULL, recorded_at TIMESTAMPTZ NOT NULL)""",
    tables.RESOLUTION_RUNS: """(
        run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, records BIGINT NOT NULL,
        persons BIGINT NOT NULL, merges BIGINT NOT NULL, splits BIGINT NOT NULL, model_version INTEGER,
        new_records BIGINT, changed_records BIGINT, removed_records BIGINT, drift_bits DOUBLE, note VARCHAR)""",
    tables.PERSON_ID_MAP: "(any_person_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL)",
}


def table_exists(con, qualified_name: str) -> bool:
    # every result is fetched to the end: DuckDB 2 refuses further work on a half-read result
    schema, _, name = qualified_name.rpartition(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                            [schema or "main", name]).fetchall()[0][0])


def frame(con, sql: str, params=None) -> pl.DataFrame:
    """A query's result as polars (through a relation: DuckDB 2 copies rows for arrow off a DB-API result)."""
    return pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())


def first_row(con, sql: str, params=None):
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


# columns added after the first release: warehouses created before get them on their next run
_ADDED_COLUMNS = {tables.RESOLUTION_RUNS: (("new_records", "BIGINT"), ("changed_records", "BIGINT"),
                                           ("removed_records", "BIGINT"), ("drift_bits", "DOUBLE"),
                                           ("note", "VARCHAR"))}


def ensure_tables(con) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.IDENTITY}")
    for name, ddl in _DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} {ddl}")
    for name, cols in _ADDED_COLUMNS.items():
        for col, typ in cols:
            con.execute(f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {col} {typ}")


def new_run_id(kind: str, started: datetime) -> str:
    """Sortable by time, unique across concurrent test runs."""
    return f"{kind}-{started.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class IdChanges:
    """Rows for ``PERSON_MERGES`` (without run_id / recorded_at)."""
    rows: pl.DataFrame  # retired_person_id, surviving_person_id, reason, records_moved

    @property
    def merges(self) -> int:
        return self.rows.filter(pl.col("reason").is_in(MERGE_REASONS)).height

    @property
    def splits(self) -> int:
        # one split event per person that lost records while living on
        return self.rows.filter(pl.col("reason").is_in(SPLIT_REASONS))["retired_person_id"].n_unique()


_EMPTY = pl.DataFrame(schema={"retired_person_id": pl.String, "surviving_person_id": pl.String,
                              "reason": pl.String, "records_moved": pl.Int64})


def id_changes(previous: pl.DataFrame | None, current: pl.DataFrame, *, split_reason: str = "split",
               review_links=()) -> IdChanges:
    """Compare two assignments (source, source_record_id, person_id) of the same records.

    For every previous person whose records now sit (partly) under other ids: if the id is gone,
    a merge row to the person holding most of its records (then the smallest id) and a split row
    for any other holder; if the id lives on, a split row per other holder. ``review_links``:
    record-key pairs a reviewer linked in this run; a merge they caused is a ``review_link``.
    Records new or removed since the previous run are not changes of id.
    """
    if previous is None or previous.height == 0:
        return IdChanges(_EMPTY)
    keys = ["source", "source_record_id"]
    j = previous.select(*keys, pl.col("person_id").alias("old")).join(
        current.select(*keys, pl.col("person_id").alias("new")), on=keys, how="inner")
    flows = j.group_by("old", "new").len("moved").filter(pl.col("old") != pl.col("new"))
    if flows.height == 0:
        return IdChanges(_EMPTY)
    alive = set(current["person_id"].unique().to_list())
    # the main holder of a retired id: most of its records, then smallest id (deterministic)
    all_flows = j.group_by("old", "new").len("moved").filter(pl.col("old").is_in(flows["old"].unique().implode()))
    main = all_flows.sort(["old", "moved", "new"], descending=[False, True, False]).group_by(
        "old", maintain_order=True).first().select("old", pl.col("new").alias("main"))
    linked: set[tuple[str, str]] = set()
    if review_links:
        prev_of = dict(zip((previous["source"] + "\x1f" + previous["source_record_id"]).to_list(),
                           previous["person_id"].to_list()))
        for a, b in review_links:
            pa, pb = prev_of.get(a), prev_of.get(b)
            if pa and pb and pa != pb:
                linked.update({(pa, pb), (pb, pa)})
    rows = []
    for old, new, moved, main_new in flows.join(main, on="old").sort("old", "new").iter_rows():
        if old not in alive and new == main_new:
            # a merge is a review_link when a reviewer's link joined the retired id to a previous
            # person whose records are now in the survivor
            prev_in_new = set(j.filter(pl.col("new") == new)["old"].unique().to_list())
            reason = "review_link" if any((old, p) in linked for p in prev_in_new) else "merge"
        else:
            reason = split_reason
        rows.append((old, new, reason, int(moved)))
    return IdChanges(pl.DataFrame(rows, schema=_EMPTY.schema, orient="row"))


def record_run(con, *, run_id: str, kind: str, started: datetime, records: int, persons: int,
               changes: IdChanges, model_version: int | None, new_records: int | None = None,
               changed_records: int | None = None, removed_records: int | None = None,
               drift_bits: float | None = None, note: str | None = None) -> None:
    """Append the run and its id changes (inside the caller's transaction)."""
    ensure_tables(con)
    con.execute(f"""INSERT INTO {tables.RESOLUTION_RUNS} (run_id, kind, started_at, records, persons, merges, splits,
            model_version, new_records, changed_records, removed_records, drift_bits, note)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [run_id, kind, started, records, persons, changes.merges, changes.splits, model_version,
                 new_records, changed_records, removed_records, drift_bits, note])
    if changes.rows.height:
        con.register("_warmpool_id_changes", changes.rows.to_arrow())
        try:
            con.execute(f"""INSERT INTO {tables.PERSON_MERGES}
                SELECT retired_person_id, surviving_person_id, reason, records_moved, ?, ? FROM _warmpool_id_changes""",
                        [run_id, started])
        finally:
            con.unregister("_warmpool_id_changes")


def rebuild_id_map(con) -> int:
    """Rewrite ``PERSON_ID_MAP`` from the current assignments and the merge history; returns rows.

    A retired id follows its latest merge row, then the next, until it reaches a current id (an id
    that came back to life, e.g. after a split restored its records, maps to itself). Chains that
    end at an id no longer in the pool (its records were removed) are left out.
    """
    ensure_tables(con)
    current = {r[0] for r in con.execute(f"SELECT DISTINCT person_id FROM {tables.PERSON_ASSIGNMENTS}").fetchall()}
    latest = dict(con.execute(f"""
        SELECT retired_person_id, arg_max(surviving_person_id, recorded_at)
        FROM {tables.PERSON_MERGES} WHERE reason IN {MERGE_REASONS} GROUP BY 1""").fetchall())
    rows = [(p, p) for p in current]
    for retired in latest:
        if retired in current:
            continue
        seen, pid = {retired}, latest[retired]
        while pid not in current and pid in latest and pid not in seen:
            seen.add(pid)
            pid = latest[pid]
        if pid in current:
            rows.append((retired, pid))
    frame = pl.DataFrame(rows, schema={"any_person_id": pl.String, "person_id": pl.String}, orient="row")
    con.register("_warmpool_id_map", frame.to_arrow())
    try:
        con.execute(f"DELETE FROM {tables.PERSON_ID_MAP}")
        con.execute(f"INSERT INTO {tables.PERSON_ID_MAP} SELECT * FROM _warmpool_id_map ORDER BY 1")
    finally:
        con.unregister("_warmpool_id_map")
    return frame.height


def canonical_person_id(con, any_person_id: str) -> str | None:
    """The current person id for any id ever issued (itself if current); None if unknown or gone."""
    if table_exists(con, tables.PERSON_ID_MAP):
        row = first_row(con, f"SELECT person_id FROM {tables.PERSON_ID_MAP} WHERE any_person_id = ?", [any_person_id])
        if row:
            return row[0]
    if table_exists(con, tables.PERSON_ASSIGNMENTS) and first_row(
            con, f"SELECT 1 FROM {tables.PERSON_ASSIGNMENTS} WHERE person_id = ? LIMIT 1", [any_person_id]):
        return any_person_id
    return None


def person_history(con, person_id: str) -> pl.DataFrame:
    """Every history row that mentions ``person_id`` (either side), oldest first."""
    if not table_exists(con, tables.PERSON_MERGES):
        return _EMPTY
    return frame(con, f"""
        SELECT * FROM {tables.PERSON_MERGES} WHERE ? IN (retired_person_id, surviving_person_id)
        ORDER BY recorded_at, reason, retired_person_id, surviving_person_id""", [person_id])
