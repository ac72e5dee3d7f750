"""Clustering linked records into people.

``components`` is the one connected-components routine (scipy's sparse graph code): the plain
clustering at the model's threshold, which persons a change can reach, the groups the guard
against chaining inspects, the naive baseline.

``constrained_clusters`` is the clustering with constraints: connected components over the linking
pairs, built strongest evidence first (Kruskal order) so that a reviewer's ``separate`` decision
cuts a cluster along its weakest evidence: a link that would put two separated records in one
person is skipped. Without decisions or contradictions the result is exactly the connected
components at the threshold.

The guard against chaining: inside each group the links would form, every pair of records is
compared (``scoring.contradicting_pairs``), and a pair whose own evidence says "two people" by at
least ``CONTRADICTION_BITS`` becomes a cannot-link for the evidence joins (never for a reviewer's
``link``), so a group that two namesakes' records would form is cut at its weakest link instead of
fusing them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import polars as pl
import pyarrow.parquet as pq
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from warmpool.identity.blocking import KEY_PREFIX
from warmpool.identity.keys import KEY_SEP, ordered_pair, record_key_expr, record_keys, split_key
from warmpool.identity.model import TrainedModel
from warmpool.identity.normalize import KEY_COLUMNS
from warmpool.identity.scoring import CONTRADICTION_BITS, PAIR_KEYS, contradicting_pairs, score_links

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# connected components

def components(n: int, edges: pl.DataFrame) -> np.ndarray:
    """Connected-component label (0..k-1) per node 0..n-1; ``edges``: ``unique_id_l, unique_id_r``."""
    l = edges["unique_id_l"].to_numpy()
    r = edges["unique_id_r"].to_numpy()
    graph = coo_matrix((np.ones(len(l), dtype=np.int8), (l, r)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _edge_frame(edges) -> pl.DataFrame:
    if isinstance(edges, pl.DataFrame):
        return edges.select(pl.col(edges.columns[0]).alias("a"), pl.col(edges.columns[1]).alias("b"))
    return pl.DataFrame(list(edges), schema={"a": pl.String, "b": pl.String}, orient="row")


def component_labels(edges, nodes: Iterable[str] = ()) -> dict[str, int]:
    """The component of every node of ``edges`` (pairs of names, or a two-column frame) and ``nodes``."""
    e = _edge_frame(edges)
    index = pl.concat([e["a"], e["b"], pl.Series(list(nodes), dtype=pl.String)]).unique(
        maintain_order=True).to_frame("node").with_row_index("i")
    ids = e.join(index.rename({"node": "a", "i": "unique_id_l"}), on="a").join(
        index.rename({"node": "b", "i": "unique_id_r"}), on="b")
    labels = components(index.height, ids.select(pl.col("unique_id_l", "unique_id_r").cast(pl.Int64)))
    return dict(zip(index["node"].to_list(), labels.tolist()))


def reachable(edges, seeds: Iterable[str]) -> set[str]:
    """Every node connected to ``seeds`` through ``edges`` (the seeds included)."""
    seeds = set(seeds)
    labels = component_labels(edges, seeds)
    hit = {labels[s] for s in seeds}
    return {node for node, label in labels.items() if label in hit}


def link_groups(keys: list[str], pairs: pl.DataFrame | None, threshold: float) -> list[int]:
    """Connected-component label per key over the model's links (pairs >= threshold), no decisions."""
    if pairs is None or pairs.height == 0 or not keys:
        return list(range(len(keys)))
    index = pl.DataFrame({"_k": keys, "_i": pl.int_range(0, len(keys), dtype=pl.Int64, eager=True)})
    strong = pairs.filter(pl.col("match_probability") >= threshold).select(
        record_key_expr("source_l", "source_record_id_l").alias("_a"),
        record_key_expr("source_r", "source_record_id_r").alias("_b"))
    e = strong.join(index.rename({"_k": "_a", "_i": "unique_id_l"}), on="_a").join(
        index.rename({"_k": "_b", "_i": "unique_id_r"}), on="_b")
    return np.asarray(components(len(keys), e.select("unique_id_l", "unique_id_r"))).tolist()


# ---------------------------------------------------------------------------------------------
# the guard against chaining

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
    f = features.with_columns(record_key_expr().alias("_k")).join(
        order, on="_k", how="inner").sort("_k")
    return contradicting_pairs(f.drop("_k", "_g"), f["_g"].to_list(), model, bits)


def _overruled_dropped(keys, pairs, threshold, links, contradictions) -> list[tuple[str, str]]:
    """``contradictions`` minus those between model-only people that link decisions join."""
    model_only = constrained_clusters(keys, pairs, threshold, (), (), contradictions).clusters
    group = dict(zip(keys, model_only["cluster_id"].to_list()))
    joined = [(group[a], group[b]) for a, b in links if a in group and b in group and group[a] != group[b]]
    if not joined:
        return list(contradictions)
    person = component_labels(joined)  # model-only people that link decisions declare one

    def one(g: str):
        return person.get(g, g)

    return [(a, b) for a, b in contradictions if not (a in group and b in group and one(group[a]) == one(group[b]))]


# ---------------------------------------------------------------------------------------------
# clustering with decisions and contradictions

@dataclass
class Clustering:
    """``clusters``: source, source_record_id, cluster_id. ``held_by``: the pairs that joined records
    (strongest first) as (left key, right key, how: 'evidence' | 'review_link')."""
    clusters: pl.DataFrame
    held_by: list[tuple[str, str, str]] = field(default_factory=list)
    skipped_links: list[tuple[str, str]] = field(default_factory=list)
    guarded: list[tuple[str, str]] = field(default_factory=list)  # links refused by contradictions

    @property
    def review_links(self) -> list[tuple[str, str]]:
        """The reviewers' link decisions that joined records."""
        return [(a, b) for a, b, how in self.held_by if how == "review_link"]


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
    # union-find rather than ``components``: each join is checked against the cannot-links first
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
        left = record_keys(strong, "source_l", "source_record_id_l").to_list()
        right = record_keys(strong, "source_r", "source_record_id_r").to_list()
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


def _log_guard(clustering: Clustering) -> None:
    if clustering.guarded:
        log.info("identity: %d link(s) refused: they would join records whose evidence contradicts "
                 "(guard against chaining)", len(clustering.guarded))


def cluster_with_decisions(keys: list[str], features: pl.DataFrame | None, pairs: pl.DataFrame | None,
                           model: TrainedModel, links=(), separates=()) -> Clustering:
    """People out of ``keys``: the scored ``pairs`` at the model's threshold, reviewers' decisions and
    the guard against chaining (``features``: ``features_for_model`` rows of those records; None when
    there is nothing to guard) — what every warehouse run (full, incremental, a decision) does."""
    threshold = model.threshold_match_probability
    contradictions = [] if features is None else model_contradictions(keys, features, pairs, threshold, model)
    clustering = constrained_clusters(keys, pairs, threshold, links, separates, contradictions)
    _log_guard(clustering)
    if clustering.skipped_links:
        log.warning("%d link decision(s) contradict separate decisions and were not applied",
                    len(clustering.skipped_links))
    return clustering


# ---------------------------------------------------------------------------------------------
# clustering frames in memory (no warehouse, no decisions)

def _rows_in_groups_of_three(features: pl.DataFrame | Path, comp: np.ndarray) -> tuple[pl.DataFrame, np.ndarray]:
    """The feature rows of components with 3+ records (the only ones that can hold a contradiction)
    and their labels: from a frame, or read from a parquet file of one (a blocking plan's key columns
    left out) without loading the rest."""
    _, group, sizes = np.unique(comp, return_inverse=True, return_counts=True)  # labels may be negative
    mask = sizes[group] >= 3
    if isinstance(features, pl.DataFrame):
        return features.filter(pl.Series(mask)), comp[mask]
    wanted = pl.LazyFrame({"unique_id": np.flatnonzero(mask).astype(np.int64)})
    columns = [c for c in pq.read_schema(features).names if not c.startswith(KEY_PREFIX)]
    rows = pl.scan_parquet(features).select(columns).join(wanted, on="unique_id", how="semi", maintain_order="left")
    return rows.collect(engine="streaming"), comp[mask]


def guard_components(features: pl.DataFrame | Path, comp: np.ndarray, edges: pl.DataFrame, model: TrainedModel,
                     threshold: float) -> np.ndarray:
    """Component labels with the guard against chaining applied (a new label per cut part).

    ``features``: a frame, or a parquet file of one whose ``unique_id`` is the row position.
    ``edges``: ``unique_id_l, unique_id_r, match_weight`` (row positions of ``features``): every
    link of the components in ``comp`` that may need re-clustering.
    """
    contradictions = contradicting_pairs(*_rows_in_groups_of_three(features, comp), model)
    if not contradictions:
        return comp
    if isinstance(features, Path):
        features = pl.read_parquet(features, columns=list(KEY_COLUMNS))
    keys = pl.DataFrame({"_k": record_keys(features), "_row": np.arange(features.height, dtype=np.int64)})
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
    _log_guard(clustering)
    root = {k: i for i, k in enumerate(dict.fromkeys(clustering.clusters["cluster_id"].to_list()))}
    out = comp.astype(np.int64, copy=True)
    # new labels above any component label (scipy's are < n; masked ones are negative)
    out[rows] = features.height + 1 + np.array([root[c] for c in clustering.clusters["cluster_id"].to_list()])
    return out


def label_clusters(features: pl.DataFrame, comp: np.ndarray) -> pl.DataFrame:
    """``source, source_record_id, cluster_id``: the component's smallest row position, as text."""
    df = features.select(*KEY_COLUMNS, "unique_id").with_columns(pl.Series("_c", comp))
    # the component's smallest row position: deterministic, independent of scipy's numbering
    return df.with_columns(pl.col("unique_id").min().over("_c").cast(pl.String).alias("cluster_id")).select(
        *KEY_COLUMNS, "cluster_id")


def cluster_features(features: pl.DataFrame, model: TrainedModel, threshold: float | None = None) -> pl.DataFrame:
    """``source, source_record_id, cluster_id`` (the smallest row position in the cluster, as text).

    Connected components of the links, except where a component holds records whose own evidence
    contradicts (``scoring.contradicting_pairs``): those components are rebuilt strongest link first
    and cut at their weakest link (``constrained_clusters``), as the warehouse runs do.
    """
    t = model.threshold_match_probability if threshold is None else threshold
    edges = score_links(features, model, t)
    comp = components(features.height, edges)
    return label_clusters(features, guard_components(features, comp, edges, model, t))
