"""The review queue, reviewers' decisions, and unmerge.

- ``REVIEW_QUEUE`` is rebuilt by every full resolve run (an incremental run replaces only the rows
  of pairs it scored) from the scored pairs whose match probability is
  inside the configured band (``identity.review_band`` in config/warmpool.yaml): the pairs the model
  is least sure about, whether it linked them or not. ``status`` is ``open`` until a decision exists.
- ``REVIEW_DECISIONS`` is append-only: ``link`` or ``separate`` for a pair of records, who decided,
  when, and why (``origin``: review | unmerge). The latest decision for a pair is the one in force;
  every later run applies it (see ``pairs.constrained_clusters``).
- A decision takes effect at once: the persons holding the two records are re-clustered from the
  last run's scored pairs with the decisions in force, which is what the next run will do too.
- ``unmerge`` splits a person by recording ``separate`` decisions (every pair of its records, or the
  given records against the rest), then re-clusters it. No record is ever dropped.

All writers here need the warehouse open for writing: only while no pipeline run is in progress.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import polars as pl

from warmpool import tables
from warmpool.identity import history
from warmpool.identity.pairs import KEY_SEP, PAIR_KEYS, constrained_clusters, ordered_pair, record_key, split_key

DEFAULT_REVIEW_BAND = (0.5, 0.9)
DECISIONS = ("link", "separate")

_DDL = {
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


class ReviewError(ValueError):
    """A review command cannot be applied (unknown record or person, nothing to split...)."""


def ensure_tables(con) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.IDENTITY}")
    for name, ddl in _DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} {ddl}")


def review_band(settings=None) -> tuple[float, float]:
    """(low, high) match probability band of the review queue, from ``identity.review_band``."""
    from warmpool.config import get_settings

    raw = (settings or get_settings()).raw.get("identity", {}) or {}
    low, high = raw.get("review_band", DEFAULT_REVIEW_BAND)
    low, high = float(low), float(high)
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"identity.review_band must be 0 <= low <= high <= 1, got {[low, high]}")
    return low, high


def parse_record_key(text: str) -> str:
    """``source:source_record_id`` (as the CLI and the queue print it) -> internal record key."""
    source, sep, rid = text.strip().partition(":")
    if not sep or not source or not rid:
        raise ReviewError(f"record key {text!r} must look like SOURCE:SOURCE_RECORD_ID, e.g. ats:10000042")
    return record_key(source, rid)


def show_key(key: str) -> str:
    return ":".join(split_key(key))


# ---------------------------------------------------------------------------------------------
# decisions

def effective_decisions(con) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(links newest first, separates): the latest decision per pair."""
    if not history.table_exists(con, tables.REVIEW_DECISIONS):
        return [], []
    rows = con.execute(f"""
        SELECT left_source || '{KEY_SEP}' || left_source_record_id, right_source || '{KEY_SEP}' || right_source_record_id,
               arg_max(decision, decision_seq), max(decision_seq) AS seq
        FROM {tables.REVIEW_DECISIONS} GROUP BY 1, 2 ORDER BY seq DESC""").fetchall()
    links = [(a, b) for a, b, d, _ in rows if d == "link"]
    separates = [(a, b) for a, b, d, _ in rows if d == "separate"]
    return links, separates


def _append_decisions(con, pairs, decision: str, reviewer: str, origin: str, note: str | None) -> None:
    ensure_tables(con)
    ordered = sorted({ordered_pair(a, b) for a, b in pairs if a != b})
    start = history.first_row(con, f"SELECT coalesce(max(decision_seq), 0) FROM {tables.REVIEW_DECISIONS}")[0]
    rows = [(start + i + 1, *split_key(a), *split_key(b), decision, reviewer, origin, note)
            for i, (a, b) in enumerate(ordered)]
    frame = pl.DataFrame(rows, orient="row", schema={
        "decision_seq": pl.Int64, "left_source": pl.String, "left_source_record_id": pl.String,
        "right_source": pl.String, "right_source_record_id": pl.String, "decision": pl.String,
        "reviewer": pl.String, "origin": pl.String, "note": pl.String})
    con.register("_warmpool_decisions", frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {tables.REVIEW_DECISIONS} SELECT *, now() FROM _warmpool_decisions")
    finally:
        con.unregister("_warmpool_decisions")


# ---------------------------------------------------------------------------------------------
# the queue

def write_queue(con, pairs: pl.DataFrame, assignments: pl.DataFrame, band: tuple[float, float], run_id: str) -> int:
    """Replace ``REVIEW_QUEUE`` with this run's pairs inside ``band`` (caller's transaction)."""
    ensure_tables(con)
    low, high = band
    queue = pairs.filter(pl.col("match_probability").is_between(low, high)).select(
        *PAIR_KEYS, "match_probability", "match_weight")
    con.register("_warmpool_queue", queue.to_arrow())
    try:
        con.execute(f"DELETE FROM {tables.REVIEW_QUEUE}")
        con.execute(f"""INSERT INTO {tables.REVIEW_QUEUE}
            SELECT source_l, source_record_id_l, source_r, source_record_id_r, match_probability, match_weight,
                   NULL, NULL, 'open', NULL, ? FROM _warmpool_queue
            ORDER BY match_probability, 1, 2, 3, 4""", [run_id])
    finally:
        con.unregister("_warmpool_queue")
    refresh_queue(con)
    return queue.height


def append_queue(con, pairs: pl.DataFrame, band: tuple[float, float], run_id: str) -> int:
    """Incremental runs: add the newly scored pairs inside ``band`` (the caller has already removed
    the rows of pairs it re-scored or whose records changed); older rows keep their run_id."""
    ensure_tables(con)
    low, high = band
    queue = pairs.filter(pl.col("match_probability").is_between(low, high)).select(
        *PAIR_KEYS, "match_probability", "match_weight")
    con.register("_warmpool_queue", queue.to_arrow())
    try:
        con.execute(f"""INSERT INTO {tables.REVIEW_QUEUE}
            SELECT source_l, source_record_id_l, source_r, source_record_id_r, match_probability, match_weight,
                   NULL, NULL, 'open', NULL, ? FROM _warmpool_queue
            ORDER BY match_probability, 1, 2, 3, 4""", [run_id])
    finally:
        con.unregister("_warmpool_queue")
    refresh_queue(con)
    return queue.height


def refresh_queue(con) -> None:
    """Bring the queue's person ids and decision status up to date."""
    ensure_tables(con)
    con.execute(f"""UPDATE {tables.REVIEW_QUEUE} q SET left_person_id = a.person_id FROM {tables.PERSON_ASSIGNMENTS} a
        WHERE a.source = q.left_source AND a.source_record_id = q.left_source_record_id""")
    con.execute(f"""UPDATE {tables.REVIEW_QUEUE} q SET right_person_id = a.person_id FROM {tables.PERSON_ASSIGNMENTS} a
        WHERE a.source = q.right_source AND a.source_record_id = q.right_source_record_id""")
    con.execute(f"""UPDATE {tables.REVIEW_QUEUE} q SET status = 'decided', decision = d.decision FROM (
            SELECT left_source, left_source_record_id, right_source, right_source_record_id,
                   arg_max(decision, decision_seq) AS decision
            FROM {tables.REVIEW_DECISIONS} GROUP BY 1, 2, 3, 4) d
        WHERE (d.left_source, d.left_source_record_id, d.right_source, d.right_source_record_id)
            = (q.left_source, q.left_source_record_id, q.right_source, q.right_source_record_id)""")


def open_items(con, limit: int = 20, status: str = "open") -> pl.DataFrame:
    if not history.table_exists(con, tables.REVIEW_QUEUE):
        return pl.DataFrame()
    where = "" if status == "all" else "WHERE status = ?"
    params = [] if status == "all" else [status]
    # closest to a coin flip first: those are where a reviewer helps most
    return history.frame(con, f"""SELECT * FROM {tables.REVIEW_QUEUE} {where}
        ORDER BY abs(match_probability - 0.5), left_source, left_source_record_id LIMIT {int(limit)}""", params)


# ---------------------------------------------------------------------------------------------
# applying decisions now

@dataclass(frozen=True)
class Applied:
    run_id: str
    changes: history.IdChanges
    persons_before: list[str]
    persons_after: list[str]

    def describe(self) -> str:
        lines = [f"{len(self.persons_before)} person(s) -> {len(self.persons_after)} person(s): "
                 f"{', '.join(self.persons_after)} [{self.run_id}]"]
        for old, new, reason, moved in self.changes.rows.iter_rows():
            lines.append(f"  {reason}: {old} -> {new} ({moved} record(s))")
        return "\n".join(lines)


def _person_records(con, person_ids) -> pl.DataFrame:
    ids = sorted(set(person_ids))
    return history.frame(con, f"""SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS}
        WHERE person_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1, 2""", [ids])


def _pairs_among(con, current: pl.DataFrame) -> pl.DataFrame | None:
    if not history.table_exists(con, tables.RECORD_PAIRS):
        return None
    con.register("_warmpool_members", current.select("source", "source_record_id").to_arrow())
    try:
        return history.frame(con, f"""SELECT p.* FROM {tables.RECORD_PAIRS} p
            JOIN _warmpool_members l ON (l.source, l.source_record_id) = (p.source_l, p.source_record_id_l)
            JOIN _warmpool_members r ON (r.source, r.source_record_id) = (p.source_r, p.source_record_id_r)""")
    finally:
        con.unregister("_warmpool_members")


def _contradictions(con, current: pl.DataFrame, keys: list[str], pairs, threshold: float) -> list[tuple[str, str]]:
    """The guard against chaining for these records (``pairs.model_contradictions``), from their
    source rows (first row of a duplicated key, as a resolve run reads them)."""
    from warmpool.identity.matching import features_for_model
    from warmpool.identity.normalize import CONTRACT_COLUMNS, to_contract_frame
    from warmpool.identity.pairs import model_contradictions
    from warmpool.identity.resolve import load_model

    if pairs is None or not history.table_exists(con, tables.SOURCE_RECORDS):
        return []
    model = load_model()
    cols = ", ".join(f'CAST(s."{c}" AS VARCHAR) AS "{c}"' for c in CONTRACT_COLUMNS)
    con.register("_warmpool_members", current.select("source", "source_record_id").to_arrow())
    try:
        rows = history.frame(con, f"""SELECT {cols} FROM (SELECT *, row_number() OVER () AS _seq
                FROM {tables.SOURCE_RECORDS}) s
            JOIN _warmpool_members m ON (m.source, m.source_record_id) = (s.source, s.source_record_id)
            QUALIFY row_number() OVER (PARTITION BY s.source, s.source_record_id ORDER BY s._seq) = 1""")
    finally:
        con.unregister("_warmpool_members")
    if rows.height < 3:
        return []
    features = features_for_model(to_contract_frame(rows), model)
    return model_contradictions(keys, features, pairs, threshold, model)


def _component_persons(con, person_ids, threshold: float, links) -> list[str]:
    """``person_ids`` plus every person reachable from them through linking pairs or link decisions.

    Clustering is independent between components of that graph, so re-clustering the whole
    component gives exactly what a pool-wide run would: a record freed by a new decision may join
    a neighbouring person that only a cut had kept apart.
    """
    seeds = _person_records(con, person_ids)
    frontier = set((seeds["source"] + KEY_SEP + seeds["source_record_id"]).to_list())
    if not history.table_exists(con, tables.RECORD_PAIRS):
        return sorted(set(person_ids))
    edges = history.frame(con, f"""SELECT source_l || '{KEY_SEP}' || source_record_id_l AS a,
        source_r || '{KEY_SEP}' || source_record_id_r AS b FROM {tables.RECORD_PAIRS}
        WHERE match_probability >= ?""", [threshold])
    if links:
        edges = pl.concat([edges, pl.DataFrame(list(links), schema=["a", "b"], orient="row")])
    seen = set(frontier)
    while frontier:
        hit = edges.filter(pl.col("a").is_in(list(frontier)) | pl.col("b").is_in(list(frontier)))
        frontier = (set(hit["a"].to_list()) | set(hit["b"].to_list())) - seen
        seen |= frontier
    found = history.frame(con, f"""SELECT DISTINCT person_id FROM {tables.PERSON_ASSIGNMENTS}
        WHERE source || '{KEY_SEP}' || source_record_id IN (SELECT unnest(?::VARCHAR[]))""", [sorted(seen)])
    return sorted(set(found["person_id"].to_list()) | set(person_ids))


def recluster_persons(con, person_ids, *, kind: str, split_reason: str, threshold: float | None = None,
                      model_version: int | None = None) -> Applied:
    """Re-cluster the records of ``person_ids`` (and their neighbours) from stored pairs + decisions.

    Same rules as a resolve run (``constrained_clusters`` then ``assign_stable_ids``), limited to
    the persons connected to these, so a decision costs a fraction of a pool-wide run and gives the
    same answer as the next one.
    """
    from warmpool.identity.resolve import assign_stable_ids, load_model

    if threshold is None or model_version is None:
        model = load_model()
        threshold = model.threshold_match_probability if threshold is None else threshold
        model_version = model.model_version if model_version is None else model_version
    started = history.now_utc()
    run_id = history.new_run_id(kind, started)
    links, separates = effective_decisions(con)
    current = _person_records(con, _component_persons(con, person_ids, threshold, links))
    keys = (current["source"] + KEY_SEP + current["source_record_id"]).to_list()
    pairs = _pairs_among(con, current)
    contradictions = _contradictions(con, current, keys, pairs, threshold)
    clustering = constrained_clusters(keys, pairs, threshold, links, separates, contradictions)
    others = {r[0] for r in con.execute(f"SELECT DISTINCT person_id FROM {tables.PERSON_ASSIGNMENTS}").fetchall()}
    others -= set(current["person_id"].unique().to_list())
    ids = assign_stable_ids(clustering.clusters, current, reserved_ids=others)
    ids = ids.with_columns(pl.len().over("person_id").cast(pl.Int64).alias("cluster_size"))
    used_links = [(a, b) for a, b, how in clustering.held_by if how == "review_link"]
    changes = history.id_changes(current, ids, split_reason=split_reason, review_links=used_links)
    con.register("_warmpool_reassigned", ids.to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"""DELETE FROM {tables.PERSON_ASSIGNMENTS} a USING _warmpool_reassigned n
            WHERE (a.source, a.source_record_id) = (n.source, n.source_record_id)""")
        con.execute(f"""INSERT INTO {tables.PERSON_ASSIGNMENTS}
            SELECT source, source_record_id, person_id, cluster_size, now() FROM _warmpool_reassigned""")
        history.record_run(con, run_id=run_id, kind=kind, started=started, records=ids.height,
                           persons=ids["person_id"].n_unique(), changes=changes, model_version=model_version)
        history.rebuild_id_map(con)
        refresh_queue(con)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_warmpool_reassigned")
    return Applied(run_id, changes, sorted(current["person_id"].unique().to_list()),
                   sorted(ids["person_id"].unique().to_list()))


def _person_of(con, key: str) -> str:
    source, rid = split_key(key)
    row = history.first_row(con, f"SELECT person_id FROM {tables.PERSON_ASSIGNMENTS} "
                            "WHERE source = ? AND source_record_id = ?", [source, rid])
    if not row:
        raise ReviewError(f"no source record {show_key(key)} in {tables.PERSON_ASSIGNMENTS}; run the pipeline first")
    return row[0]


def decide(con, left: str, right: str, decision: str, *, reviewer: str, note: str | None = None) -> Applied:
    """Record a reviewer's ``link`` / ``separate`` for two records (keys) and apply it now."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {DECISIONS}, got {decision!r}")
    if left == right:
        raise ReviewError("a record cannot be decided against itself")
    if not reviewer.strip():
        raise ReviewError("a reviewer name is required (decisions are audited)")
    persons = {_person_of(con, left), _person_of(con, right)}
    _append_decisions(con, [(left, right)], decision, reviewer, "review", note)
    return recluster_persons(con, persons, kind="review", split_reason="split")


def unmerge(con, person_id: str, records: list[str] | None = None, *, reviewer: str = "unmerge",
            note: str | None = None) -> Applied:
    """Split a person: every record on its own, or ``records`` (keys) apart from the rest.

    Recorded as ``separate`` decisions so later runs keep the split; history rows say ``unmerge``.
    """
    pid = history.canonical_person_id(con, person_id)
    if pid is None:
        raise ReviewError(f"unknown person id {person_id}")
    members = _person_records(con, [pid])
    keys = (members["source"] + KEY_SEP + members["source_record_id"]).to_list()
    if len(keys) < 2:
        raise ReviewError(f"person {pid} has a single record: nothing to unmerge")
    if records:
        subset = set(records)
        unknown = subset - set(keys)
        if unknown:
            raise ReviewError(f"not records of {pid}: {', '.join(sorted(show_key(k) for k in unknown))}")
        rest = [k for k in keys if k not in subset]
        if not rest:
            raise ReviewError("the given records are all of the person's records; omit --records to split all")
        pairs = [(a, b) for a in sorted(subset) for b in rest]
    else:
        pairs = list(itertools.combinations(keys, 2))
    _append_decisions(con, pairs, "separate", reviewer, "unmerge", note)
    return recluster_persons(con, [pid], kind="unmerge", split_reason="unmerge")
