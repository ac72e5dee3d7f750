"""Stable person ids across resolve runs, and the history of merges and splits.

Runs ``resolve_pool`` on a small sandbox world (generated once) in an in-memory warehouse; a
bridging record is added and removed to make two people merge and split again.
"""
from __future__ import annotations

import runpy
from pathlib import Path

import duckdb
import polars as pl
import pytest

from warmpool import tables
from warmpool.identity import canonical_person_id, resolve_frame, resolve_pool
from warmpool.identity.clustering import constrained_clusters
from warmpool.identity.keys import record_key
from warmpool.identity.normalize import to_contract_frame

REPO = Path(__file__).resolve().parent.parent

# One made-up person seen by two sources that do not link on their own (different contact
# details, country and job), and a third record carrying both contacts: the bridge.
QZ = dict(first_name="Quentin", last_name="Zubrowski")
QZ_EMAIL = dict(source="talentdb", source_record_id="QZ-1", email="q.zubrowski@gmail.com", city="Austin",
                region="TX", country="US", current_title="Data Engineer", **QZ)
QZ_PHONE = dict(source="hirewire", source_record_id="QZ-2", phone="+1 512 555 0142", city="Lisbon",
                country="Portugal", current_title="Nurse", linkedin_url="https://www.linkedin.com/in/qzub-42", **QZ)
QZ_BRIDGE = dict(source="referral", source_record_id="QZ-3", email="q.zubrowski@gmail.com", phone="+1 512 555 0142",
                 linkedin_url="https://www.linkedin.com/in/qzub-42", **QZ)


@pytest.fixture(scope="module")
def world_records(tmp_path_factory) -> pl.DataFrame:
    from sandbox.world import generate_world

    home = tmp_path_factory.mktemp("identity-history-world")
    generate_world(people=400, seed=21, home=home)
    return to_contract_frame(pl.read_csv(home / "sandbox" / "exports" / "source_records.csv", infer_schema=False))


def with_records(records: pl.DataFrame, *extra: dict) -> pl.DataFrame:
    return pl.concat([records, to_contract_frame(pl.DataFrame(list(extra)))]) if extra else records


def set_pool(con, records: pl.DataFrame) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.INTERMEDIATE}")
    con.register("_r", records.to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {tables.SOURCE_RECORDS} AS SELECT * FROM _r")
    con.unregister("_r")


def assignments(con) -> dict[tuple[str, str], str]:
    return {(s, r): p for s, r, p in con.execute(
        f"SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS}").fetchall()}


def history_rows(con) -> list[tuple]:
    return con.execute(f"""SELECT retired_person_id, surviving_person_id, reason, records_moved, run_id
        FROM {tables.PERSON_MERGES} ORDER BY recorded_at, 1, 2""").fetchall()


def last_run(con) -> dict:
    cur = con.execute(f"SELECT * FROM {tables.RESOLUTION_RUNS} ORDER BY started_at DESC LIMIT 1")
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchall()[0]))


def test_rerun_keeps_every_id_and_records_no_change(world_records):
    con = duckdb.connect()
    set_pool(con, world_records)
    resolve_pool(con)
    first = assignments(con)
    resolve_pool(con)
    assert assignments(con) == first
    assert history_rows(con) == []
    run = last_run(con)
    assert (run["records"], run["merges"], run["splits"], run["kind"]) == (len(first), 0, 0, "resolve_incremental")  # nothing new: the fast path
    assert run["persons"] == len(set(first.values()))
    # every current id maps to itself
    assert con.execute(f"SELECT count(*) FROM {tables.PERSON_ID_MAP} WHERE any_person_id <> person_id"
                       ).fetchall()[0][0] == 0
    assert con.execute(f"SELECT count(*) FROM {tables.PERSON_ID_MAP}").fetchall()[0][0] == len(set(first.values()))


def test_added_records_keep_existing_ids_and_every_change_is_in_history(world_records):
    con = duckdb.connect()
    early = world_records.sample(fraction=0.7, seed=5, shuffle=False)
    set_pool(con, early)
    resolve_pool(con)
    before = assignments(con)
    set_pool(con, world_records)
    resolve_pool(con)
    after = assignments(con)
    assert set(before) <= set(after) and len(after) == world_records.height
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert len(changed) <= 0.02 * len(before), changed        # only genuine merges move ids
    merges = {(r, s) for r, s, reason, _, _ in history_rows(con) if reason == "merge"}
    for old, new in changed.values():
        assert (old, new) in merges                             # the retired id points at its survivor
        assert canonical_person_id(con, old) == new
    alive = set(after.values())
    assert all(canonical_person_id(con, p) in alive for p in set(before.values()))  # nothing orphaned


def test_bridging_record_merges_two_people_with_deterministic_survivor(world_records):
    con = duckdb.connect()
    set_pool(con, with_records(world_records, QZ_EMAIL, QZ_PHONE))
    resolve_pool(con)
    a = assignments(con)
    p_email, p_phone = a[("talentdb", "QZ-1")], a[("hirewire", "QZ-2")]
    assert p_email != p_phone, "precondition: the two Zubrowski records must not link on their own"

    set_pool(con, with_records(world_records, QZ_EMAIL, QZ_PHONE, QZ_BRIDGE))
    resolve_pool(con)
    b = assignments(con)
    merged = b[("talentdb", "QZ-1")]
    assert merged == b[("hirewire", "QZ-2")] == b[("referral", "QZ-3")]
    survivor = min(p_email, p_phone)      # equal sizes (one record each): the smaller id survives
    retired = max(p_email, p_phone)
    assert merged == survivor
    rows = [r for r in history_rows(con) if r[0] == retired]
    assert [(r[1], r[2], r[3]) for r in rows] == [(survivor, "merge", 1)]
    assert canonical_person_id(con, retired) == survivor
    assert con.execute(f"SELECT person_id FROM {tables.PERSON_ID_MAP} WHERE any_person_id = ?",
                       [retired]).fetchall() == [(survivor,)]
    run = last_run(con)
    assert (run["merges"], run["splits"]) == (1, 0)
    # nobody else moved
    assert {k: v for k, v in b.items() if k[1] not in ("QZ-1", "QZ-2", "QZ-3")} == \
        {k: v for k, v in a.items() if k[1] not in ("QZ-1", "QZ-2")}

    # the bridge goes away: the person splits again; the part that lost its id gets its own back
    # (it is derived from its own record), and the history says so
    set_pool(con, with_records(world_records, QZ_EMAIL, QZ_PHONE))
    resolve_pool(con)
    c = assignments(con)
    assert c[("talentdb", "QZ-1")] != c[("hirewire", "QZ-2")]
    assert {c[("talentdb", "QZ-1")], c[("hirewire", "QZ-2")]} == {survivor, retired}
    split = [r for r in history_rows(con) if r[2] == "split"]
    assert [(r[0], r[1], r[3]) for r in split] == [(survivor, retired, 1)]
    assert canonical_person_id(con, retired) == retired      # alive again: maps to itself
    run = last_run(con)
    assert (run["merges"], run["splits"]) == (0, 1)


def test_constrained_clusters_cut_the_weakest_link():
    keys = [record_key("s", x) for x in "abcd"]
    pairs = pl.DataFrame({
        "source_l": ["s"] * 3, "source_record_id_l": ["a", "b", "c"],
        "source_r": ["s"] * 3, "source_record_id_r": ["b", "c", "d"],
        "match_probability": [0.99, 0.85, 0.999], "match_weight": [7.0, 2.5, 10.0]})
    plain = constrained_clusters(keys, pairs, 0.8)
    assert plain.clusters["cluster_id"].n_unique() == 1 and len(plain.held_by) == 3
    # a and d must be apart: the b-c link (weakest) is the one cut
    cut = constrained_clusters(keys, pairs, 0.8, separates=[(keys[0], keys[3])])
    ids = dict(zip(cut.clusters["source_record_id"], cut.clusters["cluster_id"]))
    assert ids["a"] == ids["b"] != ids["c"] == ids["d"]
    # a reviewer's link joins what the model would not; one contradicting a separate is skipped
    linked = constrained_clusters(keys, None, 0.8, links=[(keys[0], keys[3]), (keys[1], keys[2])],
                                  separates=[(keys[0], keys[2])])
    ids = dict(zip(linked.clusters["source_record_id"], linked.clusters["cluster_id"]))
    assert ids["a"] == ids["d"] and ids["b"] == ids["c"] != ids["a"]


def test_pool_clustering_equals_the_cli_clustering(world_records):
    """resolve_pool clusters its own scored pairs; without decisions it must agree with resolve_frame."""
    con = duckdb.connect()
    set_pool(con, world_records)
    resolve_pool(con)
    pool = pl.DataFrame([(s, r, p) for (s, r), p in assignments(con).items()],
                        schema=["source", "source_record_id", "person_id"], orient="row")
    cli = resolve_frame(world_records)
    joined = pool.join(cli, on=["source", "source_record_id"], suffix="_cli")
    # same partition: every pool person is exactly one CLI person and vice versa
    assert joined.group_by("person_id").agg(pl.col("person_id_cli").n_unique())["person_id_cli"].max() == 1
    assert joined.group_by("person_id_cli").agg(pl.col("person_id").n_unique())["person_id"].max() == 1


def test_diagnostics_notebook_runs_as_a_script(tmp_path, monkeypatch):
    monkeypatch.setenv("WARMPOOL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IDENTITY_NOTEBOOK_HOME", str(tmp_path / "nb-home"))
    monkeypatch.setenv("IDENTITY_NOTEBOOK_PEOPLE", "300")
    monkeypatch.setenv("IDENTITY_NOTEBOOK_OUT", str(tmp_path / "charts"))
    from warmpool import config

    config._settings_for.cache_clear()
    ns = runpy.run_path(str(REPO / "notebooks" / "identity_diagnostics.py"), run_name="__main__")
    charts = {p.name for p in (tmp_path / "charts").iterdir()}
    assert {"m_u_parameters.html", "match_weights.html", "waterfall.html"} <= charts
    assert ns["scores"].f1 > 0.9
    config._settings_for.cache_clear()
