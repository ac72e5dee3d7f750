"""The pipeline's run status as a plain JSON file beside the exports, so the data-health page (and anyone
with a shell) can see which runs ended how and how fresh each source is without importing Dagster.

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
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

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
