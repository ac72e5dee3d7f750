"""Scoring and clustering with a saved model: full runs and incremental runs share this code.

Clustering is connected components over the pairs scoring at or above the model's threshold
(scipy's sparse graph routine), then the guard against chaining (``pairs.contradicting_pairs``) in
the components holding records whose own evidence contradicts. Incremental matching scores only
new x pool and new x new pairs (Splink 5's ``predict_between`` / ``predict_within``) and joins them
to the pool's existing clusters; because the pool's own clusters are the components of the pool x
pool edges, the result is the components a full run would find, as long as the pool x pool scores
have not moved (term frequencies are taken from pool + new in both paths, see ``_register_tf``).
Where the new records reach, the pool persons' own links are re-scored so the guard can re-cut
them as a full run would.
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


def _register_tf(db_api, linker, features: pl.DataFrame | None, model, registered: dict | None = None, *,
                 counts: dict | None = None) -> dict:
    """Give ``linker`` the smoothed term frequencies of ``features`` (or of ready ``counts``); returns
    the registered tables (pass them back as ``registered`` to give another linker on ``db_api`` the
    same ones)."""
    from warmpool.identity.resolve import smoothed_term_frequencies

    if registered is None:
        registered = {col: db_api.register(table.to_arrow())
                      for col, table in smoothed_term_frequencies(features, model, counts=counts).items()}
    for col, table in registered.items():
        linker.table_management.register_term_frequency_lookup(table, col)
    return registered


def _edges(pred, threshold: float) -> pl.DataFrame:
    rel = pred.as_duckdbpyrelation()
    df = pl.from_arrow(rel.select(f"unique_id_l, unique_id_r, match_probability, match_weight").filter(
        f"match_probability >= {threshold!r}").arrow().read_all())
    return df.with_columns(pl.col("unique_id_l").cast(pl.Int64), pl.col("unique_id_r").cast(pl.Int64))


def score_edges(features: pl.DataFrame, model, threshold: float | None = None) -> pl.DataFrame:
    """``unique_id_l, unique_id_r, match_probability, match_weight`` of every blocked pair at/above
    ``threshold``."""
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
    """``source, source_record_id, cluster_id`` (the smallest row position in the cluster, as text).

    Connected components of the links, except where a component holds records whose own evidence
    contradicts (``pairs.contradicting_pairs``): those components are rebuilt strongest link first
    and cut at their weakest link (``pairs.constrained_clusters``), as the warehouse runs do.
    """
    t = model.threshold_match_probability if threshold is None else threshold
    edges = score_edges(features, model, t)
    comp = components(features.height, edges)
    return _label(features, _guard(features, comp, edges, model, t))


def _guard(features: pl.DataFrame, comp: np.ndarray, edges: pl.DataFrame, model, threshold: float) -> np.ndarray:
    """Component labels with the guard against chaining applied (a new label per cut part).

    ``edges``: ``unique_id_l, unique_id_r, match_weight`` (row positions of ``features``): every
    link of the components in ``comp`` that may need re-clustering.
    """
    from warmpool.identity.pairs import KEY_SEP, constrained_clusters, contradicting_pairs

    contradictions = contradicting_pairs(features, comp, model)
    if not contradictions:
        return comp
    keys = pl.DataFrame({"_k": features["source"] + KEY_SEP + features["source_record_id"],
                         "_row": np.arange(features.height, dtype=np.int64)})
    firsts = pl.DataFrame({"_k": [a for a, _ in contradictions]}, schema={"_k": pl.String})
    hit = np.unique(comp[keys.join(firsts, on="_k", how="semi")["_row"].to_numpy()])
    rows = np.flatnonzero(np.isin(comp, hit))
    in_sub = np.zeros(features.height, dtype=bool)
    in_sub[rows] = True
    sub_keys = keys["_k"].gather(rows).to_list()

    # the affected components' links as record-key pairs (smaller key on the left)
    e = edges.select("unique_id_l", "unique_id_r", "match_weight")
    e = e.filter(pl.Series(in_sub[e["unique_id_l"].to_numpy()] & in_sub[e["unique_id_r"].to_numpy()]))
    kl, kr = keys["_k"].gather(e["unique_id_l"]), keys["_k"].gather(e["unique_id_r"])
    e = e.with_columns(pl.when(kl <= kr).then(kl).otherwise(kr).alias("_a"),
                       pl.when(kl <= kr).then(kr).otherwise(kl).alias("_b"))
    pairs = e.select(
        pl.col("_a").str.split_exact(KEY_SEP, 1).struct.rename_fields(["source_l", "source_record_id_l"]).alias("_l"),
        pl.col("_b").str.split_exact(KEY_SEP, 1).struct.rename_fields(["source_r", "source_record_id_r"]).alias("_r"),
        "match_weight", pl.lit(1.0).alias("match_probability")).unnest("_l", "_r")
    clustering = constrained_clusters(sub_keys, pairs, threshold, (), (), contradictions)
    if clustering.guarded:
        log.info("identity: %d link(s) refused: they would join records whose evidence contradicts "
                 "(guard against chaining)", len(clustering.guarded))
    root = {k: i for i, k in enumerate(dict.fromkeys(clustering.clusters["cluster_id"].to_list()))}
    out = comp.astype(np.int64, copy=True)
    # new labels above any component label (scipy's are < n; masked ones are negative)
    out[rows] = features.height + 1 + np.array([root[c] for c in clustering.clusters["cluster_id"].to_list()])
    return out


def _label(features: pl.DataFrame, comp: np.ndarray) -> pl.DataFrame:
    df = features.select(*KEY_COLUMNS, "unique_id").with_columns(pl.Series("_c", comp))
    # the component's smallest row position: deterministic, independent of scipy's numbering
    return df.with_columns(pl.col("unique_id").min().over("_c").cast(pl.String).alias("cluster_id")).select(
        *KEY_COLUMNS, "cluster_id")


def match_incremental(new_records, pool, model=None, *, pool_features: pl.DataFrame | None = None,
                      pool_term_counts: dict | None = None) -> pl.DataFrame:
    """Match ``new_records`` against an already-resolved ``pool`` without re-scoring pool x pool.

    new_records: contract columns (pandas or polars); keys must not already be in the pool.
    pool: ``source, source_record_id, person_id`` for every pool record, plus the contract columns
        unless ``pool_features`` is given.
    pool_features: the pool's ``features_for_model`` output, row-aligned with ``pool`` (cache it:
        normalising a 1M pool costs more than the whole incremental match).
    pool_term_counts: ``resolve.term_counts(pool_features, model)``, cached with the features (the
        term frequencies are then the pool's counts plus the new records', as a full run counts).
    Returns ``source, source_record_id, cluster_id, is_new`` for every pool and new record: pool
    records whose person gains nobody keep ``cluster_id == person_id``; a cluster that absorbed
    new records or joined several persons gets a fresh label. Feed it to
    ``resolve.assign_stable_ids(clusters, previous=pool)`` for person ids: the same answer as
    ``resolve_frame(pool + new, previous=pool)`` gives, up to two approximations: pool x pool links
    are re-scored only inside the pool persons the new records reach (so a pool person elsewhere
    keeps its links even if this run's smaller prior would drop one), and links between two pool
    persons are not re-scored (so two persons the guard against chaining kept apart are re-cut
    without their link). The warehouse's incremental run (``resolve.resolve_pool``) re-clusters from
    stored pairs and bounds the drift instead.
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

    # pool persons become edges too: each pool record links to its person's first record
    pid = pool.select(pl.col("person_id").cast(pl.String)).with_row_index("unique_id").with_columns(
        pl.col("unique_id").cast(pl.Int64))
    anchor = pid.with_columns(pl.col("unique_id").min().over("person_id").alias("a"))
    person_edges = anchor.filter(pl.col("unique_id") != pl.col("a")).select(
        pl.col("a").alias("unique_id_l"), pl.col("unique_id").alias("unique_id_r"))

    settings = settings_for_size(model, allf.height)
    db_api = DuckDBAPI()
    try:
        pool_sdf = db_api.register(_splink_table(pool_features.select(cols)), table_name="pool")
        new_sdf = db_api.register(_splink_table(new_f.select(cols)), table_name="new_records")
        linker = Linker(new_sdf, settings, log_level=logging.WARNING)
        if pool_term_counts is not None:  # pool + new: what a full run would count
            from warmpool.identity.resolve import add_term_counts, term_counts

            tf = _register_tf(db_api, linker, None, model,
                              counts=add_term_counts(pool_term_counts, term_counts(new_f, model)))
        else:
            tf = _register_tf(db_api, linker, allf, model)
        between = _edges(linker.inference.predict_between(pool_sdf, new_sdf, threshold_match_probability=t,
                                                          warning_mode="never"), t)
        within = (_edges(linker.inference.predict_within(new_sdf, threshold_match_probability=t,
                                                         warning_mode="never"), t)
                  if new_f.height > 1 else between.clear())
        scored = pl.concat([between.select("unique_id_l", "unique_id_r", "match_weight"),
                            within.select("unique_id_l", "unique_id_r", "match_weight")])
        comp = components(allf.height, pl.concat([person_edges, scored.select("unique_id_l", "unique_id_r")]))
        # the components the new records touch are re-clustered as a full run would: their pool
        # persons' own links re-scored (with this run's prior and term frequencies), then the
        # guard against chaining over those links and the new ones
        touched_rows = np.zeros(allf.height, dtype=bool)
        touched_rows[np.isin(comp, np.unique(comp[n_pool:]))] = True
        touched_pool = np.flatnonzero(touched_rows[:n_pool])
        if len(touched_pool) > 1:
            group = pid["person_id"].gather(touched_pool).rank("dense").cast(pl.Int64)
            sub = pool_features.select(cols)[touched_pool].with_columns(group.alias("_group"))
            s = dict(settings)
            s["blocking_rules_to_generate_predictions"] = [
                {**rule, "blocking_rule": f"({rule['blocking_rule']}) AND l._group = r._group"}
                for rule in settings["blocking_rules_to_generate_predictions"]]
            person_linker = Linker(db_api.register(_splink_table(sub), table_name="touched_pool"), s,
                                   log_level=logging.WARNING)
            _register_tf(db_api, person_linker, allf, model, tf)
            own = _edges(person_linker.inference.predict(threshold_match_probability=t, warning_mode="never"), t)
            scored = pl.concat([scored, own.select("unique_id_l", "unique_id_r", "match_weight")])
    finally:
        db_api.duckdb_con.close()

    masked = np.where(touched_rows, comp, -1 - np.arange(allf.height))  # untouched: singletons
    guarded = _guard(allf, masked, scored, model, t)
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
