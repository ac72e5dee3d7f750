"""Scored record pairs and clustering that respects reviewers' decisions.

``score_pairs`` runs the saved model's prediction once and keeps every pair at or above a floor
(the lower of the review band and the link threshold), with the per-comparison evidence Splink
computed (``gamma_*`` level, ``mw_*`` match weight, ``mw_tf_adj_*`` term-frequency adjustment).
The same pairs then serve three purposes: clustering, the review queue and ``explain``.

``constrained_clusters`` is connected components over the linking pairs, built strongest evidence
first (Kruskal order) so that a reviewer's ``separate`` decision cuts a cluster along its weakest
evidence: a link that would put two separated records in one person is skipped. Without decisions
the result is exactly the connected components Splink's own clustering gives at the threshold.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field

import polars as pl

from warmpool.identity.model import TrainedModel

KEY_SEP = "\x1f"  # same separator as resolve: a record key is source + KEY_SEP + source_record_id
PAIR_KEYS = ("source_l", "source_record_id_l", "source_r", "source_record_id_r")


def record_key(source: str, source_record_id: str) -> str:
    return f"{source}{KEY_SEP}{source_record_id}"


def split_key(key: str) -> tuple[str, str]:
    source, _, rid = key.partition(KEY_SEP)
    return source, rid


def ordered_pair(a: str, b: str) -> tuple[str, str]:
    """Pairs are stored with the smaller record key on the left, so (a, b) and (b, a) are one pair."""
    return (a, b) if a <= b else (b, a)


def evidence_columns(frame_columns) -> list[str]:
    """The per-comparison evidence columns Splink retains (depends on the model's comparisons)."""
    return [c for c in frame_columns if c.startswith(("gamma_", "mw_"))]


def _pair_settings(model: TrainedModel, records: int) -> dict:
    """Splink settings for a run of ``records`` records, keeping the per-comparison columns."""
    from warmpool.identity.matching import settings_for_size

    settings = copy.deepcopy(settings_for_size(model, records))
    # the per-comparison columns (gamma_ levels need both flags) are what explain and the waterfall show
    settings["retain_intermediate_calculation_columns"] = True
    settings["retain_matching_columns"] = True
    return settings


def _empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(schema={**{c: pl.String for c in PAIR_KEYS},
                                "match_probability": pl.Float64, "match_weight": pl.Float64})


def _prediction_frame(preds) -> pl.DataFrame:
    rel = preds.as_duckdbpyrelation()
    wanted = ["unique_id_l", "unique_id_r", "match_probability", "match_weight", *evidence_columns(rel.columns)]
    return pl.from_arrow(rel.select(", ".join(f'"{c}"' for c in wanted)).arrow().read_all())


def keyed_pairs(p: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """Splink's ``unique_id`` pairs -> record-key pairs, smaller key on the left.

    ``keys``: ``source, source_record_id, unique_id`` for every record the pairs can name.
    """
    if p.height == 0:
        return _empty_pairs()
    keys = keys.select("source", "source_record_id", pl.col("unique_id").cast(pl.Int64))
    left = keys.rename({"unique_id": "unique_id_l", "source": "_sl", "source_record_id": "_il"})
    right = keys.rename({"unique_id": "unique_id_r", "source": "_sr", "source_record_id": "_ir"})
    p = p.with_columns(pl.col("unique_id_l", "unique_id_r").cast(pl.Int64)).join(left, on="unique_id_l").join(
        right, on="unique_id_r")
    # order each pair by record key so decisions and history compare pairs regardless of Splink's order
    swap = (pl.col("_sl") + KEY_SEP + pl.col("_il")) > (pl.col("_sr") + KEY_SEP + pl.col("_ir"))
    p = p.with_columns(
        pl.when(swap).then(pl.col("_sr")).otherwise(pl.col("_sl")).alias("source_l"),
        pl.when(swap).then(pl.col("_ir")).otherwise(pl.col("_il")).alias("source_record_id_l"),
        pl.when(swap).then(pl.col("_sl")).otherwise(pl.col("_sr")).alias("source_r"),
        pl.when(swap).then(pl.col("_il")).otherwise(pl.col("_ir")).alias("source_record_id_r"),
    )
    return p.select(*PAIR_KEYS, "match_probability", "match_weight", *evidence_columns(p.columns))


def score_pairs(records: pl.DataFrame | None, model: TrainedModel, min_probability: float, *,
                features: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every candidate pair with ``match_probability >= min_probability``, keyed by record keys.

    ``records``: distinct-key contract frame (or ``features``: its ``features_for_model`` output).
    Returns ``source_l, source_record_id_l, source_r, source_record_id_r, match_probability,
    match_weight, gamma_*, mw_*`` with the left key the smaller one. The linker is set up exactly
    as ``matching.score_edges`` does (same features, run-size prior, smoothed term frequencies) so
    the pool and the CLI score pairs identically.
    """
    from warmpool.identity.matching import _register_tf, _splink_table, features_for_model

    if features is None:
        features = features_for_model(records, model)
    if features.height < 2:
        return _empty_pairs()
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI()
    try:
        linker = Linker(db_api.register(_splink_table(features), table_name="records"),
                        _pair_settings(model, features.height), log_level=logging.WARNING)
        _register_tf(db_api, linker, features, model)
        p = _prediction_frame(linker.inference.predict(threshold_match_probability=min_probability,
                                                       warning_mode="never"))
    finally:
        db_api.duckdb_con.close()
    return keyed_pairs(p, features)


def score_delta_pairs(pool: pl.DataFrame, delta: pl.DataFrame, rescore: pl.DataFrame, model: TrainedModel,
                      min_probability: float) -> pl.DataFrame:
    """The pairs an incremental run must (re)score, as ``score_pairs`` would score them in a full run.

    ``pool``: features of the records kept from the last run; ``delta``: features of new and
    changed records (``unique_id`` disjoint from the pool's); ``rescore``: a subset of ``pool``
    whose pairs among themselves are scored again (their stored scores may have drifted).
    Scores delta x pool, delta x delta and rescore x rescore with the prior and term frequencies
    of pool + delta: exactly what a full run over pool + delta gives for those pairs.
    """
    from splink import DuckDBAPI, Linker

    from warmpool.identity.matching import _register_tf, _splink_table

    allf = pl.concat([pool, delta.select(pool.columns)], how="vertical_relaxed")
    frames = []
    db_api = DuckDBAPI()
    try:
        delta_sdf = db_api.register(_splink_table(delta.select(pool.columns)), table_name="delta_records")
        linker = Linker(delta_sdf, _pair_settings(model, allf.height), log_level=logging.WARNING)
        _register_tf(db_api, linker, allf, model)
        kw = {"threshold_match_probability": min_probability, "warning_mode": "never"}
        if delta.height and pool.height:
            pool_sdf = db_api.register(_splink_table(pool), table_name="pool_records")
            frames.append(_prediction_frame(linker.inference.predict_between(pool_sdf, delta_sdf, **kw)))
        if delta.height > 1:
            frames.append(_prediction_frame(linker.inference.predict_within(delta_sdf, **kw)))
        if rescore.height > 1:
            rescore_sdf = db_api.register(_splink_table(rescore), table_name="rescore_records")
            frames.append(_prediction_frame(linker.inference.predict_within(rescore_sdf, **kw)))
    finally:
        db_api.duckdb_con.close()
    frames = [f for f in frames if f.height]
    if not frames:
        return _empty_pairs()
    return keyed_pairs(pl.concat(frames, how="diagonal_relaxed"), allf)


@dataclass
class Clustering:
    """``clusters``: source, source_record_id, cluster_id. ``held_by``: the pairs that joined records
    (strongest first) as (left key, right key, how: 'evidence' | 'review_link')."""
    clusters: pl.DataFrame
    held_by: list[tuple[str, str, str]] = field(default_factory=list)
    skipped_links: list[tuple[str, str]] = field(default_factory=list)


def constrained_clusters(keys: list[str], pairs: pl.DataFrame | None, threshold: float,
                         links=(), separates=()) -> Clustering:
    """Connected components of ``keys`` over pairs ``>= threshold`` and reviewers' ``links``, never
    joining two records of a ``separates`` pair.

    Order of joining: link decisions first (a reviewer's word beats the model), then pairs by match
    weight descending, ties by key (deterministic). A join that would bring a separated pair into
    one component is skipped, so a cluster is cut where its evidence is weakest. A link decision
    that contradicts separate decisions (directly or through other links) is skipped and reported.
    """
    index = {k: i for i, k in enumerate(keys)}
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # cannot[root] = records the component must never join with (kept per root, merged on union)
    cannot: dict[int, set[int]] = {}
    for a, b in separates:
        ia, ib = index.get(a), index.get(b)
        if ia is None or ib is None or ia == ib:
            continue
        cannot.setdefault(ia, set()).add(ib)
        cannot.setdefault(ib, set()).add(ia)

    def join(ia: int, ib: int) -> bool:
        ra, rb = find(ia), find(ib)
        if ra == rb:
            return False
        ca, cb = cannot.get(ra), cannot.get(rb)
        # partners are stored both ways, so checking A's partners against B is enough
        if ca and any(find(x) == rb for x in ca):
            return False
        parent[rb] = ra
        if ca or cb:
            cannot.pop(rb, None)
            cannot[ra] = (ca or set()) | (cb or set())
        return True

    out = Clustering(clusters=pl.DataFrame())
    for a, b in links:
        ia, ib = index.get(a), index.get(b)
        if ia is None or ib is None:
            continue  # a record no longer in the pool
        ra, rb = find(ia), find(ib)
        if ra == rb:
            continue
        if join(ia, ib):
            out.held_by.append((*ordered_pair(a, b), "review_link"))
        else:
            out.skipped_links.append(ordered_pair(a, b))
    if pairs is not None and pairs.height:
        strong = pairs.filter(pl.col("match_probability") >= threshold).sort(
            ["match_weight", *PAIR_KEYS], descending=[True, False, False, False, False])
        left = (strong["source_l"] + KEY_SEP + strong["source_record_id_l"]).to_list()
        right = (strong["source_r"] + KEY_SEP + strong["source_record_id_r"]).to_list()
        for a, b in zip(left, right):
            ia, ib = index.get(a), index.get(b)
            if ia is not None and ib is not None and join(ia, ib):
                out.held_by.append((a, b, "evidence"))
    roots = [keys[find(i)] for i in range(len(keys))]
    src = [split_key(k) for k in keys]
    out.clusters = pl.DataFrame({"source": [s for s, _ in src], "source_record_id": [r for _, r in src],
                                 "cluster_id": roots}, schema={"source": pl.String, "source_record_id": pl.String,
                                                               "cluster_id": pl.String})
    return out
