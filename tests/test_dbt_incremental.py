"""The daily run's incremental dbt models hold what a full rebuild of the same inputs gives: the shared
pipeline world (already run once, tests/conftest.py) gets the next day's change on a copy and runs
again, so its incremental models add and update only the day's records; then `dbt run --full-refresh`
on a copy of that warehouse (same raw tables, same identity assignments, same `as_of`) rebuilds every
model from scratch. Every intermediate and mart table is the same, row for row: an incremental filter
that missed an updated or new record leaves a stale or missing row on the daily side.

The dearer comparison with a world that only ever saw the final sources (ingestion and identity
included) is tests/test_incremental_run.py (`make test-long`).
"""
from __future__ import annotations

import shutil

import pytest

from assets.dbt_project import load_manifest
from conftest import pipeline_env
from sandbox.daily_change import NEXT_DAY, apply_next_day
from warmpool import tables
from warmpool.config import get_settings
from warmpool.dbt_cli import run_dbt
from warmpool.warehouse import warehouse

pytestmark = pytest.mark.slow  # one more whole-graph run of the shared world

SHARE = 0.05  # a small world: 5%, so that the day brings more than a handful of records


def _tables(path) -> dict[str, list[tuple]]:
    """Every table of the intermediate and marts schemas, rows in a stable order."""
    with warehouse(path, read_only=True) as con:
        names = con.execute("select table_schema, table_name from information_schema.tables where table_schema "
                            "in (?, ?) and table_type = 'BASE TABLE' order by 1, 2",
                            [tables.INTERMEDIATE, tables.MARTS]).fetchall()
        return {f"{schema}.{name}": sorted(con.execute(f'select * from {schema}."{name}"').fetchall(), key=repr)
                for schema, name in names}


@pytest.mark.timeout(1200)
def test_daily_run_of_incremental_models_equals_full_refresh(pipeline_world, rerun_whole_graph, tmp_path,
                                                             monkeypatch):
    daily = tmp_path / "daily"
    shutil.copytree(pipeline_world.home, daily)
    change = apply_next_day(daily, SHARE)
    assert change.updated_candidates and change.new_candidates and change.new_submissions
    as_of = NEXT_DAY.strftime("%Y-%m-%d")
    run = rerun_whole_graph(daily, as_of=as_of)
    assert run.success, f"run {run.run_id} failed; logs under {daily / 'logs'}"

    for k, v in pipeline_env(daily).items():
        monkeypatch.setenv(k, v)
    daily_warehouse = get_settings().warehouse_path
    rebuilt_warehouse = tmp_path / "rebuilt" / daily_warehouse.name
    rebuilt_warehouse.parent.mkdir()
    shutil.copy2(daily_warehouse, rebuilt_warehouse)
    run_dbt(["run", "--quiet", "--full-refresh"], rebuilt_warehouse, as_of=as_of)

    after_daily, rebuilt = _tables(daily_warehouse), _tables(rebuilt_warehouse)
    incremental = {f"{node['schema']}.{node['name']}" for node in load_manifest()["nodes"].values()
                   if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"}
    assert incremental & after_daily.keys(), "no incremental model in the warehouse: nothing is tested"
    assert after_daily.keys() == rebuilt.keys()
    different = {name: (len(rows), len(rebuilt[name]), sorted(set(rows) ^ set(rebuilt[name]), key=repr)[:2])
                 for name, rows in after_daily.items() if rows != rebuilt[name]}
    assert not different, f"tables differ after the daily run and a full refresh: {different}"
