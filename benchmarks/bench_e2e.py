"""The whole pipeline end to end: the demo's Dagster job (`warmpool_all`) on a sandbox world over the real
services (ATS HTTP simulator, SMTP server, provider-list API), then the next day's change to the sources
and the incremental daily run, in the same benchmark run.

The job is executed in this process exactly as `make demo` does (`cli.launch.launch`, the code location's
job, the services' ports as the run's resources), so what is measured is what runs. Per stage (the job's
steps grouped: ingest ATS / vendor files / web store / other sources, validation checks, identity, dbt,
search embedding, saved searches, exports, activation): wall time from the step's start to its end as the
run reports them, and peak resident memory of this process and its children (dbt runs as a child)
sampled every 0.2 s while the stage runs, as PSS (a page shared with a forked worker counted once) beside the
RSS summed over the processes (which counts it once per process). A stage's peak is the highest sample during
its steps. After both runs, the search index refresh alone (`refresh_index`, every embedding cached) in a fresh
process: its peak memory beside the memory of the index's vectors alone.

The change (`sandbox.daily_change.apply_next_day`, 1% of the people: half updated in the ATS, half new
in the ATS and the web forms) arrives between the runs; the daily run then uses the dlt cursors, the
identity's incremental path, incremental dbt models and the search index's embedding cache.

Baselines, same run: for each stage of the full run, the whole full run (the figure is its share); for
each stage of the daily run, the same stage of the full run (the incremental ratio); for the whole daily
run, the whole full run. The search embedding stage is reported as its own row, and the full run's total
is also given without it.

Worlds are generated once per size and generator version into data/bench/ and copied to a scratch folder
for each measurement. Size: 100k; quick mode: 2k. The 1M world is `bench_e2e_1m` (`BENCH=e2e_1m make bench`).
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.common import CACHE, BenchResult, generator_digest, scratch_home
from warmpool.search.embeddings import DIMENSIONS

SIZES = (100_000,)
QUICK_SIZES = (2_000,)
SEED = 42
CHANGE_SHARE = 0.01
SAMPLE_SECONDS = 0.2

# The job's steps (Dagster op names) by stage; a check-only step (`..._valid`) is validation.
STAGES = {
    "raw_ats": "ingest ATS (HTTP)", "raw_vendors": "ingest vendor files", "raw_web_store": "ingest web store",
    "raw_eeo": "ingest other (EEO, sourcing, campaigns)", "raw_sourcing": "ingest other (EEO, sourcing, campaigns)",
    "campaign_definitions": "ingest other (EEO, sourcing, campaigns)",
    "identity__source_record_person": "identity", "dbt_pool_records": "dbt", "dbt_marts": "dbt",
    "dbt_campaign_reports": "dbt", "search__profile_index": "search embedding (profile index)",
    "search__saved_search_matches": "saved searches", "marts_export": "exports (parquet)",
    "audience_files": "activation (audiences, sends, ledger)", "campaign_sends": "activation (audiences, sends, ledger)",
    "send_ledger_load": "activation (audiences, sends, ledger)",
}
VALIDATION = "validation (data checks)"
EMBEDDING = STAGES["search__profile_index"]


def stage_of(step_key: str) -> str:
    return STAGES.get(step_key) or (VALIDATION if step_key.endswith("_valid") else step_key)


def _memory_mb_of_tree(pid: int) -> tuple[float, float]:
    """(PSS, RSS) of a process and all its descendants, in MB (from /proc). PSS counts a page shared by n
    processes 1/n times; the summed RSS counts it n times, so it overstates what a step's forked workers
    (identity's normaliser forks one per core) cost by the parent's whole size for each worker."""
    pss = rss = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                    break
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                    break
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return pss / 1024, rss / 1024


class StageClock:
    """Collects the run's step starts and ends (Dagster events, as they happen) and samples memory."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.step_seconds: dict[str, float] = {}                  # each step's own, beside its stage's
        self.send_reports: dict = {}                              # campaign_sends' `reports` metadata
        self.peak_mb: dict[str, float] = defaultdict(float)       # PSS of the process tree
        self.peak_rss_mb: dict[str, float] = defaultdict(float)   # RSS summed over the process tree
        self._running: dict[str, float] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "StageClock":
        self._sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sampler.join()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            pss, rss = _memory_mb_of_tree(os.getpid())
            for step in list(self._running):
                stage = stage_of(step)
                self.peak_mb[stage] = max(self.peak_mb[stage], pss)
                self.peak_rss_mb[stage] = max(self.peak_rss_mb[stage], rss)

    def on_event(self, event) -> None:
        kind, step = event.event_type_value, event.step_key
        if not step:
            return
        if kind == "STEP_START":
            self._running[step] = time.perf_counter()
        elif kind == "ASSET_MATERIALIZATION" and step == "campaign_sends":
            reports = event.event_specific_data.materialization.metadata.get("reports")
            self.send_reports = getattr(reports, "value", reports) or {}
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and step in self._running:
            self.step_seconds[step] = time.perf_counter() - self._running.pop(step)
            self.seconds[stage_of(step)] += self.step_seconds[step]


def cached_world(people: int) -> Path:
    """A pristine generated world of `people` (generated once per generator version, in a child process)."""
    import subprocess
    import sys

    home = CACHE / f"e2e_world_{people}_{SEED}_{generator_digest()}"
    if not (home / "sandbox" / "truth" / "world.json").exists():
        print(f"   generating sandbox world {people:,} people seed {SEED} ...", flush=True)
        code = ("import sys; from pathlib import Path; from sandbox.world import generate_world; "
                "generate_world(people=int(sys.argv[1]), seed=int(sys.argv[2]), home=Path(sys.argv[3]))")
        subprocess.run([sys.executable, "-c", code, str(people), str(SEED), str(home)], check=True)
    return home


def _point_at(home: Path):
    from warmpool import config

    os.environ.update({"WARMPOOL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "DO_NOT_TRACK": "1",
                       "WARMPOOL_DEMO": "1"})
    for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE", "WARMPOOL_WAREHOUSE"):
        os.environ.pop(var, None)
    config._settings_for.cache_clear()
    return config.get_settings().ensure_dirs()


def run_job(home: Path, as_of: str) -> tuple[float, StageClock]:
    """The demo's job once on the world in `home`, over its sandbox services; wall time and stages."""
    import dagster as dg

    from assets.resources import WarehouseResource
    from cli.demo import sandbox_resources
    from cli.launch import launch
    from sandbox.services import SandboxServices

    settings = _point_at(home)
    with SandboxServices(settings, ats_port=0, smtp_port=0) as services, \
            dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance, StageClock() as clock:
        started = time.perf_counter()
        run = launch(instance, resources=sandbox_resources(services, WarehouseResource(as_of=as_of)),
                     on_event=clock.on_event)
        wall = time.perf_counter() - started
    if not run.success:
        raise RuntimeError(f"the run failed at {[s for s in clock._running] or 'a step'}; see {settings.logs_dir}")
    return wall, clock


def measure(people: int, workdir: Path, label: str = "") -> tuple[list[BenchResult], dict]:
    """The full run, the change, the daily run and the refresh alone on a `people` world: the results (each
    `what` suffixed by `label`), the two runs' and their embedding stages' seconds, when the daily run
    started (time.time()), and each run's `campaign_sends` step: its seconds and its send reports."""
    from sandbox.daily_change import NEXT_DAY, apply_next_day
    from sandbox.world import WORLD_NOW

    home = workdir / f"e2e-{people}"
    shutil.copytree(cached_world(people), home)
    full, full_stages = run_job(home, WORLD_NOW.strftime("%Y-%m-%d"))
    print(f"   full run {full:.0f} s: " + ", ".join(f"{k} {v:.0f} s ({full_stages.peak_mb[k]:,.0f} MB)"
                                                   for k, v in full_stages.seconds.items()), flush=True)
    change = apply_next_day(home, CHANGE_SHARE)
    daily_started = time.time()
    daily, daily_stages = run_job(home, NEXT_DAY.strftime("%Y-%m-%d"))

    size = f"{people:,} people"
    embedding = full_stages.seconds.get(EMBEDDING, 0.0)
    out = [
        BenchResult("whole graph, full run (first run on a fresh warehouse)", size, full, "s",
                    "the same run without its search embedding stage", full - embedding,
                    note=f"search embedding alone {embedding:.0f} s (every profile embedded once); "
                         f"peak PSS {max(full_stages.peak_mb.values(), default=0) / 1024:.1f} GB"),
        BenchResult(f"whole graph, daily run after a {CHANGE_SHARE:.0%} change", size, daily, "s",
                    "the full run, same world", full,
                    note=f"{change.describe()}; daily without search embedding "
                         f"{daily - daily_stages.seconds.get(EMBEDDING, 0.0):.0f} s vs full without it "
                         f"{full - embedding:.0f} s"),
    ]
    for stage in sorted(full_stages.seconds, key=lambda s: -full_stages.seconds[s]):
        out.append(BenchResult(f"full run: {stage}", size, full_stages.seconds[stage], "s",
                               "the whole full run", full, note=_peak_note(full_stages, stage)))
    for stage in sorted(full_stages.seconds, key=lambda s: -full_stages.seconds[s]):
        out.append(BenchResult(f"daily run: {stage}", size, daily_stages.seconds.get(stage, 0.0), "s",
                               "the same stage in the full run", full_stages.seconds[stage],
                               note=_peak_note(daily_stages, stage)))
    out.append(refresh_alone(size))
    for result in out:
        result.what += label
    return out, {"full": full, "daily": daily, "full_embedding": embedding,
                 "daily_embedding": daily_stages.seconds.get(EMBEDDING, 0.0), "daily_started": daily_started,
                 "full_sends": full_stages.step_seconds.get("campaign_sends", 0.0),
                 "full_send_reports": full_stages.send_reports, "daily_send_reports": daily_stages.send_reports}


def _peak_note(clock: StageClock, stage: str) -> str:
    return (f"peak PSS {clock.peak_mb.get(stage, 0.0):,.0f} MB "
            f"(RSS summed over its processes {clock.peak_rss_mb.get(stage, 0.0):,.0f} MB)")


def refresh_alone(size: str) -> BenchResult:
    """The search index refresh (``refresh_index``) alone in a fresh process on the world the runs left
    (every embedding cached, so memory, not embedding, is measured): the peak memory of that process and
    its workers, beside the memory of the index's vectors alone."""
    import json
    import subprocess
    import sys

    code = "from benchmarks.bench_e2e import _refresh_in_this_process; _refresh_in_this_process()"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    peak_pss = peak_rss = 0.0
    while child.poll() is None:
        pss, rss = _memory_mb_of_tree(child.pid)
        peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
        time.sleep(SAMPLE_SECONDS / 2)
    if child.returncode:
        raise RuntimeError(f"the search index refresh failed (exit {child.returncode})")
    report = json.loads(child.stdout.read().strip().splitlines()[-1])
    vectors_mb = report["people"] * DIMENSIONS * 4 / 2**20
    return BenchResult("search index refresh alone (embeddings cached): peak memory (PSS)", size, peak_pss, "MB",
                       "the index's vectors alone (float32)", vectors_mb,
                       note=f"{report['people']:,} people, {report['embedded']} embedded, {report['seconds']:.1f} s; "
                            f"the process held {report['before_mb']:,.0f} MB before it (imports); RSS summed "
                            f"over its processes {peak_rss:,.0f} MB")


def _refresh_in_this_process() -> None:
    """``refresh_alone``'s child: refresh_index on the configured warehouse, a JSON line of what it did."""
    import json

    from warmpool.config import get_settings
    from warmpool.search.refresh import refresh_index
    from warmpool.warehouse import open_warehouse

    before = _memory_mb_of_tree(os.getpid())[1]
    started = time.perf_counter()
    settings = get_settings()
    with open_warehouse(settings, read_only=True) as con:
        report = refresh_index(con, settings)
    print(json.dumps({"people": report.people, "embedded": report.embedded, "before_mb": before,
                      "seconds": time.perf_counter() - started}))


def run(quick: bool) -> list[BenchResult]:
    out: list[BenchResult] = []
    with scratch_home("bench-e2e-") as tmp:
        for people in QUICK_SIZES if quick else SIZES:
            results, _ = measure(people, tmp)
            out += results
            print(f"   {people:,} people: full {results[0].figure:.0f} s, daily {results[1].figure:.0f} s "
                  f"(ratio {results[1].ratio:.3f})", flush=True)
    return out
