"""The one warehouse connection helper.

DuckDB allows one writing process per file. Writers (the Dagster run: dlt, identity, dbt,
activation) run one at a time inside a single run; everything else (dashboards, notebooks, the
CLI's read commands) opens the file read-only or reads the parquet exports of the marts.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from warmpool.config import get_settings


def connect(path: Path | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = Path(path or get_settings().warehouse_path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only)


@contextmanager
def warehouse(path: Path | None = None, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, qualified_name: str) -> bool:
    schema, _, name = qualified_name.rpartition(".")
    # fetchall: DuckDB 2 refuses further work on a connection while a result is only partly read.
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema or "main", name],
    ).fetchall()
    return bool(rows[0][0])


def compact(path: Path | None = None) -> tuple[int, int]:
    """Rewrite the warehouse file with only its live rows, so deleted rows' bytes are gone (an erasure).

    DuckDB keeps deleted rows in the file's blocks until they are reused (CHECKPOINT or VACUUM do not
    clear them), so the database is copied into a new file (``COPY FROM DATABASE``: schemas, tables,
    views, sequences, macros) which then replaces the old one. Needs the write lock like any writer
    (no other process may have the file open). Returns the file's size in bytes before and after."""
    path = Path(path or get_settings().warehouse_path)
    fresh = path.with_name(f".{path.name}.compacting")
    fresh.unlink(missing_ok=True)
    before = path.stat().st_size
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach '{path}' as old_wh")
        con.execute("checkpoint old_wh")  # fold the WAL in before copying
        con.execute(f"attach '{fresh}' as new_wh")
        con.execute("copy from database old_wh to new_wh")
        con.execute("detach new_wh")
        con.execute("detach old_wh")
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    os.replace(fresh, path)
    Path(f"{path}.wal").unlink(missing_ok=True)
    return before, path.stat().st_size
