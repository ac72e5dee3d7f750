"""Resolve frames and candidate export files to persons.

Entry points: ``resolve_frame`` (frames), ``resolve_csv`` (the ``warmpool resolve`` CLI contract)
and ``match_incremental`` (new records against an already-resolved frame). A run:

    read          the export, with its encoding detected and every problem named (reader)
    features      normalised contract and optional columns (normalize)
    model         the saved model, or one adapted to this input (estimate.choose_model: auto | saved | adapt)
    blocking      rules from the populated columns, counted and tightened where blocks explode (blocking)
    score         every blocked pair down to ``SCORE_FLOOR``; an adapted model's threshold is chosen
                  from that score distribution (estimate.threshold_from_scores). The features go to
                  a scratch parquet file that DuckDB reads within its own memory limit while this
                  process lets go of them (at 5M records the features alone are ~2.5 GB)
    cluster       connected components of the links, with the guard against chaining
    ids           stable person ids

The warehouse pool (``pool.resolve_pool``) runs the same scoring and clustering with the saved model.
"""
from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from warmpool.identity.blocking import BlockingPlan, plan_blocking, with_block_keys
from warmpool.identity.clustering import components, guard_components, label_clusters
from warmpool.identity.estimate import ModelChoice, ThresholdChoice, choose_model, expected_quality, threshold_from_scores
from warmpool.identity.features import (add_term_counts, features_for_model, smoothed_term_frequencies, term_counts,
                                        with_model_columns)
from warmpool.identity.history import assign_stable_ids, with_cluster_size
from warmpool.identity.model import MODEL_PATH, TrainedModel, load_model
from warmpool.identity.normalize import KEY_COLUMNS, normalize_records, to_contract_frame
from warmpool.identity.reader import ResolveInputError, read_contract_csv, require_keys
from warmpool.identity.scoring import (PlannedPool, plan_pool, score_against_planned_pool, score_links,
                                       score_links_against_pool)

# Pairs are scored down to this probability: the distribution an adapted model's threshold and the
# expected precision / recall are read from (pairs below it add little to the expected matches).
SCORE_FLOOR = 0.01


@dataclass(frozen=True)
class ResolveStats:
    records: int
    persons: int
    seconds: float
    model_version: int
    distinct_records: int | None = None
    merges: int = 0   # people whose ids were retired into another this run (pool runs only)
    splits: int = 0   # people who lost records to a new or other person this run
    kind: str = "resolve"            # pool runs: resolve (full) or resolve_incremental
    new_records: int | None = None   # pool runs: records added / changed / removed since the last run
    changed_records: int | None = None
    removed_records: int | None = None
    note: str | None = None          # pool runs: why this run was full, or what the incremental run did
    model: str | None = None         # resolve runs: which model and why (estimate.ModelChoice.describe)
    threshold: str | None = None     # resolve runs: the threshold and the precision / recall the model expects
    blocking: tuple[str, ...] = ()   # resolve runs: comparisons per blocking rule
    input_notes: tuple[str, ...] = ()  # how the file was read (encoding, repeated keys)

    @property
    def duplicates_merged(self) -> int:
        return (self.distinct_records if self.distinct_records is not None else self.records) - self.persons

    def describe(self) -> str:
        distinct = self.distinct_records if self.distinct_records is not None else self.records
        repeated = self.records - distinct
        rows = (f"{self.records:,} rows ({distinct:,} distinct records, {repeated:,} repeating an earlier key)"
                if repeated else f"{self.records:,} records")
        text = (f"resolved {rows} into {self.persons:,} persons "
                f"({self.duplicates_merged:,} duplicates merged) in {self.seconds:.1f} s "
                f"[model v{self.model_version}]")
        if self.new_records is not None:
            text += (f" [{self.kind}: {self.new_records:,} new, {self.changed_records:,} changed, "
                     f"{self.removed_records:,} removed]")
        text += f" ({self.note})" if self.note else ""
        lines = [text, *(f"input: {n}" for n in self.input_notes)]
        if self.model:
            lines.append(self.model)
        if self.threshold:
            lines.append(self.threshold)
        if self.blocking:
            lines.append("blocking (comparisons per rule): " + "; ".join(self.blocking))
        return "\n".join(lines)


@dataclass
class Resolution:
    """A run's answer and how it got there."""
    assignments: pl.DataFrame            # source, source_record_id, person_id, cluster_size (one per input row)
    distinct_records: int
    choice: ModelChoice
    threshold: ThresholdChoice
    plan: BlockingPlan
    notes: list[str] = field(default_factory=list)

    @property
    def model(self) -> TrainedModel:
        return self.choice.model

    def stats(self, seconds: float, input_notes=()) -> ResolveStats:
        a = self.assignments
        return ResolveStats(records=a.height, persons=a["person_id"].n_unique(), seconds=seconds,
                            model_version=self.model.model_version, distinct_records=self.distinct_records,
                            model=self.choice.describe(), threshold=self.threshold.describe(),
                            blocking=tuple(self.plan.describe()), input_notes=tuple(input_notes))


def _cluster(features: Path, records: int, plan: BlockingPlan, choice: ModelChoice
             ) -> tuple[pl.DataFrame, ModelChoice, ThresholdChoice]:
    """``source, source_record_id, cluster_id`` of distinct-key ``features`` (a parquet file of
    ``records`` rows, with ``plan``'s key columns), the model with its threshold (an adapted model's
    from its scores) and what the model expects of it."""
    model = choice.model
    if records < 2 or not plan.splink_rules:  # no possible pair (Splink would compare every pair)
        labels = pl.read_parquet(features, columns=[*KEY_COLUMNS, "unique_id"]).select(
            *KEY_COLUMNS, pl.col("unique_id").cast(pl.String).alias("cluster_id"))
        return labels, choice, expected_quality(pl.Series([], dtype=pl.Float64), model.threshold_match_probability)
    scored = score_links(features, model, min(SCORE_FLOOR, model.threshold_match_probability), plan)
    if choice.mode == "saved":
        quality = expected_quality(scored["match_probability"], model.threshold_match_probability,
                                   "(the saved model's, chosen on labelled data)")
    else:
        quality = threshold_from_scores(scored["match_probability"])
        model = dataclasses.replace(model, threshold_match_probability=quality.threshold)
        choice = dataclasses.replace(choice, model=model)
    edges = scored.filter(pl.col("match_probability") >= model.threshold_match_probability)
    del scored
    comp = guard_components(features, components(records, edges), edges, model, model.threshold_match_probability)
    return label_clusters(pl.read_parquet(features, columns=[*KEY_COLUMNS, "unique_id"]), comp), choice, quality


def resolve_records(contract: pl.DataFrame, previous=None, *, mode: str = "auto",
                    model: TrainedModel | None = None) -> Resolution:
    """Person ids for every row of ``contract`` (contract columns; duplicate keys resolve once, with
    the first row's values). ``mode``: auto | saved | adapt (estimate.choose_model), from ``model``
    (default: the saved model)."""
    keys = contract.select(KEY_COLUMNS)
    repeats = contract.select(pl.struct(KEY_COLUMNS).is_duplicated().any()).item()
    # (no copy of millions of rows of text when every key is distinct, as it usually is)
    distinct = contract.unique(subset=list(KEY_COLUMNS), keep="first", maintain_order=True) if repeats else contract
    del contract  # the caller may have handed over the only reference
    features = normalize_records(distinct)
    del distinct
    choice = choose_model(features, mode, model or load_model())
    features = with_model_columns(features, choice.model)
    plan = plan_blocking(features)
    n_distinct = features.height
    with tempfile.TemporaryDirectory(prefix="warmpool-resolve-") as scratch:
        # Splink reads the features from a file, so this process does not hold them (and the plan's
        # key columns) while DuckDB scores: the peak is the larger of the two, not their sum
        path = Path(scratch) / "features.parquet"
        with_block_keys(features.lazy(), plan).sink_parquet(path, compression="lz4", statistics=False)
        del features
        plan = dataclasses.replace(plan, keys=plan.keys.clear())
        clusters, choice, quality = _cluster(path, n_distinct, plan, choice)
    ids = with_cluster_size(assign_stable_ids(clusters, previous))
    out = keys.join(ids, on=list(KEY_COLUMNS), how="left", maintain_order="left")
    return Resolution(out, n_distinct, choice, quality, plan)


def resolve_frame(records, previous=None, *, model: TrainedModel | None = None, mode: str | None = None):
    """``source, source_record_id, person_id, cluster_size`` for every row of ``records``.

    ``records``: pandas or polars, resolve-contract columns (missing optional columns = empty).
    ``previous``: an earlier assignment (source, source_record_id, person_id) whose ids are kept.
    ``model``: a model to use as it is (mode saved); otherwise ``mode`` (default auto) decides
    between the saved model and one adapted to ``records``.
    Returns the same frame type as ``records``, rows in input order.
    """
    is_pandas = not isinstance(records, pl.DataFrame)
    contract = to_contract_frame(records)
    require_keys(contract, "records", line_offset=1)
    out = resolve_records(contract, previous, mode=mode or ("saved" if model is not None else "auto"),
                          model=model).assignments
    return out.to_pandas() if is_pandas else out


def resolve_csv(input_path: Path | str, output_path: Path | str, *, model_path: Path | str = MODEL_PATH,
                mode: str = "auto", save_model: Path | str | None = None) -> ResolveStats:
    """The ``warmpool resolve IN.csv --output OUT.csv`` contract: one OUT row per IN row, same order.

    ``save_model``: also write the model the run used (with its threshold) as a model file, which
    ``warmpool identity promote-model`` can make the one every run loads.
    """
    started = time.perf_counter()
    export = read_contract_csv(input_path)
    run = resolve_records(export.take_records(), mode=mode, model=load_model(model_path))
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    run.assignments.write_csv(output_path)
    if save_model is not None:
        run.model.save(save_model, model_version=load_model(model_path).model_version + 1)
    return run.stats(time.perf_counter() - started, export.notes())


def match_incremental(new_records, pool, model=None, *, pool_features: pl.DataFrame | None = None,
                      pool_term_counts: dict | None = None) -> pl.DataFrame:
    """Match ``new_records`` against an already-resolved ``pool`` without re-scoring pool x pool.

    new_records: contract columns (pandas or polars); keys must not already be in the pool.
    pool: ``source, source_record_id, person_id`` for every pool record, plus the contract columns
        unless ``pool_features`` is given.
    model: the model the pool was resolved with (default: the saved model), used as it is.
    pool_features: the pool's ``features_for_model`` output, row-aligned with ``pool`` (cache it:
        normalising a 1M pool costs more than the whole incremental match).
    pool_term_counts: ``features.term_counts(pool_features, model)``, cached with the features (the
        term frequencies are then the pool's counts plus the new records', as a full run counts).
    Returns ``source, source_record_id, cluster_id, is_new`` for every pool and new record: pool
    records whose person gains nobody keep ``cluster_id == person_id``; a cluster that absorbed
    new records or joined several persons gets a fresh label. Feed it to
    ``history.assign_stable_ids(clusters, previous=pool)`` for person ids: the same answer as
    ``resolve_frame(pool + new, previous=pool, model=model)``.

    What is scored, with the blocking plan, prior and term frequencies of pool + new (as the full run
    scores them): new x pool and new x new; then every pool record of a person those links reach
    against the whole pool (so links between existing people are re-scored too: two people the
    guard against chaining kept apart, or that a new record bridges), repeated until no further
    person is reached. Those persons are re-clustered with the guard as a full run would. A pool
    person no link reaches keeps its records (its own links could only move by this run's slightly
    smaller prior; the warehouse's incremental run bounds that drift from stored pairs instead).
    """
    model = model or load_model()
    pool = pool if isinstance(pool, pl.DataFrame) else pl.from_pandas(pool)
    if pool_features is None:
        pool_features = features_for_model(pool, model)
    new_contract = to_contract_frame(new_records)
    new_f = features_for_model(new_contract, model)
    n_pool = pool_features.height
    new_f = new_f.with_columns((pl.col("unique_id") + n_pool).alias("unique_id"))
    cols = [c for c in pool_features.columns if c in new_f.columns]
    allf = pl.concat([pool_features.select(cols), new_f.select(cols)], how="vertical_relaxed")
    plan = plan_blocking(allf)
    keyed = with_block_keys(allf, plan)
    pool_keyed = keyed.head(n_pool)

    # term frequencies of pool + new, as a full run counts them
    if pool_term_counts is not None:
        tf = smoothed_term_frequencies(None, model, counts=add_term_counts(pool_term_counts, term_counts(new_f, model)))
    else:
        tf = smoothed_term_frequencies(allf, model)
    pid = pool.select(pl.col("person_id").cast(pl.String))["person_id"]
    scored = score_links_against_pool(pool_keyed, keyed.slice(n_pool), model, allf.height, tf, plan)

    # the closure: persons reached by a link, their records against the whole pool, until nothing new
    reached: set[str] = set()
    frontier_links = scored
    while True:
        rows = np.unique(np.concatenate([frontier_links["unique_id_l"].to_numpy(),
                                         frontier_links["unique_id_r"].to_numpy()]))
        persons = set(pid.gather(rows[rows < n_pool]).to_list()) - reached
        if not persons:
            break
        reached |= persons
        frontier = pool_keyed.filter(pid.is_in(list(persons)))
        frontier_links = score_links_against_pool(pool_keyed, frontier, model, allf.height, tf, plan,
                                                  within_new=False)
        scored = pl.concat([scored, frontier_links])
    scored = scored.unique(["unique_id_l", "unique_id_r"], maintain_order=True)

    # components: reached persons' records and the new ones from this run's links; the rest as they were
    in_play = np.zeros(allf.height, dtype=bool)
    in_play[n_pool:] = True
    in_play[:n_pool] = pid.is_in(list(reached)).to_numpy()
    anchor = pl.DataFrame({"unique_id": np.arange(n_pool, dtype=np.int64), "person_id": pid}).filter(
        ~pl.Series(in_play[:n_pool])).with_columns(pl.col("unique_id").min().over("person_id").alias("a"))
    person_edges = anchor.filter(pl.col("unique_id") != pl.col("a")).select(
        pl.col("a").alias("unique_id_l"), pl.col("unique_id").alias("unique_id_r"))
    comp = components(allf.height, pl.concat([person_edges, scored.select("unique_id_l", "unique_id_r")]))
    masked = np.where(in_play, comp, -1 - np.arange(allf.height))  # the untouched: not guarded again
    guarded = guard_components(allf, masked, scored, model, model.threshold_match_probability)
    comp = np.where(in_play, guarded, comp)

    keys = pl.concat([pool.select(KEY_COLUMNS), new_contract.select(KEY_COLUMNS)])
    df = keys.with_columns(
        pl.Series("_c", comp), pl.int_range(0, keys.height, dtype=pl.Int64).alias("_row"),
        pl.concat([pid, pl.Series([None] * new_f.height, dtype=pl.String)]).alias("_pid"),
        (pl.int_range(0, keys.height) >= n_pool).alias("is_new"))
    touched = df.group_by("_c").agg(pl.col("is_new").any().alias("_t"), pl.col("_pid").n_unique().alias("_np"),
                                    pl.col("_pid").first().alias("_first"), pl.col("_row").min().alias("_min"))
    df = df.join(touched, on="_c", how="left").with_columns(pl.col("_c").n_unique().over("_pid").alias("_parts"))
    # a pool person kept whole and alone keeps its id; anything else is a fresh cluster
    same = ~pl.col("_t") & (pl.col("_np") == 1) & (pl.col("_parts") == 1)
    return df.select(*KEY_COLUMNS, pl.when(same).then(pl.col("_first"))
                     .otherwise(pl.lit("new:") + pl.col("_min").cast(pl.String)).alias("cluster_id"), "is_new")


def score_against_pool(records, pool: pl.DataFrame | PlannedPool, model: TrainedModel | None = None, *,
                       min_probability: float = 0.01) -> pl.DataFrame:
    """How likely each of ``records`` is the same person as each pool record, as a run over the pool
    and them would score the pair: ``source_l, source_record_id_l, source_r, source_record_id_r,
    match_probability, match_weight`` and the per-comparison evidence, for every blocked pair at or
    above ``min_probability``.

    records: contract columns (pandas or polars), keys not in the pool (e.g. ``lookup:1``).
    pool: ``plan_pool`` of the pool's features (prepare it once: planning a 1M-record pool takes
        seconds, a look-up against it a fraction of one), or the ``features_for_model`` frame itself.
    The "search first" look-up: is a person a sourcer is about to buy already in the pool?
    """
    model = model or load_model()
    if not isinstance(pool, PlannedPool):
        pool = plan_pool(pool, model)
    new_f = features_for_model(to_contract_frame(records), model)
    new_f = new_f.with_columns((pl.col("unique_id") + pool.features.height).alias("unique_id"))
    return score_against_planned_pool(pool, new_f, model, min_probability)
