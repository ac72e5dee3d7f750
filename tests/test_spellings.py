"""The spelling tables written between dbt's phases (warmpool/spellings.py): what a full build holds,
and a second run that normalises only what is new, drops what the pool lost, and redoes a row another
version of the rules wrote. (The same step on PostgreSQL: tests/test_postgres_warehouse.py.)"""
from __future__ import annotations

import dataclasses

import duckdb
import polars as pl

from warmpool import tables
from warmpool.config import get_settings
from warmpool.spellings import write_spellings
from warmpool.warehouse import replace_duckdb_table


def _pool(path, rows):
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists intermediate")
        con.execute(f"""create or replace table {tables.SOURCE_RECORDS_UNIONED} (
            first_name varchar, last_name varchar, city varchar, region varchar, country varchar, skills varchar)""")
        con.executemany(f"insert into {tables.SOURCE_RECORDS_UNIONED} values (?, ?, ?, ?, ?, ?)", rows)


def _query(path, sql):
    with duckdb.connect(str(path)) as con:
        return con.execute(sql).fetchall()


def test_the_spellings_are_normalised_once_and_follow_the_pool(warmpool_home):
    path = warmpool_home / "warehouse.duckdb"
    settings = dataclasses.replace(get_settings(), warehouse_file=path)
    _pool(path, [("SAMANTHA", "o'brien", "SF", "CA", "USA", "Python;python;SQL"),
                 ("Bob", "Smith", "München", None, "Deutschland", None)])
    written = write_spellings(settings)
    assert written == {tables.NAME_SPELLINGS: 4, tables.PLACE_SPELLINGS: 2, tables.SKILL_SPELLINGS: 1}
    assert _query(path, f"select display_spelling from {tables.NAME_SPELLINGS} where spelling = 'SAMANTHA'") == [
        ("Samantha",)]
    assert sorted(_query(path, f"select city, region, country_code from {tables.PLACE_SPELLINGS}")) == [
        ("Munich", None, "DE"), ("San Francisco", "California", "US")]
    assert _query(path, f"select skills from {tables.SKILL_SPELLINGS}") == [("python;sql",)]

    # a kept row is not normalised again (its marked value survives); a row an older rule wrote is
    with duckdb.connect(str(path)) as con:
        con.execute(f"update {tables.NAME_SPELLINGS} set display_spelling = 'kept' where spelling = 'Bob'")
        con.execute(f"update {tables.PLACE_SPELLINGS} set city = 'stale', rules_version = 'older' "
                    f"where city_as_written = 'SF'")
    _pool(path, [("SAMANTHA", "o'brien", "SF", "CA", "USA", "Python;python;SQL"),
                 ("Bob", "MCDONALD", "München", None, "Deutschland", None)])  # Smith gone, MCDONALD new
    write_spellings(settings)
    names = dict(_query(path, f"select spelling, display_spelling from {tables.NAME_SPELLINGS}"))
    assert names == {"SAMANTHA": "Samantha", "o'brien": "O'Brien", "Bob": "kept", "MCDONALD": "McDonald"}
    assert sorted(_query(path, f"select city from {tables.PLACE_SPELLINGS}")) == [("Munich",), ("San Francisco",)]


def test_a_failed_replace_keeps_the_old_table_and_the_connection_usable():
    """The helper every step writes through (spellings, segment members, identity's copies): a write that
    fails halfway leaves readers the old rows and the step's connection able to go on."""
    con = duckdb.connect()
    replace_duckdb_table(con, "spellings.demo", pl.DataFrame({"name": ["ana", "bo"]}))
    con.execute("create schema blocked; create view blocked.demo as select 1 as x")
    try:
        # the name is a view's: the replace fails inside the transaction, after `create schema`
        replace_duckdb_table(con, "blocked.demo", pl.DataFrame({"y": [2]}))
    except duckdb.Error:
        pass
    else:
        raise AssertionError("replacing a view with a table was expected to fail")
    assert con.execute("select x from blocked.demo").fetchall() == [(1,)]
    assert con.execute("select count(*) from spellings.demo").fetchall() == [(2,)]   # no open transaction left
    con.close()
