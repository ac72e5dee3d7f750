"""The one warehouse connection helper.

The warehouse is the DuckDB file (default) or a PostgreSQL database (``Settings.warehouse_url``:
``WARMPOOL_WAREHOUSE=postgresql://...`` or ``warehouse.url`` in the yaml). Everything that needs to
reach the configured warehouse asks here: dlt's destination (``pipelines/_runner.py``), dbt's target
(``dbt_target``), Splink's Postgres backend (``sqlalchemy_engine``), and the Python steps that read a
query into a polars frame or a parquet file, or replace a table with one, on whichever engine is configured
(``read_frame``, ``query_to_parquet``, ``replace_table``), or hold a connection to it for several statements
(``open_warehouse``: a DuckDB connection, or ``PostgresConnection``, which answers the part of DuckDB's
connection interface the steps use). ``connect``/``warehouse`` open the DuckDB file itself (the steps
that only make sense on it: compaction, erasure, identity's own pool file).

DuckDB allows one writing process per file. Writers (the Dagster run: dlt, identity, dbt,
activation) run one at a time inside a single run; everything else (dashboards, notebooks, the
CLI's read commands) opens the file read-only or reads the parquet exports of the marts.
"""
from __future__ import annotations

import io
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

import duckdb
import polars as pl

from warmpool.config import Settings, get_settings


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


def table_exists(con: "WarehouseConnection", qualified_name: str) -> bool:
    """Whether ``schema.table`` exists, on either engine's connection."""
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


# --- the configured warehouse: DuckDB file or PostgreSQL ---------------------------------------------

@dataclass(frozen=True)
class PostgresTarget:
    """Where a PostgreSQL warehouse is, parsed from ``warehouse_url`` (the password kept apart)."""
    host: str
    port: int
    user: str
    database: str
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> "PostgresTarget":
        parts = urlsplit(url)
        database = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not parts.username or not database:
            raise ValueError("the warehouse URL must name a user, a host and a database: "
                             "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        # no password in the URL: libpq's own PGPASSWORD, which dbt's connection reads too
        password = unquote(parts.password) if parts.password else os.environ.get("PGPASSWORD") or None
        return cls(host=parts.hostname, port=parts.port or 5432, user=unquote(parts.username), database=database,
                   password=password)

    @property
    def sqlalchemy_url(self) -> Any:
        from sqlalchemy.engine import URL  # SQLAlchemy only where a Postgres warehouse is used

        return URL.create("postgresql+psycopg2", username=self.user, password=self.password, host=self.host,
                          port=self.port, database=self.database)


def postgres_target(settings: Settings | None = None) -> PostgresTarget | None:
    """The PostgreSQL warehouse, or None when the warehouse is the DuckDB file."""
    url = (settings or get_settings()).warehouse_url
    return PostgresTarget.from_url(url) if url else None


def dbt_target(settings: Settings | None = None) -> tuple[str, dict[str, str], dict[str, str]]:
    """dbt's target name (``dev``: DuckDB, ``postgres``), the ``--vars`` that locate the warehouse
    (profiles.yml reads them) and the environment the dbt process needs beside its own (the Postgres
    password as ``PGPASSWORD``, never on a command line)."""
    s = settings or get_settings()
    pg = postgres_target(s)
    if pg is None:
        return "dev", {"warehouse_path": str(s.warehouse_path)}, {}
    return ("postgres", {"pg_host": pg.host, "pg_port": str(pg.port), "pg_user": pg.user, "pg_database": pg.database},
            {"PGPASSWORD": pg.password} if pg.password and pg.password != os.environ.get("PGPASSWORD") else {})


def sqlalchemy_engine(settings: Settings | None = None) -> Any:
    """A SQLAlchemy engine on the PostgreSQL warehouse (Splink's ``PostgresAPI`` takes one)."""
    from sqlalchemy import create_engine  # SQLAlchemy only where a Postgres warehouse is used

    pg = postgres_target(settings)
    if pg is None:
        raise ValueError("no PostgreSQL warehouse is configured (WARMPOOL_WAREHOUSE=postgresql://... or "
                         "warehouse.url in config/warmpool.yaml)")
    return create_engine(pg.sqlalchemy_url)


# --- frames in and out of the configured warehouse (either engine) -----------------------------------

# polars type -> PostgreSQL column type, for the frames the Python steps write
_POSTGRES_TYPES = {pl.String: "text", pl.Boolean: "boolean", pl.Int8: "bigint", pl.Int16: "bigint",
                   pl.Int32: "bigint", pl.Int64: "bigint", pl.UInt8: "bigint", pl.UInt16: "bigint",
                   pl.UInt32: "bigint", pl.Float32: "double precision", pl.Float64: "double precision",
                   pl.Date: "date"}


def _postgres_type(name: str, dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamptz" if dtype.time_zone else "timestamp"
    found = _POSTGRES_TYPES.get(dtype.base_type())
    if found is None:
        raise TypeError(f"column {name!r}: no PostgreSQL type for polars {dtype} (add it to _POSTGRES_TYPES)")
    return found


class PostgresConnection:
    """A connection to the PostgreSQL warehouse that answers what the steps ask of a DuckDB connection:
    ``execute(sql, params)`` with ``?`` placeholders (``%s`` for psycopg2), then ``fetchall``,
    ``fetchone``, ``description``, ``pl`` or ``df``; ``executemany``; ``begin transaction`` / ``commit``
    / ``rollback`` as statements (the connection runs in autocommit otherwise). The SQL itself must be
    what both engines accept. ``?`` inside a string literal is not supported (never needed so far)."""

    def __init__(self, pg: PostgresTarget):
        import psycopg2  # the PostgreSQL driver only where a Postgres warehouse is used

        self._con = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=pg.database,
                                     password=pg.password)
        # PostgreSQL's numeric (avg, round, sums of decimals) as floats, as DuckDB's doubles arrive
        numeric = psycopg2.extensions.new_type(psycopg2.extensions.DECIMAL.values, "NUMERIC_AS_FLOAT",
                                               lambda value, cursor: float(value) if value is not None else None)
        psycopg2.extensions.register_type(numeric, self._con)
        self._con.autocommit = True  # explicit `begin transaction` ... `commit` where a step wants one
        self._cursor: Any = None

    @staticmethod
    def _placeholders(sql: str, params: Any) -> str:
        return sql if params is None else sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Any = None) -> "PostgresConnection":
        cursor = self._con.cursor()
        cursor.execute(self._placeholders(sql, params), params)
        self._cursor = cursor
        return self

    def executemany(self, sql: str, rows: Any) -> "PostgresConnection":
        cursor = self._con.cursor()
        cursor.executemany(self._placeholders(sql, ()), rows)
        self._cursor = cursor
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()

    def fetchone(self) -> tuple | None:
        return self._cursor.fetchone()

    def pl(self) -> pl.DataFrame:
        columns = [d[0] for d in self._cursor.description]
        return pl.DataFrame(self._cursor.fetchall(), schema=columns, orient="row", infer_schema_length=None)

    def df(self) -> Any:
        return self.pl().to_pandas()

    def copy_from_csv(self, qualified_name: str, rows: io.BytesIO) -> None:
        self._con.cursor().copy_expert(f"copy {qualified_name} from stdin with (format csv, null '\\N')", rows)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "PostgresConnection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


WarehouseConnection = duckdb.DuckDBPyConnection | PostgresConnection


@contextmanager
def open_warehouse(settings: Settings | None = None, *, read_only: bool = False) -> Iterator[WarehouseConnection]:
    """A connection to the configured warehouse: the DuckDB file (``read_only`` as asked) or PostgreSQL
    (``read_only`` is the caller's promise there: the server takes other writers)."""
    s = settings or get_settings()
    pg = postgres_target(s)
    if pg is None:
        with warehouse(s.warehouse_path, read_only=read_only) as con:
            yield con
        return
    with PostgresConnection(pg) as con:
        yield con


def warehouse_exists(settings: Settings | None = None) -> bool:
    """Whether there is a warehouse to read: the DuckDB file exists, or a PostgreSQL one is configured."""
    s = settings or get_settings()
    return s.warehouse_url is not None or Path(s.warehouse_path).exists()


def read_frame(sql: str, settings: Settings | None = None, params: Any = None) -> pl.DataFrame:
    """A query's result from the configured warehouse (DuckDB file or PostgreSQL) as a polars frame.
    Keep the SQL to what both engines share (dbt's cross-database subset); parameters are ``?``."""
    # not read-only: a DuckDB file that this process already holds open read-write (dbt-duckdb keeps its
    # instance) refuses a second, read-only configuration
    with open_warehouse(settings) as con:
        return frame_of(con, sql, params)


def frame_of(con: WarehouseConnection, sql: str, params: Any = None) -> pl.DataFrame:
    """``read_frame`` on an open connection of either engine."""
    if isinstance(con, PostgresConnection):
        return con.execute(sql, params).pl()
    # through a relation: DuckDB 2 copies rows for arrow off a DB-API result
    return pl.from_arrow(con.sql(sql, params=params).arrow().read_all())


def query_to_parquet(con: WarehouseConnection, sql: str, path: Path) -> None:
    """Write a query's result to the parquet file ``path`` on an open connection of either engine: DuckDB
    streams it there itself (``COPY ... TO``, the rows never become Python objects); PostgreSQL's result
    goes through one polars frame."""
    if isinstance(con, PostgresConnection):
        con.execute(sql).pl().write_parquet(path)
        return
    quoted = str(path).replace("'", "''")
    con.execute(f"copy ({sql}) to '{quoted}' (format parquet)")


def replace_duckdb_table(con: duckdb.DuckDBPyConnection, qualified_name: str, frame: pl.DataFrame) -> int:
    """``replace_table`` on an open DuckDB connection (the warehouse file or a step's own DuckDB)."""
    schema, _, _ = qualified_name.rpartition(".")
    con.register("_replacing", frame.to_arrow())
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create or replace table {qualified_name} as select * from _replacing")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")  # the caller's connection stays usable and the old table stays whole
        raise
    finally:
        con.unregister("_replacing")
    return frame.height


def replace_table(qualified_name: str, frame: pl.DataFrame, settings: Settings | None = None) -> int:
    """Replace ``schema.table`` in the configured warehouse with ``frame``, in one transaction (a reader
    sees the old table or the new one); returns the rows written."""
    with open_warehouse(settings) as con:
        return replace_table_on(con, qualified_name, frame)


def replace_table_on(con: WarehouseConnection, qualified_name: str, frame: pl.DataFrame) -> int:
    """``replace_table`` on an open connection of either engine."""
    if not isinstance(con, PostgresConnection):
        return replace_duckdb_table(con, qualified_name, frame)
    schema, _, _ = qualified_name.rpartition(".")
    columns = ", ".join(f'"{name}" {_postgres_type(name, dtype)}' for name, dtype in frame.schema.items())
    rows = io.BytesIO()
    # COPY's CSV: a null is the unquoted \N, an empty string stays "" (polars writes exactly that)
    frame.write_csv(rows, include_header=False, null_value=r"\N")
    rows.seek(0)
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"drop table if exists {qualified_name}")
        con.execute(f"create table {qualified_name} ({columns})")
        con.copy_from_csv(qualified_name, rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return frame.height


def rewrite_table(con: WarehouseConnection, qualified_name: str, columns_sql: str, column_names: list[str],
                  rows: list[list]) -> int:
    """Drop and create ``schema.table`` with the column definitions ``columns_sql`` (SQL both engines
    accept) and insert ``rows`` (values in ``column_names`` order), in one transaction on either engine's
    connection, so a reader never sees it half-written; returns the rows written."""
    schema, _, _ = qualified_name.rpartition(".")
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"drop table if exists {qualified_name}")
        con.execute(f"create table {qualified_name} ({columns_sql})")
        if rows:
            marks = ", ".join("?" for _ in column_names)
            con.executemany(f"insert into {qualified_name} ({', '.join(column_names)}) values ({marks})", rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(rows)
