"""Review queue, reviewers' decisions, unmerge and explain: applied at once and kept by every later run."""
from __future__ import annotations

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from warmpool import tables
from warmpool.identity import canonical_person_id, explain_person, resolve_pool, review
from warmpool.identity.keys import record_key, split_key
from warmpool.identity.normalize import to_contract_frame


@pytest.fixture(scope="module")
def world_records(tmp_path_factory) -> pl.DataFrame:
    from sandbox.world import generate_world

    home = tmp_path_factory.mktemp("identity-review-world")
    generate_world(people=400, seed=23, home=home)
    return to_contract_frame(pl.read_csv(home / "sandbox" / "exports" / "source_records.csv", infer_schema=False))


def new_pool(records: pl.DataFrame, path=None):
    con = duckdb.connect(str(path) if path else ":memory:")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.INTERMEDIATE}")
    con.register("_r", records.to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {tables.SOURCE_RECORDS} AS SELECT * FROM _r")
    con.unregister("_r")
    resolve_pool(con)
    return con


def assignments(con) -> dict[str, str]:
    return {record_key(s, r): p for s, r, p in con.execute(
        f"SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS}").fetchall()}


def persons_with(con, size: int) -> list[tuple[str, list[str]]]:
    """Persons of at least ``size`` records (smallest id first) with their record keys."""
    by_person: dict[str, list[str]] = {}
    for key, pid in sorted(assignments(con).items()):
        by_person.setdefault(pid, []).append(key)
    return [(p, keys) for p, keys in sorted(by_person.items()) if len(keys) >= size]


WIDE_BAND = (1e-4, 0.9999)  # how many pairs fall in the configured band depends on the model; widen it


def test_review_band_comes_from_config():
    low, high = review.review_band()
    assert 0 <= low < high <= 1


def test_queue_holds_pairs_inside_the_band(world_records, monkeypatch):
    monkeypatch.setattr(review, "review_band", lambda settings=None: WIDE_BAND)
    con = new_pool(world_records)
    low, high = review.review_band()
    q = review.open_items(con, limit=1000, status="all")
    assert q.height > 0, "a 400-person world has uncertain pairs"
    assert q["match_probability"].is_between(low, high).all()
    assert set(q["status"]) == {"open"}
    assert q["left_person_id"].null_count() == 0
    stored = con.execute(f"SELECT count(*) FROM {tables.RECORD_PAIRS} WHERE match_probability BETWEEN ? AND ?",
                         [low, high]).fetchall()[0][0]
    assert q.height == stored
    row = q.row(0, named=True)
    a = record_key(row["left_source"], row["left_source_record_id"])
    b = record_key(row["right_source"], row["right_source_record_id"])
    review.decide(con, a, b, "separate", reviewer="ana")
    decided = review.open_items(con, limit=1000, status="decided")
    assert decided.height == 1 and decided["decision"].to_list() == ["separate"]
    resolve_pool(con)  # the queue is rebuilt, the decision still shows
    assert review.open_items(con, limit=1000, status="decided").height == 1


def test_separate_decision_splits_now_and_in_every_later_run(world_records):
    con = new_pool(world_records)
    pid, keys = persons_with(con, 3)[0]
    a, b = keys[0], keys[1]
    applied = review.decide(con, a, b, "separate", reviewer="ana", note="different birth years")
    now = assignments(con)
    assert now[a] != now[b]
    assert len(now) == world_records.height                      # no record lost
    assert pid in applied.persons_after                          # the bigger part keeps the id
    assert [r for r in applied.changes.rows.iter_rows()][0][2] == "split"
    resolve_pool(con)
    again = assignments(con)
    assert again == now                                           # the next run gives the same answer
    # and with more records arriving
    extra = world_records.head(3).with_columns(pl.col("source_record_id") + "-copy")
    con.register("_x", extra.to_arrow())
    con.execute(f"INSERT INTO {tables.SOURCE_RECORDS} SELECT * FROM _x")
    resolve_pool(con)
    grown = assignments(con)
    assert grown[a] != grown[b]
    rows = con.execute(f"SELECT reviewer, decision, origin, note FROM {tables.REVIEW_DECISIONS}").fetchall()
    assert rows == [("ana", "separate", "review", "different birth years")]


def test_link_decision_merges_two_people_and_latest_decision_wins(world_records):
    con = new_pool(world_records)
    (p1, k1), (p2, k2) = persons_with(con, 1)[:2]
    applied = review.decide(con, k1[0], k2[0], "link", reviewer="bo")
    now = assignments(con)
    survivor = now[k1[0]]
    assert now[k2[0]] == survivor and all(now[k] == survivor for k in k1 + k2)
    retired = ({p1, p2} - {survivor}).pop()
    assert [(r[0], r[1], r[2]) for r in applied.changes.rows.iter_rows()] == [(retired, survivor, "review_link")]
    assert canonical_person_id(con, retired) == survivor
    resolve_pool(con)
    assert assignments(con) == now
    # the reviewer changes their mind: the latest decision is the one in force
    review.decide(con, k2[0], k1[0], "separate", reviewer="bo")
    resolve_pool(con)
    after = assignments(con)
    assert after[k1[0]] != after[k2[0]]
    assert con.execute(f"SELECT count(*) FROM {tables.REVIEW_DECISIONS}").fetchall()[0][0] == 2  # append-only


def test_unmerge_gives_every_record_its_own_person_and_survives_a_rerun(world_records):
    con = new_pool(world_records)
    pid, keys = persons_with(con, 3)[0]
    applied = review.unmerge(con, pid, reviewer="cy")
    now = assignments(con)
    assert len(now) == world_records.height
    assert len({now[k] for k in keys}) == len(keys)
    assert now[min(keys)] == pid                                   # ties: the smallest record keeps the id
    moved = [(r[0], r[2]) for r in applied.changes.rows.iter_rows()]
    assert moved == [(pid, "unmerge")] * (len(keys) - 1)
    hist = con.execute(f"SELECT count(*) FROM {tables.PERSON_MERGES} WHERE reason = 'unmerge'").fetchall()[0][0]
    assert hist == len(keys) - 1
    n_decisions = con.execute(f"SELECT count(*) FROM {tables.REVIEW_DECISIONS} WHERE origin = 'unmerge'").fetchall()
    assert n_decisions[0][0] == len(keys) * (len(keys) - 1) // 2
    resolve_pool(con)
    assert {k: assignments(con)[k] for k in keys} == {k: now[k] for k in keys}


def test_unmerge_a_subset_keeps_the_rest_together(world_records):
    con = new_pool(world_records)
    pid, keys = persons_with(con, 3)[0]
    leaving = keys[-1]
    review.unmerge(con, pid, [leaving], reviewer="cy")
    now = assignments(con)
    assert now[leaving] != pid
    assert all(now[k] == pid for k in keys[:-1])
    resolve_pool(con)
    assert {k: assignments(con)[k] for k in keys} == {k: now[k] for k in keys}
    with pytest.raises(review.ReviewError, match="not records of"):
        review.unmerge(con, pid, [record_key("ats", "no-such-record")])


def test_explain_shows_records_and_waterfall(world_records, tmp_path):
    con = new_pool(world_records)
    pid, keys = persons_with(con, 3)[0]
    exp = explain_person(con, pid)
    text = exp.format_text()
    assert f"Person {pid}: {len(keys)} source record(s)" in text
    for k in keys:
        assert ":".join(split_key(k)) in text
    assert len(exp.links) == len(keys) - 1                       # n records are held by n - 1 links
    for link in exp.links:
        weights = [r["log2_bayes_factor"] for r in link.rows if r["column_name"] != "Final score"]
        assert sum(weights) == pytest.approx(link.match_weight, abs=1e-6)   # the waterfall adds up
    assert "Starting match weight (prior)" in text and "= total" in text
    kind = exp.write_html(tmp_path / "w.html")
    page = (tmp_path / "w.html").read_text()
    assert kind == "splink waterfall chart" and "cdn.jsdelivr" not in page and "vega" in page
    # a retired id still explains (through the id map); the reviewer's link shows as such
    other_pid, other_keys = [x for x in persons_with(con, 1) if x[0] != pid][-1]
    review.decide(con, keys[0], other_keys[0], "link", reviewer="bo")
    survivor = assignments(con)[keys[0]]
    retired = ({pid, other_pid} - {survivor}).pop()
    exp = explain_person(con, retired)
    assert exp.person_id == survivor and "was merged into it" in exp.format_text()
    assert "linked by a reviewer" in exp.format_text()


def test_cli_identity_commands(world_records, tmp_path, monkeypatch):
    from warmpool import config
    from cli.main import app

    monkeypatch.setattr(review, "review_band", lambda settings=None: WIDE_BAND)

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("WARMPOOL_HOME", str(home))
    config._settings_for.cache_clear()
    con = new_pool(world_records, home / "warehouse.duckdb")
    pid, keys = persons_with(con, 3)[0]
    con.close()
    runner = CliRunner()
    out = runner.invoke(app, ["identity", "explain", pid, "--html", str(tmp_path / "e.html")])
    assert out.exit_code == 0, out.output
    assert "match weight" in out.output and (tmp_path / "e.html").exists()
    left, right = (":".join(split_key(k)) for k in keys[:2])
    out = runner.invoke(app, ["identity", "review", "decide", left, right, "--separate", "--reviewer", "ana"])
    assert out.exit_code == 0, out.output
    assert "split" in out.output
    out = runner.invoke(app, ["identity", "unmerge", pid, "--records", ":".join(split_key(keys[-1]))])
    assert out.exit_code == 0, out.output
    assert "unmerge" in out.output
    out = runner.invoke(app, ["identity", "review", "list", "--status", "all"])
    assert out.exit_code == 0 and "p=" in out.output
    out = runner.invoke(app, ["identity", "explain", "p_nobody"])
    assert out.exit_code == 2 and "unknown person id" in out.output
    for cmd in (["unmerge"], ["review", "decide"]):
        help_text = " ".join(runner.invoke(app, ["identity", *cmd, "--help"]).output.replace("│", " ").split())
        assert "only while no pipeline run is in progress" in help_text
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        a = assignments(con)
        assert a[keys[0]] != a[keys[1]] and len(a) == world_records.height   # split, nothing lost
    config._settings_for.cache_clear()
