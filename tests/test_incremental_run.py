"""The daily run is incremental (dlt cursors, identity's incremental path, incremental dbt models), and
what it leaves behind equals a full rebuild: a small world runs once, the next day's change arrives
(updated and new people), the run repeats; a copy of the same world that only ever saw the final
sources runs once from scratch. Every mart people read is the same, row for row.
"""
from __future__ import annotations

import shutil

import pytest

from sandbox.daily_change import NEXT_DAY, apply_next_day
from sandbox.world import generate_world
from conftest import pipeline_env
from warmpool import tables
from warmpool.config import get_settings
from warmpool.warehouse import warehouse

pytestmark = pytest.mark.slow

PEOPLE = 300
SEED = 5
SHARE = 0.05  # a few hundred people: 5% so that the day brings more than a handful of records


def _marts(home) -> dict[str, list[tuple]]:
    """Every table of the marts schema, its rows in a stable order."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in pipeline_env(home).items():
            mp.setenv(k, v)
        path = get_settings().warehouse_path
    with warehouse(path, read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        out = {}
        for name in names:
            rows = con.execute(f"select * from marts.{name}").fetchall()
            out[name] = sorted(rows, key=repr)
        return out


def _run(home, rerun_whole_graph):
    run = rerun_whole_graph(home, as_of=NEXT_DAY.strftime("%Y-%m-%d"))
    assert run.success
    return run


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    daily = tmp_path_factory.mktemp("daily")
    generate_world(people=PEOPLE, seed=SEED, home=daily)
    rebuilt = tmp_path_factory.mktemp("rebuilt")
    shutil.copytree(daily, rebuilt, dirs_exist_ok=True)
    return daily, rebuilt


def test_incremental_daily_run_equals_full_rebuild(worlds, rerun_whole_graph):
    daily, rebuilt = worlds
    _run(daily, rerun_whole_graph)
    before = _marts(daily)
    change = apply_next_day(daily, SHARE)
    assert change.updated_candidates and change.new_candidates and change.new_submissions
    _run(daily, rerun_whole_graph)
    after = _marts(daily)

    assert apply_next_day(rebuilt, SHARE) == change
    _run(rebuilt, rerun_whole_graph)
    from_scratch = _marts(rebuilt)

    assert after.keys() == from_scratch.keys()
    different = {name: (len(after[name]), len(from_scratch[name])) for name in after
                 if after[name] != from_scratch[name]}
    assert not different, f"marts differ (daily rows, rebuilt rows): {different}"
    dim_candidates = tables.DIM_CANDIDATES.split(".")[-1]
    assert len(after[dim_candidates]) > len(before[dim_candidates])  # the day's new people are in
