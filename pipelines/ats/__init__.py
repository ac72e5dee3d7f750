"""dlt source for a Greenhouse-Harvest-shaped ATS REST API.

Built on dlt's declarative `rest_api` source: Basic auth with the API key as user name, `Link`
header pagination, `per_page`, an incremental cursor per endpoint (`updated_after`, applications
`last_activity_after`) and merge on `id`. Retries on 429 (honouring `Retry-After`) and 5xx are
dlt's own (`runtime.request_max_attempts` etc.).

Dagster calls `ats_source()` for a fresh source on every run (dagster-dlt mutates a reused one).
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

import dlt
from dlt.common.configuration import configspec
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator
from dlt.sources.rest_api import rest_api_resources

from pipelines import _runner
from pipelines.ats.settings import ENDPOINTS, INITIAL_CURSOR, PRIMARY_KEY, Endpoint
from warmpool import tables
from warmpool.config import Settings

PIPELINE_NAME = "warmpool_ats"


@configspec
class ApiKeyAuth(HttpBasicAuth):
    """Harvest Basic auth: the API key is the user name, the password empty. The user name is
    therefore a secret and must not show in reprs, logs or traces."""

    def __repr__(self) -> str:
        return "ApiKeyAuth(username='***')"

    __str__ = __repr__


def _resource_config(endpoint: Endpoint, per_page: int) -> dict[str, Any]:
    # A fresh params dict per endpoint: rest_api writes the incremental parameter into it.
    config: dict[str, Any] = {
        "name": endpoint.name,
        "endpoint": {"path": endpoint.name, "params": {"per_page": per_page}, "data_selector": "$"},
    }
    if endpoint.cursor:
        config["endpoint"]["incremental"] = {
            "start_param": endpoint.cursor_param,
            "cursor_path": endpoint.cursor,
            "initial_value": INITIAL_CURSOR,
        }
    if endpoint.columns:
        config["columns"] = _column_list(endpoint.columns)
    return config


def _column_list(columns: dict[str, dict]) -> dict[str, dict]:
    # Named copies: dlt needs "name" in nested hints and writes into the dicts it is given.
    return {name: {"name": name, **copy.deepcopy(hint)} for name, hint in columns.items()}


def _with_nested_columns(resource: DltResource, endpoint: Endpoint) -> DltResource:
    if endpoint.nested_columns:
        resource.apply_hints(nested_hints={path: {"columns": _column_list(cols)} for path, cols in endpoint.nested_columns.items()})
    return resource


def _skip_unchanged(resource: DltResource) -> DltResource:
    """Reference endpoints have no cursor: pass on only records whose content changed."""
    name = resource.name
    return resource.add_filter(
        lambda item: _runner.is_changed(item, dlt.current.resource_state(name), PRIMARY_KEY)
    )


@dlt.source(name="ats", max_table_nesting=3)
def harvest(base_url: str, api_key: str, per_page: int = 500,
            endpoints: Iterable[Endpoint] = ENDPOINTS) -> list[DltResource]:
    endpoints = list(endpoints)
    resources = rest_api_resources({
        "client": {
            "base_url": base_url.rstrip("/") + "/",
            "auth": ApiKeyAuth(username=api_key, password=""),
            "paginator": HeaderLinkPaginator(),
        },
        "resource_defaults": {"primary_key": PRIMARY_KEY, "write_disposition": "merge"},
        "resources": [_resource_config(e, per_page) for e in endpoints],
    })
    by_name = {e.name: e for e in endpoints}
    resources = [_with_nested_columns(r, by_name[r.name]) for r in resources]
    return [r if by_name[r.name].cursor else _skip_unchanged(r) for r in resources]


def ats_source(settings: Settings | None = None, endpoints: Iterable[Endpoint] = ENDPOINTS):
    """A fresh ATS source configured from `warmpool.config` (URL, key, page size)."""
    ats = _runner.resolve(settings).ats
    return harvest(base_url=ats.base_url, api_key=ats.api_key, per_page=ats.per_page, endpoints=endpoints)


def ats_pipeline(settings: Settings | None = None) -> dlt.Pipeline:
    return _runner.make_pipeline(PIPELINE_NAME, tables.RAW_ATS, settings)


def run_ats(settings: Settings | None = None) -> dict[str, int]:
    """Load every ATS endpoint incrementally into `raw_ats`; rows loaded per table."""
    source = ats_source(settings)
    return _runner.run(ats_pipeline(settings), source, expected_tables=[e.name for e in ENDPOINTS])
