"""The daily run is incremental (dlt cursors, identity's incremental path, the incremental dbt models, the
search index's embedding cache), and what it leaves behind equals a full rebuild: the shared pipeline
world (already run once, tests/conftest.py) gets the next day's change (updated and new people) on a
copy and runs again; a fresh copy of the same world that only ever saw the final sources runs once from
scratch. Every mart about the pool is the same, row for row.

Person ids are compared through the people they stand for: ids are stable across runs by design (a
person keeps the id of its first run even when a later record would give a fresh resolve another one),
so each id is replaced by its person's smallest (source, source_record_id) key. Marts that report the
runs themselves cannot equal a single run's (`RUN_HISTORY_MARTS`, below).
"""
from __future__ import annotations

import shutil

import pytest

from conftest import PIPELINE_WORLD_PEOPLE, PIPELINE_WORLD_SEED, pipeline_env
from sandbox.daily_change import NEXT_DAY, apply_next_day
from sandbox.world import generate_world
from warmpool import tables
from warmpool.config import get_settings
from warmpool.warehouse import warehouse

pytestmark = [pytest.mark.slow, pytest.mark.long]  # make test-long: two more whole-graph runs

SHARE = 0.05  # a small world: 5%, so that the day brings more than a handful of records
# What each run did, not what the pool is: one row per identity run, the load times per source, and the
# sends (sent at the clock time of the run that sent them; the daily side sent in two runs).
RUN_HISTORY_MARTS = {"rpt_identity_runs", "rpt_data_health", "fct_outreach", "fct_email_events",
                     "rpt_campaign_performance", "fct_pipeline_members"}
# Columns that hold the clock time of the load that wrote a row (the rest of the mart is compared).
LOAD_TIME_COLUMNS = {"rpt_quarantine_reasons": ("last_quarantined_at",)}


def _marts(home) -> dict[str, list[tuple]]:
    """Every table of the marts schema but the run-history ones, person ids as their smallest record
    key, rows in a stable order."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in pipeline_env(home).items():
            mp.setenv(k, v)
        path = get_settings().warehouse_path
    with warehouse(path, read_only=True) as con:
        con.execute(f"""create temp table person_key as
            select person_id, min(source || '|' || source_record_id) as person_key
            from {tables.PERSON_ASSIGNMENTS} group by 1""")
        out = {}
        for (name,) in con.execute("select table_name from information_schema.tables "
                                   "where table_schema = 'marts' order by 1").fetchall():
            if name in RUN_HISTORY_MARTS:
                continue
            columns = [c for (c,) in con.execute("select column_name from information_schema.columns where "
                                                 "table_schema = 'marts' and table_name = ?", [name]).fetchall()]
            dropped = "".join(f" exclude ({c})" for c in LOAD_TIME_COLUMNS.get(name, ()))
            select = (f"select m.*{dropped} replace (k.person_key as person_id) from marts.{name} m "
                      f"left join person_key k using (person_id)" if "person_id" in columns
                      else f"select *{dropped} from marts.{name}")
            out[name] = sorted(con.execute(select).fetchall(), key=repr)
        return out


def _run(home, rerun_whole_graph) -> None:
    run = rerun_whole_graph(home, as_of=NEXT_DAY.strftime("%Y-%m-%d"))
    assert run.success, f"run {run.run_id} failed; logs under {home / 'logs'}"


def _differences(a: dict, b: dict) -> dict:
    out = {}
    for name in a:
        if a[name] != b.get(name):
            only_a, only_b = set(a[name]) - set(b.get(name, [])), set(b.get(name, [])) - set(a[name])
            out[name] = {"rows": (len(a[name]), len(b.get(name, []))), "only_daily": sorted(only_a, key=repr)[:2],
                         "only_rebuilt": sorted(only_b, key=repr)[:2]}
    return out


@pytest.mark.timeout(2400)  # two whole-graph runs (the first run is the shared pipeline world's)
def test_incremental_daily_run_equals_full_rebuild(pipeline_world, rerun_whole_graph, tmp_path):
    before = _marts(pipeline_world.home)
    daily = tmp_path / "daily"
    shutil.copytree(pipeline_world.home, daily)
    change = apply_next_day(daily, SHARE)
    assert change.updated_candidates and change.new_candidates and change.new_submissions
    _run(daily, rerun_whole_graph)
    after = _marts(daily)

    rebuilt = tmp_path / "rebuilt"
    generate_world(people=PIPELINE_WORLD_PEOPLE, seed=PIPELINE_WORLD_SEED, home=rebuilt)
    assert apply_next_day(rebuilt, SHARE) == change
    _run(rebuilt, rerun_whole_graph)
    from_scratch = _marts(rebuilt)

    assert after.keys() == from_scratch.keys()
    different = _differences(after, from_scratch)
    assert not different, f"marts differ after the daily run and a full rebuild: {different}"
    dim_candidates = tables.DIM_CANDIDATES.split(".")[-1]
    assert len(after[dim_candidates]) > len(before[dim_candidates])  # the day's new people are in
