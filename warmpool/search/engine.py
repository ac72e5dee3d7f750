"""Hybrid search: semantic similarity + BM25 keyword relevance + structured filters, fused by
weighted reciprocal rank fusion (docs/search.md, "How results are ranked").

For a query and its filters:

1. the filters give the rows allowed (``ProfileTable.mask``);
2. semantic: the ``CANDIDATE_DEPTH`` allowed rows nearest to the query's embedding
   (``VectorIndex.search``: the filter is applied inside the search, never after it);
3. keyword: the ``CANDIDATE_DEPTH`` allowed rows with the best BM25 score (rows with no query term
   are not keyword matches);
4. fusion: score(row) = W_SEMANTIC / (RRF_K + semantic rank) + W_KEYWORD / (RRF_K + keyword rank),
   a missing rank contributing nothing; ties broken by similarity, then person id.

Since both candidate lists are drawn from the allowed rows only, a query returns ``limit`` results
whenever at least ``limit`` people pass the filters. Every result says why it matched: the query
terms found in the profile, the cosine similarity, both ranks and the filters it satisfied.
A blank query lists the people the filters allow, most recently active first.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from warmpool.search.embeddings import Encoder
from warmpool.search.filters import SearchFilters
from warmpool.search.index import SearchIndex
from warmpool.search.keyword import tokenize

RRF_K = 60              # Cormack, Clarke & Buettcher (2009): k = 60 damps the head of each ranking
W_SEMANTIC = 1.0        # weights chosen on the sandbox relevance set (docs/search.md, "Relevance")
W_KEYWORD = 1.0
CANDIDATE_DEPTH = 100   # rows taken from each ranking before fusion
MODES = ("hybrid", "semantic", "keyword")

# what a result shows of the golden profile (columns of dim_candidates kept in the index)
PROFILE_FIELDS = ("person_id", "first_name", "last_name", "email", "current_title", "current_company", "city",
                  "region", "country", "job_family", "seniority", "skills", "years_experience", "sources",
                  "source_count", "last_activity_at", "is_contactable", "not_contactable_reason", "consent_state",
                  "heat_band", "is_silver_medalist", "application_count", "segments")


@dataclass(frozen=True)
class SearchResult:
    rank: int
    person_id: str
    score: float
    profile: dict[str, Any]
    why: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "person_id": self.person_id, "score": round(self.score, 6), **self.profile,
                "why": self.why}


@dataclass(frozen=True)
class SearchResponse:
    query: str
    filters: SearchFilters
    mode: str
    results: list[SearchResult]
    allowed: int                 # people the filters allow
    search_seconds: float        # filters + both rankings + fusion (excluding the query's encoding)
    encode_seconds: float
    vector_method: str = ""      # exact | compressed | hnsw | - (keyword only)
    extra: dict = field(default_factory=dict)

    @property
    def person_ids(self) -> list[str]:
        return [r.person_id for r in self.results]

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "filters": self.filters.as_dict(), "mode": self.mode, "allowed": self.allowed,
                "results": [r.as_dict() for r in self.results]}


def _plain(value):
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        try:
            return None if value != value else value.isoformat()  # NaT
        except TypeError:
            return value.isoformat()
    return value


def fuse(semantic_rows: np.ndarray, keyword_rows: np.ndarray, *, w_semantic: float = W_SEMANTIC,
         w_keyword: float = W_KEYWORD, k: int = RRF_K) -> dict[int, float]:
    """Weighted reciprocal rank fusion: {row: score}. Ranks start at 1."""
    scores: dict[int, float] = {}
    for weight, rows in ((w_semantic, semantic_rows), (w_keyword, keyword_rows)):
        for rank, row in enumerate(rows.tolist(), start=1):
            scores[row] = scores.get(row, 0.0) + weight / (k + rank)
    return scores


class SearchEngine:
    def __init__(self, index: SearchIndex, encoder: Encoder | None = None, *, w_semantic: float = W_SEMANTIC,
                 w_keyword: float = W_KEYWORD, rrf_k: int = RRF_K, depth: int = CANDIDATE_DEPTH):
        self.index = index
        self.encoder = encoder or Encoder()
        self.w_semantic, self.w_keyword, self.rrf_k, self.depth = w_semantic, w_keyword, rrf_k, depth

    def search(self, query: str, filters: SearchFilters | None = None, limit: int = 10, *, mode: str = "hybrid",
               exclude: set[str] | None = None, query_vector: np.ndarray | None = None) -> SearchResponse:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        filters = filters or SearchFilters()
        query = query or ""
        encode_seconds = 0.0
        if query.strip() and mode != "keyword" and query_vector is None:
            t = time.perf_counter()
            query_vector = self.encoder.encode_query(query)
            encode_seconds = time.perf_counter() - t
        started = time.perf_counter()
        mask = self.index.table.mask(filters)
        if exclude:
            row_of = self.index.row_of()
            mask = np.ones(self.index.rows, dtype=bool) if mask is None else mask.copy()
            mask[[row_of[p] for p in exclude if p in row_of]] = False
        allowed = self.index.rows if mask is None else int(mask.sum())
        depth = max(self.depth, limit)
        sem_rows = kw_rows = np.zeros(0, dtype=np.int64)
        sem_sims = kw_scores = np.zeros(0, dtype=np.float32)
        method = "-"
        if not query.strip():
            ranked = self._most_recent(mask, limit)
        else:
            if mode != "keyword":
                sem_rows, sem_sims, method = self.index.vectors.search(query_vector, depth, mask, allowed)
            if mode != "semantic":
                kw_rows, kw_scores = self.index.keyword.top(query, depth, mask)
            fused = fuse(sem_rows, kw_rows, w_semantic=self.w_semantic, w_keyword=self.w_keyword, k=self.rrf_k)
            sim_of = dict(zip(sem_rows.tolist(), sem_sims.tolist()))
            person_ids = self.index.person_ids
            ranked = sorted(fused, key=lambda r: (-fused[r], -sim_of.get(r, -1.0), person_ids[r]))
            ranked = [(r, fused[r]) for r in ranked[:limit]]
        search_seconds = time.perf_counter() - started
        results = self._results(ranked, query, query_vector, filters, sem_rows, sem_sims, kw_rows, kw_scores)
        return SearchResponse(query=query, filters=filters, mode=mode, results=results, allowed=allowed,
                              search_seconds=search_seconds, encode_seconds=encode_seconds, vector_method=method)

    def _most_recent(self, mask: np.ndarray | None, limit: int) -> list[tuple[int, float]]:
        rows = np.arange(self.index.rows) if mask is None else np.flatnonzero(mask)
        last = self.index.table.last_activity[rows].astype("int64")
        last = np.where(np.isnat(self.index.table.last_activity[rows]), np.iinfo(np.int64).min, last)
        order = rows[np.lexsort((rows, -last))][:limit] if len(rows) else rows
        return [(int(r), 0.0) for r in order]

    def _results(self, ranked, query, query_vector, filters, sem_rows, sem_sims, kw_rows, kw_scores):
        profiles = self.index.profiles
        sem_rank = {r: i + 1 for i, r in enumerate(sem_rows.tolist())}
        kw_rank = {r: i + 1 for i, r in enumerate(kw_rows.tolist())}
        sim_of = dict(zip(sem_rows.tolist(), sem_sims.tolist()))
        kw_of = dict(zip(kw_rows.tolist(), kw_scores.tolist()))
        terms = list(dict.fromkeys(tokenize(query)))
        cols = [c for c in PROFILE_FIELDS if c in profiles.columns]
        filters_set = filters.as_dict()
        out = []
        for rank, (row, score) in enumerate(ranked, start=1):
            record = profiles.iloc[row]
            profile = {c: _plain(record[c]) for c in cols}
            doc_terms = set(tokenize(record.get("keyword_text")))
            similarity = sim_of.get(row)
            if similarity is None and query_vector is not None:
                similarity = float(np.dot(self.index.vectors.vectors[row], query_vector))
            why = {"matched_terms": [t for t in terms if t in doc_terms],
                   "similarity": None if similarity is None else round(float(similarity), 4),
                   "semantic_rank": sem_rank.get(row), "keyword_rank": kw_rank.get(row),
                   "keyword_score": round(float(kw_of[row]), 4) if row in kw_of else None,
                   "filters": filters_set}
            out.append(SearchResult(rank=rank, person_id=str(record["person_id"]), score=float(score),
                                    profile=profile, why=why))
        return out
