"""`make demo`: generate the sandbox, start its services, run the whole asset graph, summarise."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from warmpool import tables
from warmpool.config import REPO_ROOT, get_settings
from warmpool.warehouse import table_exists, warehouse


@dataclass
class Timings:
    setup: float | None = None
    world: float = 0.0
    pipeline: float = 0.0
    steps: dict = field(default_factory=dict)


def run_pipeline(instance=None, log_level: str = "INFO"):
    """Materialise the whole asset graph in this process (the sandbox services must be running)."""
    from assets.definitions import defs

    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    return defs.resolve_job_def("warmpool_all").execute_in_process(
        instance=instance, raise_on_error=True, run_config=run_config)


def run_demo(people: int, seed: int) -> None:
    from dagster import DagsterInstance

    from sandbox.services import SandboxServices
    from sandbox.world import generate_world

    settings = get_settings().ensure_dirs()
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home))
    timings = Timings()
    started = os.environ.get("WARMPOOL_SETUP_STARTED")
    if started:
        timings.setup = time.time() - float(started)

    print(f"Warmpool demo: generating a sandbox world of {people:,} people (seed {seed}) ...", flush=True)
    t0 = time.perf_counter()
    world = generate_world(people=people, seed=seed)
    timings.world = time.perf_counter() - t0

    print("Starting the ATS API simulator and the SMTP server, then running the whole asset graph ...", flush=True)
    with SandboxServices(settings) as services:
        os.environ["WARMPOOL_ATS_URL"] = services.ats_url
        os.environ["WARMPOOL_SMTP_HOST"] = services.smtp_host
        os.environ["WARMPOOL_SMTP_PORT"] = str(services.smtp_port)
        t1 = time.perf_counter()
        instance = DagsterInstance.get()  # persistent: `dagster dev` shows this run afterwards
        run_pipeline(instance)
        timings.pipeline = time.perf_counter() - t1
    print(summary(people=people, world=world, timings=timings))


def _count(con, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0])


def summary(people: int, world, timings: Timings) -> str:
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
            lines.append(f"Rows quarantined:          {_count(con, f'select count(*) from {tables.QUARANTINED_ROWS}'):,}")
        lines.append(f"Candidates (dim_candidates): {_count(con, f'select count(*) from {tables.DIM_CANDIDATES}'):,}")
        lines.append(f"Applications (fct_applications): {_count(con, f'select count(*) from {tables.FCT_APPLICATIONS}'):,}")
        lines.append("Audiences:")
        for campaign_id, n in con.execute(
            f"select campaign_id, count(*) from {tables.AUDIENCE_MEMBERS} group by 1 order by 1"
        ).fetchall():
            lines.append(f"  {campaign_id:<28} {n:>7,} members -> {settings.audiences_dir / (campaign_id + '.csv')}")
    received = len(list(Path(settings.mailbox_dir).glob("*.eml")))
    lines.append(f"Emails received by the sandbox SMTP server: {received:,} in {settings.mailbox_dir}")
    lines.append("")
    lines.append("Timings:")
    if timings.setup is not None:
        lines.append(f"  set-up (install, dbt manifest):  {timings.setup:7.1f} s")
    lines.append(f"  sandbox world generation:        {timings.world:7.1f} s")
    lines.append(f"  pipeline (whole asset graph):    {timings.pipeline:7.1f} s")
    lines.append("")
    lines.append("Where to look:")
    lines.append(f"  warehouse (DuckDB, schema marts): {settings.warehouse_path}")
    lines.append(f"  mart exports (parquet):           {settings.exports_dir / 'marts'}")
    lines.append(f"  audience files:                   {settings.audiences_dir}")
    lines.append(f"  received mail (.eml):             {settings.mailbox_dir}")
    lines.append("  Dagster UI (assets, runs, checks): make dagster      -> http://127.0.0.1:3000")
    lines.append("  Dashboards:                        make dashboards   -> http://127.0.0.1:8501")
    lines.append("  Candidate web (opt-in, referral, unsubscribe links in the mail): make web -> http://127.0.0.1:8300")
    lines.append("  dbt docs (models, columns, tests):  make dbt-docs     -> http://127.0.0.1:8580")
    lines.append(f"  (run from {REPO_ROOT})")
    return "\n".join(lines)
