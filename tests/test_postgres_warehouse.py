"""The same project on PostgreSQL: selected by configuration, loaded by the real pipelines, built by dbt.

One small sandbox world is loaded twice by the real dlt pipelines (the ATS over HTTP from the
simulator, the vendor files, the web store): once into the DuckDB warehouse file, once into a private
PostgreSQL server (`WARMPOOL_WAREHOUSE=postgresql://...`). dbt phase 1 (`+int_source_records`, the
records identity resolves) then runs on each through the one warehouse helper's target, and the two
warehouses must hold the same rows: every raw table's row count and `int_source_records` row for row.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math

import duckdb
import pytest

from tests.dbt_fixtures import PHASE_1, dbt
from tests.postgres_fixtures import postgres_server  # noqa: F401  (the session's PostgreSQL server)
from warmpool import tables
from warmpool.config import get_settings
from warmpool.warehouse import dbt_target

PEOPLE, SEED = 300, 23
RAW_TABLES = ("raw_ats.candidates", "raw_ats.applications", "raw_ats.jobs", "raw_ats.offers",
              "raw_vendors.resumes", "raw_forms.form_submissions", "raw_email.email_events")


def _clear_settings():
    from warmpool import config

    config._settings_for.cache_clear()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from sandbox.world import generate_world

    home = tmp_path_factory.mktemp("pg-world")
    generate_world(people=PEOPLE, seed=SEED, home=home)
    return home


def _load_and_build(world_home, home, ats_url, monkeypatch, tmp, warehouse_url=None):
    """The raw layer by the real pipelines, then dbt phase 1, into one engine's warehouse."""
    from pipelines.ats import run_ats
    from pipelines.vendor_files import run_vendor_files
    from pipelines.web_store import run_web_store
    from sandbox.world import WORLD_NOW

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
    dbt(tmp, *PHASE_1, "--target", target,
        "--vars", json.dumps({**dbt_vars, "as_of": WORLD_NOW.strftime("%Y-%m-%d")}))
    _clear_settings()
    return settings, loaded


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


def test_sandbox_raw_layer_and_source_records_are_the_same_on_postgres_and_duckdb(
        world, postgres_server, tmp_path, monkeypatch):  # noqa: F811
    import psycopg2

    from sandbox.services import SandboxServices

    monkeypatch.setenv("WARMPOOL_HOME", str(world))
    _clear_settings()
    with SandboxServices(get_settings(), ats_port=0, smtp_port=0) as services:
        on_duckdb, loaded_duckdb = _load_and_build(world, tmp_path / "duckdb-home", services.ats_url, monkeypatch,
                                                   tmp_path / "dbt-duckdb")
        url = postgres_server.create_database("warmpool_sandbox")
        on_postgres, loaded_postgres = _load_and_build(world, tmp_path / "pg-home", services.ats_url, monkeypatch,
                                                       tmp_path / "dbt-postgres", warehouse_url=url)
    assert not on_postgres.warehouse_path.exists(), "a Postgres run must not create the DuckDB file"
    assert loaded_postgres == loaded_duckdb and sum(loaded_duckdb.values()) > PEOPLE

    pg = psycopg2.connect(url)
    # as dbt-duckdb opened it (its in-process database outlives the build; a read-only open would clash)
    duck = duckdb.connect(str(on_duckdb.warehouse_path))
    try:
        with pg.cursor() as pg_cursor:
            for table in RAW_TABLES:
                count = f"select count(*) from {table}"
                assert _rows(pg_cursor, count)[1] == _rows(duck.cursor(), count)[1], table
            # row for row, every column, in one explicit order of columns (dlt's internal ids aside)
            duck_columns, _ = _rows(duck.cursor(), f"select * from {tables.SOURCE_RECORDS} limit 0")
            columns = ", ".join(f'"{c}"' for c in duck_columns if not c.startswith("_dlt"))
            query = f"select {columns} from {tables.SOURCE_RECORDS}"
            pg_columns, pg_rows = _rows(pg_cursor, query)
            duck_columns, duck_rows = _rows(duck.cursor(), query)
    finally:
        pg.close()
        duck.close()
    assert pg_columns == duck_columns
    assert len(duck_rows) > PEOPLE  # people appear in several sources
    assert pg_rows == duck_rows


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
