"""The pipeline's run status for the data-health page: when each stage last materialized, and the
latest runs. Operational state, not a warehouse figure: no mart holds it.

Read straight from the Dagster instance's own SQLite storage under the data folder (the default
storage `warmpool.config` sets up: `history/runs.db` for runs, `history/runs/index.db` for the event
log), opened read-only with plain SQL. Importing Dagster to ask it the same costs ~2.5 s per
dashboard process, more than the page's whole render budget; these queries take milliseconds and can
never take a lock the pipeline needs.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

# Each stage of the graph, by the first part of its assets' keys; a stage not listed shows by its key.
STAGES = {"raw_ats": "ATS load", "raw_vendors": "Vendor files load", "raw_forms": "Web store load",
          "raw_email": "Email events load", "raw_campaigns": "Campaign definitions", "raw_sourcing": "Sourcing load",
          "raw_eeo": "EEO answers load", "raw_sends": "Sent messages load", "identity": "Identity resolution",
          "staging": "dbt staging", "intermediate": "dbt intermediate", "marts": "dbt marts",
          "marts_export": "Parquet exports", "search": "Search index", "audience_files": "Audience files",
          "campaign_sends": "Campaign sends"}
STAGE_COLUMNS = ["stage", "last_success", "assets"]
RUN_COLUMNS = ["run", "job", "status", "started", "ended"]


class RunStorageUnreadable(RuntimeError):
    """The instance's run storage is not the default SQLite files (or they cannot be read)."""


def _read_only(path: Path) -> sqlite3.Connection:
    # mode=ro: never creates, never writes; a pipeline writing at the same moment only makes us wait briefly
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def _utc(value) -> pd.Timestamp | None:
    """Dagster stores event times as naive UTC text and run times as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return pd.Timestamp(datetime.fromtimestamp(value, tz=timezone.utc).replace(tzinfo=None))
    return pd.Timestamp(value)


def stage_status(dagster_home: Path, runs: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per stage: the last successful materialization and how many assets it has; the latest `runs`
    runs), both empty before any run. Raises RunStorageUnreadable when the instance keeps its runs
    elsewhere (e.g. Postgres run storage configured in dagster.yaml)."""
    history = dagster_home / "history"
    runs_db, events_db = history / "runs.db", history / "runs" / "index.db"
    if not runs_db.exists() or not events_db.exists():
        if (dagster_home / "dagster.yaml").exists() and "storage" in (dagster_home / "dagster.yaml").read_text():
            raise RunStorageUnreadable(f"{dagster_home / 'dagster.yaml'} configures another run storage; "
                                       "read run status in the Dagster UI")
        return pd.DataFrame(columns=STAGE_COLUMNS), pd.DataFrame(columns=RUN_COLUMNS)
    try:
        with closing(_read_only(events_db)) as con:
            materialized = con.execute("""
                select asset_key, max(timestamp) from event_logs
                where dagster_event_type = 'ASSET_MATERIALIZATION' and asset_key is not null
                group by asset_key""").fetchall()
        with closing(_read_only(runs_db)) as con:
            recent = con.execute("""
                select run_id, pipeline_name, status, start_time, end_time from runs
                order by id desc limit ?""", [runs]).fetchall()
    except sqlite3.Error as exc:
        raise RunStorageUnreadable(f"cannot read Dagster's run storage in {history}: {exc}") from exc
    last: dict[str, tuple[str, int]] = {}
    for key, when in materialized:
        stage = json.loads(key)[0]
        newest, assets = last.get(stage, ("", 0))
        last[stage] = (max(newest, when), assets + 1)
    order = list(STAGES)
    stages = pd.DataFrame([{"stage": STAGES.get(k, k), "last_success": _utc(when), "assets": n}
                           for k, (when, n) in sorted(last.items(), key=lambda kv: (
                               order.index(kv[0]) if kv[0] in order else len(order), kv[0]))],
                          columns=STAGE_COLUMNS)
    recent_runs = pd.DataFrame([{"run": run_id[:8], "job": job, "status": status.lower(), "started": _utc(start),
                                 "ended": _utc(end)} for run_id, job, status, start, end in recent],
                               columns=RUN_COLUMNS)
    return stages, recent_runs
