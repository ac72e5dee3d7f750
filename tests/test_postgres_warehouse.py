"""The same project on PostgreSQL: selected by configuration, loaded by the real pipelines, built by dbt.

One small sandbox world is loaded twice by the real dlt pipelines (the ATS over HTTP from the
simulator, the vendor files, the web store): once into the DuckDB warehouse file, once into a private
PostgreSQL server (`WARMPOOL_WAREHOUSE=postgresql://...`). Then, on each, the steps the sandbox run
takes between the loads and the marts, each through the one warehouse helper: dbt phase 1, identity
resolution (the saved Splink model; on PostgreSQL in identity's own DuckDB, its `identity.*` copied to
the warehouse), the normalised spellings, dbt phase 2. The two warehouses must hold the same rows:
every raw table's row count, `int_source_records`, identity's people and every table in `marts`,
row for row (but `segment_members` and the marts built from it, not built on PostgreSQL yet).
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math

import duckdb
import pytest

from tests.dbt_fixtures import PHASE_1, PHASE_2, dbt
from tests.postgres_fixtures import postgres_server  # noqa: F401  (the session's PostgreSQL server)
from warmpool import tables
from warmpool.config import get_settings
from warmpool.warehouse import dbt_target

PEOPLE, SEED = 150, 23
RAW_TABLES = ("raw_ats.candidates", "raw_ats.applications", "raw_ats.jobs", "raw_vendors.resumes",
              "raw_forms.form_submissions", "raw_email.email_events")  # at least these (the world has them)
# segment_members is a dbt Python model (its SQL is DuckDB's), which dbt-postgres cannot run: not built there yet
POSTGRES_PHASE_2 = [*PHASE_2, "--exclude", "segment_members+"]
# Columns that name or time one run, not the data: equal only by chance on two runs.
RUN_COLUMNS = {"rpt_identity_runs": {"run_id", "started_at"},
               "rpt_data_health": {"last_quarantined_at"},         # when the load quarantined the row
               "rpt_quarantine_reasons": {"last_quarantined_at"}}


def _clear_settings():
    from warmpool import config

    config._settings_for.cache_clear()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from sandbox.world import generate_world

    home = tmp_path_factory.mktemp("pg-world")
    generate_world(people=PEOPLE, seed=SEED, home=home)
    return home


def _run_sandbox_steps(world_home, home, ats_url, monkeypatch, tmp, warehouse_url=None):
    """The sandbox run's steps from the loads to the marts, on one engine's warehouse: the raw layer by the
    real pipelines, dbt phase 1, identity resolution, the normalised spellings, dbt phase 2."""
    from pipelines.ats import run_ats
    from pipelines.vendor_files import run_vendor_files
    from pipelines.web_store import run_web_store
    from sandbox.world import WORLD_NOW
    from warmpool.identity import resolve_warehouse
    from warmpool.spellings import write_spellings

    monkeypatch.setenv("WARMPOOL_HOME", str(home))
    monkeypatch.setenv("WARMPOOL_LANDING_DIR", str(world_home / "landing"))
    monkeypatch.setenv("WARMPOOL_WEB_STORE", str(world_home / "web" / "web.sqlite"))
    monkeypatch.setenv("WARMPOOL_ATS_URL", ats_url)
    if warehouse_url:
        monkeypatch.setenv("WARMPOOL_WAREHOUSE", warehouse_url)
    else:
        monkeypatch.delenv("WARMPOOL_WAREHOUSE", raising=False)
    _clear_settings()
    settings = get_settings().ensure_dirs()
    assert settings.warehouse_engine == ("postgres" if warehouse_url else "duckdb")
    loaded = {**run_ats(settings), **run_vendor_files(settings), **run_web_store(settings)}
    target, dbt_vars, dbt_env = dbt_target(settings)
    assert dbt_env == {}  # the test server trusts loopback: no password to hand over
    dbt_args = ["--target", target, "--vars", json.dumps({**dbt_vars, "as_of": WORLD_NOW.strftime("%Y-%m-%d")})]
    dbt(tmp, *PHASE_1, *dbt_args)
    stats = resolve_warehouse(settings)
    write_spellings(settings)
    dbt(tmp, *(POSTGRES_PHASE_2 if warehouse_url else PHASE_2), *dbt_args)
    _clear_settings()
    return settings, loaded, stats


@pytest.fixture(scope="module")
def warehouses(world, postgres_server, tmp_path_factory):  # noqa: F811
    """The world through the sandbox steps into DuckDB and into PostgreSQL, once for the module's tests."""
    from sandbox.services import SandboxServices

    tmp = tmp_path_factory.mktemp("engines")
    monkeypatch = pytest.MonkeyPatch()
    try:
        monkeypatch.setenv("WARMPOOL_HOME", str(world))
        _clear_settings()
        with SandboxServices(get_settings(), ats_port=0, smtp_port=0) as services:
            on_duckdb = _run_sandbox_steps(world, tmp / "duckdb-home", services.ats_url, monkeypatch, tmp / "dbt-duckdb")
            url = postgres_server.create_database("warmpool_sandbox")
            on_postgres = _run_sandbox_steps(world, tmp / "pg-home", services.ats_url, monkeypatch,
                                             tmp / "dbt-postgres", warehouse_url=url)
    finally:
        monkeypatch.undo()
        _clear_settings()
    import psycopg2

    pg = psycopg2.connect(url)
    pg.autocommit = True  # one test's failed query must not abort the others' reads
    # as dbt-duckdb opened it (its in-process database outlives the build; a read-only open would clash)
    duck = duckdb.connect(str(on_duckdb[0].warehouse_path))
    try:
        yield {"duckdb": on_duckdb, "postgres": on_postgres, "pg": pg, "duck": duck}
    finally:
        pg.close()
        duck.close()


def _normalised(value):
    """One cell, engine-neutral: timestamps as UTC ISO text, numbers to 9 significant digits."""
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (float, decimal.Decimal)):
        f = float(value)
        return f if math.isnan(f) else float(f"{f:.9g}")
    if isinstance(value, (list, tuple)):
        return tuple(_normalised(v) for v in value)
    return value


def _rows(cursor, sql: str) -> tuple[list[str], list[tuple]]:
    cursor.execute(sql)
    columns = [d[0] for d in cursor.description]
    rows = sorted((tuple(_normalised(v) for v in row) for row in cursor.fetchall()), key=repr)
    return columns, rows


def _columns(cursor, table: str, leave_out=frozenset()) -> str:
    """Every column of a table in DuckDB's order, dlt's internal ids and named run columns aside."""
    names, _ = _rows(cursor, f"select * from {table} limit 0")
    return ", ".join(f'"{c}"' for c in names if not c.startswith("_dlt") and c not in leave_out)


def test_sandbox_raw_layer_and_source_records_are_the_same_on_postgres_and_duckdb(warehouses):
    (on_duckdb, loaded_duckdb, _), (on_postgres, loaded_postgres, _) = warehouses["duckdb"], warehouses["postgres"]
    assert not on_postgres.warehouse_path.exists(), "a Postgres run must not create the DuckDB file"
    assert loaded_postgres == loaded_duckdb and sum(loaded_duckdb.values()) > PEOPLE
    with warehouses["pg"].cursor() as pg_cursor:
        duck = warehouses["duck"]
        # every raw table dlt created (its own bookkeeping aside), the same on both, with the same row count
        raw = ("select table_schema || '.' || table_name from information_schema.tables "
               "where left(table_schema, 4) = 'raw_' and left(table_name, 4) <> '_dlt'")
        raw_tables = {t for (t,) in _rows(duck.cursor(), raw)[1]}
        assert {t for (t,) in _rows(pg_cursor, raw)[1]} == raw_tables
        assert set(RAW_TABLES) <= raw_tables
        for table in sorted(raw_tables):
            count = f"select count(*) from {table}"
            assert _rows(pg_cursor, count)[1] == _rows(duck.cursor(), count)[1], table
        # row for row, every column, in one explicit order of columns (dlt's internal ids aside)
        query = f"select {_columns(duck.cursor(), tables.SOURCE_RECORDS)} from {tables.SOURCE_RECORDS}"
        pg_columns, pg_rows = _rows(pg_cursor, query)
        duck_columns, duck_rows = _rows(duck.cursor(), query)
    assert pg_columns == duck_columns
    assert len(duck_rows) > PEOPLE  # people appear in several sources
    assert pg_rows == duck_rows


def test_identity_finds_the_same_people_on_postgres_and_duckdb(warehouses):
    on_duckdb, on_postgres = warehouses["duckdb"][2], warehouses["postgres"][2]
    query = f"select source, source_record_id, person_id, cluster_size from {tables.PERSON_ASSIGNMENTS}"
    with warehouses["pg"].cursor() as pg_cursor:
        pg_rows = _rows(pg_cursor, query)[1]
    duck_rows = _rows(warehouses["duck"].cursor(), query)[1]
    assert (on_postgres.records, on_postgres.persons) == (on_duckdb.records, on_duckdb.persons)
    assert on_duckdb.duplicates_merged > 0 and len(duck_rows) == on_duckdb.records
    assert pg_rows == duck_rows


def test_every_mart_is_the_same_on_postgres_and_duckdb_row_for_row(warehouses):
    duck = warehouses["duck"]
    marts = [name for (name,) in duck.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1", [tables.MARTS]).fetchall()]
    with warehouses["pg"].cursor() as pg_cursor:
        pg_cursor.execute("select table_name from information_schema.tables where table_schema = %s", [tables.MARTS])
        pg_marts = {name for (name,) in pg_cursor.fetchall()}
        # segment_members and what is built from it (segment_members+): see POSTGRES_PHASE_2
        not_on_postgres = {"segment_members", "audience_members", "rpt_segment_sizes"}
        assert pg_marts == set(marts) - not_on_postgres
        assert {tables.DIM_CANDIDATES, tables.FCT_APPLICATIONS} <= {f"{tables.MARTS}.{m}" for m in pg_marts}
        differing, compared = {}, 0
        for mart in sorted(pg_marts):
            table = f"{tables.MARTS}.{mart}"
            query = f"select {_columns(duck.cursor(), table, RUN_COLUMNS.get(mart, frozenset()))} from {table}"
            pg_columns, pg_rows = _rows(pg_cursor, query)
            duck_columns, duck_rows = _rows(duck.cursor(), query)
            assert pg_columns == duck_columns, mart
            compared += len(duck_rows)
            if pg_rows != duck_rows:
                only_duck = [r for r in duck_rows if r not in set(pg_rows)][:3]
                only_pg = [r for r in pg_rows if r not in set(duck_rows)][:3]
                differing[mart] = {"columns": duck_columns, "duckdb_only": only_duck, "postgres_only": only_pg}
    assert not differing, json.dumps(differing, default=str, indent=1)[:6000]
    assert compared > PEOPLE


def test_the_warehouse_is_chosen_by_configuration(warmpool_home, monkeypatch):
    """A postgresql:// URL selects PostgreSQL for dlt and dbt; a path stays the DuckDB file dbt opens;
    the password travels to dbt in its environment, never on its command line."""
    from pipelines import _runner

    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("WARMPOOL_WAREHOUSE", str(warmpool_home / "elsewhere.duckdb"))
    _clear_settings()
    settings = get_settings()
    assert (settings.warehouse_engine, settings.warehouse_url) == ("duckdb", None)
    assert dbt_target(settings)[0] == "dev"
    assert _runner.destination(settings).destination_name == "duckdb"

    monkeypatch.setenv("WARMPOOL_WAREHOUSE", "postgresql://recruiting:s3cret%40x@db.internal:6543/talent")
    _clear_settings()
    settings = get_settings()
    assert settings.warehouse_engine == "postgres"
    target, dbt_vars, dbt_env = dbt_target(settings)
    assert (target, dbt_env) == ("postgres", {"PGPASSWORD": "s3cret@x"})
    assert dbt_vars == {"pg_host": "db.internal", "pg_port": "6543", "pg_user": "recruiting", "pg_database": "talent"}
    assert "s3cret" not in json.dumps(dbt_vars)
    destination = _runner.destination(settings)
    assert destination.destination_name == "postgres"
    assert destination.config_params["credentials"]["password"] == "s3cret@x"


def test_a_warehouse_url_that_is_not_postgres_is_refused(warmpool_home, tmp_path, monkeypatch):
    config = tmp_path / "warmpool.yaml"
    config.write_text("warehouse:\n  url: mysql://talent@db/talent\n")
    monkeypatch.setenv("WARMPOOL_CONFIG", str(config))
    monkeypatch.delenv("WARMPOOL_WAREHOUSE", raising=False)
    _clear_settings()
    with pytest.raises(ValueError, match="postgresql://"):
        get_settings().warehouse_engine
