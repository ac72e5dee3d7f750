"""What every Warmpool dlt pipeline shares: where it lives, where it loads, how it runs.

One pipeline name per dataset (parallel runs of one name collide on state), the working folder
inside the project's data folder (never ``~/.dlt``), the warehouse DuckDB file as destination, and
run-time settings that keep personal data off the disk once it is in the warehouse.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Iterable

import dlt
from dlt.common.pipeline import LoadInfo

from warmpool.config import Settings, get_settings

# Set before dlt reads its runtime configuration; an explicit environment value still wins.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

# dlt settings applied around every run:
#  - delete_completed_jobs: a loaded package's data files (candidate rows) are removed from the
#    pipelines folder once they are in the warehouse; only metadata stays.
#  - truncate_staging_dataset: merge loads go through `<dataset>_staging`; empty it afterwards so
#    no second copy of personal data lingers in the warehouse.
RUN_CONFIG: dict[str, Any] = {
    "runtime.dlthub_telemetry": False,
    "load.delete_completed_jobs": True,
    "load.truncate_staging_dataset": True,
}


def resolve(settings: Settings | None) -> Settings:
    return settings or get_settings()


def make_pipeline(name: str, dataset: str, settings: Settings | None = None) -> dlt.Pipeline:
    """A dlt pipeline loading into `dataset` (a schema) of the warehouse DuckDB file."""
    s = resolve(settings)
    s.dlt_dir.mkdir(parents=True, exist_ok=True)
    s.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(s.dlt_dir),
        destination=dlt.destinations.duckdb(credentials=str(s.warehouse_path)),
        dataset_name=dataset,
    )


def run(pipeline: dlt.Pipeline, data: Any, expected_tables: Iterable[str] = ()) -> dict[str, int]:
    """Run `data` through `pipeline`; return rows loaded per table (0 for expected tables with none)."""
    with dlt.config.values(RUN_CONFIG):
        info: LoadInfo = pipeline.run(data)
        info.raise_on_failed_jobs()
    return rows_loaded(pipeline, expected_tables)


def rows_loaded(pipeline: dlt.Pipeline, expected_tables: Iterable[str] = ()) -> dict[str, int]:
    counts = {t: 0 for t in expected_tables}
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    for table, n in (normalize.row_counts if normalize else {}).items():
        if not table.startswith("_dlt"):
            counts[table] = counts.get(table, 0) + int(n)
    return counts


def pipeline_state(name: str, settings: Settings | None = None) -> dict:
    """The local state of pipeline `name` without touching the warehouse (safe for sensors)."""
    s = resolve(settings)
    if not (s.dlt_dir / name / "state.json").exists():
        return {}  # never run (or its folder was removed): dlt restores state from the warehouse on the next run
    return dlt.attach(pipeline_name=name, pipelines_dir=str(s.dlt_dir)).state


def content_hash(record: Any) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def is_changed(item: dict, state: dict, key: str = "id") -> bool:
    """True when `item`'s content differs from the last run's (hashes kept in `state`).

    For small reference lists without an update cursor: a re-run then loads nothing twice.
    Only the digest is kept in state, never the record.
    """
    seen: dict = state.setdefault("hashes", {})
    digest, ident = content_hash(item), str(item[key])
    if seen.get(ident) == digest:
        return False
    seen[ident] = digest
    return True
