"""Resolve: the CLI contract, stable person ids, and pairwise accuracy against known truth."""
from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import polars as pl
import pytest

from warmpool import tables
from warmpool.identity import ResolveInputError, pairwise_scores, resolve_csv, resolve_frame, resolve_pool
from warmpool.identity.history import assign_stable_ids

HEADER = ["source", "source_record_id", "first_name", "last_name", "email", "phone", "city", "region", "country",
          "linkedin_url", "current_title", "current_company", "skills", "years_experience", "updated_at"]


def _write(path: Path, header, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def world(small_world):
    """The shared sandbox world's records (resolve contract) and its truth."""
    records = pl.read_csv(small_world.sandbox_dir / "exports" / "source_records.csv", infer_schema=False)
    truth = pl.read_csv(small_world.sandbox_dir / "truth" / "source_record_person.csv", infer_schema=False)
    return records, truth


# ---- evaluate --------------------------------------------------------------------------------

def test_pairwise_scores_from_counts():
    df = pl.DataFrame({"person_id": ["a", "a", "a", "b", "c"], "true_person_id": ["x", "x", "y", "y", "z"]})
    s = pairwise_scores(df)
    # predicted pairs: 3 (a); true pairs: 1 (x) + 1 (y); correct: 1 (x inside a)
    assert (s.true_positive_pairs, s.predicted_pairs, s.true_pairs) == (1, 3, 2)
    assert s.precision == pytest.approx(1 / 3) and s.recall == pytest.approx(0.5)


# ---- resolve_csv contract --------------------------------------------------------------------

def test_resolve_csv_one_row_per_input_row_in_order(tmp_path):
    rows = [
        ["ats", "1", "Robert", "Smith", "Rob.Smith@gmail.com", "(415) 555-0123", "Austin", "TX", "US", "", "", "", "", "", ""],
        ["talentdb", "T-9", "Bob", "Smith", "robsmith+jobs@googlemail.com", "+1 415 555 0123", "Austin", "", "USA", "", "", "", "", "", ""],
        ["referral", "77", "Ana", "García", "", "", "Madrid", "", "Spain", "", "", "", "", "", ""],
        ["ats", "1", "Robert", "Smith", "", "", "", "", "", "", "", "", "", "", ""],  # same key twice
    ]
    out = tmp_path / "out.csv"
    stats = resolve_csv(_write(tmp_path / "in.csv", HEADER, rows), out)
    got = pl.read_csv(out, infer_schema=False)
    assert got.height == 4
    assert got["source_record_id"].to_list() == ["1", "T-9", "77", "1"]
    assert {"source", "source_record_id", "person_id"} <= set(got.columns)
    pid = got["person_id"].to_list()
    assert pid[0] == pid[1] == pid[3] and pid[2] != pid[0]
    assert stats.records == 4 and stats.persons == 2 and stats.duplicates_merged == 1
    assert "2 persons" in stats.describe()


def test_resolve_csv_ignores_extra_and_missing_optional_columns(tmp_path):
    # no phone, location, employer... columns at all: name + email is evidence enough
    path = _write(tmp_path / "in.csv", ["Source", "source_record_id", "last_name", "email", "favourite_colour"],
                  [["a", "1", "Okafor", "x@example.com", "red"], ["b", "2", "OKAFOR", "X@Example.com", "blue"],
                   ["c", "3", "Okafor", "", ""]])
    out = tmp_path / "out.csv"
    resolve_csv(path, out)
    got = pl.read_csv(out, infer_schema=False)
    assert got.height == 3 and "favourite_colour" not in got.columns
    assert got["person_id"][0] == got["person_id"][1] != got["person_id"][2]


def test_resolve_csv_names_file_row_and_field_of_missing_key(tmp_path):
    path = _write(tmp_path / "bad.csv", HEADER[:4], [["ats", "1", "A", "B"], ["ats", "", "C", "D"]])
    with pytest.raises(ResolveInputError) as exc:
        resolve_csv(path, tmp_path / "out.csv")
    msg = str(exc.value)
    assert "bad.csv" in msg and "row 2" in msg and "line 3" in msg and "source_record_id" in msg


def test_resolve_csv_names_missing_key_column(tmp_path):
    path = _write(tmp_path / "bad.csv", ["source", "first_name"], [["ats", "A"]])
    with pytest.raises(ResolveInputError, match="bad.csv.*'source_record_id'"):
        resolve_csv(path, tmp_path / "out.csv")


def test_resolve_csv_empty_file(tmp_path):
    path = _write(tmp_path / "empty.csv", HEADER, [])
    stats = resolve_csv(path, tmp_path / "out.csv")
    assert stats.records == 0 and pl.read_csv(tmp_path / "out.csv").height == 0


# ---- stable ids ------------------------------------------------------------------------------

def test_ids_stable_across_rerun_and_when_records_are_added(world):
    everything, _ = world
    cut = int(everything.height * 0.8)  # the pool as it was; the rest arrives later (often the same people)
    records, more = everything.head(cut), everything.tail(everything.height - cut)
    first = resolve_frame(records)
    again = resolve_frame(records)
    assert first["person_id"].to_list() == again["person_id"].to_list()  # deterministic without history

    grown = resolve_frame(pl.concat([records, more]), previous=first)
    joined = first.join(grown, on=["source", "source_record_id"], suffix="_new")
    kept = (joined["person_id"] == joined["person_id_new"]).mean()
    assert kept > 0.99, kept                   # only genuine merges with new records may move ids
    assert grown.height == records.height + more.height and grown["person_id"].null_count() == 0


def test_assign_stable_ids_merge_and_split_rules():
    prev = pl.DataFrame({"source": ["s"] * 5, "source_record_id": ["1", "2", "3", "4", "5"],
                         "person_id": ["p_big", "p_big", "p_big", "p_small", "p_small"]})
    # merge: p_big (3 records) and p_small (2) now one cluster -> p_big survives
    merged = pl.DataFrame({"source": ["s"] * 5, "source_record_id": ["1", "2", "3", "4", "5"], "cluster_id": ["c"] * 5})
    assert set(assign_stable_ids(merged, prev)["person_id"]) == {"p_big"}
    # split: p_big's records into two clusters -> the bigger part keeps it, the other gets a fresh id
    split = pl.DataFrame({"source": ["s"] * 3, "source_record_id": ["1", "2", "3"], "cluster_id": ["x", "x", "y"]})
    ids = assign_stable_ids(split, prev)["person_id"].to_list()
    assert ids[0] == ids[1] == "p_big" and ids[2] not in {"p_big", "p_small"} and ids[2].startswith("p_")
    # no history: id derived from the minimum key, same input -> same id
    fresh = assign_stable_ids(split)["person_id"].to_list()
    assert fresh == assign_stable_ids(split.reverse())["person_id"].to_list()[::-1]


def test_resolve_pool_writes_assignments_and_keeps_ids(world):
    records, _ = world
    con = duckdb.connect()
    con.execute(f"CREATE SCHEMA {tables.INTERMEDIATE}")
    con.register("r", records.to_arrow())
    con.execute(f"CREATE TABLE {tables.SOURCE_RECORDS} AS SELECT * FROM r")
    s1 = resolve_pool(con)
    a1 = con.sql(f"SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS} ORDER BY 1, 2").fetchall()
    assert s1.records == len(a1) == records.height
    cols = [r[0] for r in con.execute(f"DESCRIBE {tables.PERSON_ASSIGNMENTS}").fetchall()]
    assert cols == ["source", "source_record_id", "person_id", "cluster_size", "resolved_at"]
    resolve_pool(con)
    a2 = con.sql(f"SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS} ORDER BY 1, 2").fetchall()
    assert a1 == a2
