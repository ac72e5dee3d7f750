"""Search first: hybrid search of the pool, pipelines per requisition, saved searches, a check before
buying, and an audited record of every search (docs/search.md).

What callers use (the CLI, the search page, the Dagster assets, notebooks):

    search(query, filters, limit, user=..., requisition_id=...)   hybrid search, audited
    lookup_person(LookupQuery(name=..., email=...))               is this person already in the pool? audited
    rediscover(settings, job_id)                                   past applicants and silver medalists for a job, audited
    refresh_index(con, settings)                                   marts -> documents -> embeddings -> index
    run_saved_searches(settings) / push_pipeline(settings, name)   always be sourcing; ATS write-back
    check_filters(filters, settings)                               refuses what the index cannot apply (unknown segment)

Modules: documents (one document per person), embeddings (the model, the store keyed by document
hash), keyword (BM25), vector_index (exact scan / HNSW with the filter inside), filters, geo,
index (snapshots), engine (fusion, why a result matched), refresh, lookup, service (the audited
calls), sourcing_store and audit_log (the two stores recruiters write, one owner each), sourcing
(saved searches, ATS push), rediscovery.
"""
from warmpool.search.engine import SearchEngine, SearchResponse, SearchResult
from warmpool.search.filters import FilterError, SearchFilters
from warmpool.search.index import IndexNotBuilt, SearchIndex
from warmpool.search.lookup import LookupAnswer, LookupQuery, NothingToLookUp
from warmpool.search.rediscovery import rediscover
from warmpool.search.refresh import RefreshReport, refresh_index
from warmpool.search.service import check_filters, engine, lookup_person, search, who
from warmpool.search.sourcing import push_pipeline, run_saved_searches

__all__ = [
    "FilterError", "IndexNotBuilt", "LookupAnswer", "LookupQuery", "NothingToLookUp", "RefreshReport", "SearchEngine",
    "SearchFilters", "SearchIndex", "SearchResponse", "SearchResult", "check_filters", "engine", "lookup_person",
    "push_pipeline", "rediscover", "refresh_index", "run_saved_searches", "search", "who",
]
