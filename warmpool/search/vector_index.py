"""Semantic nearest neighbours with filters applied inside the search (docs/search.md, "The vector index").

Vectors are L2-normalised, so inner product = cosine similarity. Two ways to find the k nearest
rows among those a filter allows, chosen per query:

- exact: the allowed rows' vectors times the query (numpy). Always right; cheap while the allowed
  rows are few (``EXACT_MAX_ROWS``) or the pool is small (no graph is built below ``HNSW_MIN_ROWS``).
- HNSW graph (faiss ``IndexHNSWFlat``) searched with the filter as an ``IDSelectorBitmap``: the
  graph walk only returns allowed rows, and ``efSearch`` grows as the filter gets more selective.
  Should the walk still find fewer than k allowed rows while k exist, a scan answers instead, so a
  filtered query never returns fewer than k results when k exist.

The walk comes up short when the filter works against the query: a "sales" job family or a
"salesforce" skill filter on an engineering query allows rows far from where the walk goes (the
embedding places people by what they do), and its beam fills with rows the filter refuses. At 1M
profiles 52 of the benchmark's 200 filtered queries did so, each then scanning 60,000-230,000 rows
at full width (the slow tail of the latency). So a pool large enough for the graph also keeps a
compressed copy of the vectors: their first ``COARSE_DIMS`` principal components.

- A filter allowing fewer than ``WALK_MIN_ROWS`` rows is always scanned: the walk would need its
  largest beam and still miss rows.
- ``walk_would_miss`` tells such a query before any walk, from the query's nearest rows in a fixed
  sample, and a scan answers straight away.
- A scan of many allowed rows ranks them on the compressed copy (a sixth of the bytes) and re-ranks
  the best ``COARSE_CANDIDATES`` x k at full precision (``method`` = ``compressed``; it kept 96-99% of
  the exact top 100 on job-family and skill filters at 1M). Gathering a row costs ~7x scoring one in
  place, so the scan scores whole blocks where the filter allows many rows and gathers elsewhere
  (``_coarse_scores``); rows are ordered by job family, so family filters allow whole blocks.

Why faiss (measured, docs/search.md and BENCHMARKS.md): an exact scan takes 86 ms p95 at 1M rows;
faiss keeps the filter inside the graph walk (recall@10 0.998 with a 10% filter, never short of k);
usearch's Python search takes no filter (over-fetch and post-filter left 42 of 100 queries short of
k) and hnswlib calls a Python function per visited node (0.8x to 3.5x faiss's p95 over three runs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from warmpool.search.ranking import top_k

HNSW_MIN_ROWS = 200_000     # below this an exact scan is as fast as the graph (~17 ms at 200k) and exact
EXACT_MAX_ROWS = 40_000     # a filter allowing at most this many rows is answered exactly (~5 ms)
WALK_MIN_ROWS = 100_000     # a filter allowing fewer rows is scanned, not walked (see search())
HNSW_M = 32                 # graph degree
HNSW_EF_CONSTRUCTION = 80   # build-time beam
HNSW_EF_SEARCH = 64         # query-time beam without a filter; divided by the filter's selectivity
HNSW_EF_SEARCH_MAX = 1536
HNSW_EF_PER_RESULT = 4     # beam per result asked for, then divided by the selectivity (2 gave recall@10 0.94 at 1M, 4 ~0.97)
GRAPH_ADD_CHUNK = 100_000  # rows copied into the graph at a time
COARSE_DIMS = 64            # principal components of the compressed copy (81% of the variance of MiniLM profiles)
COARSE_CANDIDATES = 20      # x k rows ranked on the compressed copy, re-ranked at full precision (recall@100 >= 0.96)
COARSE_MIN_ROWS = 20_000    # a scan of fewer allowed rows reads the full vectors: already cheap
SCAN_BLOCK_ROWS = 16_384     # the compressed scan decides block by block whether to score or gather
SCAN_MIN_DENSITY = 0.15     # scoring a row of the copy in place costs ~1/7 of gathering it (8.5 vs 62 ns at 1M)
WALK_CHECK_SAMPLE = 8_192      # fixed random rows that tell, before a walk, whether it would come up short
WALK_CHECK_NEIGHBOURS = 100    # the query's nearest sample rows looked at
WALK_MIN_LOCAL_SHARE = 0.2     # allowed share near the query, as a fraction of the filter's overall share
COARSE_SAMPLE = 50_000      # rows the principal components are computed from


_ONE_THREAD_API = "blas"       # what a query limits to one thread (threadpoolctl's user_api)
_thread_pools = None            # threadpoolctl's view of the loaded thread pools, made on first search


def _one_thread():
    """A context in which BLAS runs on one thread: what a query does. After a multi-threaded matrix
    product, OpenBLAS keeps its worker thread spinning for a while; on two cores it takes the core from
    the search that follows (measured at 1M under load: p50 47 -> 17 ms, p95 140 -> 55 ms with one
    thread; one query's products are too small to gain from a second thread)."""
    global _thread_pools
    if _thread_pools is None:
        # third-party: made on first search, when numpy (and faiss, if a graph was loaded) are loaded
        from threadpoolctl import ThreadpoolController

        _thread_pools = ThreadpoolController()
    return _thread_pools.limit(limits=1, user_api=_ONE_THREAD_API)


def _faiss():
    import faiss  # third-party, heavy: only where the graph is built or searched

    return faiss


def principal_basis(vectors: np.ndarray, dims: int = COARSE_DIMS, sample: int = COARSE_SAMPLE) -> np.ndarray:
    """(dims + 1, d): the mean of ``vectors`` (row 0), then their first ``dims`` principal directions."""
    rows = np.random.default_rng(0).choice(len(vectors), min(sample, len(vectors)), replace=False)
    sample_vectors = np.asarray(vectors[np.sort(rows)], dtype=np.float32)
    mean = sample_vectors.mean(axis=0)
    _, _, directions = np.linalg.svd(sample_vectors - mean, full_matrices=False)
    return np.vstack([mean, directions[:dims]]).astype(np.float32)


class VectorIndex:
    def __init__(self, vectors: np.ndarray, graph=None, basis: np.ndarray | None = None, *,
                 exact_max_rows: int = EXACT_MAX_ROWS, coarse_min_rows: int = COARSE_MIN_ROWS,
                 walk_min_rows: int = WALK_MIN_ROWS):
        self.vectors = vectors
        self.graph = graph
        self.exact_max_rows = exact_max_rows
        self.coarse_min_rows = coarse_min_rows
        self.walk_min_rows = walk_min_rows
        self.basis = basis
        self._coarse: np.ndarray | None = None
        self._walk_check: tuple[np.ndarray, np.ndarray] | None = None  # (sample rows, their compressed vectors)

    @property
    def coarse(self) -> np.ndarray | None:
        """The compressed copy: (v - mean) on the principal directions ((v - mean) . q ranks like v . q).
        Made on first use (~1 s at 1M), so building and saving an index never pays for it."""
        if self._coarse is None and self.basis is not None:
            self._coarse = np.ascontiguousarray((self.vectors - self.basis[0]) @ self.basis[1:].T, dtype=np.float32)
        return self._coarse

    def walk_would_miss(self, query: np.ndarray, mask: np.ndarray, selectivity: float) -> bool:
        """Would a filtered graph walk come up short? Among the query's ``WALK_CHECK_NEIGHBOURS``
        nearest rows of a fixed sample, the filter allows far fewer than its overall share: the walk
        starts where little is allowed. At 1M profiles this told apart all 52 walks that came up
        short (none of their nearest sample rows allowed) from the 148 that did not (2% or more)."""
        if self.coarse is None:
            return False
        if self._walk_check is None:
            sample = np.sort(np.random.default_rng(0).choice(self.rows, min(WALK_CHECK_SAMPLE, self.rows), replace=False))
            self._walk_check = (sample, self.coarse[sample])
        sample, sample_coarse = self._walk_check
        nearest = top_k(sample_coarse @ (self.basis[1:] @ query), WALK_CHECK_NEIGHBOURS)
        local_share = float(mask[sample[nearest]].mean())
        return local_share < WALK_MIN_LOCAL_SHARE * selectivity

    @property
    def rows(self) -> int:
        return len(self.vectors)

    # --- building and storing -----------------------------------------------------------------
    @classmethod
    def build(cls, vectors: np.ndarray, *, min_rows_for_graph: int = HNSW_MIN_ROWS) -> "VectorIndex":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        graph = basis = None
        if len(vectors) >= min_rows_for_graph:
            faiss = _faiss()
            graph = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            # Inserted in a random order, then renumbered so that graph ids are rows: rows are ordered by
            # job family (index.ROW_ORDER), and a graph built cluster by cluster is a worse graph (recall@10
            # of the graph path 0.84 against 0.90 at 1M).
            order = np.random.default_rng(0).permutation(len(vectors))
            for start in range(0, len(order), GRAPH_ADD_CHUNK):  # a chunk's copy at a time, not the pool's
                graph.add(vectors[order[start:start + GRAPH_ADD_CHUNK]])
            graph.permute_entries(np.argsort(order).astype(np.int64))
            if len(vectors) > COARSE_MIN_ROWS:
                basis = principal_basis(vectors)
        return cls(vectors, graph, basis)

    def save(self, folder: Path) -> None:
        np.save(folder / "vectors.npy", self.vectors)
        if self.graph is not None:
            _faiss().write_index(self.graph, str(folder / "vectors.hnsw"))
        if self.basis is not None:  # the compressed copy itself is made again from it on load
            np.save(folder / "vectors_basis.npy", self.basis)

    @classmethod
    def load(cls, folder: Path) -> "VectorIndex":
        vectors = np.load(folder / "vectors.npy")  # in memory: a scan of gathered rows from a memory map is slow
        graph_file = folder / "vectors.hnsw"
        graph = _faiss().read_index(str(graph_file)) if graph_file.exists() else None
        basis_file = folder / "vectors_basis.npy"
        index = cls(vectors, graph, np.load(basis_file) if basis_file.exists() else None)
        index.coarse  # now, not in a recruiter's first filtered search
        return index

    # --- searching ----------------------------------------------------------------------------
    def exact(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, similarities) of the k most similar allowed rows, best first, by a full scan."""
        if mask is None:
            rows = None
            sims = self.vectors @ query
        else:
            rows = np.flatnonzero(mask)
            sims = np.take(self.vectors, rows, axis=0) @ query
        top = top_k(sims, k)
        return (top if rows is None else rows[top]).astype(np.int64), sims[top].astype(np.float32)

    def scan(self, query: np.ndarray, k: int, mask: np.ndarray | None, n_allowed: int) -> tuple[np.ndarray, np.ndarray, str]:
        """(rows, similarities, how) of the k most similar allowed rows by a scan: ``exact`` at full
        width, or ``compressed`` (many allowed rows and a compressed copy: ranked on it, the best
        ``COARSE_CANDIDATES`` x k re-ranked at full precision)."""
        candidates = COARSE_CANDIDATES * k
        if self.coarse is None or n_allowed <= max(self.coarse_min_rows, 2 * candidates):
            rows, sims = self.exact(query, k, mask)
            return rows, sims, "exact"
        projected = self.basis[1:] @ query
        rows = None if mask is None else np.flatnonzero(mask)
        coarse = self.coarse @ projected if rows is None else self._coarse_scores(projected, rows, mask)
        best = top_k(coarse, candidates)
        best = np.sort(best if rows is None else rows[best])  # ascending: ties keep the lower row, as a scan does
        sims = np.take(self.vectors, best, axis=0) @ query
        top = top_k(sims, k)
        return best[top].astype(np.int64), sims[top].astype(np.float32), "compressed"

    def _coarse_scores(self, projected: np.ndarray, rows: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Compressed-copy scores of the allowed ``rows`` (ascending), block by block the cheaper way: a
        block where at least ``SCAN_MIN_DENSITY`` of the rows are allowed is scored whole (contiguous,
        no gather), the allowed rows of the other blocks are gathered. Snapshot rows are ordered by job
        family (index.ROW_ORDER), so a job-family filter, and the skills that go with a family, allow
        dense blocks."""
        n = self.rows
        starts = np.arange(0, n, SCAN_BLOCK_ROWS)
        allowed = np.add.reduceat(np.asarray(mask, dtype=bool).view(np.uint8), starts, dtype=np.int64)
        dense = allowed >= SCAN_MIN_DENSITY * np.diff(np.append(starts, n))
        if dense.all():
            return np.take(self.coarse @ projected, rows)
        if not dense.any():
            return np.take(self.coarse, rows, axis=0) @ projected  # take: ~30% faster than [rows]
        out = np.empty(len(rows), dtype=np.float32)
        in_dense = dense[rows // SCAN_BLOCK_ROWS]
        scored = np.empty(n, dtype=np.float32)
        blocks = np.flatnonzero(dense)
        breaks = np.flatnonzero(np.diff(blocks) != 1)
        for first, last in zip(blocks[np.r_[0, breaks + 1]], blocks[np.r_[breaks, len(blocks) - 1]]):
            a, b = first * SCAN_BLOCK_ROWS, min((last + 1) * SCAN_BLOCK_ROWS, n)  # a run of dense blocks
            scored[a:b] = self.coarse[a:b] @ projected
        out[in_dense] = scored[rows[in_dense]]
        out[~in_dense] = np.take(self.coarse, rows[~in_dense], axis=0) @ projected
        return out

    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None,
               allowed: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
        """(rows, similarities, how): ``how`` is ``exact``, ``compressed`` or ``hnsw``. ``allowed`` =
        mask.sum(), if known."""
        with _one_thread():
            return self._search(query, k, mask, allowed)

    def _search(self, query: np.ndarray, k: int, mask: np.ndarray | None,
                allowed: int | None) -> tuple[np.ndarray, np.ndarray, str]:
        query = np.ascontiguousarray(query, dtype=np.float32)
        n_allowed = self.rows if mask is None else int(mask.sum() if allowed is None else allowed)
        want = min(k, n_allowed)
        # Below WALK_MIN_ROWS the walk needs its largest beam and still misses: at 1M, 5-7% country filters
        # walked found 0.78 of the exact top 100 where the compressed scan found 0.96, no slower.
        if self.graph is None or n_allowed <= self.exact_max_rows or n_allowed < self.walk_min_rows:
            return self.scan(query, k, mask, n_allowed)
        selectivity = n_allowed / self.rows
        if mask is not None and self.walk_would_miss(query, mask, selectivity):  # skip a walk that would be wasted
            return self.scan(query, k, mask, n_allowed)
        faiss = _faiss()
        ef = int(min(HNSW_EF_SEARCH_MAX, max(HNSW_EF_SEARCH, k * HNSW_EF_PER_RESULT) / max(selectivity, 1e-6)))
        params = faiss.SearchParametersHNSW(efSearch=ef)
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(self.rows, faiss.swig_ptr(bits))
        sims, rows = self.graph.search(query[None, :], k, params=params)
        found = rows[0] >= 0
        rows, sims = rows[0][found].astype(np.int64), sims[0][found]
        if len(rows) < want:  # the walk missed allowed rows that exist (a filter against the query): a scan answers
            return self.scan(query, k, mask, n_allowed)
        return rows, sims, "hnsw"
