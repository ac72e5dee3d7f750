"""Identity's own state: the ``identity.*`` warehouse tables and the feature cache, read and written here
only (table names in ``warmpool.tables``).

| table                  | written by                           | what |
|------------------------|--------------------------------------|------|
| ``PERSON_ASSIGNMENTS`` | every run, decision and unmerge      | each record's current person (dbt reads it) |
| ``RECORD_PAIRS``       | resolve runs (replaced, or patched)  | scored pairs with per-comparison evidence |
| ``RECORD_HASHES``      | resolve runs                         | each record's content hash (what changed) |
| ``RESOLUTION_RUNS``    | every run, decision and unmerge      | one row each, with counts and the model version |
| ``PERSON_MERGES``      | every run, decision and unmerge      | id changes, append-only (``history.id_changes``) |
| ``PERSON_ID_MAP``      | rebuilt after every change           | any id ever issued -> current id (``id_map_rows``) |
| ``REVIEW_QUEUE``       | resolve runs, refreshed on decisions | uncertain pairs and their status |
| ``REVIEW_DECISIONS``   | ``review.decide`` / ``review.unmerge`` | link / separate decisions, append-only |

``RESOLUTION_RUNS``: ``run_id, kind (resolve|resolve_incremental|review|unmerge), started_at,
records, persons, merges, splits, model_version``, and for resolve runs ``new_records,
changed_records, removed_records`` (since the previous resolve run), ``drift_bits`` (incremental
runs: the bound on how far stored pair scores may have moved, see ``pool``) and ``note`` (why a run
was full, or what an incremental run re-scored).

Reading never creates anything (the read-only commands open the warehouse read-only): a table that
does not exist yet reads as nothing. Writers change the tables inside ``IdentityStore.transaction``,
which creates whatever is missing once, so a run's writes land together or not at all.
``RECORD_PAIRS`` and ``RECORD_HASHES`` are replaced whole by a full run: the pairs' evidence columns
follow the model's comparisons.

The feature cache (``$WARMPOOL_HOME/identity/feature_cache/``) keeps the normalised features of the
last full run's lineage, keyed by record and content hash, so an incremental run need not
re-normalise the pool.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

import polars as pl

from warmpool import tables
from warmpool.config import get_settings
from warmpool.identity.history import MERGE_REASONS, IdChanges, id_map_rows
from warmpool.identity.keys import ordered_pair, record_key_expr, split_key, sql_record_key
from warmpool.identity.normalize import CONTRACT_COLUMNS
from warmpool.warehouse import table_exists

_DDL = {
    tables.PERSON_ASSIGNMENTS: """(
        source VARCHAR NOT NULL, source_record_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL,
        cluster_size BIGINT NOT NULL, resolved_at TIMESTAMPTZ NOT NULL)""",
    tables.PERSON_MERGES: """(
        retired_person_id VARCHAR NOT NULL, surviving_person_id VARCHAR NOT NULL, reason VARCHAR NOT NULL,
        records_moved BIGINT NOT NULL, run_id VARCHAR NOT NULL, recorded_at TIMESTAMPTZ NOT NULL)""",
    tables.RESOLUTION_RUNS: """(
        run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, records BIGINT NOT NULL,
        persons BIGINT NOT NULL, merges BIGINT NOT NULL, splits BIGINT NOT NULL, model_version INTEGER,
        new_records BIGINT, changed_records BIGINT, removed_records BIGINT, drift_bits DOUBLE, note VARCHAR)""",
    tables.PERSON_ID_MAP: "(any_person_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL)",
    tables.REVIEW_DECISIONS: """(
        decision_seq BIGINT NOT NULL, left_source VARCHAR NOT NULL, left_source_record_id VARCHAR NOT NULL,
        right_source VARCHAR NOT NULL, right_source_record_id VARCHAR NOT NULL, decision VARCHAR NOT NULL,
        reviewer VARCHAR NOT NULL, origin VARCHAR NOT NULL, note VARCHAR, decided_at TIMESTAMPTZ NOT NULL)""",
    tables.REVIEW_QUEUE: """(
        left_source VARCHAR NOT NULL, left_source_record_id VARCHAR NOT NULL, right_source VARCHAR NOT NULL,
        right_source_record_id VARCHAR NOT NULL, match_probability DOUBLE NOT NULL, match_weight DOUBLE NOT NULL,
        left_person_id VARCHAR, right_person_id VARCHAR, status VARCHAR NOT NULL, decision VARCHAR,
        run_id VARCHAR NOT NULL)""",
}

# columns added after the first release: warehouses created before get them on their next write
_ADDED_COLUMNS = {tables.RESOLUTION_RUNS: (("new_records", "BIGINT"), ("changed_records", "BIGINT"),
                                           ("removed_records", "BIGINT"), ("drift_bits", "DOUBLE"),
                                           ("note", "VARCHAR"))}

_PAIR_KEY_L = sql_record_key("source_l", "source_record_id_l")
_PAIR_KEY_R = sql_record_key("source_r", "source_record_id_r")


def _keys_frame(keys) -> pl.DataFrame:
    return pl.DataFrame({"_key": sorted(keys)}, schema={"_key": pl.String})


def content_hash_sql(table_alias: str = "") -> str:
    """SQL of a source record's content hash: an md5 of its contract columns (stable across library
    versions, which polars' hash is not; chr(30) marks a NULL). DuckDB and PostgreSQL both run it."""
    prefix = f"{table_alias}." if table_alias else ""
    parts = ", ".join(f'coalesce(CAST({prefix}"{c}" AS VARCHAR), chr(30))' for c in CONTRACT_COLUMNS)
    return f"md5(concat_ws(chr(31), {parts}))"


class IdentityStore:
    """The ``identity.*`` tables of one warehouse connection (and the feature cache beside it)."""

    def __init__(self, con):
        self.con = con

    # -----------------------------------------------------------------------------------------
    # plumbing

    def _frame(self, sql: str, params=None) -> pl.DataFrame:
        """A query's result as polars (through a relation: DuckDB 2 copies rows for arrow off a DB-API result)."""
        return pl.from_arrow(self.con.sql(sql, params=params or None).arrow().read_all())

    def _first_row(self, sql: str, params=None):
        # every result is fetched to the end: DuckDB 2 refuses further work on a half-read result
        rows = self.con.execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    @contextmanager
    def _registered(self, **frames: pl.DataFrame) -> Iterator[None]:
        """Polars frames visible to SQL under the given names for the duration of the block."""
        for name, frame in frames.items():
            self.con.register(name, frame.to_arrow())
        try:
            yield
        finally:
            for name in frames:
                self.con.unregister(name)

    def has(self, table: str) -> bool:
        return table_exists(self.con, table)

    @contextmanager
    def transaction(self) -> Iterator["IdentityStore"]:
        """One transaction for a run's writes; creates the tables (and added columns) that are missing."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.IDENTITY}")
            for name, ddl in _DDL.items():
                self.con.execute(f"CREATE TABLE IF NOT EXISTS {name} {ddl}")
            for name, cols in _ADDED_COLUMNS.items():
                for col, typ in cols:
                    self.con.execute(f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {col} {typ}")
            yield self
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise

    # -----------------------------------------------------------------------------------------
    # source records (read only: dbt writes them)

    def source_records(self, *, content_hash: bool = False) -> pl.DataFrame:
        """Every row of ``SOURCE_RECORDS``, contract columns as text; with ``content_hash``, an md5 of
        them (stable across library versions, which polars' hash is not; chr(30) marks a NULL)."""
        cols = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in CONTRACT_COLUMNS)
        if content_hash:
            cols += f", {content_hash_sql()} AS content_hash"
        return self._frame(f"SELECT {cols} FROM {tables.SOURCE_RECORDS}")

    def source_rows_of(self, records: pl.DataFrame) -> pl.DataFrame | None:
        """The source row of each of ``records`` (source, source_record_id): the first row of a
        duplicated key, as a resolve run reads them. None when there are no source records."""
        if not self.has(tables.SOURCE_RECORDS):
            return None
        cols = ", ".join(f'CAST(s."{c}" AS VARCHAR) AS "{c}"' for c in CONTRACT_COLUMNS)
        with self._registered(_warmpool_members=records.select("source", "source_record_id")):
            return self._frame(f"""SELECT {cols} FROM (SELECT *, row_number() OVER () AS _seq
                    FROM {tables.SOURCE_RECORDS}) s
                JOIN _warmpool_members m ON (m.source, m.source_record_id) = (s.source, s.source_record_id)
                QUALIFY row_number() OVER (PARTITION BY s.source, s.source_record_id ORDER BY s._seq) = 1""")

    def person_source_records(self, person_id: str) -> pl.DataFrame:
        """The source rows of a person's records (every row of a duplicated key), by key."""
        cols = ", ".join(f'CAST(s."{c}" AS VARCHAR) AS "{c}"' for c in CONTRACT_COLUMNS)
        return self._frame(f"""SELECT {cols} FROM {tables.SOURCE_RECORDS} s JOIN {tables.PERSON_ASSIGNMENTS} a
            USING (source, source_record_id) WHERE a.person_id = ? ORDER BY s.source, s.source_record_id""",
                           [person_id])

    # -----------------------------------------------------------------------------------------
    # assignments and persons

    def assignments(self) -> pl.DataFrame | None:
        """``source, source_record_id, person_id`` of every record, or None before the first run."""
        if not self.has(tables.PERSON_ASSIGNMENTS):
            return None
        return self._frame(f"SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS}")

    def assignment_count(self) -> int:
        return self._first_row(f"SELECT count(*) FROM {tables.PERSON_ASSIGNMENTS}")[0]

    def person_ids(self) -> set[str]:
        rows = self.con.execute(f"SELECT DISTINCT person_id FROM {tables.PERSON_ASSIGNMENTS}").fetchall()
        return {r[0] for r in rows}

    def person_records(self, person_ids) -> pl.DataFrame:
        """``source, source_record_id, person_id`` of the records of ``person_ids``, by key."""
        ids = sorted(set(person_ids))
        return self._frame(f"""SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS}
            WHERE person_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1, 2""", [ids])

    def person_of(self, source: str, source_record_id: str) -> str | None:
        row = self._first_row(f"SELECT person_id FROM {tables.PERSON_ASSIGNMENTS} "
                              "WHERE source = ? AND source_record_id = ?", [source, source_record_id])
        return row[0] if row else None

    def persons_of_keys(self, keys) -> set[str]:
        found = self._frame(f"""SELECT DISTINCT person_id FROM {tables.PERSON_ASSIGNMENTS}
            WHERE {sql_record_key("source", "source_record_id")} IN (SELECT unnest(?::VARCHAR[]))""", [sorted(keys)])
        return set(found["person_id"].to_list())

    def canonical_person_id(self, any_person_id: str) -> str | None:
        """The current person id for any id ever issued (itself if current); None if unknown or gone."""
        if self.has(tables.PERSON_ID_MAP):
            row = self._first_row(f"SELECT person_id FROM {tables.PERSON_ID_MAP} WHERE any_person_id = ?",
                                  [any_person_id])
            if row:
                return row[0]
        if self.has(tables.PERSON_ASSIGNMENTS) and self._first_row(
                f"SELECT 1 FROM {tables.PERSON_ASSIGNMENTS} WHERE person_id = ? LIMIT 1", [any_person_id]):
            return any_person_id
        return None

    def retired_person_ids(self) -> list[tuple[str, str]] | None:
        """(retired person id, current person id) for every id a merge retired, so stores keyed by person
        (the send ledger) can follow merges; None before identity resolution ever ran."""
        if not self.has(tables.PERSON_ID_MAP):
            return None
        return self.con.execute(f"SELECT any_person_id, person_id FROM {tables.PERSON_ID_MAP} "
                                "WHERE any_person_id <> person_id").fetchall()

    def every_id_of(self, person_ids) -> set[str]:
        """These current person ids and every retired id that now maps to one of them."""
        ids = set(person_ids)
        if ids and self.has(tables.PERSON_ID_MAP):
            ids |= {r[0] for r in self.con.execute(f"SELECT any_person_id FROM {tables.PERSON_ID_MAP} "
                                                    "WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
                                                    [sorted(ids)]).fetchall()}
        return ids

    # -----------------------------------------------------------------------------------------
    # stored pairs

    def pairs_of(self, records: pl.DataFrame) -> pl.DataFrame | None:
        """Stored pairs with both records among ``records`` (source, source_record_id); None before
        the first run."""
        if not self.has(tables.RECORD_PAIRS):
            return None
        with self._registered(_warmpool_members=records.select("source", "source_record_id")):
            return self._frame(f"""SELECT p.* FROM {tables.RECORD_PAIRS} p
                JOIN _warmpool_members l ON (l.source, l.source_record_id) = (p.source_l, p.source_record_id_l)
                JOIN _warmpool_members r ON (r.source, r.source_record_id) = (p.source_r, p.source_record_id_r)""")

    def pairs_among(self, keys: set[str]) -> pl.DataFrame:
        """Stored pairs with both records in ``keys``, with ``_a`` / ``_b`` record keys."""
        with self._registered(_warmpool_keys=_keys_frame(keys)):
            return self._frame(f"""SELECT * FROM (SELECT *, {_PAIR_KEY_L} AS _a, {_PAIR_KEY_R} AS _b
                                   FROM {tables.RECORD_PAIRS})
                WHERE _a IN (SELECT _key FROM _warmpool_keys) AND _b IN (SELECT _key FROM _warmpool_keys)""")

    def pairs_near(self, weight: float, margin: float, gone: pl.DataFrame) -> pl.DataFrame:
        """Keys of stored pairs whose match weight is within ``margin`` of ``weight``, leaving out
        pairs touching a ``gone`` record (source, source_record_id)."""
        with self._registered(_warmpool_gone=gone):
            return self._frame(f"""SELECT source_l, source_record_id_l, source_r, source_record_id_r
                FROM {tables.RECORD_PAIRS} p WHERE abs(match_weight - ?) <= ?
                  AND NOT EXISTS (SELECT 1 FROM _warmpool_gone g WHERE (g.source, g.source_record_id)
                                  IN ((p.source_l, p.source_record_id_l), (p.source_r, p.source_record_id_r)))""",
                               [weight, margin])

    def cross_person_links(self, threshold: float) -> list[tuple[str, str]]:
        """Stored linking pairs (``>= threshold``) whose records sit in different persons (decisions
        or the guard against chaining cut them), as record keys."""
        p = self._frame(f"""SELECT {sql_record_key("p.source_l", "p.source_record_id_l")} AS _a,
                                   {sql_record_key("p.source_r", "p.source_record_id_r")} AS _b
            FROM {tables.RECORD_PAIRS} p
            JOIN {tables.PERSON_ASSIGNMENTS} l ON (l.source, l.source_record_id) = (p.source_l, p.source_record_id_l)
            JOIN {tables.PERSON_ASSIGNMENTS} r ON (r.source, r.source_record_id) = (p.source_r, p.source_record_id_r)
            WHERE p.match_probability >= ? AND l.person_id <> r.person_id""", [threshold])
        return list(p.iter_rows())

    def linking_pairs(self, threshold: float) -> pl.DataFrame | None:
        """``a, b`` record keys of every stored pair ``>= threshold``; None before the first run."""
        if not self.has(tables.RECORD_PAIRS):
            return None
        return self._frame(f"""SELECT {_PAIR_KEY_L} AS a, {_PAIR_KEY_R} AS b FROM {tables.RECORD_PAIRS}
            WHERE match_probability >= ?""", [threshold])

    # -----------------------------------------------------------------------------------------
    # runs

    def last_pool_run(self, kinds: tuple[str, ...]):
        """``(run_id, kind, started_at, records, model_version)`` of the latest run of ``kinds``."""
        if not self.has(tables.RESOLUTION_RUNS):
            return None
        return self._first_row(f"""SELECT run_id, kind, started_at, records, model_version FROM {tables.RESOLUTION_RUNS}
            WHERE kind IN (SELECT unnest(?::VARCHAR[])) ORDER BY started_at DESC LIMIT 1""", [list(kinds)])

    def incremental_changes_since(self, started_at: datetime) -> tuple[int, float]:
        """Records added, changed or removed, and drift bits, summed over incremental runs since ``started_at``."""
        moved, drift = self._first_row(f"""SELECT coalesce(sum(coalesce(new_records, 0) + coalesce(changed_records, 0)
                + coalesce(removed_records, 0)), 0), coalesce(sum(drift_bits), 0)
            FROM {tables.RESOLUTION_RUNS} WHERE kind = 'resolve_incremental' AND started_at > ?""", [started_at])
        return int(moved), float(drift)

    def record_hashes(self) -> pl.DataFrame | None:
        """``source, source_record_id, content_hash`` at the last resolve run; None before one."""
        if not self.has(tables.RECORD_HASHES):
            return None
        return self._frame(f"SELECT source, source_record_id, content_hash FROM {tables.RECORD_HASHES}")

    # -----------------------------------------------------------------------------------------
    # decisions and the review queue

    def decisions(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(links newest first, separates): the latest decision per pair, as record keys."""
        if not self.has(tables.REVIEW_DECISIONS):
            return [], []
        rows = self.con.execute(f"""
            SELECT {sql_record_key("left_source", "left_source_record_id")},
                   {sql_record_key("right_source", "right_source_record_id")},
                   arg_max(decision, decision_seq), max(decision_seq) AS seq
            FROM {tables.REVIEW_DECISIONS} GROUP BY 1, 2 ORDER BY seq DESC""").fetchall()
        links = [(a, b) for a, b, d, _ in rows if d == "link"]
        separates = [(a, b) for a, b, d, _ in rows if d == "separate"]
        return links, separates

    def decided_since(self, at: datetime) -> bool:
        return self.has(tables.REVIEW_DECISIONS) and bool(self._first_row(
            f"SELECT 1 FROM {tables.REVIEW_DECISIONS} WHERE decided_at >= ? LIMIT 1", [at]))

    def review_items(self, limit: int, status: str) -> pl.DataFrame:
        """Queue rows of ``status`` (or ``all``), closest to a coin flip first."""
        if not self.has(tables.REVIEW_QUEUE):
            return pl.DataFrame()
        where = "" if status == "all" else "WHERE status = ?"
        params = [] if status == "all" else [status]
        # closest to a coin flip first: those are where a reviewer helps most
        return self._frame(f"""SELECT * FROM {tables.REVIEW_QUEUE} {where}
            ORDER BY abs(match_probability - 0.5), left_source, left_source_record_id LIMIT {int(limit)}""", params)

    # -----------------------------------------------------------------------------------------
    # writing (inside ``transaction``)

    def replace_pool(self, assignments: pl.DataFrame, pairs: pl.DataFrame, hashes: pl.DataFrame) -> None:
        """A full run: every assignment, the scored pairs and the content hashes replaced."""
        with self._registered(_warmpool_assignments=assignments, _warmpool_pairs=pairs, _warmpool_hashes=hashes):
            self.con.execute(f"DELETE FROM {tables.PERSON_ASSIGNMENTS}")
            self.con.execute(f"""INSERT INTO {tables.PERSON_ASSIGNMENTS}
                SELECT source, source_record_id, person_id, cluster_size, now() FROM _warmpool_assignments""")
            # the pairs' evidence columns follow the model's comparisons, so the table is replaced
            self.con.execute(f"CREATE OR REPLACE TABLE {tables.RECORD_PAIRS} AS SELECT * FROM _warmpool_pairs")
            self.con.execute(f"CREATE OR REPLACE TABLE {tables.RECORD_HASHES} AS SELECT * FROM _warmpool_hashes")

    def patch_pool(self, assignments: pl.DataFrame, dropped: pl.DataFrame, gone: pl.DataFrame, rescored: set[str],
                   pairs: pl.DataFrame, hashes: pl.DataFrame) -> None:
        """An incremental run: the assignments of ``dropped`` records (source, source_record_id) replaced
        by ``assignments``; stored pairs and queue rows replaced where a record of the pair changed or
        left (``gone``) or both its records were re-scored (``rescored`` keys) by the newly scored
        ``pairs``; the content hashes of ``gone`` records dropped and ``hashes`` (the new and changed
        records') added."""
        gone_keys = gone.select(record_key_expr().alias("_key"))

        def stale(l_src, l_id, r_src, r_id):
            # a stored pair is replaced when a record of it changed or left, or both records were re-scored
            left, right = f"({sql_record_key(l_src, l_id)})", f"({sql_record_key(r_src, r_id)})"
            gone_, rescored_ = "(SELECT _key FROM _warmpool_gone)", "(SELECT _key FROM _warmpool_rescore)"
            return (f"({left} IN {gone_} OR {right} IN {gone_} "
                    f"OR ({left} IN {rescored_} AND {right} IN {rescored_}))")

        with self._registered(_warmpool_assignments=assignments, _warmpool_drop=dropped, _warmpool_gone=gone_keys,
                              _warmpool_rescore=_keys_frame(rescored), _warmpool_pairs=pairs,
                              _warmpool_hashes=hashes):
            self.con.execute(f"""DELETE FROM {tables.PERSON_ASSIGNMENTS} a USING _warmpool_drop d
                WHERE (a.source, a.source_record_id) = (d.source, d.source_record_id)""")
            self.con.execute(f"""INSERT INTO {tables.PERSON_ASSIGNMENTS}
                SELECT source, source_record_id, person_id, cluster_size, now() FROM _warmpool_assignments""")
            self.con.execute(f"DELETE FROM {tables.RECORD_PAIRS} WHERE "
                             + stale("source_l", "source_record_id_l", "source_r", "source_record_id_r"))
            self.con.execute(f"INSERT INTO {tables.RECORD_PAIRS} BY NAME SELECT * FROM _warmpool_pairs")
            self.con.execute(f"DELETE FROM {tables.REVIEW_QUEUE} WHERE "
                             + stale("left_source", "left_source_record_id", "right_source", "right_source_record_id"))
            record = sql_record_key("source", "source_record_id")
            self.con.execute(f"DELETE FROM {tables.RECORD_HASHES} WHERE ({record}) IN (SELECT _key FROM _warmpool_gone)")
            self.con.execute(f"INSERT INTO {tables.RECORD_HASHES} SELECT * FROM _warmpool_hashes")

    def reassign(self, assignments: pl.DataFrame) -> None:
        """Replace the assignments of these records (a decision or an unmerge re-clustered them)."""
        with self._registered(_warmpool_reassigned=assignments):
            self.con.execute(f"""DELETE FROM {tables.PERSON_ASSIGNMENTS} a USING _warmpool_reassigned n
                WHERE (a.source, a.source_record_id) = (n.source, n.source_record_id)""")
            self.con.execute(f"""INSERT INTO {tables.PERSON_ASSIGNMENTS}
                SELECT source, source_record_id, person_id, cluster_size, now() FROM _warmpool_reassigned""")

    def record_run(self, *, run_id: str, kind: str, started: datetime, records: int, persons: int,
                   changes: IdChanges, model_version: int | None, new_records: int | None = None,
                   changed_records: int | None = None, removed_records: int | None = None,
                   drift_bits: float | None = None, note: str | None = None) -> None:
        """Append the run and its id changes."""
        self.con.execute(f"""INSERT INTO {tables.RESOLUTION_RUNS} (run_id, kind, started_at, records, persons, merges,
                splits, model_version, new_records, changed_records, removed_records, drift_bits, note)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                         [run_id, kind, started, records, persons, changes.merges, changes.splits, model_version,
                          new_records, changed_records, removed_records, drift_bits, note])
        if changes.rows.height:
            with self._registered(_warmpool_id_changes=changes.rows):
                self.con.execute(f"""INSERT INTO {tables.PERSON_MERGES}
                    SELECT retired_person_id, surviving_person_id, reason, records_moved, ?, ?
                    FROM _warmpool_id_changes""", [run_id, started])

    def rebuild_id_map(self) -> int:
        """Rewrite ``PERSON_ID_MAP`` from the current assignments and the merge history; returns rows."""
        latest = dict(self.con.execute(f"""
            SELECT retired_person_id, arg_max(surviving_person_id, recorded_at)
            FROM {tables.PERSON_MERGES} WHERE reason IN {MERGE_REASONS} GROUP BY 1""").fetchall())
        frame = pl.DataFrame(id_map_rows(self.person_ids(), latest),
                             schema={"any_person_id": pl.String, "person_id": pl.String}, orient="row")
        with self._registered(_warmpool_id_map=frame):
            self.con.execute(f"DELETE FROM {tables.PERSON_ID_MAP}")
            self.con.execute(f"INSERT INTO {tables.PERSON_ID_MAP} SELECT * FROM _warmpool_id_map ORDER BY 1")
        return frame.height

    def write_review_queue(self, queue: pl.DataFrame, run_id: str, *, replace: bool) -> None:
        """Queue ``queue`` (pairs: record keys, match probability and weight) as open items of
        ``run_id``: replacing the whole queue (full runs), or added to it (incremental runs, which
        removed the rows of the pairs they re-scored in ``patch_pool``)."""
        with self._registered(_warmpool_queue=queue):
            if replace:
                self.con.execute(f"DELETE FROM {tables.REVIEW_QUEUE}")
            self.con.execute(f"""INSERT INTO {tables.REVIEW_QUEUE}
                SELECT source_l, source_record_id_l, source_r, source_record_id_r, match_probability, match_weight,
                       NULL, NULL, 'open', NULL, ? FROM _warmpool_queue
                ORDER BY match_probability, 1, 2, 3, 4""", [run_id])
        self.refresh_review_queue()

    def refresh_review_queue(self) -> None:
        """Bring the queue's person ids and decision status up to date."""
        self.con.execute(f"""UPDATE {tables.REVIEW_QUEUE} q SET left_person_id = a.person_id
            FROM {tables.PERSON_ASSIGNMENTS} a
            WHERE a.source = q.left_source AND a.source_record_id = q.left_source_record_id""")
        self.con.execute(f"""UPDATE {tables.REVIEW_QUEUE} q SET right_person_id = a.person_id
            FROM {tables.PERSON_ASSIGNMENTS} a
            WHERE a.source = q.right_source AND a.source_record_id = q.right_source_record_id""")
        self.con.execute(f"""UPDATE {tables.REVIEW_QUEUE} q SET status = 'decided', decision = d.decision FROM (
                SELECT left_source, left_source_record_id, right_source, right_source_record_id,
                       arg_max(decision, decision_seq) AS decision
                FROM {tables.REVIEW_DECISIONS} GROUP BY 1, 2, 3, 4) d
            WHERE (d.left_source, d.left_source_record_id, d.right_source, d.right_source_record_id)
                = (q.left_source, q.left_source_record_id, q.right_source, q.right_source_record_id)""")

    def append_decisions(self, pairs, decision: str, reviewer: str, origin: str, note: str | None) -> None:
        """Append one decision per distinct pair of record keys (numbered after the last one)."""
        ordered = sorted({ordered_pair(a, b) for a, b in pairs if a != b})
        start = self._first_row(f"SELECT coalesce(max(decision_seq), 0) FROM {tables.REVIEW_DECISIONS}")[0]
        rows = [(start + i + 1, *split_key(a), *split_key(b), decision, reviewer, origin, note)
                for i, (a, b) in enumerate(ordered)]
        frame = pl.DataFrame(rows, orient="row", schema={
            "decision_seq": pl.Int64, "left_source": pl.String, "left_source_record_id": pl.String,
            "right_source": pl.String, "right_source_record_id": pl.String, "decision": pl.String,
            "reviewer": pl.String, "origin": pl.String, "note": pl.String})
        with self._registered(_warmpool_decisions=frame):
            self.con.execute(f"INSERT INTO {tables.REVIEW_DECISIONS} SELECT *, now() FROM _warmpool_decisions")

    # -----------------------------------------------------------------------------------------
    # a person's rows (access and erasure: warmpool.privacy asks, this answers)

    # (table, the columns naming a record or a person in it)
    _RECORD_COLUMNS = ((tables.PERSON_ASSIGNMENTS, ("source", "source_record_id")),
                       (tables.RECORD_HASHES, ("source", "source_record_id")),
                       (tables.RECORD_PAIRS, ("source_l", "source_record_id_l")),
                       (tables.RECORD_PAIRS, ("source_r", "source_record_id_r")),
                       (tables.REVIEW_QUEUE, ("left_source", "left_source_record_id")),
                       (tables.REVIEW_QUEUE, ("right_source", "right_source_record_id")),
                       (tables.REVIEW_DECISIONS, ("left_source", "left_source_record_id")),
                       (tables.REVIEW_DECISIONS, ("right_source", "right_source_record_id")))
    _PERSON_COLUMNS = ((tables.PERSON_MERGES, "retired_person_id"), (tables.PERSON_MERGES, "surviving_person_id"),
                       (tables.PERSON_ID_MAP, "any_person_id"), (tables.PERSON_ID_MAP, "person_id"),
                       (tables.REVIEW_QUEUE, "left_person_id"), (tables.REVIEW_QUEUE, "right_person_id"))

    def _person_where(self, table: str) -> str | None:
        """A WHERE clause matching ``table``'s rows of the registered ``_warmpool_forget_*`` frames."""
        parts = [f"({sql_record_key(s, r)}) IN (SELECT _key FROM _warmpool_forget_keys)"
                 for t, (s, r) in self._RECORD_COLUMNS if t == table]
        parts += [f"{c} IN (SELECT person_id FROM _warmpool_forget_persons)"
                  for t, c in self._PERSON_COLUMNS if t == table]
        return " OR ".join(parts) if parts else None

    @contextmanager
    def _forgetting(self, record_keys, person_ids) -> Iterator[None]:
        with self._registered(_warmpool_forget_keys=_keys_frame(record_keys),
                              _warmpool_forget_persons=pl.DataFrame({"person_id": sorted(set(person_ids))},
                                                                    schema={"person_id": pl.String})):
            yield

    def person_rows(self, record_keys, person_ids) -> dict[str, list[dict]]:
        """Every identity row about these records or person ids, per table (an access export)."""
        out: dict[str, list[dict]] = {}
        with self._forgetting(record_keys, person_ids):
            for table in dict.fromkeys(t for t, _ in (*self._RECORD_COLUMNS, *self._PERSON_COLUMNS)):
                if self.has(table):
                    rows = self._frame(f"SELECT * FROM {table} WHERE {self._person_where(table)}").to_dicts()
                    if rows:
                        out[table] = rows
        return out

    def forget(self, record_keys, person_ids) -> dict[str, int]:
        """Delete every identity row about these records or person ids (assignments, pairs, hashes,
        merge history, the id map, the review queue and decisions) and their feature-cache rows.
        Rows deleted per table; nothing else about other people changes (their pairs with these
        records go: such a pair has nobody left on one side)."""
        removed: dict[str, int] = {}
        with self._forgetting(record_keys, person_ids):
            for table in dict.fromkeys(t for t, _ in (*self._RECORD_COLUMNS, *self._PERSON_COLUMNS)):
                if self.has(table):
                    n = self._first_row(f"SELECT count(*) FROM {table} WHERE {self._person_where(table)}")[0]
                    if n:
                        self.con.execute(f"DELETE FROM {table} WHERE {self._person_where(table)}")
                        removed[table] = n
        folder = get_settings().identity_dir / "feature_cache"
        for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
            cache = pl.read_parquet(path)
            kept = cache.filter(~record_key_expr().is_in(sorted(record_keys)))
            if kept.height < cache.height:
                tmp = path.with_suffix(".tmp")
                kept.write_parquet(tmp)
                tmp.replace(path)
                removed[f"feature_cache/{path.name}"] = cache.height - kept.height
        return removed

    # -----------------------------------------------------------------------------------------
    # the feature cache (a file: it only saves time, so failing to write it never fails a run)

    @staticmethod
    def feature_cache_path(full_run_id: str, model) -> Path:
        # one file per full-run lineage: a warehouse's incremental runs rewrite their full run's file
        return (get_settings().identity_dir / "feature_cache"
                / f"{full_run_id}-m{model.model_version}-n{model.normalize_version}.parquet")

    @staticmethod
    def read_feature_cache(path: Path) -> pl.DataFrame | None:
        return pl.read_parquet(path) if path.exists() else None

    def current_features(self, model) -> pl.DataFrame | None:
        """The normalised features of the pool's records as the last resolve run (full or incremental)
        left them: keys, ``content_hash`` and the features ``model`` reads; None without one."""
        last_full = self.last_pool_run(("resolve",))
        return None if last_full is None else self.read_feature_cache(self.feature_cache_path(last_full[0], model))

    @staticmethod
    def write_feature_cache(path: Path, features: pl.DataFrame, hashes: pl.DataFrame, *,
                            replaces: Path | None = None) -> None:
        """Features keyed by record key + content hash (row-aligned ``hashes``); written atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        features.drop("unique_id").with_columns(hashes["content_hash"]).write_parquet(tmp)
        tmp.replace(path)
        if replaces is not None and replaces != path:
            replaces.unlink(missing_ok=True)


def canonical_person_id(con, any_person_id: str) -> str | None:
    """The current person id for any id ever issued (itself if current); None if unknown or gone.

    Anything keyed by a person id that may have been merged away joins through ``PERSON_ID_MAP``;
    this is the same look-up for one id.
    """
    return IdentityStore(con).canonical_person_id(any_person_id)
