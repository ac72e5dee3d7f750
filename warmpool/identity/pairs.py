"""Scored record pairs and clustering that respects reviewers' decisions.

``score_pairs`` runs the saved model's prediction once and keeps every pair at or above a floor
(the lower of the review band and the link threshold), with the per-comparison evidence Splink
computed (``gamma_*`` level, ``mw_*`` match weight, ``mw_tf_adj_*`` term-frequency adjustment).
The same pairs then serve three purposes: clustering, the review queue and ``explain``.

``constrained_clusters`` is connected components over the linking pairs, built strongest evidence
first (Kruskal order) so that a reviewer's ``separate`` decision cuts a cluster along its weakest
evidence: a link that would put two separated records in one person is skipped. Without decisions
the result is exactly the connected components Splink's own clustering gives at the threshold.

The model guards against chaining the same way (``contradicting_pairs``): inside each group the
links would form, every pair of records is compared, and a pair whose own evidence says "two
people" by at least ``CONTRADICTION_BITS`` becomes a cannot-link for the evidence joins (never
for a reviewer's ``link``), so a group that two namesakes' records would form is cut at its
weakest link instead of fusing them.
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


# ---------------------------------------------------------------------------------------------
# the guard against chaining

# A pair of records inside one linked group contradicts when the model's comparisons alone (an even
# prior, no term-frequency adjustment) favour "two people" by at least 2**CONTRADICTION_BITS to 1:
# the mirror of the link threshold (0.999 is about 2**10 to 1 for "one person"). Checked on the
# threshold-tuning world only (seed 41, 150k people): precision 0.9824 -> 0.9896, recall 0.9942 ->
# 0.9941; any value from 0 to 20 bits gives F1 0.9917-0.9922, 30 bits 0.9897. Independent of the
# pool's size and term frequencies, so full, incremental and review runs find the same pairs.
CONTRADICTION_BITS = 10.0


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


def link_groups(keys: list[str], pairs: pl.DataFrame | None, threshold: float) -> list[int]:
    """Connected-component label per key over the model's links (pairs >= threshold), no decisions."""
    import numpy as np

    from warmpool.identity.matching import components

    if pairs is None or pairs.height == 0 or not keys:
        return list(range(len(keys)))
    index = pl.DataFrame({"_k": keys, "_i": pl.int_range(0, len(keys), dtype=pl.Int64, eager=True)})
    strong = pairs.filter(pl.col("match_probability") >= threshold).select(
        (pl.col("source_l") + KEY_SEP + pl.col("source_record_id_l")).alias("_a"),
        (pl.col("source_r") + KEY_SEP + pl.col("source_record_id_r")).alias("_b"))
    e = strong.join(index.rename({"_k": "_a", "_i": "unique_id_l"}), on="_a").join(
        index.rename({"_k": "_b", "_i": "unique_id_r"}), on="_b")
    return np.asarray(components(len(keys), e.select("unique_id_l", "unique_id_r"))).tolist()


def contradicting_pairs(features: pl.DataFrame, groups, model: TrainedModel,
                        bits: float = CONTRADICTION_BITS) -> list[tuple[str, str]]:
    """Record-key pairs inside one group (``groups``: a label per row of ``features``) whose
    evidence favours two people by ``bits`` or more. Only groups of 3+ records can hold such a pair
    (the one pair of a 2-record group is its link). ``features``: ``features_for_model`` columns
    plus ``source, source_record_id``.
    """
    from splink import DuckDBAPI, Linker

    from warmpool.identity.matching import _splink_table

    f = features.with_columns(pl.Series("_group", list(groups), dtype=pl.Int64))
    f = f.filter(pl.len().over("_group") >= 3)
    if f.height == 0:
        return []
    f = f.with_columns(pl.int_range(0, f.height, dtype=pl.Int64).alias("unique_id"))
    db_api = DuckDBAPI()
    try:
        linker = Linker(db_api.register(_splink_table(f), table_name="grouped_records"),
                        _evidence_settings(model), log_level=logging.WARNING)
        rel = linker.inference.predict(warning_mode="never").as_duckdbpyrelation()
        hits = pl.from_arrow(rel.filter(f"match_weight <= {-float(bits)!r}").select(
            "unique_id_l, unique_id_r").arrow().read_all())
    finally:
        db_api.duckdb_con.close()
    keys = (f["source"] + KEY_SEP + f["source_record_id"]).to_list()
    return sorted(ordered_pair(keys[int(a)], keys[int(b)])
                  for a, b in zip(hits["unique_id_l"].to_list(), hits["unique_id_r"].to_list()))


def model_contradictions(keys: list[str], features: pl.DataFrame, pairs: pl.DataFrame | None, threshold: float,
                         model: TrainedModel, bits: float = CONTRADICTION_BITS) -> list[tuple[str, str]]:
    """``contradicting_pairs`` inside the groups the model's links form over ``keys``.

    ``features``: one row per key (any order), ``features_for_model`` columns + source keys.
    """
    groups = link_groups(keys, pairs, threshold)
    sizes: dict[int, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    if not any(n >= 3 for n in sizes.values()):
        return []
    order = pl.DataFrame({"_k": keys, "_g": groups}, schema={"_k": pl.String, "_g": pl.Int64})
    f = features.with_columns((pl.col("source") + KEY_SEP + pl.col("source_record_id")).alias("_k")).join(
        order, on="_k", how="inner").sort("_k")
    return contradicting_pairs(f.drop("_k", "_g"), f["_g"].to_list(), model, bits)


def _overruled_dropped(keys, pairs, threshold, links, contradictions) -> list[tuple[str, str]]:
    """``contradictions`` minus those between model-only people that link decisions join."""
    model_only = constrained_clusters(keys, pairs, threshold, (), (), contradictions).clusters
    group = dict(zip(keys, model_only["cluster_id"].to_list()))
    parent: dict[str, str] = {}

    def find(g: str) -> str:
        while parent.get(g, g) != g:
            g = parent[g]
        return g

    for a, b in links:
        if a in group and b in group:
            ga, gb = find(group[a]), find(group[b])
            if ga != gb:
                parent[max(ga, gb)] = min(ga, gb)
    if not parent:
        return list(contradictions)
    return [(a, b) for a, b in contradictions
            if not (a in group and b in group and find(group[a]) == find(group[b]))]


@dataclass
class Clustering:
    """``clusters``: source, source_record_id, cluster_id. ``held_by``: the pairs that joined records
    (strongest first) as (left key, right key, how: 'evidence' | 'review_link')."""
    clusters: pl.DataFrame
    held_by: list[tuple[str, str, str]] = field(default_factory=list)
    skipped_links: list[tuple[str, str]] = field(default_factory=list)
    guarded: list[tuple[str, str]] = field(default_factory=list)  # links refused by contradictions


def constrained_clusters(keys: list[str], pairs: pl.DataFrame | None, threshold: float,
                         links=(), separates=(), contradictions=()) -> Clustering:
    """Connected components of ``keys`` over pairs ``>= threshold`` and reviewers' ``links``, never
    joining two records of a ``separates`` pair.

    Order of joining: link decisions first (a reviewer's word beats the model), then pairs by match
    weight descending, ties by key (deterministic). A join that would bring a separated pair into
    one component is skipped, so a cluster is cut where its evidence is weakest. A link decision
    that contradicts separate decisions (directly or through other links) is skipped and reported.
    ``contradictions`` (``model_contradictions``) are cannot-links for the evidence joins only; the
    evidence links they refuse are in ``guarded``. A reviewer's link overrules them between the two
    people it joins: the people the model alone would make (evidence and contradictions, no
    decisions) that link decisions declare one are not kept apart by the model's contradictions.
    """
    if links and contradictions:
        contradictions = _overruled_dropped(keys, pairs, threshold, links, contradictions)
    index = {k: i for i, k in enumerate(keys)}
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def conflicts(pairs) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for a, b in pairs:
            ia, ib = index.get(a), index.get(b)
            if ia is None or ib is None or ia == ib:
                continue
            out.setdefault(ia, set()).add(ib)
            out.setdefault(ib, set()).add(ia)
        return out

    # cannot[root] = records the component must never join with (kept per root, merged on union)
    cannot = conflicts(separates)
    # the model's contradictions, kept the same way but checked for evidence joins only
    soft = conflicts(contradictions)

    def _union(mapping: dict[int, set[int]], ra: int, rb: int) -> None:
        ca, cb = mapping.get(ra), mapping.get(rb)
        if ca or cb:
            mapping.pop(rb, None)
            mapping[ra] = (ca or set()) | (cb or set())

    def blocked(mapping: dict[int, set[int]], ra: int, rb: int) -> bool:
        ca, cb = mapping.get(ra), mapping.get(rb)
        if not ca or not cb:  # partners are stored both ways: both sides hold one if any applies
            return False
        small, other = (ca, rb) if len(ca) <= len(cb) else (cb, ra)
        return any(find(x) == other for x in small)

    def join(ia: int, ib: int, *, evidence: bool = False) -> bool | None:
        """True: joined; False: refused by a decision; None: refused by a contradiction."""
        ra, rb = find(ia), find(ib)
        if ra == rb:
            return False
        if blocked(cannot, ra, rb):
            return False
        if evidence and blocked(soft, ra, rb):
            return None
        parent[rb] = ra
        _union(cannot, ra, rb)
        _union(soft, ra, rb)
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
            if ia is None or ib is None:
                continue
            joined = join(ia, ib, evidence=True)
            if joined:
                out.held_by.append((a, b, "evidence"))
            elif joined is None:
                out.guarded.append((a, b))
    roots = [keys[find(i)] for i in range(len(keys))]
    src = [split_key(k) for k in keys]
    out.clusters = pl.DataFrame({"source": [s for s, _ in src], "source_record_id": [r for _, r in src],
                                 "cluster_id": roots}, schema={"source": pl.String, "source_record_id": pl.String,
                                                               "cluster_id": pl.String})
    return out
