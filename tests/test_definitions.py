"""The Dagster code location: it loads and holds the whole flow, every name in it is frozen in a committed
snapshot (a renamed asset, check, job, schedule or sensor is a visible change), every step that opens the
warehouse is in its one-writer pool, and each deployment gets its resources (production: secrets and
endpoints only as environment-variable references)."""
from __future__ import annotations

import datetime as dt
import difflib
import json
import os
from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import defs
from assets.resources import (WAREHOUSE_POOL, AtsResource, SmtpResource, WarehouseResource, WebStoreResource,
                              resources_for, run_config_for, run_settings)
from warmpool import tables

SNAPSHOT = Path(__file__).parent / "snapshots" / "dagster_definitions.txt"
UPDATE_ENV = "WARMPOOL_UPDATE_SNAPSHOTS"


def definitions_snapshot(definitions: dg.Definitions) -> str:
    """Every asset and check key (with the step that makes it and its pool), job, schedule, sensor and
    resource key of the code location, one per line, sorted."""
    graph = definitions.resolve_asset_graph()
    lines = []
    for assets_def in graph.assets_defs:
        if not assets_def.is_executable:  # declared only (e.g. a dbt source nothing here loads)
            lines += [f"asset {key.to_user_string()}  [external]" for key in assets_def.keys]
            continue
        step, pool = assets_def.node_def.name, assets_def.node_def.pool
        lines += [f"asset {key.to_user_string()}  [step {step}, pool {pool}]" for key in assets_def.keys]
        lines += [f"check {key.asset_key.to_user_string()}:{key.name}  [step {step}, pool {pool}]"
                  for key in assets_def.check_keys]
    lines += [f"job {job.name}" for job in definitions.jobs]
    lines += [f"schedule {s.name}  [{s.job_name}, {s.cron_schedule}]" for s in definitions.schedules]
    lines += [f"sensor {s.name}" for s in definitions.sensors]
    lines += [f"resource {key}" for key in definitions.resources]
    return "\n".join(sorted(lines)) + "\n"


def test_every_name_in_the_code_location_is_in_the_committed_snapshot():
    """Renaming an asset breaks lineage, run history and anything that selects it by key: this makes it a
    reviewed change. After a deliberate one: WARMPOOL_UPDATE_SNAPSHOTS=1 pytest tests/test_definitions.py"""
    current = definitions_snapshot(defs)
    if os.environ.get(UPDATE_ENV):
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
    committed = SNAPSHOT.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(committed.splitlines(True), current.splitlines(True),
                                        "committed snapshot", "code location now", n=0))
    assert current == committed, f"the code location changed ({UPDATE_ENV}=1 to accept):\n{diff[:6000]}"


def test_the_snapshot_sees_a_new_asset():
    @dg.asset(key=["raw_ats", "candidates_v2"], pool="warehouse")
    def candidates_v2() -> None: ...

    changed = definitions_snapshot(dg.Definitions.merge(defs, dg.Definitions(assets=[candidates_v2])))
    assert "asset raw_ats/candidates_v2  [step raw_ats__candidates_v2, pool warehouse]" in changed.splitlines()
    assert changed != SNAPSHOT.read_text(encoding="utf-8")


def test_definitions_load_with_the_whole_flow():
    job = defs.resolve_job_def("warmpool_all")
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    for expected in ("raw_ats/candidates", "raw_vendors/resumes", "raw_forms/form_submissions",
                     "intermediate/int_source_records", "identity/source_record_person",
                     "marts/dim_candidates", "marts/fct_applications", "marts/audience_members",
                     "audience_files", "campaign_sends"):
        assert expected in keys, expected
    assert job is not None


def test_every_step_that_opens_the_warehouse_is_in_the_one_writer_pool(warmpool_home):
    """DuckDB allows one writer per file: every executable asset and check of the code location opens the
    warehouse, so each runs in the `warehouse` pool (limit 1 in the instance's dagster.yaml)."""
    from warmpool.config import get_settings

    outside = sorted({a.node_def.name for a in defs.resolve_asset_graph().assets_defs
                      if a.is_executable and a.node_def.pool != WAREHOUSE_POOL})
    assert outside == []
    assert "default_limit: 1" in (get_settings().ensure_dirs().dagster_home / "dagster.yaml").read_text()


def _ancestors(graph, key):
    seen, stack = set(), [key]
    while stack:
        for parent in graph.get(stack.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_identity_runs_between_the_two_dbt_phases():
    graph = defs.resolve_asset_graph()
    identity = dg.AssetKey(["identity", "source_record_person"])
    assert dg.AssetKey(["intermediate", "int_source_records"]) in graph.get(identity).parent_keys
    assert identity in _ancestors(graph, dg.AssetKey(["marts", "audience_members"]))
    assert dg.AssetKey(["marts", "audience_members"]) in _ancestors(graph, dg.AssetKey("campaign_sends"))


def test_production_takes_endpoints_and_secrets_from_the_environment_only():
    """In production nothing falls back to the sandbox: a missing variable fails the run, and the Dagster UI
    (run config) shows the variable's name, never its value."""
    production = resources_for("production")
    config = run_config_for(production)["resources"]
    assert config["ats"]["config"] == {"base_url": {"env": "WARMPOOL_ATS_URL"}, "api_key": {"env": "WARMPOOL_ATS_API_KEY"}}
    assert config["smtp"]["config"]["password"] == {"env": "WARMPOOL_SMTP_PASSWORD"}
    assert config["smtp"]["config"]["port"] == {"env": "WARMPOOL_SMTP_PORT"}

    @dg.asset
    def reads_the_ats(ats: AtsResource):
        return ats.base_url

    with pytest.raises(dg.DagsterInvalidConfigError, match="WARMPOOL_ATS_URL"):
        dg.materialize([reads_the_ats], resources={"ats": production["ats"]},
                       instance=dg.DagsterInstance.ephemeral())


def test_local_resources_follow_the_configuration_and_a_swapped_resource_wins(warmpool_home, monkeypatch):
    """Local: what config/warmpool.yaml (and the environment) say at run time; a resource a test or the demo
    swaps in wins over both."""
    settings = run_settings(WarehouseResource(), ats=AtsResource(), smtp=SmtpResource(), web_store=WebStoreResource())
    assert settings.warehouse_path == warmpool_home.resolve() / "warehouse.duckdb"
    assert settings.ats.base_url == "http://127.0.0.1:8200/v1" and settings.smtp.port == 8025

    swapped = run_settings(WarehouseResource(path=str(warmpool_home / "other.duckdb")),
                           ats=AtsResource(base_url="http://127.0.0.1:1/v1"), smtp=SmtpResource(port=2))
    assert swapped.warehouse_path == warmpool_home / "other.duckdb"
    assert (swapped.ats.base_url, swapped.smtp.port) == ("http://127.0.0.1:1/v1", 2)
    assert swapped.ats.api_key == settings.ats.api_key  # unset fields: the configuration's


def test_dbt_gets_the_warehouse_on_its_command_line_and_the_environment_is_untouched(warmpool_home):
    """`_dbt_build` passes the run's warehouse as dbt vars, and "today" as a row of the warehouse (a new day
    must not change dbt's vars: that makes dbt parse the whole project again); os.environ is never changed."""
    from warmpool.dbt_cli import vars_arg

    before = dict(os.environ)
    warehouse = WarehouseResource(path=str(warmpool_home / "wh.duckdb"), as_of="2026-11-01")
    args = vars_arg(warehouse.dbt_vars())
    assert args == ["--vars", json.dumps({"warehouse_path": str(warmpool_home / "wh.duckdb")})]
    warehouse.set_clock()
    with warehouse.connect(read_only=True) as con:
        assert con.execute(f"select * from {tables.RUN_CLOCK}").fetchall() == [(dt.datetime(2026, 11, 1),)]
    assert dict(os.environ) == before
    profiles = (Path(__file__).resolve().parents[1] / "dbt_project" / "profiles.yml").read_text()
    assert "var('warehouse_path'" in profiles


def test_the_dbt_resource_knows_the_version_the_dbt_executable_reports():
    """dagster-dbt is told dbt's version instead of running `dbt --version` in every run: what it is told
    is what the executable it runs reports (a dbt that drifted from the venv's dbt-core would fail here)."""
    import re
    import subprocess

    from assets.dbt_project import dbt_resource

    resource = dbt_resource()
    reported = subprocess.run([resource.dbt_executable, "--version"], capture_output=True, text=True, check=True).stdout
    assert str(resource._cli_version) == re.search(r"(\d+\.\d+\.\d+)", reported).group(1)


def test_no_dbt_asset_asks_for_what_needs_an_adapter_in_the_run_process():
    """The dbt resource opens no adapter in the run's process (assets/dbt_project.py): dagster-dbt's row
    counts and column metadata, which need one, would silently come back empty, so no asset may ask for them."""
    from assets.dbt_project import dbt_resource

    assert dbt_resource()._initialize_dbt_core_adapter(["build"]) is None
    root = Path(__file__).resolve().parents[1]
    asking = [str(p.relative_to(root)) for folder in ("assets", "cli", "warmpool") for p in (root / folder).rglob("*.py")
              if any(call in p.read_text() for call in (".fetch_row_counts(", ".fetch_column_metadata("))]
    assert not asking, asking
