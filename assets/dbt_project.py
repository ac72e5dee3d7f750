"""Where the dbt project and its prepared manifest live (shared by Dagster, the demo and tests), and what
the manifest says that the Dagster code needs: the raw tables dbt declares as sources and the export
policy declared in the models' YAML.
"""
from __future__ import annotations

import json
from functools import cached_property, lru_cache
from pathlib import Path

from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION

from warmpool.config import DBT_PROJECT_DIR, get_settings
from warmpool.dbt_cli import DBT_EXECUTABLE, PREPARED_TARGET, run_dbt
from warmpool.exports import ExportPolicy

MANIFEST_PATH = PREPARED_TARGET / "manifest.json"

# Identity resolution runs between two dbt invocations: phase 1 builds every source record
# (`int_source_records` and what it needs), phase 2 everything that needs person ids.
POOL_RECORDS_SELECT = "+int_source_records"
# After the sends, a third invocation rebuilds what reads the send ledger (loaded right after sending),
# so the campaign report of a run counts that run's own sends.
CAMPAIGN_REPORTS_SELECT = "stg_campaigns__sends+"
# Segment membership is written by a Python step after the marts it reads (warmpool/segments.py, on either
# warehouse engine); a fourth invocation then builds what reads it (audience_members) and its source tests.
AUDIENCES_SELECT = "source:marts.segment_members+"


class WarmpoolDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, told dbt's version instead of asking: its first call in a process runs
    `dbt --version` (~3 s of dbt's imports) only to learn it. ``DBT_EXECUTABLE`` is this venv's own
    dbt, so its version is the installed dbt-core's (tests/test_definitions.py checks they agree).

    It also opens no dbt adapter in the run's own process: dagster-dbt loads the project and profile
    and opens one before every call (~1 s each, the first of a process ~3 s with dbt's adapter imports),
    used only by `fetch_row_counts` / `fetch_column_metadata`, which Warmpool does not call (dbt itself
    runs in its own process either way)."""

    @cached_property
    def _cli_version(self):
        return DBT_PYTHON_VERSION  # dagster-dbt's own reading of the installed dbt-core's version

    def _initialize_dbt_core_adapter(self, args):
        return None  # dagster-dbt treats a missing adapter as "no row counts or column metadata"


def dbt_resource() -> DbtCliResource:
    return WarmpoolDbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                                  dbt_executable=str(DBT_EXECUTABLE))


def prepare_manifest(force: bool = False) -> Path:
    """Run `dbt parse` once, ahead of any run (never at import time)."""
    if force or not MANIFEST_PATH.exists():
        run_dbt(["parse", "--quiet"], get_settings().warehouse_path, PREPARED_TARGET)
        load_manifest.cache_clear()
    return MANIFEST_PATH


@lru_cache(maxsize=1)
def load_manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text())


def source_tables(source_name: str) -> list[str]:
    """Tables the dbt project declares for one source (e.g. every raw_ats table)."""
    return sorted(
        node["name"] for node in load_manifest()["sources"].values() if node["source_name"] == source_name
    )


def _meta(node: dict) -> dict:
    # dbt 1.10+ keeps `meta` under `config`; a top-level `meta:` still lands beside it
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}


def parquet_exports() -> ExportPolicy:
    """The export policy from the marts' YAML: every model (or source table) with `meta: {export: parquet}`, each with its
    columns marked `meta: {personal: true}`; those also marked `meta: {aggregate: true}` (rows are
    groups, never people) are exported a second time without their personal columns."""
    personal, aggregates = {}, set()
    manifest = load_manifest()
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:  # sources: marts written in Python
        meta = _meta(node)
        if node["resource_type"] in ("model", "source") and meta.get("export") == "parquet":
            personal[node["name"]] = sorted(name for name, column in (node.get("columns") or {}).items()
                                            if _meta(column).get("personal"))
            if meta.get("aggregate"):
                aggregates.add(node["name"])
    return ExportPolicy(dict(sorted(personal.items())), frozenset(aggregates))
