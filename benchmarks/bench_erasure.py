"""Erasing one person from a built warehouse, beside a plain DELETE of their rows from the raw tables.

The world is built the way `bench_dbt` builds it (generated in a child process, raw layer loaded by
the real loaders, identity from the truth stand-in, `dbt build` both phases); then:
- the figure: `warmpool.privacy.erasure.erase` of one person found in several sources, through every
  store of `pipelines.erasure.stores()` (warehouse layers, identity, web store, ledger, audience
  files, the marts' parquet exports, mailbox, landing files, dlt folder), including the rebuild of
  the aggregate marts and the compaction of the warehouse file, no rebuild of anything else;
- the baseline: on the same warehouse, a plain `DELETE` of another such person's rows from the raw
  tables only (ATS candidate and its nested rows, applications, vendor resumes, web submissions):
  what an operator would do by hand, leaving every other layer and file as it was.

Sizes: 1M people for the record (needs the ~13 GB free that `bench_dbt` needs to generate it);
`BENCH_ERASURE_SIZES=100000` picks sizes; quick mode: 5k. A built world of 100k people or more is
kept under `data/bench/erasure_world_<people>_<generator digest>/` (a 1M world takes the better part
of an hour to generate, load and build here) and reused by the next run; each run erases two more of
its people (the next two found in several sources), which changes nothing measurable at that size.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_dbt import world_home
from benchmarks.common import CACHE, BenchResult, generator_digest, peak_rss_mb, stopwatch, scratch_home

SIZES = (1_000_000,)
QUICK_SIZES = (5_000,)
CACHE_FROM = 100_000  # smaller worlds are rebuilt each run (a minute or two)
BUILT = "built.json"  # written last: a world without it was not finished and is rebuilt


def _people_in_several_sources(warehouse_path: Path, n: int) -> list[tuple[str, str, str]]:
    import duckdb

    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return con.execute("""select c.person_id, c.email, min(case when b.source = 'ats' then b.source_record_id end)
            from marts.dim_candidates c join marts.bridge_candidate_records b using (person_id)
            where c.email is not null group by 1, 2
            having count(distinct b.source) >= 3 and count(case when b.source = 'ats' then 1 end) = 1
            order by 1 limit ?""", [n]).fetchall()
    finally:
        con.close()


def _plain_delete(warehouse_path: Path, person_id: str, ats_id: str) -> float:
    """DELETE the person's rows from the raw tables only (by their source records), in one transaction."""
    import duckdb

    con = duckdb.connect(str(warehouse_path))
    try:
        started = time.perf_counter()
        con.execute("begin transaction")
        records = con.execute("select source, source_record_id from identity.source_record_person where person_id = ?",
                              [person_id]).fetchall()
        vendor = [(s, r) for s, r in records if s not in ("ats", "talent_network", "referral")]
        forms = [int(r) for s, r in records if s in ("talent_network", "referral")]
        roots = [r for (r,) in con.execute("select _dlt_id from raw_ats.candidates where id = ?", [int(ats_id)]).fetchall()]
        apps = [r for (r,) in con.execute("select _dlt_id from raw_ats.applications where candidate_id = ?",
                                          [int(ats_id)]).fetchall()]
        for (table,) in con.execute("select table_name from information_schema.tables where table_schema = 'raw_ats' "
                                    "and (table_name like 'candidates\\_\\_%' escape '\\' "
                                    "or table_name like 'applications\\_\\_%' escape '\\')").fetchall():
            con.execute(f"delete from raw_ats.{table} where _dlt_root_id in (select unnest(?::VARCHAR[]))", [roots + apps])
        con.execute("delete from raw_ats.candidates where id = ?", [int(ats_id)])
        con.execute("delete from raw_ats.applications where candidate_id = ?", [int(ats_id)])
        con.execute("delete from raw_ats.offers where candidate_id = ?", [int(ats_id)])
        for vendor_key, record_id in vendor:
            con.execute("delete from raw_vendors.resumes where vendor = ? and vendor_record_id = ?", [vendor_key, record_id])
        if forms:
            con.execute("delete from raw_forms.form_submissions where submission_id in (select unnest(?::BIGINT[]))", [forms])
        con.execute("commit")
        return time.perf_counter() - started
    finally:
        con.close()


def timed_in_this_process() -> dict:
    """Erase one person and DELETE another's raw rows, timed; run in a child process (below) so no
    connection the build left in this one holds the warehouse file."""
    from pipelines.erasure import stores
    from warmpool.config import get_settings
    from warmpool.privacy.erasure import erase

    settings = get_settings()
    (_, email, _), (deleted, _, ats_id) = _people_in_several_sources(settings.warehouse_path, 2)
    size = settings.warehouse_path.stat().st_size
    with stopwatch() as took:
        report = erase(email, stores(), settings)
    before, after = report.warehouse_bytes or (size, size)
    return {"erase_seconds": took["seconds"], "delete_seconds": _plain_delete(settings.warehouse_path, deleted, ats_id),
            "records": report.records, "rows": report.rows_removed, "stores": len(report.stores),
            "bytes_before": before, "bytes_after": after, "peak_rss_mb": peak_rss_mb(), "seconds": report.seconds}


def _world_dir(people: int, scratch: Path) -> Path:
    if people < CACHE_FROM:
        return scratch
    return CACHE / f"erasure_world_{people}_{generator_digest()}"


def measure(people: int, workdir: Path) -> list[BenchResult]:
    # Two child processes: the build (dbt keeps the warehouse open in the process that ran it), then
    # the timed erasure and DELETE; this process only points the environment at the world.
    os.environ["WARMPOOL_DEMO"] = "1"  # the sandbox's privacy key
    home, _ = world_home(people, workdir)
    built = home / BUILT
    if not built.exists() and any(home.iterdir()):
        shutil.rmtree(home)  # an unfinished build: start over rather than load twice into it
        home, _ = world_home(people, workdir)
    if built.exists():
        print(f"   reusing the built world {home}", flush=True)
    else:
        build = "import sys; from pathlib import Path; from benchmarks.bench_dbt import built_world as b; " \
                "b(int(sys.argv[1]), Path(sys.argv[2]))"
        with stopwatch() as took:
            subprocess.run([sys.executable, "-c", build, str(people), str(workdir)], check=True)
        built.write_text(json.dumps({"people": people, "build_seconds": round(took["seconds"], 1)}))
    if not (home / "exports" / "manifest.json").exists():
        # the parquet exports a pipeline run writes (the erasure rewrites the files holding the person)
        export = "from assets.dbt_project import parquet_exports; from warmpool.exports import export_marts; " \
                 "export_marts(parquet_exports())"
        subprocess.run([sys.executable, "-c", export], check=True)
    code = "import json; from benchmarks.bench_erasure import timed_in_this_process as t; print(json.dumps(t()))"
    child = subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.PIPE, text=True)
    load = os.getloadavg()[0]  # the machine is shared: say how busy it was
    m = json.loads(child.stdout.strip().splitlines()[-1])
    slowest = sorted(m["seconds"].items(), key=lambda kv: -kv[1])[:5]
    note = (f"{m['records']} source records, {m['rows']:,} rows and files removed across {m['stores']} stores "
            f"incl. the aggregate marts rebuilt and compaction of the warehouse file ({m['bytes_before'] / 1e9:.2f} GB "
            f"-> {m['bytes_after'] / 1e9:.2f} GB); no rebuild of anything else; where the time went: "
            + ", ".join(f"{name} {sec:.1f} s" for name, sec in slowest)
            + f"; peak RSS {m['peak_rss_mb'] / 1024:.1f} GB; the plain DELETE leaves every other layer and "
            f"file as it was; machine load average {load:.1f} on {os.cpu_count()} cores at the end (shared machine)")
    return [BenchResult(what="erase one person from every store (warmpool privacy erase)", size=f"{people:,} people",
                        figure=m["erase_seconds"], unit="s",
                        baseline_what="plain DELETE of another person's rows from the raw tables only",
                        baseline_figure=m["delete_seconds"], note=note)]


def run(quick: bool) -> list[BenchResult]:
    out: list[BenchResult] = []
    sizes = QUICK_SIZES if quick else tuple(
        int(n) for n in os.environ.get("BENCH_ERASURE_SIZES", "").split(",") if n) or SIZES
    with scratch_home("bench-erasure-") as tmp:
        for people in sizes:
            out += measure(people, _world_dir(people, tmp))
            print(f"   {out[-1].size}: erase {out[-1].figure:.1f} s; {out[-1].note}", flush=True)
    return out
