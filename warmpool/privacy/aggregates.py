"""Counts follow an erasure: the aggregate marts and their parquet exports rebuilt without the person.

An erasure deletes the person's rows from every table that names them, but an aggregate mart
(`marts.rpt_*`, and every mart whose YAML says `meta: {aggregate: true}`) holds counts: groups,
never people, so no row of it is theirs to delete. Its counts still include them until it is built
again. After the erasures of one run, ``rebuild_aggregates`` runs `dbt run` on those marts only
(small tables built from the already-cleaned intermediate tables: no rebuild of anything else), then
rewrites their parquet exports (``warmpool.exports.refresh``).
"""
from __future__ import annotations

import duckdb

from warmpool import exports, tables
from warmpool.config import Settings
from warmpool.dbt_cli import run_dbt
from warmpool.warehouse import connect


def aggregate_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """The aggregate marts present in the warehouse: ``rpt_*`` tables and the exported aggregates."""
    present = {name for (name,) in con.execute(
        "select table_name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE'",
        [tables.MARTS]).fetchall()}
    exported = set((exports.export_manifest(settings) or {}).get(exports.AGGREGATES_FOLDER, []))
    return sorted(name for name in present if name.startswith("rpt_") or name in exported)


def rebuild_aggregates(settings: Settings) -> dict[str, int]:
    """Build the aggregate marts again (dbt, in a child process) and rewrite their exports; what was
    done, for the erasure report. Run while nothing holds the warehouse (as erasure itself)."""
    con = connect(settings.warehouse_path, read_only=True)
    try:
        models = aggregate_marts(con, settings)
    finally:
        con.close()
    if not models:
        return {}
    run_dbt(["run", "--quiet", "--select", *models], settings.warehouse_path)  # the warehouse's own parse
    return {"marts_rebuilt": len(models), "exports_rewritten": len(exports.refresh(models, settings))}
