"""The guard against chaining: links must not fuse two people whose own records contradict.

Two namesakes (John Smith, Austin) and one vendor record that mixes them up: it carries the first
one's LinkedIn profile and the second one's phone. Each link on its own is convincing (same name,
same city, same LinkedIn / same phone), so connected components put all five records in one
person. But the two people's own records say they are different (two different personal email
addresses, LinkedIn profiles, phones, employers and titles): a recruiter would see two people fused.
"""
from __future__ import annotations

import polars as pl

from warmpool.identity import resolve_frame
from warmpool.identity.clustering import constrained_clusters

COLUMNS = ["source", "source_record_id", "first_name", "last_name", "email", "phone", "city", "region", "country",
           "linkedin_url", "current_title", "current_company"]
ROWS = [
    # the first John Smith: a data engineer at Acme Analytics
    ["ats", "A1", "John", "Smith", "john.smith@gmail.com", "+1 512 555 0101", "Austin", "TX", "US",
     "https://www.linkedin.com/in/john-smith-a1b2c3", "Data Engineer", "Acme Analytics"],
    ["talentdb", "A2", "John", "Smith", "John.Smith@gmail.com", "(512) 555-0101", "Austin", "", "US",
     "linkedin.com/in/john-smith-a1b2c3/", "Data Engineer", "Acme Analytics"],
    # another John Smith in the same town: a sales manager at Globex
    ["ats", "B1", "John", "Smith", "jsmith77@yahoo.com", "+1 512 555 0199", "Austin", "TX", "US",
     "https://www.linkedin.com/in/john-smith-9f8e7d", "Sales Manager", "Globex Corp"],
    ["hirewire", "B2", "John", "Smith", "jsmith77@yahoo.com", "512.555.0199", "Austin", "TX", "US",
     "", "Sales Manager", "Globex Corp"],
    # a bought resume mixing them: the first one's LinkedIn, the second one's phone
    ["eurocv", "V1", "John", "Smith", "", "512-555-0199", "Austin", "", "US",
     "https://www.linkedin.com/in/john-smith-a1b2c3", "", ""],
]


def _records() -> pl.DataFrame:
    return pl.DataFrame(ROWS, schema=COLUMNS, orient="row")


def test_a_mixed_up_record_does_not_fuse_two_namesakes():
    out = resolve_frame(_records())
    person = dict(zip(out["source_record_id"].to_list(), out["person_id"].to_list()))
    # each person's own records stay together ...
    assert person["A1"] == person["A2"]
    assert person["B1"] == person["B2"]
    # ... and the two people stay apart, whichever side the mixed-up record joins
    assert person["A1"] != person["B1"]
    assert person["V1"] in (person["A1"], person["B1"])
    assert out["person_id"].n_unique() == 2


def test_the_cut_is_at_the_weakest_link_and_a_reviewer_link_still_wins():
    a, b, c = "s\x1fa", "s\x1fb", "s\x1fc"
    pairs = pl.DataFrame({
        "source_l": ["s", "s"], "source_record_id_l": ["a", "b"], "source_r": ["s", "s"],
        "source_record_id_r": ["c", "c"], "match_probability": [0.9999, 0.999], "match_weight": [20.0, 12.0]})
    keys = [a, b, c]

    plain = constrained_clusters(keys, pairs, 0.99)
    assert plain.clusters["cluster_id"].n_unique() == 1  # a ~ c ~ b: one chain

    guarded = constrained_clusters(keys, pairs, 0.99, contradictions=[(a, b)])
    cid = dict(zip(keys, guarded.clusters["cluster_id"].to_list()))
    assert cid[a] == cid[c] != cid[b]  # the weaker link (b-c) is the one refused
    assert guarded.guarded == [(b, c)]

    # a reviewer's link is the reviewer's word: the model's contradiction does not override it
    linked = constrained_clusters(keys, pairs, 0.99, links=[(a, b)], contradictions=[(a, b)])
    assert linked.clusters["cluster_id"].n_unique() == 1 and not linked.skipped_links


# ---- the warehouse runs: full, incremental and a reviewer's decision keep the same cut ----------

def _warehouse(records: pl.DataFrame):
    import duckdb

    from warmpool import tables

    con = duckdb.connect()
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.INTERMEDIATE}")
    con.register("_r", records.to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {tables.SOURCE_RECORDS} AS SELECT * FROM _r")
    con.unregister("_r")
    return con


def _persons(con) -> dict[str, str]:
    from warmpool import tables

    rows = con.execute(f"SELECT source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS}").fetchall()
    return dict(rows)


def test_pool_runs_keep_namesakes_apart_and_incremental_equals_full(tmp_path, monkeypatch):
    from warmpool import config
    from warmpool.identity import decide, resolve_pool
    from warmpool.identity.normalize import to_contract_frame

    monkeypatch.setenv("WARMPOOL_HOME", str(tmp_path / "home"))
    config._settings_for.cache_clear()
    try:
        records = to_contract_frame(_records())
        later = to_contract_frame(pl.DataFrame([["referral", "B3", "John", "Smith", "jsmith77@yahoo.com", "",
                                                 "Austin", "", "US", "", "Sales Manager", "Globex Corp"]],
                                               schema=COLUMNS, orient="row"))
        inc, full = _warehouse(records), _warehouse(records)
        resolve_pool(inc)
        resolve_pool(full)
        first = _persons(inc)
        assert first["A1"] == first["A2"] != first["B1"] == first["B2"]

        for con in (inc, full):
            con.execute("DELETE FROM intermediate.int_source_records")
            con.register("_r", pl.concat([records, later]).to_arrow())
            con.execute("INSERT INTO intermediate.int_source_records SELECT * FROM _r")
            con.unregister("_r")
        stats = resolve_pool(inc)
        resolve_pool(full, full=True)
        assert stats.kind == "resolve_incremental"
        assert _persons(inc) == _persons(full)
        after = _persons(inc)
        assert after["B3"] == after["B1"] != after["A1"]
        assert after["A1"] == first["A1"] and after["B1"] == first["B1"]  # ids kept

        # a reviewer who says the two are one person is obeyed, now and by the next run
        decide(inc, "ats\x1fA1", "ats\x1fB1", "link", reviewer="test")
        assert len(set(_persons(inc).values())) == 1
        resolve_pool(inc)
        assert len(set(_persons(inc).values())) == 1
    finally:
        config._settings_for.cache_clear()
