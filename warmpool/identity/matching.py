"""Scoring and clustering with a saved model: full runs and incremental runs share this code.

Clustering is connected components over the pairs scoring at or above the model's threshold
(scipy's sparse graph routine). Incremental matching scores only new x pool and new x new pairs
(Splink 5's ``predict_between`` / ``predict_within``) and joins them to the pool's existing
clusters; because the pool's own clusters are the components of the pool x pool edges, the result
is the components a full run would find, as long as the pool x pool scores have not moved (term
frequencies are taken from pool + new in both paths, see ``_register_tf``).
"""
from __future__ import annotations

import logging

import numpy as np
import polars as pl

from warmpool.identity.normalize import KEY_COLUMNS, normalize_records

log = logging.getLogger(__name__)

_DROP = ("source", "source_record_id", "skills_list")


def model_optional_features(model) -> tuple[str, ...]:
    """The optional features (dob_norm, ...) a model's comparisons read."""
    text = str(model.splink_settings.get("comparisons", ""))
    return tuple(c for c in ("dob_norm", "address_norm", "postcode_norm") if c in text)


def features_for_model(records, model) -> pl.DataFrame:
    """Normalised features (``unique_id`` = row position) with every column ``model`` reads."""
    f = normalize_records(records)
    missing = [c for c in model_optional_features(model) if c not in f.columns]
    return f.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)


def settings_for_size(model, records: int) -> dict:
    """The model's Splink settings with the prior scaled to a run of ``records`` records.

    ``probability_two_random_records_match`` is a per-*pair* rate: a person has about the same
    number of duplicates in a pool of 60k records as in one of 1M, but there are 280x more pairs,
    so a prior estimated on the training world overstates the chance of a match ~15x at 1M
    (measured: precision 0.82 at 1M with the training world's prior). Scaled by
    (n_train - 1) / (n - 1), capped at 1e-2 for tiny batches.
    """
    s = dict(model.splink_settings)
    n_train = int(model.metrics.get("trained_on_records") or 0)
    if n_train > 1 and records > 1:
        p = float(s["probability_two_random_records_match"]) * (n_train - 1) / (records - 1)
        s["probability_two_random_records_match"] = min(p, 1e-2)
    return s


def _splink_table(features: pl.DataFrame):
    return features.drop([c for c in _DROP if c in features.columns]).to_arrow()


def _register_tf(db_api, linker, features: pl.DataFrame, model) -> None:
    from warmpool.identity.resolve import smoothed_term_frequencies

    for col, table in smoothed_term_frequencies(features, model).items():
        linker.table_management.register_term_frequency_lookup(db_api.register(table.to_arrow()), col)


def _edges(pred, threshold: float) -> pl.DataFrame:
    rel = pred.as_duckdbpyrelation()
    df = pl.from_arrow(rel.select(f"unique_id_l, unique_id_r, match_probability").filter(
        f"match_probability >= {threshold!r}").arrow().read_all())
    return df.with_columns(pl.col("unique_id_l").cast(pl.Int64), pl.col("unique_id_r").cast(pl.Int64))


def score_edges(features: pl.DataFrame, model, threshold: float | None = None) -> pl.DataFrame:
    """``unique_id_l, unique_id_r, match_probability`` of every blocked pair at/above ``threshold``."""
    from splink import DuckDBAPI, Linker

    t = model.threshold_match_probability if threshold is None else threshold
    db_api = DuckDBAPI()
    try:
        linker = Linker(db_api.register(_splink_table(features), table_name="records"),
                        settings_for_size(model, features.height), log_level=logging.WARNING)
        _register_tf(db_api, linker, features, model)
        return _edges(linker.inference.predict(threshold_match_probability=t, warning_mode="never"), t)
    finally:
        db_api.duckdb_con.close()


def components(n: int, edges: pl.DataFrame) -> np.ndarray:
    """Connected-component label (0..k-1) per node 0..n-1."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    l = edges["unique_id_l"].to_numpy()
    r = edges["unique_id_r"].to_numpy()
    graph = coo_matrix((np.ones(len(l), dtype=np.int8), (l, r)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def cluster_features(features: pl.DataFrame, model, threshold: float | None = None) -> pl.DataFrame:
    """``source, source_record_id, cluster_id`` (the smallest row position in the cluster, as text)."""
    edges = score_edges(features, model, threshold)
    return _label(features, components(features.height, edges))


def _label(features: pl.DataFrame, comp: np.ndarray) -> pl.DataFrame:
    df = features.select(*KEY_COLUMNS, "unique_id").with_columns(pl.Series("_c", comp))
    # the component's smallest row position: deterministic, independent of scipy's numbering
    return df.with_columns(pl.col("unique_id").min().over("_c").cast(pl.String).alias("cluster_id")).select(
        *KEY_COLUMNS, "cluster_id")


def match_incremental(new_records, pool, model=None, *, pool_features: pl.DataFrame | None = None) -> pl.DataFrame:
    """Match ``new_records`` against an already-resolved ``pool`` without re-scoring pool x pool.

    new_records: contract columns (pandas or polars); keys must not already be in the pool.
    pool: ``source, source_record_id, person_id`` for every pool record, plus the contract columns
        unless ``pool_features`` is given.
    pool_features: the pool's ``features_for_model`` output, row-aligned with ``pool`` (cache it:
        normalising a 1M pool costs more than the whole incremental match).
    Returns ``source, source_record_id, cluster_id, is_new`` for every pool and new record: pool
    records whose person gains nobody keep ``cluster_id == person_id``; a cluster that absorbed
    new records or joined several persons gets a fresh label. Feed it to
    ``resolve.assign_stable_ids(clusters, previous=pool)`` for person ids: the same answer as
    ``resolve_frame(pool + new, previous=pool)`` gives.
    """
    from splink import DuckDBAPI, Linker

    from warmpool.identity.normalize import to_contract_frame
    from warmpool.identity.resolve import load_model

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
    t = model.threshold_match_probability

    db_api = DuckDBAPI()
    try:
        pool_sdf = db_api.register(_splink_table(pool_features.select(cols)), table_name="pool")
        new_sdf = db_api.register(_splink_table(new_f.select(cols)), table_name="new_records")
        linker = Linker(new_sdf, settings_for_size(model, allf.height), log_level=logging.WARNING)
        _register_tf(db_api, linker, allf, model)  # pool + new: what a full run would count
        between = _edges(linker.inference.predict_between(pool_sdf, new_sdf, threshold_match_probability=t,
                                                          warning_mode="never"), t)
        within = (_edges(linker.inference.predict_within(new_sdf, threshold_match_probability=t,
                                                         warning_mode="never"), t)
                  if new_f.height > 1 else between.clear())
    finally:
        db_api.duckdb_con.close()

    # pool persons become edges too: each pool record links to its person's first record
    pid = pool.select(pl.col("person_id").cast(pl.String)).with_row_index("unique_id").with_columns(
        pl.col("unique_id").cast(pl.Int64))
    anchor = pid.with_columns(pl.col("unique_id").min().over("person_id").alias("a"))
    person_edges = anchor.filter(pl.col("unique_id") != pl.col("a")).select(
        pl.col("a").alias("unique_id_l"), pl.col("unique_id").alias("unique_id_r"))
    edges = pl.concat([person_edges, between.select("unique_id_l", "unique_id_r"),
                       within.select("unique_id_l", "unique_id_r")])
    comp = components(allf.height, edges)

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
