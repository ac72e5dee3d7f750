"""Time to first render of each dashboard page on a 100k-people world, beside the time of the page's
underlying queries alone.

The world is built like bench_dbt's (generate, load the raw layer with the real loaders, dbt phase 1,
identity from the world's truth, dbt phase 2), then the marts are exported (`warmpool.exports`).
For each page, with Streamlit's data cache cleared: the figure is the page's script run in Streamlit's
AppTest (the role that sees it, default filters: every query, chart and table built, the sidebar's
filter choices included); the baseline is the same page's queries (`warmpool.reporting.queries`) run
alone on a fresh reader (data health: and the run status read from Dagster's run storage). The world
is built without Dagster, so its Dagster home gets a run storage of its own first: three runs of one
stand-in asset per stage of the graph (the page reads only when each stage last materialized and the
latest runs; Dagster is imported for that before any timing, and the page itself never imports it). The browser's drawing is not in either figure. Goal: <= 2 s per page.

Size: 100k people (`BENCH_DASHBOARDS_PEOPLE`); quick mode: 5k.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from benchmarks.bench_dbt import built_world
from benchmarks.common import BenchResult, stopwatch, scratch_home

PEOPLE = 100_000
QUICK_PEOPLE = 5_000
APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
# the role each page is rendered as, and the queries the page runs (with the default filters)
PAGE_QUERIES = {
    "leadership": ("leadership", [("roi_headline",), ("pool_size",), ("roi_by_month", "channel"), ("roi_by_source",),
                                  ("hires_by_attribution", "ats_source"), ("vendor_contracts",), ("referral_totals",),
                                  ("referrals_by_month",), ("pool_growth", "source")]),
    "sourcing": ("data_team", [("recruiter_activity_by_month",), ("recruiter_activity_by_recruiter",),
                               ("silver_medalists_by_family",), ("open_jobs_by_family",), ("referral_totals",),
                               ("referrals_by_month",), ("referrals_by_referrer",)]),
    "campaigns": ("marketer", [("campaign_performance",), ("heat_bands",)]),
    "funnel": ("marketer", [("funnel_totals",), ("funnel_by", "job_family")]),
    "eeo": ("leadership", [("eeo_applicants", "gender")]),
    "data_health": ("data_team", [("source_health",), ("quarantine_reasons",)]),
}


def _seed_run_storage(settings) -> None:
    """Three successful runs with one stand-in asset per stage (its key's first part) in the world's
    Dagster home, so the data-health page reads a real run storage."""
    import dagster as dg

    from warmpool.run_status import STAGES

    assets = [dg.asset(key=[stage, "bench"], name=None)(lambda: None) for stage in STAGES]
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        for _ in range(3):
            dg.materialize(assets, instance=instance)


def _queries_alone(settings, page: str) -> float:
    from warmpool.reporting import queries
    from warmpool.reporting.access import AGGREGATE_PAGES
    from warmpool.reporting.marts import Filters, MartReader
    from warmpool.run_status import stage_status

    reader = MartReader(settings, aggregate_only=page in AGGREGATE_PAGES)
    try:
        with stopwatch() as t:
            queries.filter_choices(reader)
            for name, *args in PAGE_QUERIES[page][1]:
                getattr(queries, name)(reader, Filters(), *args)
            if page == "data_health":
                queries.identity_runs(reader)
                stage_status(settings.dagster_home)
        return t["seconds"]
    finally:
        reader.close()


def _first_render(page: str) -> float:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboards.registry import PAGES

    role = PAGE_QUERIES[page][0]
    script = next(p.script for p in PAGES if p.key == page)
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.session_state["role"] = role
    at.run()   # the role's first page, to register the navigation
    st.cache_data.clear()
    started = time.perf_counter()
    at.switch_page(script).run()
    seconds = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    return seconds


def measure(people: int, workdir: Path) -> list[BenchResult]:
    from assets.dbt_project import parquet_exports
    from warmpool.exports import export_marts

    _, settings = built_world(people, workdir)
    export_marts(parquet_exports(), settings)
    _seed_run_storage(settings)
    out = []
    for page in PAGE_QUERIES:
        alone = min(_queries_alone(settings, page) for _ in range(3))
        render = _first_render(page)
        out.append(BenchResult(what=f"dashboard page {page}: first render (AppTest, cold cache)",
                               size=f"{people:,} people", figure=render, unit="s",
                               baseline_what="the page's queries alone (best of 3)", baseline_figure=alone,
                               note=f"rendered as {PAGE_QUERIES[page][0]}; goal <= 2 s"
                               + ("; run status read from Dagster's SQLite run storage (3 runs)"
                                  if page == "data_health" else "")))
    return out


def run(quick: bool) -> list[BenchResult]:
    people = QUICK_PEOPLE if quick else int(os.environ.get("BENCH_DASHBOARDS_PEOPLE") or PEOPLE)
    with scratch_home("bench-dashboards-") as tmp:
        return measure(people, tmp)
