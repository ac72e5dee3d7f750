"""`make demo` and `warmpool run`: run the whole asset graph as a run of the Dagster code location, one
line per stage on the terminal, the full logs in a file under data/logs/."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg

from assets.definitions import defs
from assets.resources import AtsResource, ProviderListResource, SmtpResource, WarehouseResource
from cli.launch import JOB_NAME, LaunchedRun, launch
from cli.stages import StageReport, log_to
from sandbox.services import SANDBOX_PROVIDER_KEY, SandboxServices
from sandbox.world import generate_world
from warmpool import tables
from warmpool.config import Settings, get_settings
from warmpool.warehouse import table_exists, warehouse


@dataclass
class Timings:
    setup: float | None = None
    world: float = 0.0
    pipeline: float = 0.0


def sandbox_resources(services: SandboxServices, warehouse_resource: WarehouseResource | None = None) -> dict:
    """The run's resources pointed at the sandbox's running ATS simulator, SMTP server and provider-list API."""
    return {"ats": AtsResource(base_url=services.ats_url),
            "smtp": SmtpResource(host=services.smtp_host, port=services.smtp_port),
            "provider_list": ProviderListResource(base_url=services.provider_url, api_key=SANDBOX_PROVIDER_KEY),
            **({"warehouse": warehouse_resource} if warehouse_resource else {})}


def job_steps(job_name: str = JOB_NAME) -> tuple[dict[str, int], frozenset[str]]:
    """Per step of the job: how many assets and checks it reports (a progress bar's total), and the
    steps that only run checks."""
    steps, check_only = {}, set()
    for assets_def in defs.resolve_job_def(job_name).asset_layer.asset_graph.assets_defs:
        if not assets_def.is_executable:
            continue
        name = assets_def.node_def.name
        steps[name] = len(assets_def.keys) + len(assets_def.check_keys)
        if not assets_def.keys:
            check_only.add(name)
    return steps, frozenset(check_only)


def _log_path(settings: Settings, what: str) -> Path:
    return settings.logs_dir / f"{what}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.log"


def run_graph(instance: dg.DagsterInstance, report: StageReport, resources: dict | None = None,
              tags: dict | None = None) -> LaunchedRun:
    with report.live():
        return launch(instance, resources=resources, tags=tags, on_event=report.on_event)


def run_once(settings: Settings) -> bool:
    """`warmpool run`: the whole graph once against the configured ATS, files and SMTP relay."""
    log_path = _log_path(settings, "run")
    print(f"Warmpool: running {JOB_NAME}; full logs (Dagster, dlt, dbt): {log_path}", flush=True)
    steps, check_steps = job_steps()
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance, log_to(log_path) as terminal:
        report = StageReport(terminal, steps, check_steps)
        run = run_graph(instance, report)
        report.note(f"run {run.run_id}: {'succeeded' if run.success else 'FAILED'} (make dagster shows it under "
                    f"{JOB_NAME}); full logs: {log_path}")
    return run.success


def run_demo(people: int, seed: int, ats_port: int | None = None, smtp_port: int | None = None) -> bool:
    """Generate the sandbox, start its services, run the whole graph, print a summary."""
    settings = get_settings().ensure_dirs()
    timings = Timings()
    started = os.environ.get("WARMPOOL_SETUP_STARTED")
    if started:
        timings.setup = time.time() - float(started)
    log_path = _log_path(settings, "demo")
    print(f"Warmpool demo: a sandbox world of {people:,} people (seed {seed}) through the whole pipeline.\n"
          f"Full logs (Dagster, dlt, dbt): {log_path}", flush=True)
    steps, check_steps = job_steps()
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance, log_to(log_path) as terminal:
        report = StageReport(terminal, steps, check_steps)
        with report.live():
            t0 = time.perf_counter()
            with report.stage("sandbox world") as done:
                world = generate_world(people=people, seed=seed)
                done(f"{world.people:,} people, {world.source_records:,} source records "
                     f"in {len(world.records_by_source)} sources")
            timings.world = time.perf_counter() - t0
            with report.stage("sandbox ATS API and SMTP server") as done:
                services = SandboxServices(settings, ats_port=ats_port, smtp_port=smtp_port).start()
                done(f"ATS {services.ats_url}, SMTP {services.smtp_host}:{services.smtp_port}")
        try:
            t1 = time.perf_counter()
            run = run_graph(instance, report, resources=sandbox_resources(services), tags={"warmpool/demo": "true"})
            timings.pipeline = time.perf_counter() - t1
        finally:
            services.stop()
        if run.success:
            report.note(summary(people, timings, log_path, run.run_id))
        else:
            report.note(f"\nThe demo's run {run.run_id} failed at {', '.join(report.failed) or 'start-up'}. "
                        f"What happened: {log_path} (or `make dagster`, run {run.run_id}).")
    return run.success


def _count(con, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0])


def summary(people: int, timings: Timings, log_path: Path, run_id: str) -> str:
    settings = get_settings()
    lines = ["", "=" * 72, "Warmpool demo finished", "=" * 72]
    with warehouse(read_only=True) as con:
        records = _count(con, f"select count(*) from {tables.PERSON_ASSIGNMENTS}")
        persons = _count(con, f"select count(distinct person_id) from {tables.PERSON_ASSIGNMENTS}")
        lines.append(f"People in the pool:        {persons:,}  (the world holds {people:,} real people)")
        lines.append(f"Source records resolved:   {records:,}  -> duplicates merged: {records - persons:,}")
        lines.append("Records per source:")
        for source, n in con.execute(
            f"select source, count(*) from {tables.PERSON_ASSIGNMENTS} group by 1 order by 2 desc"
        ).fetchall():
            lines.append(f"  {source:<16} {n:>9,}")
        if table_exists(con, tables.QUARANTINED_ROWS):
            lines.append(f"Rows quarantined:          {_count(con, f'select count(*) from {tables.QUARANTINED_ROWS}'):,}"
                         f"  (quarantine.rejected_rows: file, row, field, reason)")
        lines.append(f"Candidates (dim_candidates): {_count(con, f'select count(*) from {tables.DIM_CANDIDATES}'):,}")
        lines.append(f"Applications (fct_applications): {_count(con, f'select count(*) from {tables.FCT_APPLICATIONS}'):,}")
        lines.append("Audiences:")
        for campaign_id, n in con.execute(
            f"select campaign_id, count(*) from {tables.AUDIENCE_MEMBERS} group by 1 order by 1"
        ).fetchall():
            lines.append(f"  {campaign_id:<28} {n:>7,} members -> {settings.audiences_dir / (campaign_id + '.csv')}")
    received = len(list(Path(settings.mailbox_dir).glob("*.eml")))
    lines.append(f"Emails received by the sandbox SMTP server: {received:,} in {settings.mailbox_dir}")
    lines.append("Timings: " + ", ".join(
        ([f"set-up (install, dbt manifest) {timings.setup:.1f} s"] if timings.setup is not None else [])
        + [f"sandbox world {timings.world:.1f} s", f"pipeline (whole asset graph) {timings.pipeline:.1f} s"]))
    lines.append("")
    lines.append("Where to look:")
    lines.append(f"  warehouse (DuckDB, schema marts): {settings.warehouse_path}")
    lines.append(f"  mart exports (parquet):           {settings.exports_dir / 'marts'} "
                 f"(aggregate-only: {settings.exports_dir / 'aggregates'})")
    lines.append(f"  audience files:                   {settings.audiences_dir}")
    lines.append(f"  received mail (.eml):             {settings.mailbox_dir}")
    lines.append(f"  full logs (Dagster, dlt, dbt):    {log_path}")
    lines.append(f"  Dagster UI (assets, runs, checks): make dagster      -> http://127.0.0.1:3000 (run {run_id[:8]} "
                 f"under {JOB_NAME})")
    lines.append("  Dashboards:                        make dashboards   -> http://127.0.0.1:8501 (leadership ROI, "
                 "sourcing, campaigns, funnel, data health, EEO, recruiter search, look-up; local mode: role in the sidebar)")
    lines.append('  Search the pool:                   .venv/bin/warmpool search "data engineer spark" --contactable')
    lines.append("  Candidate web (opt-in, referral, unsubscribe links in the mail): make web -> http://127.0.0.1:8300")
    lines.append("  dbt docs (models, columns, tests):  make dbt-docs     -> http://127.0.0.1:8580")
    return "\n".join(lines)
