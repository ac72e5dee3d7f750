"""The warehouse pool: resolve ``SOURCE_RECORDS`` into ``PERSON_ASSIGNMENTS``, full or incremental.

A run is a short sequence of steps, the same in both kinds:

    load the pool   records with content hashes, the last run's assignments, what changed  (store)
    features        normalised; an incremental run takes the unchanged records' from the cache
    score           pairs down to the review band's floor (incremental: only what changed)
    cluster         reviewers' decisions and the guard against chaining applied
    assign ids      stable person ids, and what changed (merges, splits)
    write           assignments, pairs, the run and its id changes, the id map and the review
                    queue, in one transaction (store); then the feature cache

An incremental run scores only what a full run would score differently: new and changed records
against the pool and each other, plus the stored pool pairs whose score may have drifted across
the threshold. A full run's pool x pool scores depend on the pool's size (the run-size prior,
``model.settings_for_size``) and its term frequencies, so a stored score is stale by at most
a bound computed from those (``_drift``); pairs stored within ``incremental_rescore_bits`` of the
threshold are re-scored, and the run falls back to full once the bounds summed since the last
full run would exceed that margin. Then only the persons the changes can reach are re-clustered,
with the same ``cluster_with_decisions`` / ``assign_stable_ids`` a full run uses: the same answer.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from warmpool import tables
from warmpool.config import Settings, get_settings
from warmpool.identity import review
from warmpool.identity.clustering import cluster_with_decisions, reachable
from warmpool.identity.estimate import fit_problems, profile_features
from warmpool.identity.features import features_for_model, smoothed_term_frequencies
from warmpool.identity.history import assign_person_ids, id_changes, new_run_id, now_utc
from warmpool.identity.keys import record_keys
from warmpool.identity.model import TrainedModel, load_model, settings_for_size
from warmpool.identity.normalize import KEY_COLUMNS, to_contract_frame
from warmpool.identity.reader import require_keys
from warmpool.identity.resolve import ResolveStats
from warmpool.identity.scoring import PAIR_KEYS, score_delta_pairs, score_pairs
from warmpool.identity.store import IdentityStore
from warmpool.warehouse import read_frame, replace_duckdb_table, replace_table, warehouse

log = logging.getLogger(__name__)

DEFAULT_INCREMENTAL_MAX_SHARE = 0.2
DEFAULT_RESCORE_BITS = 2.0
_VALUE_SHIFT_BITS = 0.1    # a value whose own term frequency moved more: its records' pairs are re-scored
_SLACK_BITS = 0.05         # float noise between Splink's SQL and our bound
_POOL_KINDS = ("resolve", "resolve_incremental")
_KEYS = list(KEY_COLUMNS)  # a record's key columns, as polars joins take them


def incremental_settings(settings=None) -> tuple[float, float]:
    """(max share of the pool changed since the last full run, re-score margin in bits)."""
    raw = (settings or get_settings()).raw.get("identity", {}) or {}
    share = float(raw.get("incremental_max_share", DEFAULT_INCREMENTAL_MAX_SHARE))
    bits = float(raw.get("incremental_rescore_bits", DEFAULT_RESCORE_BITS))
    if not 0.0 <= share <= 1.0 or bits < 0:
        raise ValueError(f"identity.incremental_max_share must be in [0, 1] and incremental_rescore_bits >= 0, "
                         f"got {share}, {bits}")
    return share, bits


def resolve_pool(con, *, model: TrainedModel | None = None, full: bool = False) -> ResolveStats:
    """Resolve the warehouse's source records into ``PERSON_ASSIGNMENTS``, keeping ids stable.

    Incremental when possible (``full=False``): a previous run of the same model exists, no review
    decision was recorded since, and the records added, changed (content hash differs) or removed
    since the last full run are at most ``identity.incremental_max_share`` of that run's pool; then
    only those records are matched against the pool (normalised features of the rest come from a
    parquet cache in ``identity_dir``) and only the persons they can reach are re-clustered.
    Otherwise, or with ``full=True``, the whole pool is scored and clustered. Both give the same
    assignments and write the same tables in one transaction: assignments, scored pairs
    (``RECORD_PAIRS``: replaced, or the re-scored pairs replaced), the review queue, the id changes
    (``PERSON_MERGES``), the run (``RESOLUTION_RUNS``, kind ``resolve`` / ``resolve_incremental``,
    with records new / changed / removed) and ``PERSON_ID_MAP``. Removed records leave the
    assignments. Reviewers' decisions in ``REVIEW_DECISIONS`` are applied: ``link`` pairs always
    share a person, ``separate`` pairs never do (the cluster is cut where its evidence is weakest).
    """
    clock = _Clock(time.perf_counter(), now_utc())
    model = model or load_model()
    store = IdentityStore(con)
    pool = load_pool(store)
    if full:
        reason = "full run requested"
    else:
        result = _try_incremental(store, model, pool, clock)
        if isinstance(result, ResolveStats):
            return result
        reason = result
    log.info("identity: full resolve (%s)", reason)
    return _full_run(store, model, pool, clock, reason)


# in identity_dir: identity's own database when the warehouse is a server (not "identity.duckdb": DuckDB
# names the catalog after the file, which would clash with the schema identity)
WORKSPACE_FILE = "pool.duckdb"


def resolve_warehouse(settings: Settings | None = None, *, full: bool = False) -> ResolveStats:
    """``resolve_pool`` on the configured warehouse.

    On the DuckDB warehouse file: in the file itself. On PostgreSQL (Splink's scoring needs DuckDB or
    Spark: PostgreSQL has no Jaro-Winkler): in identity's own DuckDB file (``identity_dir/pool.duckdb``,
    which keeps identity's state between runs: assignments, pairs, decisions, history), into which the
    warehouse's ``SOURCE_RECORDS`` are copied first; afterwards every ``identity.*`` table is copied out to
    the warehouse, each replaced in one transaction, where dbt phase 2 reads it."""
    s = settings or get_settings()
    if s.warehouse_engine == "duckdb":
        with warehouse(s.warehouse_path) as con:
            return resolve_pool(con, full=full)
    # the resolve contract's columns are all text (a column null throughout would otherwise have no type)
    records = read_frame(f"select * from {tables.SOURCE_RECORDS}", s)
    records = records.select(pl.col(c).cast(pl.String) for c in records.columns)
    with warehouse(s.identity_dir / WORKSPACE_FILE) as con:
        con.execute("set TimeZone = 'UTC'")
        replace_duckdb_table(con, tables.SOURCE_RECORDS, records)
        stats = resolve_pool(con, full=full)
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [tables.IDENTITY]).fetchall()]
        results = {f"{tables.IDENTITY}.{n}": pl.from_arrow(con.sql(f"select * from {tables.IDENTITY}.{n}").arrow()
                                                           .read_all()) for n in names}
    for name, frame in results.items():
        replace_table(name, frame, s)
    return stats


# ---------------------------------------------------------------------------------------------
# load the pool

@dataclass(frozen=True)
class _Clock:
    started: float         # perf_counter
    started_at: datetime   # what the run is recorded with

    def seconds(self) -> float:
        return time.perf_counter() - self.started


@dataclass
class _Diff:
    new: pl.DataFrame       # keys (+ content_hash) not in the last run
    changed: pl.DataFrame   # keys whose content hash differs
    removed: pl.DataFrame   # keys of the last run no longer in the source

    def counts(self) -> dict:
        return {"new_records": self.new.height, "changed_records": self.changed.height,
                "removed_records": self.removed.height}


@dataclass
class PoolState:
    """The pool as a run finds it."""
    distinct: pl.DataFrame              # distinct-key contract rows (first row wins) with content_hash
    rows: int                           # source rows, duplicated keys included
    previous: pl.DataFrame | None       # the last run's assignments (source, source_record_id, person_id)
    prev_hashes: pl.DataFrame | None    # the last resolve run's content hashes
    diff: _Diff | None                  # what changed since then

    @property
    def counts(self) -> dict:
        return self.diff.counts() if self.diff is not None else {}


def load_pool(store: IdentityStore) -> PoolState:
    """Distinct-key source records (the first row of a key wins, as ever) with a content hash, the
    last run's assignments and hashes, and what was added, changed or removed since."""
    raw = store.source_records(content_hash=True)
    contract = to_contract_frame(raw).with_columns(raw["content_hash"])
    require_keys(contract, tables.SOURCE_RECORDS, line_offset=1)
    distinct = contract.unique(subset=_KEYS, keep="first", maintain_order=True)
    previous = store.assignments()
    prev_hashes = store.record_hashes() if previous is not None else None
    return PoolState(distinct, raw.height, previous, prev_hashes, _diff(distinct, prev_hashes))


def _diff(distinct: pl.DataFrame, prev_hashes: pl.DataFrame | None) -> _Diff | None:
    if prev_hashes is None:
        return None
    cur = distinct.select(*_KEYS, "content_hash")
    j = cur.join(prev_hashes.rename({"content_hash": "_old"}), on=_KEYS, how="left")
    return _Diff(new=j.filter(pl.col("_old").is_null()).select(*_KEYS, "content_hash"),
                 changed=j.filter(pl.col("_old").is_not_null() & (pl.col("_old") != pl.col("content_hash"))
                                  ).select(*_KEYS, "content_hash"),
                 removed=prev_hashes.join(cur, on=_KEYS, how="anti").select(_KEYS))


# ---------------------------------------------------------------------------------------------
# the shared steps

def _save_features(path: Path, features: pl.DataFrame, hashes: pl.DataFrame, *, replaces: Path | None = None) -> None:
    try:  # the cache only saves time: a failure to write it must not fail the run
        IdentityStore.write_feature_cache(path, features, hashes, replaces=replaces)
    except OSError as exc:
        log.warning("identity feature cache not written: %s", exc)


# ---------------------------------------------------------------------------------------------
# a full run

def _full_run(store: IdentityStore, model: TrainedModel, pool: PoolState, clock: _Clock, note: str) -> ResolveStats:
    run_id = new_run_id("resolve", clock.started_at)
    band = review.review_band()
    features = features_for_model(pool.distinct.drop("content_hash"), model)
    misfit = fit_problems(profile_features(features), model)
    if misfit:  # the pool keeps its model (incremental runs need one fixed model): say how to adapt it
        note += ("; the model may not fit this pool (" + "; ".join(misfit[:2]) +
                 "): `warmpool identity retrain` adapts a candidate to it")
        log.warning("identity: %s", note)
    # One prediction serves clustering, the review queue and explain: score down to the lower of
    # the review band and the link threshold, cluster on the pairs at or above the threshold.
    pairs = score_pairs(features, model, min(band[0], model.threshold_match_probability))
    clustering = cluster_with_decisions(record_keys(pool.distinct).to_list(), features, pairs, model,
                                        *store.decisions())
    assignments, changes = assign_person_ids(clustering, pool.previous)
    persons = assignments["person_id"].n_unique()
    last_full = store.last_pool_run(("resolve",))
    with store.transaction():
        store.replace_pool(assignments, pairs, pool.distinct.select(*_KEYS, "content_hash"))
        store.record_run(run_id=run_id, kind="resolve", started=clock.started_at, records=assignments.height,
                         persons=persons, changes=changes, model_version=model.model_version, note=note,
                         **pool.counts)
        store.rebuild_id_map()
        store.write_review_queue(review.queue_pairs(pairs, band), run_id, replace=True)
    _save_features(store.feature_cache_path(run_id, model), features, pool.distinct,
                   replaces=store.feature_cache_path(last_full[0], model) if last_full else None)
    return ResolveStats(records=pool.rows, persons=persons, seconds=clock.seconds(), model_version=model.model_version,
                        distinct_records=pool.distinct.height, merges=changes.merges, splits=changes.splits,
                        kind="resolve", note=note, **pool.counts)


# ---------------------------------------------------------------------------------------------
# an incremental run

def _try_incremental(store: IdentityStore, model: TrainedModel, pool: PoolState, clock: _Clock):
    """ResolveStats of an incremental run, or the reason (text) a full run is needed."""
    previous, prev_hashes, diff = pool.previous, pool.prev_hashes, pool.diff
    if previous is None or prev_hashes is None or diff is None:
        return "no previous run with content hashes"
    if not (store.has(tables.RESOLUTION_RUNS) and store.has(tables.RECORD_PAIRS)):
        return "no previous run"
    last, last_full = store.last_pool_run(_POOL_KINDS), store.last_pool_run(("resolve",))
    if last is None or last_full is None:
        return "no previous full run"
    if last[4] != model.model_version:
        return f"model version changed (v{last[4]} -> v{model.model_version})"
    if store.decided_since(last[2]):
        return "review decisions recorded since the last run"
    if previous.height != prev_hashes.height or previous.join(prev_hashes, on=_KEYS, how="anti").height:
        return "assignments and content hashes disagree"
    if not any(pool.counts.values()):
        return _unchanged_run(store, model, pool, clock)

    max_share, margin = incremental_settings()
    moved_before, drift_so_far = store.incremental_changes_since(last_full[2])
    moved = moved_before + sum(pool.counts.values())
    if moved > max_share * max(int(last_full[3]), 1):
        return (f"{moved:,} records added, changed or removed since the last full run: more than "
                f"identity.incremental_max_share {max_share:g} of {int(last_full[3]):,}")
    return _incremental_run(store, model, pool, store.feature_cache_path(last_full[0], model), drift_so_far,
                            margin, clock)


def _unchanged_run(store: IdentityStore, model: TrainedModel, pool: PoolState, clock: _Clock) -> ResolveStats:
    """Nothing to match: the assignments stand as they are; only the run is logged."""
    kind, note = "resolve_incremental", "no changes"
    persons = pool.previous["person_id"].n_unique()
    with store.transaction():
        store.record_run(run_id=new_run_id("resolve", clock.started_at), kind=kind, started=clock.started_at,
                         records=pool.previous.height, persons=persons, changes=id_changes(None, pool.previous),
                         model_version=model.model_version, drift_bits=0.0, note=note, **pool.counts)
    return ResolveStats(records=pool.rows, persons=persons, seconds=clock.seconds(), model_version=model.model_version,
                        distinct_records=pool.distinct.height, kind=kind, note=note, **pool.counts)


@dataclass
class _Delta:
    """The pool split into what an incremental run keeps and what it matches, with their features."""
    gone: pl.DataFrame        # keys of changed and removed records: their stored pairs are obsolete
    delta_keys: pl.DataFrame  # new and changed records (keys + content_hash): matched against the pool
    kept: pl.DataFrame        # the other records (keys + content_hash)
    delta_rows: pl.DataFrame  # the new and changed records' contract rows (+ content_hash)
    pool_f: pl.DataFrame      # features of ``kept`` (from the cache), unique_id 0..
    delta_f: pl.DataFrame     # features of the delta, unique_id after the pool's
    prev_f: pl.DataFrame      # feature columns of the last run's pool

    @property
    def features(self) -> pl.DataFrame:
        return pl.concat([self.pool_f, self.delta_f], how="vertical_relaxed")


def _delta_features(model: TrainedModel, pool: PoolState, cache: Path) -> _Delta | str:
    """Features of the kept records from the cache, of the new and changed ones normalised now;
    or why the cache cannot serve (it must hold every (key, hash) of the last run)."""
    cached = IdentityStore.read_feature_cache(cache)
    if cached is None:
        return "feature cache missing"
    prev_f = pool.prev_hashes.join(cached, on=[*_KEYS, "content_hash"], how="inner")
    feature_cols = [c for c in cached.columns if c not in (*_KEYS, "content_hash")]
    if prev_f.height != pool.prev_hashes.height:
        return "feature cache does not match the last run"
    diff, distinct = pool.diff, pool.distinct
    gone = pl.concat([diff.changed.select(_KEYS), diff.removed])
    delta_keys = pl.concat([diff.new, diff.changed])
    kept = distinct.select(*_KEYS, "content_hash").join(delta_keys.select(_KEYS), on=_KEYS, how="anti")
    pool_f = kept.join(cached, on=[*_KEYS, "content_hash"], how="left", maintain_order="left")
    pool_f = pool_f.with_columns(pl.int_range(0, pool_f.height, dtype=pl.Int64).alias("unique_id"))
    delta_rows = distinct.join(delta_keys.select(_KEYS), on=_KEYS, how="semi", maintain_order="left")
    delta_f = features_for_model(delta_rows.drop("content_hash"), model).with_columns(
        (pl.col("unique_id") + pool_f.height).alias("unique_id"))
    cols = ["unique_id", *_KEYS, *feature_cols]
    return _Delta(gone, delta_keys, kept, delta_rows, pool_f.select(cols), delta_f.select(cols),
                  prev_f.select(feature_cols))


def _logit_bits(p: float) -> float:
    return math.log2(p / (1.0 - p))


def _drift(prev_f: pl.DataFrame, cur_f: pl.DataFrame, model: TrainedModel) -> tuple[float, dict[str, list]]:
    """How far any stored pool x pool match weight can have moved since the previous run (bits).

    Two things move a pair's weight when only other records change: the run-size prior (the same
    shift for every pair) and the term frequencies of TF-adjusted exact matches (per value). A value
    whose own frequency moved more than ``_VALUE_SHIFT_BITS`` is returned instead (its records' pairs
    get re-scored); every other value's shift counts towards the bound.
    """
    def prior(n):
        return float(settings_for_size(model, n)["probability_two_random_records_match"])

    bound = abs(_logit_bits(prior(cur_f.height)) - _logit_bits(prior(prev_f.height)))
    tf_prev, tf_cur = smoothed_term_frequencies(prev_f, model), smoothed_term_frequencies(cur_f, model)
    rescore: dict[str, list] = {}
    for col, now in tf_cur.items():
        before = tf_prev.get(col)
        if before is None:
            continue
        # values held before and now: only those can sit in a stored pair of two kept records
        j = before.join(now, on=col, suffix="_now").with_columns(
            (pl.col(f"tf_{col}_now") / pl.col(f"tf_{col}")).log(2).abs().alias("shift"))
        big = j.filter(pl.col("shift") > _VALUE_SHIFT_BITS)
        rescore[col] = big[col].to_list()
        rest = j.filter(pl.col("shift") <= _VALUE_SHIFT_BITS)["shift"].max()
        bound += float(rest or 0.0)
    return bound, rescore


def _pool_records_to_rescore(store: IdentityStore, d: _Delta, threshold: float, margin: float,
                             rare_values: dict[str, list]) -> set[str]:
    """Kept records whose pairs among themselves are scored again: those of stored pairs within
    ``margin`` bits of the threshold, and those holding a value whose frequency moved a lot."""
    near = store.pairs_near(_logit_bits(threshold), margin, d.gone)
    keys = (set(record_keys(near, "source_l", "source_record_id_l").to_list())
            | set(record_keys(near, "source_r", "source_record_id_r").to_list()))
    rare = pl.lit(False)
    for col, values in rare_values.items():
        if values:
            rare = rare | pl.col(col).is_in(values)
    return keys | set(d.pool_f.with_columns(record_keys(d.kept).alias("_key")).filter(rare)["_key"].to_list())


def _stored_pairs(store: IdentityStore, keys: set[str], *, gone: set[str] = frozenset(),
                  rescored: set[str] = frozenset()) -> pl.DataFrame:
    """Stored pairs with both records in ``keys`` (``_a`` / ``_b`` record keys), minus pairs touching
    a ``gone`` record or lying wholly inside ``rescored`` (this run scored those again)."""
    p = store.pairs_among(keys)
    if gone:
        ex = list(gone)
        p = p.filter(~pl.col("_a").is_in(ex) & ~pl.col("_b").is_in(ex))
    if rescored:
        among = list(rescored)
        p = p.filter(~(pl.col("_a").is_in(among) & pl.col("_b").is_in(among)))
    return p


def _reached_persons(store: IdentityStore, scored: pl.DataFrame, rescored: pl.DataFrame, person_of: dict[str, str],
                     delta_set: set[str], gone_set: set[str], rescore_keys: set[str], links,
                     threshold: float) -> set[str]:
    """The previous persons the changes can reach: seeds (persons that lost a record, persons of a
    re-scored pair whose side of the threshold may have moved, the new records), then everything
    linked to them across persons (new links, stored links that decisions or the guard cut, link
    decisions)."""
    seeds: set[str] = {person_of[x] for x in gone_set if x in person_of}
    node = lambda key: ("d:" + key) if key in delta_set else person_of[key]  # noqa: E731
    edges: list[tuple[str, str]] = []
    strong = scored.filter(pl.col("match_probability") >= threshold)
    for a, b in zip(strong["_a"].to_list(), strong["_b"].to_list()):
        edges.append((node(a), node(b)))
    seeds |= {"d:" + x for x in delta_set}
    # re-scored pairs whose side of the threshold moved (or, with separate decisions, whose order may have)
    old_near = _stored_pairs(store, rescore_keys)
    old_link = {(a, b) for a, b, p in zip(old_near["_a"].to_list(), old_near["_b"].to_list(),
                                          old_near["match_probability"].to_list()) if p >= threshold}
    new_link = {(a, b) for a, b, p in zip(rescored["_a"].to_list(), rescored["_b"].to_list(),
                                          rescored["match_probability"].to_list()) if p >= threshold}
    # (the guard against chaining makes the order of links matter too, as separate decisions do)
    for a, b in old_link | new_link:
        seeds |= {person_of[a], person_of[b]}
    # stored links between different persons (only where decisions cut a group) and link decisions
    for a, b in store.cross_person_links(threshold):
        if a not in gone_set and b not in gone_set and not (a in rescore_keys and b in rescore_keys):
            edges.append((person_of[a], person_of[b]))
    for a, b in links:
        na = ("d:" + a) if a in delta_set else person_of.get(a)
        nb = ("d:" + b) if b in delta_set else person_of.get(b)
        if na and nb:
            edges.append((na, nb))
    for a, b in rescored.filter(pl.col("match_probability") >= threshold).select("_a", "_b").iter_rows():
        if person_of[a] != person_of[b]:
            edges.append((person_of[a], person_of[b]))
    return {x for x in reachable(edges, seeds) if not x.startswith("d:")}


def _incremental_run(store: IdentityStore, model: TrainedModel, pool: PoolState, cache: Path, drift_so_far: float,
                     margin: float, clock: _Clock):
    threshold = model.threshold_match_probability
    band = review.review_band()
    previous = pool.previous

    # features: the kept records' from the cache, the new and changed ones normalised now
    d = _delta_features(model, pool, cache)
    if isinstance(d, str):
        return d
    drift, rare_values = _drift(d.prev_f, d.features, model)
    if drift_so_far + drift + _SLACK_BITS > margin:
        return (f"stored scores may have drifted {drift_so_far + drift:.2f} bits since the last full run "
                f"(identity.incremental_rescore_bits {margin:g})")
    run_id = new_run_id("resolve", clock.started_at)

    # score: the delta against the pool and itself, and the kept pairs whose stored score may be stale
    rescore_keys = _pool_records_to_rescore(store, d, threshold, margin, rare_values)
    rescore_f = d.pool_f.filter(record_keys(d.kept).is_in(list(rescore_keys)))
    scored = score_delta_pairs(d.pool_f, d.delta_f, rescore_f, model, min(band[0], threshold))
    delta_set = set(record_keys(d.delta_keys).to_list())
    scored = scored.with_columns(record_keys(scored, "source_l", "source_record_id_l").alias("_a"),
                                 record_keys(scored, "source_r", "source_record_id_r").alias("_b"))
    rescored = scored.filter(~pl.col("_a").is_in(list(delta_set)) & ~pl.col("_b").is_in(list(delta_set)))

    # cluster: the persons the changes can reach, with the delta, exactly as a full run would
    links, separates = store.decisions()
    person_of = dict(zip(record_keys(previous).to_list(), previous["person_id"].to_list()))
    gone_set = set(record_keys(d.gone).to_list())
    persons = _reached_persons(store, scored, rescored, person_of, delta_set, gone_set, rescore_keys, links,
                               threshold)
    prev_sub = previous.filter(pl.col("person_id").is_in(list(persons)))
    sub_keys = pl.concat([prev_sub.select(_KEYS).join(d.gone, on=_KEYS, how="anti"), d.delta_keys.select(_KEYS)])
    keys = record_keys(sub_keys).to_list()
    needed = [*PAIR_KEYS, "match_probability", "match_weight"]
    sub_pairs = pl.concat([_stored_pairs(store, set(keys), gone=gone_set, rescored=rescore_keys).select(needed),
                           scored.filter(pl.col("_a").is_in(keys) & pl.col("_b").is_in(keys)).select(needed)],
                          how="vertical_relaxed")
    sub_f = d.features.filter(record_keys(d.features).is_in(keys))
    clustering = cluster_with_decisions(keys, sub_f, sub_pairs, model, links, separates)

    # assign ids: persons outside the re-clustered ones keep theirs, and no new id may take one
    others = set(previous["person_id"].unique().to_list()) - persons
    assignments, changes = assign_person_ids(clustering, prev_sub, reserved_ids=others)
    total_persons = len(others) + assignments["person_id"].n_unique()
    note = (f"{len(delta_set):,} records matched against {d.pool_f.height:,}; {len(rescore_keys):,} pool records' "
            f"pairs re-scored; {len(persons):,} persons re-clustered")
    scored = scored.drop("_a", "_b")

    with store.transaction():
        store.patch_pool(assignments, pl.concat([prev_sub.select(_KEYS), d.gone]).unique(), d.gone, rescore_keys,
                         scored, d.delta_keys.select(*_KEYS, "content_hash"))
        store.record_run(run_id=run_id, kind="resolve_incremental", started=clock.started_at,
                         records=pool.distinct.height, persons=total_persons, changes=changes,
                         model_version=model.model_version, drift_bits=drift, note=note, **pool.counts)
        store.rebuild_id_map()
        store.write_review_queue(review.queue_pairs(scored, band), run_id, replace=False)
    log.info("identity: incremental resolve: %s", note)
    _save_features(cache, d.features, pl.concat([d.kept.select(*_KEYS, "content_hash"),
                                                 d.delta_rows.select(*_KEYS, "content_hash")]))
    return ResolveStats(records=pool.rows, persons=total_persons, seconds=clock.seconds(),
                        model_version=model.model_version, distinct_records=pool.distinct.height,
                        merges=changes.merges, splits=changes.splits, kind="resolve_incremental", note=note,
                        **pool.counts)
