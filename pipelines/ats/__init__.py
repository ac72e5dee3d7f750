"""dlt source for a Greenhouse-Harvest-shaped ATS REST API.

Built on dlt's `RESTClient`: Basic auth with the API key as user name, `Link`-header pagination,
`per_page`, merge on `id`. The HTTP session is dlt's retrying `Client`: 429 (honouring
`Retry-After`), 5xx, timeouts and dropped connections are retried with exponential backoff
(`ClientOptions`).

Why not `rest_api`'s declarative incremental: its cursor is the largest `updated_at` seen, so a
record updated on an already-fetched page *while the run pages on* is lost when a later page holds a
record updated even later (the simulator's `mutate_every` fault does exactly this). Here the cursor
for the next run is `min(largest value seen, server time when this run started - lookback)`: anything
changed during a run is fetched again next time. Rows at or after the stored cursor whose content
hash was already loaded are skipped, so a re-run with no new data loads nothing.

Dagster calls `ats_source()` for a fresh source on every run (dagster-dlt mutates a reused one).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Iterator

import dlt
from dlt.common.configuration import configspec
from dlt.sources import DltResource
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

from pipelines import _runner
from pipelines.ats.settings import ENDPOINTS, INITIAL_CURSOR, PRIMARY_KEY, SCHEMA_CONTRACT, Endpoint
from warmpool import tables
from warmpool.config import Settings
from warmpool.emails import is_valid_email

PIPELINE_NAME = "warmpool_ats"


@configspec
class ApiKeyAuth(HttpBasicAuth):
    """Harvest Basic auth: the API key is the user name, the password empty. The user name is
    therefore a secret and must not show in reprs, logs or traces."""

    def __repr__(self) -> str:
        return "ApiKeyAuth(username='***')"

    __str__ = __repr__


@dataclass(frozen=True)
class ClientOptions:
    """HTTP behaviour; `ats:` in config/warmpool.yaml may set any of these."""
    timeout_seconds: float = 30.0
    max_attempts: int = 8           # per request, for 429 / 5xx / timeout / dropped connection
    backoff_factor: float = 0.5     # exponential backoff base (s) when no Retry-After is given
    max_retry_delay: float = 60.0   # cap on one wait, Retry-After included
    lookback_seconds: int = 60      # clock-skew allowance when the next cursor is the run's start

    @classmethod
    def from_settings(cls, settings: Settings) -> "ClientOptions":
        raw = settings.raw.get("ats", {}) or {}
        return cls(**{k: type(getattr(cls, k))(raw[k]) for k in cls.__dataclass_fields__ if k in raw})


def _column_list(columns: dict[str, dict]) -> dict[str, dict]:
    # Named copies: dlt needs "name" in nested hints and writes into the dicts it is given.
    return {name: {"name": name, **copy.deepcopy(hint)} for name, hint in columns.items()}


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _server_time(response: Any) -> datetime:
    """The API's own clock (`Date` header), so the cursor never depends on ours; ours if absent."""
    try:
        return parsedate_to_datetime(response.headers["Date"]).astimezone(timezone.utc)
    except (KeyError, TypeError, ValueError):
        return datetime.now(timezone.utc)


def _pages(client: RESTClient, endpoint: Endpoint, params: dict) -> Iterator[Any]:
    # A fresh paginator per call: it keeps the next URL.
    yield from client.paginate(endpoint.name, params=params, paginator=HeaderLinkPaginator())


def _incremental_rows(client: RESTClient, endpoint: Endpoint, per_page: int, lookback: int) -> Iterator[list]:
    state = dlt.current.resource_state()
    cursor = _ts(state.get("cursor")) or _ts(INITIAL_CURSOR)
    seen: dict[str, str] = state.get("seen", {})  # id -> content hash of rows at/after `cursor` already loaded
    run_start: datetime | None = None
    max_seen = cursor
    at_max: dict[str, str] = {}   # rows whose cursor equals the largest value seen
    recent: dict[str, tuple[datetime, str]] = {}  # rows changed after this run started
    params = {"per_page": per_page, endpoint.cursor_param: _iso(cursor)}
    for page in _pages(client, endpoint, params):
        if run_start is None:
            run_start = _server_time(page.response) - timedelta(seconds=lookback)
        out = []
        for row in page:
            value, ident = _ts(row.get(endpoint.cursor)), str(row[PRIMARY_KEY])
            if value is None:  # no cursor value: cannot be deduplicated, always passed on
                out.append(row)
                continue
            digest = _runner.content_hash(row) if (value >= max_seen or value >= run_start or ident in seen) else ""
            if not (ident in seen and seen[ident] == digest):
                out.append(row)
            if value > max_seen:
                max_seen, at_max = value, {}
            if value == max_seen:
                at_max[ident] = digest
            if value >= run_start:
                recent[ident] = (value, digest)
        if out:
            yield out
    if run_start is None:
        return
    if max_seen <= run_start:
        state["cursor"], state["seen"] = _iso(max_seen), at_max
    else:  # something changed while we paged: start the next run where this one started
        state["cursor"], state["seen"] = _iso(run_start), {i: d for i, (_, d) in recent.items()}


def _without_null_objects(fields: frozenset[str]):
    """A map dropping nested-object fields that are null (`"recruiter": null`): dlt flattens an object
    into `recruiter__id` ... columns (declared in `settings.ENDPOINTS`), but a null one would be a
    column of its own that never gets data (and a warning on every load)."""
    def drop(row: dict) -> dict:
        for name in fields:
            if name in row and row[name] is None:
                del row[name]
        return row
    return drop


def _endpoint_resource(client: RESTClient, endpoint: Endpoint, per_page: int, lookback: int) -> DltResource:
    hints: dict[str, Any] = {"name": endpoint.name, "primary_key": PRIMARY_KEY, "write_disposition": "merge"}
    if endpoint.columns:
        hints["columns"] = _column_list(endpoint.columns)
    if endpoint.cursor:
        resource = dlt.resource(_incremental_rows, **hints)(client, endpoint, per_page, lookback)
    else:
        def whole() -> Iterator[list]:
            # Reference lists without a cursor: fetched whole, passed on only when a record's content changed.
            state = dlt.current.resource_state()
            for page in _pages(client, endpoint, {"per_page": per_page}):
                yield [r for r in page if _runner.is_changed(r, state, PRIMARY_KEY)]
        resource = dlt.resource(whole, **hints)()
    if endpoint.nested_columns:
        resource.apply_hints(nested_hints={path: {"columns": _column_list(cols)}
                                           for path, cols in endpoint.nested_columns.items()})
    if endpoint.object_fields:
        resource.add_map(_without_null_objects(endpoint.object_fields))
    return resource


def _with_email_verdicts(candidate: dict) -> dict:
    """Each address gets email-validator's verdict (`is_valid`), judged once here: the warehouse
    carries it instead of re-implementing the rules in SQL."""
    for address in candidate.get("email_addresses") or ():
        if isinstance(address, dict):
            address["is_valid"] = is_valid_email(address.get("value"))
    return candidate


@dlt.source(name="ats", max_table_nesting=3, schema_contract=SCHEMA_CONTRACT)
def harvest(base_url: str, api_key: str, per_page: int = 500, endpoints: Iterable[Endpoint] = ENDPOINTS,
            options: ClientOptions = ClientOptions()) -> list[DltResource]:
    session = Client(raise_for_status=False, request_timeout=options.timeout_seconds,
                     request_max_attempts=options.max_attempts, request_backoff_factor=options.backoff_factor,
                     request_max_retry_delay=options.max_retry_delay).session
    client = RESTClient(base_url=base_url.rstrip("/") + "/", auth=ApiKeyAuth(username=api_key, password=""),
                        paginator=HeaderLinkPaginator(), session=session)
    resources = [_endpoint_resource(client, e, per_page, options.lookback_seconds) for e in endpoints]
    for resource in resources:
        if resource.name == "candidates":
            resource.add_map(_with_email_verdicts)
    return resources


def ats_source(settings: Settings | None = None, endpoints: Iterable[Endpoint] = ENDPOINTS,
               options: ClientOptions | None = None):
    """A fresh ATS source configured from `warmpool.config` (URL, key, page size, HTTP options)."""
    s = _runner.resolve(settings)
    return harvest(base_url=s.ats.base_url, api_key=s.ats.api_key, per_page=s.ats.per_page, endpoints=endpoints,
                   options=options or ClientOptions.from_settings(s))


def ats_pipeline(settings: Settings | None = None) -> dlt.Pipeline:
    return _runner.make_pipeline(PIPELINE_NAME, tables.RAW_ATS, settings)


def run_ats(settings: Settings | None = None, options: ClientOptions | None = None) -> dict[str, int]:
    """Load every ATS endpoint incrementally into `raw_ats`; rows loaded per table."""
    source = ats_source(settings, options=options)
    return _runner.run(ats_pipeline(settings), source, expected_tables=[e.name for e in ENDPOINTS])


