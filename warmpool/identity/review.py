"""The review queue, reviewers' decisions, and unmerge.

- The review queue (``REVIEW_QUEUE``) is rebuilt by every full resolve run (an incremental run
  replaces only the rows of pairs it scored) from the scored pairs whose match probability is
  inside the configured band (``identity.review_band`` in config/warmpool.yaml, ``queue_pairs``):
  the pairs the model is least sure about, whether it linked them or not. ``status`` is ``open``
  until a decision exists.
- Decisions (``REVIEW_DECISIONS``) are append-only: ``link`` or ``separate`` for a pair of records,
  who decided, when, and why (``origin``: review | unmerge). The latest decision for a pair is the
  one in force; every later run applies it (``clustering.constrained_clusters``).
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
from warmpool.config import get_settings
from warmpool.identity.clustering import cluster_with_decisions, reachable
from warmpool.identity.features import features_for_model
from warmpool.identity.history import IdChanges, assign_person_ids, new_run_id, now_utc
from warmpool.identity.keys import record_key, record_keys, show_key, split_key
from warmpool.identity.model import TrainedModel, load_model
from warmpool.identity.normalize import to_contract_frame
from warmpool.identity.scoring import PAIR_KEYS
from warmpool.identity.store import IdentityStore

DEFAULT_REVIEW_BAND = (0.5, 0.9)
DECISIONS = ("link", "separate")


class ReviewError(ValueError):
    """A review command cannot be applied (unknown record or person, nothing to split...)."""


def review_band(settings=None) -> tuple[float, float]:
    """(low, high) match probability band of the review queue, from ``identity.review_band``."""
    raw = (settings or get_settings()).raw.get("identity", {}) or {}
    low, high = raw.get("review_band", DEFAULT_REVIEW_BAND)
    low, high = float(low), float(high)
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"identity.review_band must be 0 <= low <= high <= 1, got {[low, high]}")
    return low, high


def queue_pairs(pairs: pl.DataFrame, band: tuple[float, float]) -> pl.DataFrame:
    """The scored pairs that belong in the review queue: probability inside ``band``."""
    low, high = band
    return pairs.filter(pl.col("match_probability").is_between(low, high)).select(
        *PAIR_KEYS, "match_probability", "match_weight")


def parse_record_key(text: str) -> str:
    """``source:source_record_id`` (as the CLI and the queue print it) -> internal record key."""
    source, sep, rid = text.strip().partition(":")
    if not sep or not source or not rid:
        raise ReviewError(f"record key {text!r} must look like SOURCE:SOURCE_RECORD_ID, e.g. ats:10000042")
    return record_key(source, rid)


def open_items(con, limit: int = 20, status: str = "open") -> pl.DataFrame:
    """Review queue rows (``open``, ``decided`` or ``all``), closest to a coin flip first. Read-only."""
    return IdentityStore(con).review_items(limit, status)


# ---------------------------------------------------------------------------------------------
# applying decisions now

@dataclass(frozen=True)
class Applied:
    run_id: str
    changes: IdChanges
    persons_before: list[str]
    persons_after: list[str]

    def describe(self) -> str:
        lines = [f"{len(self.persons_before)} person(s) -> {len(self.persons_after)} person(s): "
                 f"{', '.join(self.persons_after)} [{self.run_id}]"]
        for old, new, reason, moved in self.changes.rows.iter_rows():
            lines.append(f"  {reason}: {old} -> {new} ({moved} record(s))")
        return "\n".join(lines)


def _record_features(store: IdentityStore, current: pl.DataFrame, model: TrainedModel) -> pl.DataFrame | None:
    """Features of these records from their source rows (first row of a duplicated key, as a resolve
    run reads them): what the guard against chaining compares. None when fewer than 3 (no group of
    3 can contradict) or there are no source records."""
    rows = store.source_rows_of(current)
    if rows is None or rows.height < 3:
        return None
    return features_for_model(to_contract_frame(rows), model)


def _component_persons(store: IdentityStore, person_ids, threshold: float, links) -> list[str]:
    """``person_ids`` plus every person reachable from them through linking pairs or link decisions.

    Clustering is independent between components of that graph, so re-clustering the whole
    component gives exactly what a pool-wide run would: a record freed by a new decision may join
    a neighbouring person that only a cut had kept apart.
    """
    seeds = record_keys(store.person_records(person_ids)).to_list()
    edges = store.linking_pairs(threshold)
    if edges is None:
        return sorted(set(person_ids))
    if links:
        edges = pl.concat([edges, pl.DataFrame(list(links), schema=["a", "b"], orient="row")])
    return sorted(store.persons_of_keys(reachable(edges, seeds)) | set(person_ids))


def recluster_persons(con, person_ids, *, kind: str, split_reason: str, model: TrainedModel | None = None) -> Applied:
    """Re-cluster the records of ``person_ids`` (and their neighbours) from stored pairs + decisions.

    Same rules as a resolve run (``cluster_with_decisions`` then ``assign_stable_ids``), limited to
    the persons connected to these, so a decision costs a fraction of a pool-wide run and gives the
    same answer as the next one.
    """
    model = model or load_model()
    store = IdentityStore(con)
    started = now_utc()
    run_id = new_run_id(kind, started)
    links, separates = store.decisions()
    current = store.person_records(_component_persons(store, person_ids, model.threshold_match_probability, links))
    keys = record_keys(current).to_list()
    pairs = store.pairs_of(current)
    features = _record_features(store, current, model) if pairs is not None else None
    clustering = cluster_with_decisions(keys, features, pairs, model, links, separates)
    others = store.person_ids() - set(current["person_id"].unique().to_list())
    ids, changes = assign_person_ids(clustering, current, reserved_ids=others, split_reason=split_reason)
    with store.transaction():
        store.reassign(ids)
        store.record_run(run_id=run_id, kind=kind, started=started, records=ids.height,
                         persons=ids["person_id"].n_unique(), changes=changes, model_version=model.model_version)
        store.rebuild_id_map()
        store.refresh_review_queue()
    return Applied(run_id, changes, sorted(current["person_id"].unique().to_list()),
                   sorted(ids["person_id"].unique().to_list()))


def current_person_id(store: IdentityStore, any_person_id: str) -> str:
    """The current id of any person id ever issued; ReviewError if there is none."""
    pid = store.canonical_person_id(any_person_id)
    if pid is None:
        raise ReviewError(f"unknown person id {any_person_id}")
    return pid


def _person_of(store: IdentityStore, key: str) -> str:
    pid = store.person_of(*split_key(key))
    if pid is None:
        raise ReviewError(f"no source record {show_key(key)} in {tables.PERSON_ASSIGNMENTS}; run the pipeline first")
    return pid


def _record_decisions(store: IdentityStore, pairs, decision: str, reviewer: str, origin: str,
                      note: str | None) -> None:
    with store.transaction():
        store.append_decisions(pairs, decision, reviewer, origin, note)


def decide(con, left: str, right: str, decision: str, *, reviewer: str, note: str | None = None) -> Applied:
    """Record a reviewer's ``link`` / ``separate`` for two records (keys) and apply it now."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {DECISIONS}, got {decision!r}")
    if left == right:
        raise ReviewError("a record cannot be decided against itself")
    if not reviewer.strip():
        raise ReviewError("a reviewer name is required (decisions are audited)")
    store = IdentityStore(con)
    persons = {_person_of(store, left), _person_of(store, right)}
    _record_decisions(store, [(left, right)], decision, reviewer, "review", note)
    return recluster_persons(con, persons, kind="review", split_reason="split")


def unmerge(con, person_id: str, records: list[str] | None = None, *, reviewer: str = "unmerge",
            note: str | None = None) -> Applied:
    """Split a person: every record on its own, or ``records`` (keys) apart from the rest.

    Recorded as ``separate`` decisions so later runs keep the split; history rows say ``unmerge``.
    """
    store = IdentityStore(con)
    pid = current_person_id(store, person_id)
    keys = record_keys(store.person_records([pid])).to_list()
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
    _record_decisions(store, pairs, "separate", reviewer, "unmerge", note)
    return recluster_persons(con, [pid], kind="unmerge", split_reason="unmerge")
