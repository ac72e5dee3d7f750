"""The one warehouse connection helper.

DuckDB allows one writing process per file. Writers (the Dagster run: dlt, identity, dbt,
activation) run one at a time inside a single run; everything else (dashboards, notebooks, the
CLI's read commands) opens the file read-only or reads the parquet exports of the marts.
"""
from __future__ import annotations

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
