"""Ingestion throughput: the ATS over HTTP and a vendor CSV, each beside a plain baseline of the same work.

- ATS: a generated world (200k people; quick: 5k) served by the sandbox simulator over loopback HTTP.
  Figure: `run_ats()` (pages fetched concurrently by the retrying client, incremental cursor, JSON
  read and flattened column-wise into 15 Arrow tables, merged into DuckDB by dlt) in top-level
  records/s. Baseline: a plain httpx loop fetching and JSON-decoding every page of every endpoint, one
  after another (no storage) — the floor set by the simulator and HTTP.
- Vendor files: a talentdb-format CSV of 1M rows (quick: 50k) in a tmp landing folder. Figure:
  `run_vendor_files()` (read in blocks, map and check column-wise — email-validator, phonenumbers and
  the URL parser only for values the vectorised fast paths do not recognise —, quarantine, Arrow →
  dlt → append) in rows/s. Baseline: DuckDB `read_csv` of the same file into a table (no validation).
  Both after a warm-up: the baseline after `import duckdb`, the load after a one-row file was loaded
  the same way (dlt's lazy imports and first pipeline set-up are not the file's cost).
"""
from __future__ import annotations

import csv
import os
import random
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import BenchResult, peak_rss_mb, stopwatch

ATS_PEOPLE, ATS_PEOPLE_QUICK = 200_000, 5_000
VENDOR_ROWS, VENDOR_ROWS_QUICK = 1_000_000, 50_000


def _use_home(home: Path, **env: str) -> None:
    os.environ["WARMPOOL_HOME"] = str(home)
    for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE", "WARMPOOL_LANDING_URL", "WARMPOOL_ATS_URL"):
        os.environ.pop(var, None)
    os.environ.update(env)


def _machine_load() -> str:
    # The machine is shared: the 1-minute load average beside each figure says how quiet the run was.
    return f"1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def _httpx_baseline(base_url: str, api_key: str, endpoints) -> int:
    import httpx

    rows = 0
    with httpx.Client(auth=(api_key, ""), timeout=120) as client:
        for endpoint in endpoints:
            url: str | None = f"{base_url}/{endpoint}?per_page=500"
            while url:
                response = client.get(url)
                response.raise_for_status()
                rows += len(response.json())
                url = response.links.get("next", {}).get("url")
    return rows


def bench_ats(people: int, work: Path) -> list[BenchResult]:
    from pipelines.ats import run_ats
    from pipelines.ats.settings import ENDPOINTS
    from sandbox.ats_simulator import RateLimit
    from sandbox.services import SandboxServices
    from sandbox.world import generate_world
    from warmpool.config import get_settings

    world = work / "ats-world"
    _use_home(world)
    with stopwatch() as gen:
        generate_world(people=people, seed=42, home=world)
    settings = get_settings()
    names = [e.name for e in ENDPOINTS]
    load_before = _machine_load()
    with SandboxServices(settings, ats_port=0, smtp_port=0, rate_limit=RateLimit(limit=1_000_000)) as svc:
        with stopwatch() as base:
            baseline_rows = _httpx_baseline(svc.ats_url, settings.ats.api_key, names)
        _use_home(work / "ats-load", WARMPOOL_ATS_URL=svc.ats_url, WARMPOOL_ATS_PER_PAGE="500")
        with stopwatch() as load:
            counts = run_ats()
        with stopwatch() as again:
            rerun = run_ats()
    top = sum(counts[n] for n in names)
    children = sum(v for k, v in counts.items() if k not in names)
    assert top == baseline_rows, (top, baseline_rows)
    assert sum(rerun.values()) == 0
    return [BenchResult(
        what="ATS over HTTP → raw_ats (concurrent pages, column-wise Arrow, dlt merge)", size=f"{people:,} people: {top:,} records "
        f"(+{children:,} child rows)", figure=top / load["seconds"], unit="records/s",
        baseline_what="plain httpx loop, every page fetched + JSON-decoded", baseline_figure=baseline_rows / base["seconds"],
        note=f"load {load['seconds']:.1f} s, baseline {base['seconds']:.1f} s, re-run with nothing new "
             f"{again['seconds']:.1f} s, world generated in {gen['seconds']:.0f} s; peak RSS {peak_rss_mb():,.0f} MB; "
             f"{load_before} before, {_machine_load()} after; "
             "before this rewrite (2026-11-26): 4,995 records/s, ratio 0.084")]


FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eva", "Femi", "Grace", "Hiro", "Ines", "José", "Kai", "Lena"]
LAST = ["Lee", "Ray", "Müller", "Okafor", "Nowak", "García", "Smith", "Tanaka", "Rossi", "O'Neil"]
CITIES = [("Austin", "TX"), ("Denver", "CO"), ("Boston", "MA"), ("Seattle", "WA"), ("Chicago", "IL")]
TITLES = ["Data Engineer", "Backend Developer", "Product Manager", "Recruiter", "Analyst", "SRE"]
SKILLS = ["Python", "SQL", "Java", "Go", "Kubernetes", "dbt", "Spark", "AWS", "Excel"]


def write_talentdb_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A talentdb export (config/vendors.yaml columns, %m/%d/%Y dates) with ~1% bad rows."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["CandidateID", "FirstName", "LastName", "EmailAddress", "Phone", "City", "State", "Country",
                    "LinkedIn", "CurrentTitle", "CurrentEmployer", "Skills", "YearsExp", "LastUpdated"])
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            city, state = rng.choice(CITIES)
            email = f"{first.lower()}.{i}@mail{i % 97}.example.com" if i % 100 else f"{first}.{i}-at-example.com"
            w.writerow([f"TDB{i:08d}", first, last, email, f"({rng.randint(201, 989)}) 555-{i % 10000:04d}",
                        city, state, "United States", f"https://www.linkedin.com/in/{first.lower()}-{i}",
                        rng.choice(TITLES), f"Company {i % 5000}", ",".join(rng.sample(SKILLS, 3)),
                        rng.randint(0, 30), f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2019, 2025)}"])


def bench_vendor(rows: int, work: Path) -> list[BenchResult]:
    import duckdb

    from pipelines.vendor_files import Spill, parse_new_files, run_vendor_files
    from warmpool.config import get_settings

    home = work / "vendor-home"
    _use_home(home)
    settings = get_settings().ensure_dirs()
    write_talentdb_csv(settings.landing_dir / "vendors" / "talentdb" / "talentdb_warmup_2025-05-01.csv", 1)
    run_vendor_files(settings)  # warm-up: one row, through every step
    path = settings.landing_dir / "vendors" / "talentdb" / "talentdb_bench_2025-06-01.csv"
    write_talentdb_csv(path, rows)
    size_mb = path.stat().st_size / 1e6
    load_before = _machine_load()
    with stopwatch() as base, duckdb.connect(str(work / "baseline.duckdb")) as con:
        con.execute(f"create table t as select * from read_csv('{path}', header = true, all_varchar = true)")
        baseline_rows = con.execute("select count(*) from t").fetchone()[0]
    spill = Spill(work / "parse-only")
    with stopwatch() as parse:
        parse_new_files(spill, settings)  # read + map + check into the scratch folder (the part dlt does not do)
    spill.remove()
    with stopwatch() as load:
        counts = run_vendor_files(settings)
    loaded, rejected = counts["resumes"], counts["rejected_rows"]
    assert loaded + rejected == rows == baseline_rows, (loaded, rejected, rows, baseline_rows)
    return [BenchResult(
        what="vendor CSV → raw_vendors.resumes (read in blocks, check column-wise, quarantine, Arrow → dlt append)",
        size=f"{rows:,} rows, {size_mb:,.0f} MB", figure=rows / load["seconds"], unit="rows/s",
        baseline_what="DuckDB read_csv of the same file into a table", baseline_figure=baseline_rows / base["seconds"],
        note=f"total {load['seconds']:.1f} s of which read + map + check ≈ {parse['seconds']:.1f} s; "
             f"{loaded:,} loaded, {rejected:,} quarantined; baseline {base['seconds']:.1f} s; peak RSS so far "
             f"{peak_rss_mb():,.0f} MB; {load_before} before, {_machine_load()} after; "
             "before this rewrite (2026-11-26): 10,498 rows/s, ratio 0.021")]


def run(quick: bool) -> list[BenchResult]:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    saved = dict(os.environ)
    work = Path(tempfile.mkdtemp(prefix="warmpool-bench-ingestion-"))
    try:
        results = bench_vendor(VENDOR_ROWS_QUICK if quick else VENDOR_ROWS, work)
        results += bench_ats(ATS_PEOPLE_QUICK if quick else ATS_PEOPLE, work)
        return results
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(work, ignore_errors=True)
