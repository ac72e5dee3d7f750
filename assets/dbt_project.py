"""Where the dbt project and its prepared manifest live (shared by Dagster, the demo and tests), and what
the manifest says that the Dagster code needs: the raw tables dbt declares as sources and the export
policy declared in the models' YAML.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from dagster_dbt import DbtCliResource

from warmpool.config import DBT_PROJECT_DIR, get_settings
from warmpool.exports import ExportPolicy
from warmpool.warehouse import dbt_target

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"  # the venv's own dbt, whether or not its bin is on PATH

# Identity resolution runs between two dbt invocations: phase 1 builds every source record
# (`int_source_records` and what it needs), phase 2 everything that needs person ids.
POOL_RECORDS_SELECT = "+int_source_records"
# After the sends, a third invocation rebuilds what reads the send ledger (loaded right after sending),
# so the campaign report of a run counts that run's own sends.
CAMPAIGN_REPORTS_SELECT = "stg_campaigns__sends+"


def dbt_vars(warehouse_path: Path, as_of: str | None = None) -> dict[str, str]:
    """dbt's `--vars` for a run: the warehouse (profiles.yml reads it: the DuckDB file, or where the
    configured PostgreSQL warehouse is) and, if given, "today".

    The manifest is prepared with the default warehouse's vars, so a run on that warehouse re-uses
    dbt's partial parse; other vars (a test's warehouse, an `as_of`) make dbt parse again.
    """
    _, values, _ = dbt_target(dataclasses.replace(get_settings(), warehouse_file=Path(warehouse_path)))
    return {**values, **({"as_of": as_of} if as_of else {})}


def target_arg(warehouse_path: Path | None = None) -> list[str]:
    """`--target` for the configured warehouse (`dev`: DuckDB, `postgres`)."""
    settings = get_settings()
    target, _, _ = dbt_target(dataclasses.replace(settings, warehouse_file=Path(warehouse_path))
                              if warehouse_path else settings)
    return ["--target", target]


def vars_arg(values: dict[str, str]) -> list[str]:
    return ["--vars", json.dumps(values, sort_keys=True)]


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                          dbt_executable=str(DBT_EXECUTABLE))


def prepare_manifest(force: bool = False) -> Path:
    """Run `dbt parse` once, ahead of any run (never at import time)."""
    if force or not MANIFEST_PATH.exists():
        env = {**os.environ, "DO_NOT_TRACK": os.environ.get("DO_NOT_TRACK", "1")}  # the child's, not ours
        subprocess.run(
            [str(DBT_EXECUTABLE), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR), *target_arg(),
             *vars_arg(dbt_vars(get_settings().warehouse_path))],
            check=True, env=env, cwd=DBT_PROJECT_DIR,
        )
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
    """The export policy from the marts' YAML: every model with `meta: {export: parquet}`, each with its
    columns marked `meta: {personal: true}`; those also marked `meta: {aggregate: true}` (rows are
    groups, never people) are exported a second time without their personal columns."""
    personal, aggregates = {}, set()
    for node in load_manifest()["nodes"].values():
        meta = _meta(node)
        if node["resource_type"] == "model" and meta.get("export") == "parquet":
            personal[node["name"]] = sorted(name for name, column in (node.get("columns") or {}).items()
                                            if _meta(column).get("personal"))
            if meta.get("aggregate"):
                aggregates.add(node["name"])
    return ExportPolicy(dict(sorted(personal.items())), frozenset(aggregates))
