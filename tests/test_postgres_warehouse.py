"""The same project on PostgreSQL: selected by configuration, the whole sandbox job run on it.

The whole Dagster job the demo runs (`warmpool_all`: the loads from the ATS simulator, the vendor
files and the web store, the Great Expectations boundary checks, dbt, identity, the spellings, the
segment members, the audiences, the campaign sends to the loopback SMTP server, the send ledger, the
search index, the parquet exports) runs on a private PostgreSQL server
(`WARMPOOL_WAREHOUSE=postgresql://...`) over the same sandbox world that the shared `pipeline_world`
(tests/conftest.py) took through it on DuckDB: the same generator, people and seed, the same "now". The
two warehouses must hold the same rows: every raw table's row count, the quarantined rows,
`int_source_records`, identity's people and every table in `marts`, row for row; the audience files, the
parquet exports and the mail the SMTP server received must match too. (The DuckDB run is the suite's
shared one, so only the PostgreSQL run is this file's own.)
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import math
from email import policy
from email.parser import BytesParser
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.conftest import PIPELINE_WORLD_PEOPLE, PIPELINE_WORLD_SEED, run_whole_graph
from tests.postgres_fixtures import postgres_server  # noqa: F401  (the session's PostgreSQL server)
from warmpool import tables
from warmpool.config import get_settings
from warmpool.warehouse import dbt_target

RAW_TABLES = ("raw_ats.candidates", "raw_ats.applications", "raw_ats.jobs", "raw_vendors.resumes",
              "raw_forms.form_submissions", "raw_email.email_events", "raw_sends.sends",
              "raw_campaigns.segments")  # at least these (the world and the job have them)
PG_DATABASE = "warmpool_sandbox"  # the PostgreSQL run's warehouse
# Columns that name or time one run, not the data: equal only by chance on two runs.
RUN_COLUMNS = {"rpt_identity_runs": {"run_id", "started_at"},
               "rpt_data_health": {"last_quarantined_at"},         # when the load quarantined the row
               "rpt_quarantine_reasons": {"last_quarantined_at"},
               "rpt_campaign_performance": {"first_sent_at"}}      # when this run's sends went out


def _clear_settings():
    from warmpool import config

    config._settings_for.cache_clear()


def _run_on_postgres(home: Path, warehouse_url: str):
    """The sandbox world the shared DuckDB run used, generated again, through the whole job on PostgreSQL."""
    from sandbox.world import generate_world

    monkeypatch = pytest.MonkeyPatch()
    try:
        monkeypatch.setenv("WARMPOOL_HOME", str(home))
        monkeypatch.setenv("WARMPOOL_WAREHOUSE", warehouse_url)
        for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE"):  # this home's own
            monkeypatch.delenv(var, raising=False)
        _clear_settings()
        settings = get_settings().ensure_dirs()
        assert settings.warehouse_engine == "postgres"
        assert dbt_target(settings)[2] == {}  # the test server trusts loopback: no password to hand over
        generate_world(people=PIPELINE_WORLD_PEOPLE, seed=PIPELINE_WORLD_SEED, home=home)
        run = run_whole_graph(home)  # as the shared world's run: the world's own "now"
    finally:
        monkeypatch.undo()
        _clear_settings()
    failed = sorted({e.step_key or "(the run)" for e in run.events if e.is_failure})  # RUN_FAILURE has none
    assert run.success, f"the job failed on PostgreSQL: steps {failed}"
    return settings


@pytest.fixture(scope="module")
def warehouses(pipeline_world, postgres_server, tmp_path_factory):  # noqa: F811
    """The first run of the shared world on DuckDB, and the same world through the job on PostgreSQL."""
    url = postgres_server.create_database(PG_DATABASE)
    on_postgres = _run_on_postgres(tmp_path_factory.mktemp("pg-home"), url)
    import psycopg2

    pg = psycopg2.connect(url)
    pg.autocommit = True  # one test's failed query must not abort the others' reads
    on_duckdb = pipeline_world.first_run_outputs  # the DuckDB run's warehouse, audiences, exports, mail
    duck = duckdb.connect(str(on_duckdb / "warehouse.duckdb"), read_only=True)
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
    on_postgres = warehouses["postgres"]
    assert not on_postgres.warehouse_path.exists(), "a Postgres run must not create the DuckDB file"
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
        # the boundary checks ran on both and quarantined the same rows
        quarantined = f"select source, file_name, row_number, field, reason from {tables.QUARANTINED_ROWS}"
        assert _rows(pg_cursor, quarantined)[1] == _rows(duck.cursor(), quarantined)[1]
        checked = f"select check_name, table_name, row_count from {tables.VALIDATED_ROW_COUNTS}"
        duck_checked = _rows(duck.cursor(), checked)[1]
        assert len({name for name, _, _ in duck_checked}) >= 6 and _rows(pg_cursor, checked)[1] == duck_checked
        # row for row, every column, in one explicit order of columns (dlt's internal ids aside)
        query = f"select {_columns(duck.cursor(), tables.SOURCE_RECORDS)} from {tables.SOURCE_RECORDS}"
        pg_columns, pg_rows = _rows(pg_cursor, query)
        duck_columns, duck_rows = _rows(duck.cursor(), query)
    assert pg_columns == duck_columns
    assert len(duck_rows) > PIPELINE_WORLD_PEOPLE  # people appear in several sources
    assert pg_rows == duck_rows


def test_identity_finds_the_same_people_on_postgres_and_duckdb(warehouses):
    query = f"select source, source_record_id, person_id, cluster_size from {tables.PERSON_ASSIGNMENTS}"
    with warehouses["pg"].cursor() as pg_cursor:
        pg_rows = _rows(pg_cursor, query)[1]
    duck_rows = _rows(warehouses["duck"].cursor(), query)[1]
    assert len({row[2] for row in duck_rows}) < len(duck_rows)  # duplicates were merged
    assert pg_rows == duck_rows


def test_every_mart_is_the_same_on_postgres_and_duckdb_row_for_row(warehouses):
    duck = warehouses["duck"]
    marts = [name for (name,) in duck.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1", [tables.MARTS]).fetchall()]
    with warehouses["pg"].cursor() as pg_cursor:
        pg_cursor.execute("select table_name from information_schema.tables where table_schema = %s", [tables.MARTS])
        pg_marts = {name for (name,) in pg_cursor.fetchall()}
        assert pg_marts == set(marts)
        assert {tables.DIM_CANDIDATES, tables.FCT_APPLICATIONS, tables.SEGMENT_MEMBERS, tables.AUDIENCE_MEMBERS,
                f"{tables.MARTS}.rpt_campaign_performance"} <= {f"{tables.MARTS}.{m}" for m in pg_marts}
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
    assert compared > PIPELINE_WORLD_PEOPLE
    for mart in (tables.SEGMENT_MEMBERS, tables.AUDIENCE_MEMBERS):  # the activation marts hold someone
        assert duck.execute(f"select count(*) from {mart}").fetchall()[0][0] > 0, mart


def _csv_rows(path: Path) -> tuple[list[str], list[tuple]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, sorted(tuple(row) for row in reader)


def test_the_audience_files_exports_and_mail_are_the_same_on_postgres_and_duckdb(warehouses):
    on_duckdb, on_postgres = warehouses["duckdb"], warehouses["postgres"]
    duck_audiences, duck_exports = on_duckdb / "audiences", on_duckdb / "exports"
    # the audience files marketers pick up: the same files, the same rows
    files = sorted(p.name for p in duck_audiences.glob("*.csv"))
    assert files and sorted(p.name for p in on_postgres.audiences_dir.glob("*.csv")) == files
    members = 0
    for name in files:
        duck_file = _csv_rows(duck_audiences / name)
        assert _csv_rows(on_postgres.audiences_dir / name) == duck_file, name
        members += len(duck_file[1])
    assert members > 0
    # the parquet exports: the same files, columns, personal-column marks and rows
    exported = sorted(str(p.relative_to(duck_exports)) for p in duck_exports.rglob("*.parquet"))
    assert any("segment_members" in p for p in exported)
    assert sorted(str(p.relative_to(on_postgres.exports_dir)) for p in on_postgres.exports_dir.rglob("*.parquet")) \
        == exported
    for name in exported:
        duck_table, pg_table = pq.read_table(duck_exports / name), pq.read_table(on_postgres.exports_dir / name)
        assert pg_table.column_names == duck_table.column_names, name
        assert pg_table.schema.metadata[b"warmpool.personal_columns"] == \
            duck_table.schema.metadata[b"warmpool.personal_columns"], name
        leave_out = RUN_COLUMNS.get(Path(name).stem, set())
        rows = [sorted((tuple(_normalised(v) for k, v in r.items() if k not in leave_out) for r in t.to_pylist()),
                       key=repr) for t in (duck_table, pg_table)]
        assert rows[1] == rows[0], name
    # the campaign mail the SMTP server received: the same recipients and subjects
    parser = BytesParser(policy=policy.default)

    def mail(mailbox: Path):
        return sorted((str(m["To"]).lower(), str(m["Subject"])) for m in
                      (parser.parsebytes(p.read_bytes()) for p in mailbox.glob("*.eml")))

    assert mail(on_duckdb / "mailbox") and mail(on_postgres.mailbox_dir) == mail(on_duckdb / "mailbox")


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


# Last in this file: it changes the PostgreSQL warehouse's raw rows (the tests above compare it as loaded).
POOL_MODELS = {"int_ats_candidates_flattened": "candidate_id",
               "int_vendor_resumes_deduplicated": "vendor, vendor_record_id",
               "int_source_records_unioned": "source, source_record_id"}


def test_incremental_source_record_models_on_postgres_equal_a_full_refresh(warehouses, postgres_server,  # noqa: F811
                                                                           monkeypatch):
    """The incremental models' daily path (macros/incremental.sql) on PostgreSQL: a few ATS candidates
    changed and new purchases of vendor records arrive in a new load; an incremental `dbt run` of the
    source-record models then holds exactly what `--full-refresh` rebuilds from the same raw rows."""
    from warmpool.dbt_cli import run_dbt

    on_postgres = warehouses["postgres"]
    monkeypatch.setenv("WARMPOOL_HOME", str(on_postgres.home))
    monkeypatch.setenv("WARMPOOL_WAREHOUSE", postgres_server.url(PG_DATABASE))
    _clear_settings()
    try:
        with warehouses["pg"].cursor() as pg:
            pg.execute("update raw_ats.candidates set first_name = first_name || '-renamed', _dlt_load_id = 'day-2' "
                       "where id in (select id from raw_ats.candidates order by id limit 5)")
            pg.execute("""create temp table bought_again as select distinct on (vendor, vendor_record_id) *
                          from raw_vendors.resumes order by vendor, vendor_record_id, purchased_at desc limit 3""")
            pg.execute("""update bought_again set _dlt_load_id = 'day-2', _dlt_id = _dlt_id || '-again',
                          first_name = 'Bought-again', purchased_at = purchased_at + interval '1 day'""")
            pg.execute("insert into raw_vendors.resumes select * from bought_again")
            models = sorted(POOL_MODELS)
            run_dbt(["run", "--quiet", "--select", *models], on_postgres.warehouse_path)

            def table(model: str) -> list[tuple]:
                return _rows(pg, f"select * from {tables.INTERMEDIATE}.{model} order by {POOL_MODELS[model]}")[1]

            incremental = {model: table(model) for model in models}
            renamed = _rows(pg, f"select count(*) from {tables.INTERMEDIATE}.int_ats_candidates_flattened "
                                "where first_name like '%-renamed'")[1]
            again = _rows(pg, f"select count(*) from {tables.INTERMEDIATE}.int_vendor_resumes_deduplicated "
                              "where first_name = 'Bought-again' and times_purchased > 1")[1]
            assert renamed == [(5,)] and again == [(3,)]  # the day's load reached the incremental tables
            run_dbt(["run", "--quiet", "--full-refresh", "--select", *models], on_postgres.warehouse_path)
            rebuilt = {model: table(model) for model in models}
    finally:
        _clear_settings()
    for model in models:
        assert incremental[model] == rebuilt[model], model
