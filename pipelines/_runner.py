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
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from pipelines import _crash
from warmpool.config import Settings, get_settings
from warmpool.warehouse import postgres_target

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
    # Arrow tables (vendor files) get `_dlt_load_id` like dict rows (the validation checks and dbt
    # select by load id) and bring their own `_dlt_id`, stable across re-runs and made in one
    # vectorised step (dlt's would be a random id per row).
    "normalize.parquet_normalizer.add_dlt_load_id": True,
    "normalize.parquet_normalizer.add_dlt_id": False,
}


# DuckDB loads parquet far faster than dlt's default `insert_values` SQL files for it (measured on the
# ATS: load step 12 s -> see BENCHMARKS.md), and Arrow items (vendor files) are already parquet.
LOADER_FILE_FORMAT = "parquet"


def resolve(settings: Settings | None) -> Settings:
    return settings or get_settings()


def destination(settings: Settings) -> Any:
    """dlt's destination for the configured warehouse (`warmpool.warehouse`): the DuckDB file, or
    PostgreSQL when `warehouse_url` is set."""
    pg = postgres_target(settings)
    if pg is None:
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(credentials=str(settings.warehouse_path))
    return dlt.destinations.postgres(credentials={"host": pg.host, "port": pg.port, "username": pg.user,
                                                  "password": pg.password or "", "database": pg.database})  # "": none (trust, or libpq's own lookup)


def make_pipeline(name: str, dataset: str, settings: Settings | None = None) -> dlt.Pipeline:
    """A dlt pipeline loading into `dataset` (a schema) of the configured warehouse."""
    s = resolve(settings)
    s.dlt_dir.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(s.dlt_dir),
        destination=destination(s),
        dataset_name=dataset,
    )


def run(pipeline: dlt.Pipeline, data: Any, expected_tables: Iterable[str] = ()) -> dict[str, int]:
    """Run `data` through `pipeline`; return rows loaded per table (0 for expected tables with none)."""
    _crash.install(data, pipeline.pipeline_name)  # test-only, no-op unless WARMPOOL_CRASH_AT is set
    with dlt.config.values(RUN_CONFIG):
        resumed: dict[str, int] = {}
        if pipeline.has_pending_data:
            # A run cut off after extract left packages behind. `pipeline.run(data)` would only finish
            # those and return without extracting; finish them first, then extract anew.
            resumed = _counts(pipeline.normalize())
            pipeline.load().raise_on_failed_jobs()
            _dedupe_after_resume(pipeline)
        info: LoadInfo = pipeline.run(data, loader_file_format=LOADER_FILE_FORMAT)
        info.raise_on_failed_jobs()
    counts = rows_loaded(pipeline, expected_tables)
    for table, n in resumed.items():
        counts[table] = counts.get(table, 0) + n
    return counts


def _dedupe_after_resume(pipeline: dlt.Pipeline) -> None:
    """Remove rows a resumed load inserted twice (same `_dlt_id`).

    A load killed while jobs were running leaves them "started"; on resume dlt runs them again, and a
    job whose insert into the staging dataset had already committed is then in staging twice. dlt's
    delete-insert merge de-duplicates nested tables by row key but, for a root table that has nested
    tables (ATS candidates, applications, jobs), inserts every staging row whose `_dlt_id` is in its
    de-duplicated key list, i.e. both copies (dlt 1.31; found by tests/test_ingestion_crash.py).
    Only runs after a resume; the row's physical id (DuckDB `rowid`, PostgreSQL `ctid`) picks one copy
    of each identical pair.
    """
    row = "ctid" if pipeline.destination.destination_name == "postgres" else "rowid"
    with pipeline.sql_client() as client:
        for table in pipeline.default_schema.data_tables():
            if "_dlt_id" not in table.get("columns", {}):
                continue
            name = client.make_qualified_table_name(table["name"])
            repair(client, f"delete from {name} where {row} in (select {row} from (select {row}, row_number() "
                           f"over (partition by _dlt_id order by {row}) as n from {name}) as copies where n > 1)")


def repair(client: Any, statement: str) -> None:
    """Runs one repair statement (a delete) through a dlt SQL client; a table never created has nothing
    to repair."""
    try:
        client.execute_sql(statement)
    except DatabaseUndefinedRelation:
        pass


def _counts(normalize_info: Any) -> dict[str, int]:
    row_counts = getattr(normalize_info, "row_counts", None) or {}
    return {t: int(n) for t, n in row_counts.items() if not t.startswith("_dlt")}


def rows_loaded(pipeline: dlt.Pipeline, expected_tables: Iterable[str] = ()) -> dict[str, int]:
    counts = {t: 0 for t in expected_tables}
    trace = pipeline.last_trace
    for table, n in _counts(trace.last_normalize_info if trace else None).items():
        counts[table] = counts.get(table, 0) + n
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
