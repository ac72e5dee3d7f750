"""Incremental resolve runs: the same answer as a full run, for a fraction of the work.

A small sandbox world is loaded into in-memory warehouses as ``intermediate.int_source_records``
(the export is in arrival order, so its tail is "later" records, often of people already in the
pool). Every incremental run is checked against a twin warehouse that took the same steps with
``full=True``: same ids, same persons, same history counts.
"""
from __future__ import annotations

import duckdb
import polars as pl
import pytest
import yaml

from warmpool import tables
from warmpool.config import CONFIG_DIR
from warmpool.identity import decide, pairwise_scores, parse_record_key, resolve_pool
from warmpool.identity.normalize import to_contract_frame


@pytest.fixture(scope="module")
def records(small_world) -> pl.DataFrame:
    return to_contract_frame(pl.read_csv(small_world.sandbox_dir / "exports" / "source_records.csv",
                                         infer_schema=False))


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """A private home (the feature cache lives there) and a config allowing 30% growth between full runs:
    these tests add 25% of the first pool at once."""
    from warmpool import config

    cfg = yaml.safe_load((CONFIG_DIR / "warmpool.yaml").read_text())
    cfg["identity"]["incremental_max_share"] = 0.3
    (tmp_path / "warmpool.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("WARMPOOL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WARMPOOL_CONFIG", str(tmp_path / "warmpool.yaml"))
    config._settings_for.cache_clear()
    yield tmp_path / "home"
    config._settings_for.cache_clear()


def set_source(con, records: pl.DataFrame) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.INTERMEDIATE}")
    con.register("_r", records.to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {tables.SOURCE_RECORDS} AS SELECT * FROM _r")
    con.unregister("_r")


def warehouse(records: pl.DataFrame):
    con = duckdb.connect()
    set_source(con, records)
    return con


def assignments(con) -> pl.DataFrame:
    return pl.from_arrow(con.sql(f"""SELECT source, source_record_id, person_id, cluster_size
        FROM {tables.PERSON_ASSIGNMENTS} ORDER BY 1, 2""").arrow().read_all())


def last_run(con) -> dict:
    cur = con.execute(f"SELECT * FROM {tables.RESOLUTION_RUNS} ORDER BY started_at DESC LIMIT 1")
    return dict(zip([d[0] for d in cur.description], cur.fetchall()[0]))


def linking_pairs(con) -> set[tuple]:
    return set(con.execute(f"""SELECT source_l, source_record_id_l, source_r, source_record_id_r
        FROM {tables.RECORD_PAIRS} WHERE match_probability >= 0.999""").fetchall())


def queue(con) -> set[tuple]:
    return set(con.execute(f"""SELECT left_source, left_source_record_id, right_source, right_source_record_id,
        left_person_id, right_person_id FROM {tables.REVIEW_QUEUE}""").fetchall())


def same_answer(inc, full) -> None:
    a, b = assignments(inc), assignments(full)
    assert a.equals(b)  # same records, same ids, same sizes
    agree = pairwise_scores(a.join(b, on=["source", "source_record_id"], suffix="_full"), None,
                            predicted_col="person_id", truth_col="person_id_full")
    assert agree.f1 == 1.0
    assert linking_pairs(inc) == linking_pairs(full)
    assert queue(inc) == queue(full)
    ra, rb = last_run(inc), last_run(full)
    for col in ("records", "persons", "merges", "splits", "new_records", "changed_records", "removed_records"):
        assert ra[col] == rb[col], col


def test_added_records_match_incrementally_with_the_full_answer(records):
    cut = int(records.height * 0.8)
    inc, full = warehouse(records.head(cut)), warehouse(records.head(cut))
    resolve_pool(inc)
    resolve_pool(full)
    before = assignments(inc)
    set_source(inc, records)
    set_source(full, records)
    s_inc = resolve_pool(inc)
    s_full = resolve_pool(full, full=True)
    assert (s_inc.kind, s_full.kind) == ("resolve_incremental", "resolve")
    assert s_inc.new_records == records.height - cut and s_inc.changed_records == s_inc.removed_records == 0
    same_answer(inc, full)
    # existing ids are kept unless new records merged two people (the history says which)
    after = assignments(inc)
    moved = before.join(after, on=["source", "source_record_id"], suffix="_now").filter(
        pl.col("person_id") != pl.col("person_id_now"))
    merged = {r[0] for r in inc.execute(f"SELECT retired_person_id FROM {tables.PERSON_MERGES}").fetchall()}
    assert set(moved["person_id"].to_list()) <= merged
    assert moved.height < 0.02 * before.height
    assert inc.execute(f"SELECT count(*) FROM {tables.RECORD_HASHES}").fetchall()[0][0] == records.height

    # nothing new: the fast path changes nothing
    stamp = inc.execute(f"SELECT max(resolved_at) FROM {tables.PERSON_ASSIGNMENTS}").fetchall()[0][0]
    s = resolve_pool(inc)
    assert (s.kind, s.note, s.new_records, s.changed_records, s.removed_records) == (
        "resolve_incremental", "no changes", 0, 0, 0)
    assert assignments(inc).equals(after)
    assert inc.execute(f"SELECT max(resolved_at) FROM {tables.PERSON_ASSIGNMENTS}").fetchall()[0][0] == stamp
    assert last_run(inc)["merges"] == 0


def test_changed_and_removed_records(records):
    cut = int(records.height * 0.9)
    base = records.head(cut)
    inc, full = warehouse(base), warehouse(base)
    resolve_pool(inc)
    resolve_pool(full)
    ids = assignments(inc)
    sizes = ids.group_by("person_id").len().sort("len", descending=True)
    big = sizes["person_id"][0]
    single = sizes.filter(pl.col("len") == 1)["person_id"][0]
    mover = ids.filter(pl.col("person_id") == single).row(0, named=True)
    target = base.join(ids.filter(pl.col("person_id") == big).head(1).select("source", "source_record_id"),
                       on=["source", "source_record_id"]).row(0, named=True)
    # the single record now carries the big person's name and contacts: it must be re-matched to them
    is_mover = (pl.col("source") == mover["source"]) & (pl.col("source_record_id") == mover["source_record_id"])
    changed = base.with_columns([pl.when(is_mover).then(pl.lit(target[c])).otherwise(pl.col(c)).alias(c)
                                 for c in ("first_name", "last_name", "email", "phone", "linkedin_url")])
    # and one record of another multi-record person leaves the source
    other = sizes.filter((pl.col("len") == 2))["person_id"][0]
    leaver = ids.filter(pl.col("person_id") == other).row(0, named=True)
    changed = changed.filter(~((pl.col("source") == leaver["source"])
                               & (pl.col("source_record_id") == leaver["source_record_id"])))
    changed = pl.concat([changed, records.slice(cut, 20)])
    set_source(inc, changed)
    set_source(full, changed)
    s = resolve_pool(inc)
    resolve_pool(full, full=True)
    assert s.kind == "resolve_incremental"
    assert (s.new_records, s.changed_records, s.removed_records) == (20, 1, 1)
    run = last_run(inc)
    assert (run["new_records"], run["changed_records"], run["removed_records"]) == (20, 1, 1)
    same_answer(inc, full)
    now = assignments(inc)
    assert now.filter(pl.col("source_record_id") == mover["source_record_id"],
                      pl.col("source") == mover["source"])["person_id"][0] == big
    assert now.filter(pl.col("source") == leaver["source"],
                      pl.col("source_record_id") == leaver["source_record_id"]).height == 0


def test_reviewer_decisions_hold_after_incremental_runs(records):
    a, b = int(records.height * 0.7), int(records.height * 0.85)
    inc, full = warehouse(records.head(a)), warehouse(records.head(a))
    for con in (inc, full):
        resolve_pool(con)
    # separate the two records of a linked pair of the largest person
    sizes = assignments(inc).group_by("person_id").len().sort("len", descending=True)
    big = sizes["person_id"][0]
    pair = inc.execute(f"""SELECT p.source_l, p.source_record_id_l, p.source_r, p.source_record_id_r
        FROM {tables.RECORD_PAIRS} p JOIN {tables.PERSON_ASSIGNMENTS} x
          ON (x.source, x.source_record_id) = (p.source_l, p.source_record_id_l)
        WHERE x.person_id = ? AND p.match_probability >= 0.999 ORDER BY p.match_weight LIMIT 1""", [big]).fetchall()[0]
    left, right = parse_record_key(f"{pair[0]}:{pair[1]}"), parse_record_key(f"{pair[2]}:{pair[3]}")
    for con in (inc, full):
        decide(con, left, right, "separate", reviewer="test")
    # a decision since the last run: the next run is full, whatever it is asked
    set_source(inc, records.head(b))
    set_source(full, records.head(b))
    s = resolve_pool(inc)
    resolve_pool(full, full=True)
    assert s.kind == "resolve" and "review decisions" in s.note
    # more records arrive: incremental again, and the decision still holds
    set_source(inc, records)
    set_source(full, records)
    s = resolve_pool(inc)
    resolve_pool(full, full=True)
    assert s.kind == "resolve_incremental"
    same_answer(inc, full)
    person = dict(((r[0], r[1]), r[2]) for r in assignments(inc).iter_rows())
    assert person[(pair[0], pair[1])] != person[(pair[2], pair[3])]


def test_falls_back_to_full_beyond_the_share(records, home, tmp_path, monkeypatch):
    from warmpool import config

    cfg = yaml.safe_load((CONFIG_DIR / "warmpool.yaml").read_text())
    cfg["identity"]["incremental_max_share"] = 0.05
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("WARMPOOL_CONFIG", str(tmp_path / "small.yaml"))
    config._settings_for.cache_clear()
    con = warehouse(records.head(int(records.height * 0.8)))
    resolve_pool(con)
    set_source(con, records)
    s = resolve_pool(con)
    assert s.kind == "resolve" and "incremental_max_share" in s.note
    assert last_run(con)["note"] == s.note


def test_the_warehouse_run_finds_the_people_warmpool_resolve_finds(records):
    """One blocking for both ways in: the pipeline's pool run compares the pairs `warmpool resolve`
    compares (the pool's blocking plan), so a company checking an export with the CLI sees the people
    the warehouse holds."""
    from warmpool.identity import load_model, resolve_frame

    con = warehouse(records)
    resolve_pool(con)
    pool = assignments(con)
    cli = resolve_frame(records, model=load_model())
    both = pool.join(cli.select("source", "source_record_id", pl.col("person_id").alias("person_id_cli")),
                     on=["source", "source_record_id"])
    assert both.height == records.height
    agree = pairwise_scores(both, None, predicted_col="person_id", truth_col="person_id_cli")
    assert agree.f1 == 1.0
    assert pool["person_id"].n_unique() == cli["person_id"].n_unique() < records.height
