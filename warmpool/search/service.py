"""Searching as a person does it: every search, whatever asked for it, lands in the audit log.

    from warmpool.search import search
    response = search("senior data engineer spark", {"country": "Germany", "contactable_only": True},
                      limit=20, user="jane.doe", requisition_id="4500012")
    response.results[0].why

``search``, ``lookup_person`` and ``rediscover`` are what the command line, the search page,
saved searches and notebooks call; each writes one audit row (who, when, requisition, the query and
filters verbatim, the ids returned) before returning. The engine (``engine.SearchEngine``) is the
search without the audit: benchmarks and the relevance evaluation use it directly.
"""
from __future__ import annotations

import getpass
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from warmpool.config import Settings, get_settings
from warmpool.search import audit_log
from warmpool.search.embeddings import Encoder
from warmpool.search.engine import SearchEngine, SearchResponse
from warmpool.search.filters import SearchFilters
from warmpool.search.index import CURRENT, SearchIndex
from warmpool.search.lookup import LookupAnswer, LookupQuery, lookup

USER_ENV = "WARMPOOL_USER"


def who(user: str | None = None) -> str:
    """The person searching: given, else $WARMPOOL_USER, else the login name."""
    return (user or os.environ.get(USER_ENV) or getpass.getuser() or "").strip()


def retention_days(settings: Settings) -> int:
    """The audit log's retention floor (`search.audit_retention_days`, default 730 days = two years)."""
    return int(((settings.raw.get("search") or {}).get("audit_retention_days")) or audit_log.DEFAULT_RETENTION_DAYS)


@lru_cache(maxsize=1)
def _encoder() -> Encoder:
    return Encoder()


@lru_cache(maxsize=2)
def _engine(index_dir: str, snapshot: str) -> SearchEngine:
    return SearchEngine(SearchIndex.load(Path(index_dir)), _encoder())


def engine(settings: Settings | None = None) -> SearchEngine:
    """The engine over the current index snapshot (reloaded when a refresh made a new one)."""
    index_dir = (settings or get_settings()).search_index_dir
    pointer = index_dir / CURRENT
    snapshot = pointer.read_text(encoding="utf-8").strip() if pointer.exists() else ""
    return _engine(str(index_dir), snapshot)


def audit(settings: Settings, *, user: str | None, channel: str, query: str, filters: Mapping[str, Any],
          person_ids: list[str], requisition_id: str | int | None = None) -> int:
    with audit_log.audit_log(settings.search_audit_path) as con:
        return audit_log.record(con, audit_log.AuditEntry(
            searched_by=who(user), channel=channel, query=query, filters=dict(filters), result_person_ids=person_ids,
            requisition_id=None if requisition_id in (None, "") else str(requisition_id)),
            retention_days=retention_days(settings))


def search(query: str, filters: SearchFilters | Mapping[str, Any] | None = None, limit: int = 10, *,
           user: str | None = None, requisition_id: str | int | None = None, channel: str = "notebook",
           settings: Settings | None = None, exclude: set[str] | None = None) -> SearchResponse:
    """Hybrid search of the pool, recorded in the search audit log."""
    settings = settings or get_settings()
    if not isinstance(filters, SearchFilters):
        filters = SearchFilters.from_dict(filters)
    response = engine(settings).search(query, filters, limit, exclude=exclude)
    audit(settings, user=user, channel=channel, query=query, filters=filters.as_dict(),
          person_ids=response.person_ids, requisition_id=requisition_id)
    return response


def check_filters(filters: SearchFilters | Mapping[str, Any] | None, settings: Settings | None = None) -> SearchFilters:
    """``filters`` as the current index would apply them; a FilterError for one it cannot (an unknown
    segment, a place without coordinates), so a saved search is refused when saved, not on every run."""
    if not isinstance(filters, SearchFilters):
        filters = SearchFilters.from_dict(filters)
    engine(settings or get_settings()).index.table.mask(filters)
    return filters


def lookup_person(query: LookupQuery, *, user: str | None = None, requisition_id: str | int | None = None,
                  channel: str = "lookup", settings: Settings | None = None) -> LookupAnswer:
    """Search first: is this person already in the pool? Recorded in the search audit log."""
    settings = settings or get_settings()
    answer = lookup(query, engine(settings).index.folder)
    audit(settings, user=user, channel=channel, query=" ".join(str(v) for v in query.as_dict().values()),
          filters={"lookup": query.as_dict()}, person_ids=answer.person_ids, requisition_id=requisition_id)
    return answer
