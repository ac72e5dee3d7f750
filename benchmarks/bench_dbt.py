"""`dbt build` of the whole project on sandbox worlds, beside the raw DuckDB time of the heaviest mart.

For each size: generate a world (in a child process, so its ~12 GB peak at 1M is given back before
loading), load the raw layer with the real loaders, then time `dbt build` phase 1 + phase 2 (every
model, data test and unit test). The ATS part runs the real dlt ATS source (`pipelines.ats.run_ats`:
same resources, hints, nesting, schema contract, state and merge) with only its HTTP transport
(`pipelines.ats._pages`) swapped for a reader of the world's `sandbox/ats/*.json`, which are exactly
what the simulator serves: over HTTP a 100k world took 518 s to load, too slow for 1M. On a 5k world
the `raw_ats` tables, columns, types and row contents are identical either way (only dlt's own
`_dlt_*` bookkeeping rows differ). Vendor files, web store and campaigns use their real loaders.
Identity resolution is NOT part of the figure: a stand-in writes `identity.source_record_person`
from the world's truth between the phases, so the dbt time does not depend on the matcher
(benchmarks/bench_identity measures that). The baseline is the heaviest mart model of that build
(longest execution in run_results.json), its compiled SELECT run straight in DuckDB
(`create table ... as`) on the same warehouse: the price of dbt's orchestration, tests and
contracts over the bare query.

Sizes: 100k and 1M people (1M: ~5 min and ~11 GB to generate, ~13 GB free memory needed). Quick
mode: 5k. `BENCH_DBT_SIZES=100000` picks sizes.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from benchmarks.common import BenchResult, peak_rss_mb, stopwatch, scratch_home
from warmpool.spellings import write_spellings

SIZES = (100_000, 1_000_000)
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
    failed = [f"{r.node.name}: {r.status}" for r in result.result if str(r.status) not in ("success", "pass", "no-op")]
    if failed:
        raise RuntimeError(f"dbt build failed: {failed[:5]}")
    return json.loads((target / "run_results.json").read_text())


class _Response:
    """What `pipelines.ats` reads from an HTTP response: only the server's `Date` header."""

    def __init__(self) -> None:
        from email.utils import formatdate

        self.headers = {"Date": formatdate(usegmt=True)}


def _file_pages(ats_dir: Path, page_size: int = 10_000):
    """A stand-in for `pipelines.ats._pages` that reads the world's `sandbox/ats/<endpoint>.json`.

    The simulator serves exactly those arrays (in file order, each row as-is) and on a first run the
    cursor (1970) selects every row, so the real dlt ATS source -- same resources, hints, nesting,
    schema contract, incremental state and merge -- produces the same `raw_ats` tables without HTTP.
    Only the transport is replaced; every row still goes through dlt extract, normalize and load.
    """
    def rows_of(path: Path):
        # The generator writes one row per line ("[", "{...},", ..., "{...}", "]"): stream it so a 1M
        # world's ~700 MB candidates file is never held as Python objects at once. Anything else:
        # parse the whole file.
        import json

        if not path.exists():
            return
        with path.open(encoding="utf-8") as fh:
            lines = iter(fh)
            first = next(lines, "").strip()
            if first != "[":
                yield from json.loads(first + "".join(lines))
                return
            for line in lines:
                line = line.strip().rstrip(",")
                if line and line != "]":
                    yield json.loads(line)

    from pipelines.ats import Page  # the real page (rows and the response they came in)

    def pages(client, endpoint, params):
        page, pages_out = Page([], _Response()), 0
        for row in rows_of(ats_dir / f"{endpoint.name}.json"):
            page.append(row)
            if len(page) == page_size:
                yield page
                page, pages_out = Page([], _Response()), pages_out + 1
        if page or not pages_out:  # an empty endpoint still answers with one empty page
            yield page
    return pages


def _load_ats(home: Path, over_http: bool = False) -> dict[str, int]:
    import pipelines.ats as ats
    from warmpool.config import get_settings

    if over_http:
        from sandbox.services import SandboxServices

        with SandboxServices(get_settings(), ats_port=0, smtp_port=0) as services:
            os.environ["WARMPOOL_ATS_URL"] = services.ats_url
            return ats.run_ats(get_settings())
    real = ats._pages
    ats._pages = _file_pages(home / "sandbox" / "ats")
    try:
        return ats.run_ats(get_settings())
    finally:
        ats._pages = real


def _load_raw(home: Path, timings: dict[str, float]) -> None:
    from pipelines.vendor_files import run_vendor_files
    from pipelines.web_store import run_web_store
    from warmpool.campaigns.config import load_campaigns_table
    from warmpool.config import get_settings
    from warmpool.warehouse import warehouse

    settings = get_settings()
    steps = (("ats", lambda: _load_ats(home)), ("vendor files", lambda: run_vendor_files(settings)),
             ("web store", lambda: run_web_store(settings)))
    for name, step in steps:
        with stopwatch() as sw:
            step()
        timings[name] = sw["seconds"]
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


def _generate(people: int, home: Path) -> None:
    """Generate the world in a child process: a 1M world peaks at ~12 GB, given back when it exits."""
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from sandbox.world import generate_world; "
            "generate_world(people=int(sys.argv[1]), seed=int(sys.argv[2]), home=Path(sys.argv[3]))")
    subprocess.run([sys.executable, "-c", code, str(people), str(SEED), str(home)], check=True)


def world_home(people: int, workdir: Path):
    """A fresh home for a world of `people` under `workdir`, with this process's environment (data
    folder, Dagster home, the world's "now", the warehouse dbt builds) pointed at it; its settings."""
    from sandbox.world import WORLD_NOW
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
    return home, settings


def built_world(people: int, workdir: Path):
    """A world of `people` generated, loaded and built by dbt (identity from the truth stand-in) in a
    fresh home under `workdir`: what the benchmarks that need a whole warehouse start from."""
    from assets.dbt_project import DBT_PROJECT_DIR

    home, settings = world_home(people, workdir)
    _generate(people, home)
    _load_raw(home, {})
    target = home / "dbt-target"
    _dbt(DBT_PROJECT_DIR, target, "--select", "+int_source_records")
    _stand_in_identity(home, settings.warehouse_path)
    write_spellings(settings)
    _dbt(DBT_PROJECT_DIR, target, "--exclude", "+int_source_records")
    _release_warehouse()
    return home, settings


def _release_warehouse() -> None:
    """Close dbt-duckdb's in-process database (it outlives the dbt invocation and holds the file's write
    lock), so this process can open the warehouse again, read-only included."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager._ENV = None


def measure(people: int, workdir: Path) -> list[BenchResult]:
    from assets.dbt_project import DBT_PROJECT_DIR

    home, settings = world_home(people, workdir)

    with stopwatch() as gen:
        _generate(people, home)
    gen_peak = peak_rss_mb(children=True)
    loads: dict[str, float] = {}
    with stopwatch() as load:
        _load_raw(home, loads)
    load_peak = peak_rss_mb()
    target = home / "dbt-target"
    with stopwatch() as phase_1:
        _dbt(DBT_PROJECT_DIR, target, "--select", "+int_source_records")
    _stand_in_identity(home, settings.warehouse_path)
    with stopwatch() as spellings:
        write_spellings(settings)
    with stopwatch() as phase_2:
        results = _dbt(DBT_PROJECT_DIR, target, "--exclude", "+int_source_records")

    manifest = json.loads((target / "manifest.json").read_text())
    marts = [r for r in results["results"] if r["unique_id"].startswith("model.")
             and manifest["nodes"][r["unique_id"]]["schema"] == "marts"]
    heaviest = max(marts, key=lambda r: r["execution_time"])
    node = manifest["nodes"][heaviest["unique_id"]]
    compiled = (target / "compiled" / "warmpool" / node["original_file_path"]).read_text()
    raw = _raw_query_seconds(settings.warehouse_path, compiled)
    build = phase_1["seconds"] + spellings["seconds"] + phase_2["seconds"]  # the spellings were phase-2 models
    peak = peak_rss_mb()
    nodes = len(results["results"])
    size = f"{people:,} people"
    note = (f"phase 1 {phase_1['seconds']:.1f} s + spellings {spellings['seconds']:.1f} s + phase 2 "
            f"{phase_2['seconds']:.1f} s, {nodes} phase-2 nodes "
            f"(models, tests, unit tests); heaviest mart {node['name']} took {heaviest['execution_time']:.2f} s "
            f"inside dbt; world generated in {gen['seconds']:.0f} s (child process, peak RSS {gen_peak / 1024:.1f} GB), "
            f"raw layer loaded in {load['seconds']:.0f} s ("
            + ", ".join(f"{k} {v:.0f} s" for k, v in loads.items())
            + f"; ATS via the real dlt source reading sandbox/ats/*.json, not HTTP), peak RSS loading "
            f"{load_peak / 1024:.1f} GB, loading + dbt {peak / 1024:.1f} GB; identity = truth stand-in (not timed)")
    return [BenchResult(what="dbt build (both phases, all tests)", size=size, figure=build, unit="s",
                        baseline_what=f"raw DuckDB CTAS of the heaviest mart ({node['name']})",
                        baseline_figure=raw, note=note)]


def run(quick: bool) -> list[BenchResult]:
    out: list[BenchResult] = []
    sizes = QUICK_SIZES if quick else tuple(int(n) for n in os.environ.get("BENCH_DBT_SIZES", "").split(",") if n) or SIZES
    with scratch_home("bench-dbt-") as tmp:
        for people in sizes:
            out += measure(people, tmp)
            print(f"   {out[-1].size}: dbt build {out[-1].figure:.1f} s; {out[-1].note}", flush=True)
    return out
