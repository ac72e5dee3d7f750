"""The pipeline's run status, readable without importing Dagster (the import alone costs ~2.5 s, more
than a dashboard page's render budget). Two views, one owner:

- a plain JSON file beside the exports (`record_run` / `read_run_status` / `freshness`): which runs
  ended how and how fresh each source is, for alerts, the shell and the data-health page;
- Dagster's own SQLite run storage read-only with plain SQL (`stage_status`): when each stage last
  materialized and the latest runs, for the data-health page.

`record_run` is the one writer: the Dagster run-status sensors call it when a run ends, and so does
`warmpool run` / the demo after the run they launch. A run is recorded once under its id (recording it
again replaces it), the newest `KEEP_RUNS` are kept, and each asset's last materialisation is kept
for ever. The file is replaced atomically: a reader never sees half of it.

`freshness` compares the newest load of each source and of the read marts with
`operations.freshness_hours` (config/warmpool.yaml) — the same limits the Dagster freshness checks use.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from warmpool.config import FRESHNESS_TARGETS, Settings

RUN_STATUS_FILE = "run_status.json"
KEEP_RUNS = 50

# What each freshness target means in asset keys: the first part of the keys of its assets
# (`audience_files` is one asset; the marts are every `marts/...` key).
FRESHNESS_ASSET_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "ats": ("raw_ats", "raw_eeo"), "vendors": ("raw_vendors",), "web_forms": ("raw_forms", "raw_email"),
    "marts": ("marts",), "audiences": ("audience_files",),
}
assert set(FRESHNESS_ASSET_PREFIXES) == set(FRESHNESS_TARGETS)


@dataclass(frozen=True)
class RunRecord:
    """One finished run: what ran, how it ended, and which assets it materialised."""
    run_id: str
    job_name: str
    status: str  # success | failure | canceled
    started_at: str | None  # ISO 8601, UTC
    ended_at: str | None
    materialized: Mapping[str, str] = field(default_factory=dict)  # asset key ("a/b") -> when (ISO 8601, UTC)
    error: str | None = None  # the failure's first lines
    failed_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Freshness:
    target: str  # ats, vendors, web_forms, marts, audiences
    last_update: str | None  # ISO 8601, UTC; None: never loaded
    limit_hours: float
    stale: bool


def run_status_path(settings: Settings) -> Path:
    return settings.exports_dir / RUN_STATUS_FILE


def iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat()


def read_run_status(settings: Settings) -> dict:
    """{"runs": [newest first], "assets": {asset key: last materialised at}}; empty before any run."""
    path = run_status_path(settings)
    if not path.exists():
        return {"runs": [], "assets": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def record_run(settings: Settings, record: RunRecord) -> Path:
    """Add (or replace) one finished run in the run-status file; returns its path."""
    status = read_run_status(settings)
    runs = [r for r in status["runs"] if r["run_id"] != record.run_id]
    runs.insert(0, {**asdict(record), "materialized": sorted(record.materialized)})
    runs.sort(key=lambda r: r.get("ended_at") or "", reverse=True)
    assets = dict(status["assets"])
    for key, when in record.materialized.items():
        assets[key] = max(assets.get(key) or "", when)
    path = run_status_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".run_status-", suffix=".json",
                                     delete=False, encoding="utf-8") as tmp:
        json.dump({"runs": runs[:KEEP_RUNS], "assets": assets}, tmp, indent=1, sort_keys=True)
    os.replace(tmp.name, path)
    return path


def freshness(settings: Settings, now: dt.datetime | None = None,
              targets: Iterable[str] = FRESHNESS_TARGETS) -> list[Freshness]:
    """Per target, its newest materialisation and whether it is older than its configured limit."""
    now = now or dt.datetime.now(dt.timezone.utc)
    assets = read_run_status(settings)["assets"]
    out = []
    for target in targets:
        prefixes = FRESHNESS_ASSET_PREFIXES[target]
        times = [t for key, t in assets.items() if key.split("/")[0] in prefixes]
        last = max(times) if times else None
        limit = settings.operations.freshness_hours[target]
        stale = last is None or now - dt.datetime.fromisoformat(last) > dt.timedelta(hours=limit)
        out.append(Freshness(target, last, limit, stale))
    return out


# ---- Dagster's own run storage, read-only ----
# Read straight from the instance's default SQLite storage under the data folder (`history/runs.db` for runs,
# `history/runs/index.db` for the event log): milliseconds, and never a lock the pipeline needs.
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
        return pd.Timestamp(dt.datetime.fromtimestamp(value, tz=dt.timezone.utc).replace(tzinfo=None))
    return pd.Timestamp(value)


def stage_status(dagster_home: Path, runs: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per stage: the last successful materialization and how many assets it has; the latest `runs`
    runs), both empty before any run. Raises RunStorageUnreadable when the instance keeps its runs
    elsewhere (e.g. Postgres run storage configured in dagster.yaml)."""
    history = dagster_home / "history"
    runs_db, events_db = history / "runs.db", history / "runs" / "index.db"
    if not runs_db.exists() or not events_db.exists():
        yaml_file = dagster_home / "dagster.yaml"
        if yaml_file.exists() and re.search(r"^(storage|run_storage):", yaml_file.read_text(), re.MULTILINE):
            raise RunStorageUnreadable(f"{yaml_file} configures another run storage; "
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
