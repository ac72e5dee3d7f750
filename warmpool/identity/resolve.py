"""Resolve frames and candidate export files to persons with the saved model.

Entry points: ``resolve_frame`` (frames), ``resolve_csv`` (the ``warmpool resolve`` CLI contract)
and ``match_incremental`` (new records against an already-resolved frame). They run the same
scoring and clustering as the warehouse pool (``pool.resolve_pool``), without its tables:
features -> scored links -> connected components with the guard against chaining -> stable ids.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from warmpool.identity.clustering import cluster_features, components, guard_components
from warmpool.identity.features import add_term_counts, features_for_model, smoothed_term_frequencies, term_counts
from warmpool.identity.history import assign_stable_ids, with_cluster_size
from warmpool.identity.model import MODEL_PATH, TrainedModel, load_model
from warmpool.identity.normalize import CONTRACT_COLUMNS, KEY_COLUMNS, to_contract_frame
from warmpool.identity.scoring import score_links_against_pool, score_links_within_groups


class ResolveInputError(ValueError):
    """The input cannot be resolved (missing key field); the message names file, row and field."""


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

    @property
    def duplicates_merged(self) -> int:
        return (self.distinct_records if self.distinct_records is not None else self.records) - self.persons

    def describe(self) -> str:
        text = (f"resolved {self.records:,} records into {self.persons:,} persons "
                f"({self.duplicates_merged:,} duplicates merged) in {self.seconds:.1f} s "
                f"[model v{self.model_version}]")
        if self.new_records is not None:
            text += (f" [{self.kind}: {self.new_records:,} new, {self.changed_records:,} changed, "
                     f"{self.removed_records:,} removed]")
        return text + (f" ({self.note})" if self.note else "")


def require_keys(df: pl.DataFrame, where: str, *, line_offset: int = 2) -> None:
    """Raise naming the first row/field with an empty key (row = line in the file, header is 1)."""
    for col in KEY_COLUMNS:
        bad = df.select(pl.col(col).is_null().arg_true().head(1)).to_series()
        if bad.len():
            row = int(bad[0])
            raise ResolveInputError(
                f"{where}: row {row + 1} (line {row + line_offset}) has an empty required field '{col}'")


def cluster_records(records, model: TrainedModel | None = None) -> pl.DataFrame:
    """``source, source_record_id, cluster_id`` for distinct-key records (no id stability here)."""
    model = model or load_model()
    if records.height < 2:  # Splink needs at least one possible pair
        return records.select(*KEY_COLUMNS, pl.int_range(0, records.height).cast(pl.String).alias("cluster_id"))
    return cluster_features(features_for_model(records, model), model)


def _resolve(contract: pl.DataFrame, previous, model: TrainedModel) -> tuple[pl.DataFrame, int]:
    """Person ids for every row of ``contract`` (duplicate keys resolve once, first row's values)."""
    distinct = contract.unique(subset=list(KEY_COLUMNS), keep="first", maintain_order=True)
    clusters = cluster_records(distinct, model)
    ids = with_cluster_size(assign_stable_ids(clusters, previous))
    out = contract.select(KEY_COLUMNS).join(ids, on=list(KEY_COLUMNS), how="left", maintain_order="left")
    return out, distinct.height


def resolve_frame(records, previous=None, *, model: TrainedModel | None = None):
    """``source, source_record_id, person_id, cluster_size`` for every row of ``records``.

    ``records``: pandas or polars, resolve-contract columns (missing optional columns = empty).
    ``previous``: an earlier assignment (source, source_record_id, person_id) whose ids are kept.
    Returns the same frame type as ``records``, rows in input order.
    """
    is_pandas = not isinstance(records, pl.DataFrame)
    contract = to_contract_frame(records)
    require_keys(contract, "records", line_offset=1)
    out, _ = _resolve(contract, previous, model or load_model())
    return out.to_pandas() if is_pandas else out


def read_contract_csv(path: Path | str) -> pl.DataFrame:
    """Any candidate export CSV, all text; extra columns dropped, absent optional ones empty."""
    path = Path(path)
    try:
        df = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True)
    except pl.exceptions.NoDataError:
        df = pl.DataFrame(schema={c: pl.String for c in CONTRACT_COLUMNS})
    df = df.rename({c: c.strip().lower() for c in df.columns})
    for col in KEY_COLUMNS:
        if col not in df.columns:
            raise ResolveInputError(f"{path}: required column '{col}' is missing (header: {', '.join(df.columns)})")
    contract = to_contract_frame(df)
    require_keys(contract, str(path))
    return contract


def resolve_csv(input_path: Path | str, output_path: Path | str, *, model_path: Path | str = MODEL_PATH) -> ResolveStats:
    """The ``warmpool resolve IN.csv --output OUT.csv`` contract: one OUT row per IN row, same order."""
    started = time.perf_counter()
    model = load_model(model_path)
    contract = read_contract_csv(input_path)
    out, distinct = _resolve(contract, None, model)
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    out.write_csv(output_path)
    return ResolveStats(records=out.height, persons=out["person_id"].n_unique(),
                        seconds=time.perf_counter() - started, model_version=model.model_version,
                        distinct_records=distinct)


def match_incremental(new_records, pool, model=None, *, pool_features: pl.DataFrame | None = None,
                      pool_term_counts: dict | None = None) -> pl.DataFrame:
    """Match ``new_records`` against an already-resolved ``pool`` without re-scoring pool x pool.

    new_records: contract columns (pandas or polars); keys must not already be in the pool.
    pool: ``source, source_record_id, person_id`` for every pool record, plus the contract columns
        unless ``pool_features`` is given.
    pool_features: the pool's ``features_for_model`` output, row-aligned with ``pool`` (cache it:
        normalising a 1M pool costs more than the whole incremental match).
    pool_term_counts: ``features.term_counts(pool_features, model)``, cached with the features (the
        term frequencies are then the pool's counts plus the new records', as a full run counts).
    Returns ``source, source_record_id, cluster_id, is_new`` for every pool and new record: pool
    records whose person gains nobody keep ``cluster_id == person_id``; a cluster that absorbed
    new records or joined several persons gets a fresh label. Feed it to
    ``history.assign_stable_ids(clusters, previous=pool)`` for person ids: the same answer as
    ``resolve_frame(pool + new, previous=pool)`` gives, up to two approximations: pool x pool links
    are re-scored only inside the pool persons the new records reach (so a pool person elsewhere
    keeps its links even if this run's smaller prior would drop one), and links between two pool
    persons are not re-scored (so two persons the guard against chaining kept apart are re-cut
    without their link). The warehouse's incremental run (``pool.resolve_pool``) re-clusters from
    stored pairs and bounds the drift instead.
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

    # pool persons become edges too: each pool record links to its person's first record
    pid = pool.select(pl.col("person_id").cast(pl.String)).with_row_index("unique_id").with_columns(
        pl.col("unique_id").cast(pl.Int64))
    anchor = pid.with_columns(pl.col("unique_id").min().over("person_id").alias("a"))
    person_edges = anchor.filter(pl.col("unique_id") != pl.col("a")).select(
        pl.col("a").alias("unique_id_l"), pl.col("unique_id").alias("unique_id_r"))

    # term frequencies of pool + new, as a full run counts them
    if pool_term_counts is not None:
        tf = smoothed_term_frequencies(None, model, counts=add_term_counts(pool_term_counts, term_counts(new_f, model)))
    else:
        tf = smoothed_term_frequencies(allf, model)
    scored = score_links_against_pool(pool_features.select(cols), new_f.select(cols), model, allf.height, tf)
    comp = components(allf.height, pl.concat([person_edges, scored.select("unique_id_l", "unique_id_r")]))
    # the components the new records touch are re-clustered as a full run would: their pool
    # persons' own links re-scored (with this run's prior and term frequencies), then the
    # guard against chaining over those links and the new ones
    touched_rows = np.zeros(allf.height, dtype=bool)
    touched_rows[np.isin(comp, np.unique(comp[n_pool:]))] = True
    touched_pool = np.flatnonzero(touched_rows[:n_pool])
    if len(touched_pool) > 1:
        group = pid["person_id"].gather(touched_pool).rank("dense").cast(pl.Int64)
        own = score_links_within_groups(pool_features.select(cols)[touched_pool], group, model, allf.height, tf)
        scored = pl.concat([scored, own])

    masked = np.where(touched_rows, comp, -1 - np.arange(allf.height))  # untouched: singletons
    guarded = guard_components(allf, masked, scored, model, model.threshold_match_probability)
    comp = np.where(touched_rows, guarded, comp)

    keys = pl.concat([pool.select(KEY_COLUMNS), new_contract.select(KEY_COLUMNS)])
    df = keys.with_columns(
        pl.Series("_c", comp), pl.int_range(0, keys.height, dtype=pl.Int64).alias("_row"),
        pl.concat([pid["person_id"], pl.Series([None] * new_f.height, dtype=pl.String)]).alias("_pid"),
        (pl.int_range(0, keys.height) >= n_pool).alias("is_new"))
    touched = df.group_by("_c").agg(pl.col("is_new").any().alias("_t"), pl.col("_pid").n_unique().alias("_np"),
                                    pl.col("_row").min().alias("_min"))
    df = df.join(touched, on="_c", how="left")
    return df.select(*KEY_COLUMNS, pl.when(pl.col("_t") | (pl.col("_np") > 1))
                     .then(pl.lit("new:") + pl.col("_min").cast(pl.String))
                     .otherwise(pl.col("_pid")).alias("cluster_id"), "is_new")
