"""Stable person ids and their history: which id each cluster gets, and what each run changed.

Pure functions (the tables they feed are written by ``store``):
- ``assign_stable_ids``: person ids for clusters that survive re-runs (the rules are in its doc).
- ``id_changes``: the merge / split rows between two assignments of the same records, for
  ``PERSON_MERGES`` (identity.person_merge_history), append-only, one row per id change:
  ``merge`` / ``review_link``: the retired id is gone; its records now live in the surviving id
  (``review_link`` when a reviewer's link decision made the merge).
  ``split`` / ``unmerge``: some records of ``retired_person_id`` (which usually lives on: it stays
  with the part holding most of its records) moved to ``surviving_person_id``, a new or another
  person. The column names follow the merge case; for a split read them as "from" -> "to".
- ``id_map_rows``: ``any_person_id -> person_id`` for every current id (to itself) and every
  retired id (following merge rows to the current holder), for ``PERSON_ID_MAP``. Downstream tables
  keyed by a person id join through it so an id that was merged away is never orphaned.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl

from warmpool.identity.clustering import Clustering
from warmpool.identity.keys import record_key_expr, record_keys
from warmpool.identity.normalize import KEY_COLUMNS

MERGE_REASONS = ("merge", "review_link")
SPLIT_REASONS = ("split", "unmerge")


def new_run_id(kind: str, started: datetime) -> str:
    """Sortable by time, unique across concurrent test runs."""
    return f"{kind}-{started.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
# stable ids

def fresh_person_id(key: str, salt: int = 0) -> str:
    """``p_`` + 16 hex of sha1 over the cluster's minimum record key (deterministic)."""
    data = key if salt == 0 else f"{key}#{salt}"
    return "p_" + hashlib.sha1(data.encode("utf-8")).hexdigest()[:16]


def assign_stable_ids(clusters, previous=None, *, reserved_ids=()) -> pl.DataFrame:
    """Person ids for ``clusters`` (source, source_record_id, cluster_id) that survive re-runs.

    Rules (``history.id_changes`` records what they did as merge / split rows):
    - a cluster holding records of a previous person keeps that person's id; if it holds several,
      the previous person with most records overall wins, then the smallest id;
    - a previous id goes to one cluster only: the one holding most of its records, then the one
      with the smallest minimum key; the other parts of a split get fresh ids;
    - otherwise the id is derived from the cluster's minimum (source, source_record_id) key, salted
      if that would reuse any id already seen (a retired id never comes back for someone else) or
      any of ``reserved_ids`` (persons outside ``clusters``, when only some persons are re-clustered).
      An id retired in an earlier run can come back only for a cluster holding the very record it
      was derived from: that is the same person's records reappearing (e.g. a bridge removed).
    Returns ``source, source_record_id, person_id``.
    """
    c = clusters if isinstance(clusters, pl.DataFrame) else pl.from_pandas(clusters)
    c = c.select(*KEY_COLUMNS, pl.col("cluster_id").cast(pl.String)).with_columns(
        record_key_expr().alias("_key"))
    min_key = c.group_by("cluster_id").agg(pl.col("_key").min().alias("min_key"))
    assigned: dict[str, str] = {}
    used: set[str] = set(reserved_ids)

    if previous is not None:
        prev = previous if isinstance(previous, pl.DataFrame) else pl.from_pandas(previous)
        prev = prev.select(*KEY_COLUMNS, pl.col("person_id").cast(pl.String))
        used.update(prev["person_id"].unique().to_list())
        prev_size = prev.group_by("person_id").len("prev_size")
        claims = (
            c.join(prev, on=list(KEY_COLUMNS), how="inner")
            .group_by("cluster_id", "person_id").len("held")
            .join(prev_size, on="person_id").join(min_key, on="cluster_id")
            .sort(["prev_size", "person_id", "held", "min_key"], descending=[True, False, True, False])
        )
        taken: set[str] = set()
        for cluster_id, person_id in claims.select("cluster_id", "person_id").iter_rows():
            if cluster_id not in assigned and person_id not in taken:
                assigned[cluster_id] = person_id
                taken.add(person_id)

    ids = []
    for cluster_id, key in min_key.sort("min_key").iter_rows():
        pid = assigned.get(cluster_id)
        if pid is None:
            salt = 0
            pid = fresh_person_id(key)
            while pid in used:
                salt += 1
                pid = fresh_person_id(key, salt)
        used.add(pid)
        ids.append((cluster_id, pid))
    id_map = pl.DataFrame(ids, schema={"cluster_id": pl.String, "person_id": pl.String}, orient="row")
    return c.join(id_map, on="cluster_id", how="left", maintain_order="left").select(*KEY_COLUMNS, "person_id")


def with_cluster_size(ids: pl.DataFrame) -> pl.DataFrame:
    """``assign_stable_ids`` output plus ``cluster_size`` (records of the person), as assignments hold."""
    return ids.with_columns(pl.len().over("person_id").cast(pl.Int64).alias("cluster_size"))


def assign_person_ids(clustering: Clustering, previous: pl.DataFrame | None, *, reserved_ids=(),
                      split_reason: str = "split") -> tuple[pl.DataFrame, IdChanges]:
    """Stable person ids (with cluster sizes) for a clustering of records once assigned ``previous``,
    and the merges / splits that makes (``split_reason``: how a split is recorded)."""
    assignments = with_cluster_size(assign_stable_ids(clustering.clusters, previous, reserved_ids=reserved_ids))
    return assignments, id_changes(previous, assignments, split_reason=split_reason,
                                   review_links=clustering.review_links)


# ---------------------------------------------------------------------------------------------
# what changed

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
        prev_of = dict(zip(record_keys(previous).to_list(), previous["person_id"].to_list()))
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


def id_map_rows(current: set[str], latest_merge: dict[str, str]) -> list[tuple[str, str]]:
    """``(any_person_id, person_id)`` for every current id and every retired id that leads to one.

    ``latest_merge``: retired id -> the surviving id of its latest merge row. A retired id follows
    that row, then the next, until it reaches a current id (an id that came back to life, e.g. after
    a split restored its records, maps to itself). Chains that end at an id no longer in the pool
    (its records were removed) are left out.
    """
    rows = [(p, p) for p in current]
    for retired in latest_merge:
        if retired in current:
            continue
        seen, pid = {retired}, latest_merge[retired]
        while pid not in current and pid in latest_merge and pid not in seen:
            seen.add(pid)
            pid = latest_merge[pid]
        if pid in current:
            rows.append((retired, pid))
    return rows
