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
compressed copy of the vectors: their first ``COARSE_DIMS`` principal components. A scan of many
allowed rows ranks them on that copy (a sixth of the bytes) and re-ranks the best
``COARSE_CANDIDATES`` x k at full precision (``method`` = ``compressed``; it kept 96-99% of the exact
top 100 on job-family and skill filters at 1M). Gathering the allowed rows, one row at a time, still
costs ~0.1 us a row, so a scan of 170,000 rows stays near 15 ms.

Why faiss (measured, docs/search.md and BENCHMARKS.md): an exact scan takes 86 ms p95 at 1M rows;
faiss keeps the filter inside the graph walk (recall@10 0.998 with a 10% filter, never short of k);
usearch's Python search takes no filter (over-fetch and post-filter left 42 of 100 queries short of
k) and hnswlib calls a Python function per visited node (0.8x to 3.5x faiss's p95 over three runs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HNSW_MIN_ROWS = 200_000     # below this an exact scan is as fast as the graph (~17 ms at 200k) and exact
EXACT_MAX_ROWS = 40_000     # a filter allowing at most this many rows is answered exactly (~5 ms)
HNSW_M = 32                 # graph degree
HNSW_EF_CONSTRUCTION = 80   # build-time beam
HNSW_EF_SEARCH = 64         # query-time beam without a filter; divided by the filter's selectivity
HNSW_EF_SEARCH_MAX = 1024
COARSE_DIMS = 64            # principal components of the compressed copy (81% of the variance of MiniLM profiles)
COARSE_CANDIDATES = 20      # x k rows ranked on the compressed copy, re-ranked at full precision (recall@100 >= 0.96)
COARSE_MIN_ROWS = 20_000    # a scan of fewer allowed rows reads the full vectors: already cheap
COARSE_SAMPLE = 50_000      # rows the principal components are computed from


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
                 exact_max_rows: int = EXACT_MAX_ROWS, coarse_min_rows: int = COARSE_MIN_ROWS):
        self.vectors = vectors
        self.graph = graph
        self.exact_max_rows = exact_max_rows
        self.coarse_min_rows = coarse_min_rows
        self.basis = basis
        self._coarse: np.ndarray | None = None

    @property
    def coarse(self) -> np.ndarray | None:
        """The compressed copy: (v - mean) on the principal directions ((v - mean) . q ranks like v . q).
        Made on first use (~1 s at 1M), so building and saving an index never pays for it."""
        if self._coarse is None and self.basis is not None:
            self._coarse = np.ascontiguousarray((self.vectors - self.basis[0]) @ self.basis[1:].T, dtype=np.float32)
        return self._coarse

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
            graph.add(vectors)
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
        k = min(k, len(sims))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
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
        coarse = (self.coarse if rows is None else np.take(self.coarse, rows, axis=0)) @ projected  # take: ~30% faster than [rows]
        best = np.argpartition(-coarse, candidates - 1)[:candidates]
        best = best if rows is None else rows[best]
        sims = self.vectors[best] @ query
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return best[top].astype(np.int64), sims[top].astype(np.float32), "compressed"

    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None,
               allowed: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
        """(rows, similarities, how): ``how`` is ``exact``, ``compressed`` or ``hnsw``. ``allowed`` =
        mask.sum(), if known."""
        query = np.ascontiguousarray(query, dtype=np.float32)
        n_allowed = self.rows if mask is None else int(mask.sum() if allowed is None else allowed)
        want = min(k, n_allowed)
        if self.graph is None or n_allowed <= self.exact_max_rows:
            return self.scan(query, k, mask, n_allowed)
        faiss = _faiss()
        selectivity = n_allowed / self.rows
        ef = int(min(HNSW_EF_SEARCH_MAX, max(HNSW_EF_SEARCH, k * 2) / max(selectivity, 1e-6)))
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
