"""`dbt build` of the whole project on sandbox worlds, beside the raw DuckDB time of the heaviest mart.

For each size: generate a world, load it with the real loaders (ATS over HTTP from the simulator,
vendor files, web store, campaigns), then time `dbt build` phase 1 + phase 2 (every model, data
test and unit test). Identity resolution is NOT part of the figure: a stand-in writes
`identity.source_record_person` from the world's truth between the phases, so the dbt time does not
depend on the matcher (benchmarks/bench_identity measures that). The baseline is the heaviest mart
model of that build (longest execution in run_results.json), its compiled SELECT run straight
in DuckDB (`create table ... as`) on the same warehouse: the price of dbt's orchestration, tests
and contracts over the bare query.

Sizes: 100k and 300k people (a 1M world takes ~6 min and ~12 GB just to generate and longer to
load over the simulator's HTTP API: too slow for this machine's time box). Quick mode: 5k.
`BENCH_DBT_SIZES=100000` picks sizes.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import BenchResult, stopwatch

SIZES = (100_000, 300_000)
QUICK_SIZES = (5_000,)
SEED = 42


def _dbt(project: Path, target: Path, *args: str) -> dict:
    from dbt.adapters.factory import reset_adapters
    from dbt.cli.main import dbtRunner

    try:
        result = dbtRunner().invoke(["build", *args, "--project-dir", str(project), "--profiles-dir", str(project),
                                     "--target-path", str(target), "--log-path", str(target / "logs"), "--quiet"])
    finally:
        reset_adapters()
    if result.exception is not None:
        raise result.exception
    failed = [f"{r.node.name}: {r.status}" for r in result.result if str(r.status) not in ("success", "pass")]
    if failed:
        raise RuntimeError(f"dbt build failed: {failed[:5]}")
    return json.loads((target / "run_results.json").read_text())


def _load_raw(home: Path) -> None:
    from pipelines.ats import run_ats
    from pipelines.vendor_files import run_vendor_files
    from pipelines.web_store import run_web_store
    from sandbox.services import SandboxServices
    from warmpool.campaigns.config import load_campaigns_table
    from warmpool.config import get_settings
    from warmpool.warehouse import warehouse

    settings = get_settings()
    with SandboxServices(settings, ats_port=0, smtp_port=0) as services:
        os.environ["WARMPOOL_ATS_URL"] = services.ats_url
        run_ats(get_settings())
    run_vendor_files(settings)
    run_web_store(settings)
    with warehouse() as con:
        load_campaigns_table(con)


def _stand_in_identity(home: Path, warehouse_path: Path) -> None:
    import duckdb

    truth = home / "sandbox" / "truth" / "source_record_person.csv"
    with duckdb.connect(str(warehouse_path)) as con:
        con.execute("create schema if not exists identity")
        con.execute(f"""
            create or replace table identity.source_record_person as
            select r.source, r.source_record_id, t.true_person_id as person_id,
                   count(*) over (partition by t.true_person_id) as cluster_size, now() as resolved_at
            from intermediate.int_source_records r
            join read_csv('{truth}', all_varchar = true) t
              on r.source = t.source and r.source_record_id = t.source_record_id""")


def _raw_query_seconds(warehouse_path: Path, compiled_sql: str) -> float:
    import duckdb

    with duckdb.connect(str(warehouse_path)) as con:
        con.execute("set TimeZone = 'UTC'")
        started = time.perf_counter()
        con.execute(f"create or replace temp table bench_heaviest as {compiled_sql}")
        return time.perf_counter() - started


def measure(people: int, workdir: Path) -> list[BenchResult]:
    from assets.dbt_project import DBT_PROJECT_DIR
    from sandbox.world import WORLD_NOW, generate_world
    from warmpool import config

    home = workdir / f"world-{people}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({"WARMPOOL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "DO_NOT_TRACK": "1",
                       "WARMPOOL_AS_OF": WORLD_NOW.strftime("%Y-%m-%d")})
    for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE"):
        os.environ.pop(var, None)
    config._settings_for.cache_clear()
    settings = config.get_settings().ensure_dirs()
    os.environ["WARMPOOL_WAREHOUSE"] = str(settings.warehouse_path)

    with stopwatch() as gen:
        generate_world(people=people, seed=SEED, home=home)
    with stopwatch() as load:
        _load_raw(home)
    target = home / "dbt-target"
    with stopwatch() as phase_1:
        _dbt(DBT_PROJECT_DIR, target, "--select", "+int_source_records")
    _stand_in_identity(home, settings.warehouse_path)
    with stopwatch() as phase_2:
        results = _dbt(DBT_PROJECT_DIR, target, "--exclude", "+int_source_records")

    manifest = json.loads((target / "manifest.json").read_text())
    marts = [r for r in results["results"] if r["unique_id"].startswith("model.")
             and manifest["nodes"][r["unique_id"]]["schema"] == "marts"]
    heaviest = max(marts, key=lambda r: r["execution_time"])
    node = manifest["nodes"][heaviest["unique_id"]]
    compiled = (target / "compiled" / "warmpool" / node["original_file_path"]).read_text()
    raw = _raw_query_seconds(settings.warehouse_path, compiled)
    build = phase_1["seconds"] + phase_2["seconds"]
    nodes = len(results["results"])
    size = f"{people:,} people"
    note = (f"phase 1 {phase_1['seconds']:.1f} s + phase 2 {phase_2['seconds']:.1f} s, {nodes} phase-2 nodes "
            f"(models, tests, unit tests); heaviest mart {node['name']} took {heaviest['execution_time']:.2f} s "
            f"inside dbt; world generated in {gen['seconds']:.0f} s, loaded in {load['seconds']:.0f} s; "
            f"identity = truth stand-in (not timed)")
    return [BenchResult(what="dbt build (both phases, all tests)", size=size, figure=build, unit="s",
                        baseline_what=f"raw DuckDB CTAS of the heaviest mart ({node['name']})",
                        baseline_figure=raw, note=note)]


def run(quick: bool) -> list[BenchResult]:
    out: list[BenchResult] = []
    saved = dict(os.environ)
    try:
        sizes = QUICK_SIZES if quick else tuple(int(n) for n in os.environ.get("BENCH_DBT_SIZES", "").split(",") if n) or SIZES
        with tempfile.TemporaryDirectory(prefix="bench-dbt-") as tmp:
            for people in sizes:
                out += measure(people, Path(tmp))
                print(f"   {out[-1].size}: dbt build {out[-1].figure:.1f} s; {out[-1].note}", flush=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return out
