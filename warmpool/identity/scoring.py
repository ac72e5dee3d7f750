"""Scoring record pairs with the saved model (Splink 5, each call on a fresh database API of the
configured backend, ``backends``: by default its own in-memory DuckDB, so its scratch tables never land
in the warehouse file; or Spark).

Every linker here is set up the same way: the model's settings with the prior scaled to the run's
size (``model.settings_for_size``) and the smoothed term frequencies of the run's records
(``features.smoothed_term_frequencies``), so the CLI, the pool's full and incremental runs and the
review commands score a pair identically.

- ``score_pairs``: one prediction over a set of records, every pair at or above a floor, keyed by
  record keys, with the per-comparison evidence Splink computed (``gamma_*`` level, ``mw_*`` match
  weight, ``mw_tf_adj_*`` term-frequency adjustment). The same pairs serve clustering, the review
  queue and ``explain``. ``score_delta_pairs`` scores only what an incremental run must;
  ``score_against_planned_pool`` a look-up's record against a pool planned once (``plan_pool``).
- ``score_links`` / ``score_links_against_pool`` / ``score_links_within_groups``: the linking pairs
  alone as row positions (``unique_id``), for clustering frames in memory.
- ``contradicting_pairs``: the evidence half of the guard against chaining (see ``clustering``).
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
from splink import Linker

from warmpool.identity import backends
from warmpool.identity.blocking import KEY_PREFIX, BlockingPlan, plan_blocking, with_block_keys
from warmpool.identity.features import smoothed_term_frequencies, splink_columns, splink_table, term_counts, tf_levels
from warmpool.identity.keys import ordered_pair, record_key_expr, record_keys
from warmpool.identity.model import TrainedModel, settings_for_size

PAIR_KEYS = ("source_l", "source_record_id_l", "source_r", "source_record_id_r")

# A pair of records inside one linked group contradicts when the model's comparisons alone (an even
# prior, no term-frequency adjustment) favour "two people" by at least 2**CONTRADICTION_BITS to 1:
# the mirror of the link threshold (0.999 is about 2**10 to 1 for "one person"). Checked on the
# threshold-tuning world only (seed 41, 150k people): precision 0.9824 -> 0.9896, recall 0.9942 ->
# 0.9941; any value from 0 to 20 bits gives F1 0.9917-0.9922, 30 bits 0.9897. Independent of the
# pool's size and term frequencies, so full, incremental and review runs find the same pairs.
CONTRADICTION_BITS = 10.0

_NEVER_WARN = {"warning_mode": "never"}


def with_plan(settings: dict, plan: BlockingPlan | None) -> dict:
    """``settings`` predicting with ``plan``'s rules (None: the model's own)."""
    if plan is None:
        return settings
    return {**settings, "blocking_rules_to_generate_predictions": copy.deepcopy(plan.splink_rules)}


def _linker(db_api: Any, records, settings: dict, term_frequencies: dict[str, pl.DataFrame],
            validate: bool = True) -> Linker:
    """A linker over ``records`` (a table registered on ``db_api``) with ``term_frequencies``
    (``smoothed_term_frequencies`` tables). ``validate``: Splink's check of the settings' columns
    against the input (a quarter of a second; a look-up skips it: the same settings passed it when
    the pool was scored)."""
    linker = Linker(records, backends.settings_for(db_api, settings), log_level=logging.WARNING,
                    validate_settings=validate)
    for col, tf in term_frequencies.items():
        linker.table_management.register_term_frequency_lookup(backends.register(db_api, tf.to_arrow(), f"tf_{col}"),
                                                               col)
    return linker


def _register(db_api: Any, features: pl.DataFrame | Path, name: str):
    if isinstance(features, Path):
        return backends.register_file(db_api, features, name, splink_columns(pq.read_schema(features).names))
    return backends.register(db_api, splink_table(features), name)


def pair_settings(model: TrainedModel, records: int) -> dict:
    """Splink settings for a run of ``records`` records, keeping the per-comparison columns."""
    settings = copy.deepcopy(settings_for_size(model, records))
    # the per-comparison columns (gamma_ levels need both flags) are what explain and the waterfall show
    settings["retain_intermediate_calculation_columns"] = True
    settings["retain_matching_columns"] = True
    return settings


def evidence_columns(frame_columns) -> list[str]:
    """The per-comparison evidence columns Splink retains (depends on the model's comparisons)."""
    return [c for c in frame_columns if c.startswith(("gamma_", "mw_"))]


def empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(schema={**{c: pl.String for c in PAIR_KEYS},
                                "match_probability": pl.Float64, "match_weight": pl.Float64})


# ---------------------------------------------------------------------------------------------
# linking pairs as row positions (clustering in memory)

def _link_edges(pred, threshold: float) -> pl.DataFrame:
    df = backends.to_polars(pred, ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]).filter(
        pl.col("match_probability") >= threshold)
    return df.with_columns(pl.col("unique_id_l").cast(pl.Int64), pl.col("unique_id_r").cast(pl.Int64))


def score_links(features: pl.DataFrame | Path, model: TrainedModel, threshold: float | None = None,
                plan: BlockingPlan | None = None) -> pl.DataFrame:
    """``unique_id_l, unique_id_r, match_probability, match_weight`` of every blocked pair at/above
    ``threshold`` (default: the model's); blocked by ``plan`` (default: the model's own rules; its key
    columns must be in ``features``: ``blocking.with_block_keys``). ``features``: a frame, or a parquet
    file of one (read by the backend as it goes: a large input is then not held in this process)."""
    t = model.threshold_match_probability if threshold is None else threshold
    if isinstance(features, Path):
        records = pq.read_metadata(features).num_rows
        tf_columns = [c for c in tf_levels(model) if c in pq.read_schema(features).names]
        term_frequencies = smoothed_term_frequencies(pl.read_parquet(features, columns=tf_columns), model)
    else:
        records, term_frequencies = features.height, smoothed_term_frequencies(features, model)
    db_api = backends.db_api()
    try:
        linker = _linker(db_api, _register(db_api, features, "records"),
                         with_plan(settings_for_size(model, records), plan), term_frequencies)
        return _link_edges(linker.inference.predict(threshold_match_probability=t, **_NEVER_WARN), t)
    finally:
        backends.close(db_api)


def score_links_against_pool(pool: pl.DataFrame, new: pl.DataFrame, model: TrainedModel, records: int,
                             term_frequencies: dict[str, pl.DataFrame], plan: BlockingPlan | None = None,
                             within_new: bool = True) -> pl.DataFrame:
    """The links (``unique_id_l, unique_id_r, match_weight``) of new x pool and (``within_new``) new x
    new, scored as in a run of ``records`` records with ``term_frequencies``. ``plan``: the blocking
    plan of the whole run (its key columns in both frames). ``new`` may be part of ``pool``: a record
    is never paired with itself and each pair comes once, smaller ``unique_id`` on the left."""
    t = model.threshold_match_probability
    db_api = backends.db_api()
    try:
        pool_sdf = _register(db_api, pool, "pool")
        new_sdf = _register(db_api, new, "new_records")
        linker = _linker(db_api, new_sdf, with_plan(settings_for_size(model, records), plan), term_frequencies)
        between = _link_edges(linker.inference.predict_between(pool_sdf, new_sdf, threshold_match_probability=t,
                                                               **_NEVER_WARN), t)
        within = (_link_edges(linker.inference.predict_within(new_sdf, threshold_match_probability=t,
                                                              **_NEVER_WARN), t)
                  if new.height > 1 and within_new else between.clear())
    finally:
        backends.close(db_api)
    edges = pl.concat([between.select("unique_id_l", "unique_id_r", "match_weight"),
                       within.select("unique_id_l", "unique_id_r", "match_weight")])
    lo, hi = pl.min_horizontal("unique_id_l", "unique_id_r"), pl.max_horizontal("unique_id_l", "unique_id_r")
    return edges.filter(pl.col("unique_id_l") != pl.col("unique_id_r")).select(
        lo.alias("unique_id_l"), hi.alias("unique_id_r"), "match_weight").unique(["unique_id_l", "unique_id_r"],
                                                                                  maintain_order=True)


def score_links_within_groups(features: pl.DataFrame, groups: pl.Series, model: TrainedModel, records: int,
                              term_frequencies: dict[str, pl.DataFrame], plan: BlockingPlan | None = None) -> pl.DataFrame:
    """The links (``unique_id_l, unique_id_r, match_weight``) between records of the same group
    (``groups``: a label per row of ``features``), scored as in a run of ``records`` records; blocked
    by ``plan``'s rules (its key columns in ``features``) or the model's own."""
    t = model.threshold_match_probability
    settings = with_plan(settings_for_size(model, records), plan)
    s = dict(settings)
    s["blocking_rules_to_generate_predictions"] = [
        {**rule, "blocking_rule": f"({rule['blocking_rule']}) AND l._group = r._group"}
        for rule in settings["blocking_rules_to_generate_predictions"]]
    db_api = backends.db_api()
    try:
        linker = _linker(db_api, _register(db_api, features.with_columns(groups.alias("_group")), "grouped_records"),
                         s, term_frequencies)
        links = _link_edges(linker.inference.predict(threshold_match_probability=t, **_NEVER_WARN), t)
    finally:
        backends.close(db_api)
    return links.select("unique_id_l", "unique_id_r", "match_weight")


# ---------------------------------------------------------------------------------------------
# scored pairs keyed by record keys (the pool, the review queue, explain)

def _prediction_frame(preds) -> pl.DataFrame:
    names = [c.unquote().name for c in preds.columns]
    wanted = ["unique_id_l", "unique_id_r", "match_probability", "match_weight", *evidence_columns(names)]
    return backends.to_polars(preds, wanted)


def keyed_pairs(p: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """Splink's ``unique_id`` pairs -> record-key pairs, smaller key on the left.

    ``keys``: ``source, source_record_id, unique_id`` for every record the pairs can name.
    """
    if p.height == 0:
        return empty_pairs()
    keys = keys.select("source", "source_record_id", pl.col("unique_id").cast(pl.Int64))
    left = keys.rename({"unique_id": "unique_id_l", "source": "_sl", "source_record_id": "_il"})
    right = keys.rename({"unique_id": "unique_id_r", "source": "_sr", "source_record_id": "_ir"})
    p = p.with_columns(pl.col("unique_id_l", "unique_id_r").cast(pl.Int64)).join(left, on="unique_id_l").join(
        right, on="unique_id_r")
    # order each pair by record key so decisions and history compare pairs regardless of Splink's order
    swap = record_key_expr("_sl", "_il") > record_key_expr("_sr", "_ir")
    p = p.with_columns(
        pl.when(swap).then(pl.col("_sr")).otherwise(pl.col("_sl")).alias("source_l"),
        pl.when(swap).then(pl.col("_ir")).otherwise(pl.col("_il")).alias("source_record_id_l"),
        pl.when(swap).then(pl.col("_sl")).otherwise(pl.col("_sr")).alias("source_r"),
        pl.when(swap).then(pl.col("_il")).otherwise(pl.col("_ir")).alias("source_record_id_r"),
    )
    return p.select(*PAIR_KEYS, "match_probability", "match_weight", *evidence_columns(p.columns))


def score_pairs(features: pl.DataFrame, model: TrainedModel, min_probability: float) -> pl.DataFrame:
    """Every candidate pair of ``features`` (``features_for_model`` of distinct-key records) with
    ``match_probability >= min_probability``, keyed by record keys; blocked by the plan of these
    records (``blocking.plan_blocking``, as ``warmpool resolve`` blocks), so what is compared is
    bounded by the number of records, not by the size of the largest name block.

    Returns ``source_l, source_record_id_l, source_r, source_record_id_r, match_probability,
    match_weight, gamma_*, mw_*`` with the left key the smaller one.
    """
    if features.height < 2:
        return empty_pairs()
    plan = plan_blocking(features)
    db_api = backends.db_api()
    try:
        linker = _linker(db_api, _register(db_api, with_block_keys(features, plan), "records"),
                         with_plan(pair_settings(model, features.height), plan), smoothed_term_frequencies(features, model))
        p = _prediction_frame(linker.inference.predict(threshold_match_probability=min_probability, **_NEVER_WARN))
    finally:
        backends.close(db_api)
    return keyed_pairs(p, features)


def score_delta_pairs(pool: pl.DataFrame, delta: pl.DataFrame, rescore: pl.DataFrame, model: TrainedModel,
                      min_probability: float) -> pl.DataFrame:
    """The pairs an incremental run must (re)score, as ``score_pairs`` would score them in a full run.

    ``pool``: features of the records kept from the last run; ``delta``: features of new and
    changed records (``unique_id`` disjoint from the pool's); ``rescore``: a subset of ``pool``
    (by ``unique_id``) whose pairs among themselves are scored again (their stored scores may have
    drifted). Scores delta x pool, delta x delta and rescore x rescore with the blocking plan, prior
    and term frequencies of pool + delta: what a full run over pool + delta gives for those pairs
    (the plan's tightening caps follow the pool's block sizes, so where a block crossed a cap since
    the last full run a kept pair may be compared differently until the next full run).
    """
    allf = pl.concat([pool, delta.select(pool.columns)], how="vertical_relaxed")
    plan = plan_blocking(allf)
    keyed = with_block_keys(allf, plan)
    pool_k, delta_k = keyed.head(pool.height), keyed.slice(pool.height)
    rescore_k = pool_k.join(rescore.select("unique_id"), on="unique_id", how="semi", maintain_order="left")
    pairs = _predict_delta(pool_k, delta_k, rescore_k, with_plan(pair_settings(model, allf.height), plan),
                           smoothed_term_frequencies(allf, model), min_probability)
    return empty_pairs() if pairs is None else keyed_pairs(pairs, allf)


def _predict_delta(pool_k: pl.DataFrame, delta_k: pl.DataFrame, rescore_k: pl.DataFrame | None, settings: dict,
                   term_frequencies: dict[str, pl.DataFrame], min_probability: float,
                   validate: bool = True) -> pl.DataFrame | None:
    """Splink's delta x pool, delta x delta and rescore x rescore pairs (by ``unique_id``, with the
    evidence) at or above ``min_probability``; None when there is none. Frames carry the plan's keys."""
    frames = []
    db_api = backends.db_api()
    try:
        delta_sdf = _register(db_api, delta_k, "delta_records")
        linker = _linker(db_api, delta_sdf, settings, term_frequencies, validate)
        kw = {"threshold_match_probability": min_probability, **_NEVER_WARN}
        if delta_k.height and pool_k.height:
            pool_sdf = _register(db_api, pool_k, "pool_records")
            frames.append(_prediction_frame(linker.inference.predict_between(pool_sdf, delta_sdf, **kw)))
        if delta_k.height > 1:
            frames.append(_prediction_frame(linker.inference.predict_within(delta_sdf, **kw)))
        if rescore_k is not None and rescore_k.height > 1:
            rescore_sdf = _register(db_api, rescore_k, "rescore_records")
            frames.append(_prediction_frame(linker.inference.predict_within(rescore_sdf, **kw)))
    finally:
        backends.close(db_api)
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


@dataclass
class PlannedPool:
    """A pool's features with its blocking plan's key columns and its term counts: prepared once
    (``plan_pool``), then each look-up scores against it reading only the pool records that share a
    key with the looked-up one (``score_against_planned_pool``), not planning the whole pool again."""
    features: pl.DataFrame                   # features_for_model of the pool, with the plan's key columns
    plan: BlockingPlan
    term_counts: dict[str, pl.DataFrame]

    def term_frequencies(self, rows: pl.DataFrame, new_counts: dict[str, pl.DataFrame],
                         model: TrainedModel) -> dict[str, pl.DataFrame]:
        """The smoothed term frequencies of pool + new (``new_counts``) for the values in ``rows`` only:
        all a prediction over those rows reads, without adding up the whole pool's counts again."""
        counts, totals = {}, {}
        for col, table in self.term_counts.items():
            new = new_counts.get(col)
            values = rows[col].drop_nulls().unique() if col in rows.columns else table[col].clear()
            parts = [table.filter(pl.col(col).is_in(values.implode()))] + ([] if new is None else [new])
            counts[col] = pl.concat(parts, how="vertical_relaxed").group_by(col).agg(pl.col("len").sum())
            totals[col] = int(table["len"].sum()) + (0 if new is None else int(new["len"].sum()))
        return smoothed_term_frequencies(None, model, counts=counts, totals=totals)


def plan_pool(features: pl.DataFrame, model: TrainedModel) -> PlannedPool:
    """``features`` (the pool's ``features_for_model``) planned for look-ups: every rule the pool's
    populated columns allow is kept, even one with no pair inside the pool (a look-up may share it)."""
    plan = plan_blocking(features, keep_unpaired=True)
    return PlannedPool(with_block_keys(features, plan), plan, term_counts(features, model))


def score_against_planned_pool(pool: PlannedPool, new: pl.DataFrame, model: TrainedModel,
                               min_probability: float) -> pl.DataFrame:
    """new x pool and new x new pairs at or above ``min_probability`` (``new``: ``features_for_model``
    rows, ``unique_id`` disjoint from the pool's), scored as a run over pool + new scores them: the
    pool's plan, the prior of pool + new and their term frequencies. Only pool records sharing a
    blocking key with a new record are given to Splink: no other pool record can be paired."""
    keys = [c for c in pool.features.columns if c.startswith(KEY_PREFIX)]
    new_k = pl.concat([new, pool.plan.keys_for(new)], how="horizontal")
    cols = [c for c in pool.features.columns if c in new_k.columns]
    new_k = new_k.select(cols)
    candidates = pool.features.filter(pool.plan.blocked_with(pool.features.select(keys), new_k)).select(cols)
    rows = pl.concat([candidates, new_k], how="vertical_relaxed")
    pairs = _predict_delta(candidates, new_k, None,
                           with_plan(pair_settings(model, pool.features.height + new.height), pool.plan),
                           pool.term_frequencies(rows, term_counts(new, model), model), min_probability, validate=False)
    return empty_pairs() if pairs is None else keyed_pairs(pairs, rows)


# ---------------------------------------------------------------------------------------------
# the evidence half of the guard against chaining

def _evidence_settings(model: TrainedModel) -> dict:
    """The model's settings scoring pure evidence: prior 1/2, no TF, every pair of a ``_group``."""
    s = copy.deepcopy(model.splink_settings)
    s["probability_two_random_records_match"] = 0.5
    for comparison in s["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("tf_adjustment_column", None)
            level.pop("tf_adjustment_weight", None)
    s["blocking_rules_to_generate_predictions"] = [{"blocking_rule": "l._group = r._group",
                                                    "sql_dialect": "duckdb"}]
    s["retain_intermediate_calculation_columns"] = False
    s["retain_matching_columns"] = False
    return s


def contradicting_pairs(features: pl.DataFrame, groups, model: TrainedModel,
                        bits: float = CONTRADICTION_BITS) -> list[tuple[str, str]]:
    """Record-key pairs inside one group (``groups``: a label per row of ``features``) whose
    evidence favours two people by ``bits`` or more. Only groups of 3+ records can hold such a pair
    (the one pair of a 2-record group is its link). ``features``: ``features_for_model`` columns
    plus ``source, source_record_id``.
    """
    f = features.with_columns(pl.Series("_group", list(groups), dtype=pl.Int64))
    f = f.filter(pl.len().over("_group") >= 3)
    if f.height == 0:
        return []
    f = f.with_columns(pl.int_range(0, f.height, dtype=pl.Int64).alias("unique_id"))
    db_api = backends.db_api()
    try:
        linker = _linker(db_api, _register(db_api, f, "grouped_records"), _evidence_settings(model), {})
        scored = backends.to_polars(linker.inference.predict(**_NEVER_WARN),
                                    ["unique_id_l", "unique_id_r", "match_weight"])
        hits = scored.filter(pl.col("match_weight") <= -float(bits)).select("unique_id_l", "unique_id_r")
    finally:
        backends.close(db_api)
    keys = record_keys(f).to_list()
    return sorted(ordered_pair(keys[int(a)], keys[int(b)])
                  for a, b in zip(hits["unique_id_l"].to_list(), hits["unique_id_r"].to_list()))
