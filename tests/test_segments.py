"""Segments: YAML definitions validated with errors naming file and key, compiled to SQL in one place
(AND / OR / NOT over the listed filters), counted and listed from the command line."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cli.main import app
from warmpool.segments import (SegmentConfigError, compile_segment, count_segment, load_segment_file, load_segments,
                               load_segments_table, members_from_definitions, segment_person_ids)

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
PEOPLE = [  # person_id, job_family, city, country_code, skills, years, seniority, heat, silver, hired, sources,
            # consent_basis, last_activity_at, application_count
    ("ada", "Engineering", "Berlin", "DE", "Python;SQL", 8, "senior", "hot", False, False, "ats;talent_network",
     "opt_in", "2026-05-01", 2),
    ("bob", "Data", "Paris", "FR", "dbt;SQL", 3, "junior", "cold", True, False, "ats", "legitimate_interest",
     "2024-01-01", 1),
    ("cy", "Sales", "Austin", "US", "Negotiation", 12, "lead", "warm", True, False, "ats;referral", "opt_in",
     "2026-04-01", 3),
    ("dee", "Engineering", "Austin", "US", None, None, None, "inactive", False, True, "vendor_hirebase", None,
     None, 1),
    ("eve", None, None, None, "python", 1, "intern", "hot", False, False, "talent_network", "opt_in",
     "2026-05-30", 0),
]


@pytest.fixture
def warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema marts")
    con.execute("""create table marts.dim_candidates (person_id varchar, job_family varchar, city varchar,
        country_code varchar, skills varchar, years_experience numeric(5,1), seniority varchar, heat_band varchar,
        is_silver_medalist boolean, is_hired boolean, sources varchar, consent_basis varchar,
        last_activity_at timestamp, application_count bigint, region varchar)""")
    con.executemany("insert into marts.dim_candidates values (?,?,?,?,?,?,?,?,?,?,?,?,?,?, null)", PEOPLE)
    con.execute("""create table marts.fct_applications (person_id varchar, job_family varchar,
        is_silver_medal_application boolean)""")
    con.executemany("insert into marts.fct_applications values (?,?,?)",
                    [("bob", "Data", True), ("cy", "Sales", True), ("cy", "Data", False)])
    con.execute("create table marts.fct_pipeline_members (pipeline_name varchar, person_id varchar)")
    con.executemany("insert into marts.fct_pipeline_members values (?, ?)",
                    [("Data Eng 2026", "bob"), ("Data Eng 2026", "eve"), ("Sales Q3", "cy")])
    yield con
    con.close()


def write(dir: Path, name: str, body: str) -> Path:
    dir.mkdir(parents=True, exist_ok=True)
    path = dir / f"{name}.yaml"
    path.write_text(body)
    return path


def members(con, tmp_path, where: dict) -> list[str]:
    path = write(tmp_path / "segments", "s", json.dumps({"segment": "s", "version": 1, "where": where}))
    return segment_person_ids(con, load_segment_file(path), NOW)


@pytest.mark.parametrize("where, expected", [
    ({"job_family": ["engineering", "DATA"]}, ["ada", "bob", "dee"]),
    ({"country": ["Germany", "FR"]}, ["ada", "bob"]),
    ({"city": "austin"}, ["cy", "dee"]),
    ({"skills": ["sql"]}, ["ada", "bob"]),
    ({"years_experience": {"min": 3, "max": 10}}, ["ada", "bob"]),
    ({"seniority": ["senior", "lead"]}, ["ada", "cy"]),
    ({"heat_band": ["hot"]}, ["ada", "eve"]),
    ({"silver_medalist": True}, ["bob", "cy"]),
    ({"silver_medalist": {"job_families": ["sales"]}}, ["cy"]),
    ({"source": ["referral", "vendor_hirebase"]}, ["cy", "dee"]),
    ({"talent_type": ["alumni", "prospect"]}, ["dee", "eve"]),
    ({"talent_type": ["talent_network"]}, ["ada", "eve"]),
    ({"consent_basis": ["opt_in"]}, ["ada", "cy", "eve"]),
    ({"last_activity": {"within_days": 90}}, ["ada", "cy", "eve"]),
    ({"last_activity": {"not_within_days": 90}}, ["bob", "dee"]),
    ({"in_pipeline": ["data eng 2026"]}, ["bob", "eve"]),
    ({"in_pipeline": True}, ["bob", "cy", "eve"]),
    ({"not": {"in_pipeline": True}}, ["ada", "dee"]),
    # AND / OR / NOT; a missing value never matches a filter, so NOT of it does
    ({"all": [{"job_family": "engineering"}, {"country": "US"}]}, ["dee"]),
    ({"job_family": "engineering", "country": "US"}, ["dee"]),
    ({"any": [{"heat_band": "hot"}, {"silver_medalist": {"job_families": ["data"]}}]}, ["ada", "bob", "eve"]),
    ({"not": {"job_family": ["engineering"]}}, ["bob", "cy", "eve"]),
    ({"all": [{"not": {"any": [{"heat_band": "inactive"}, {"seniority": "intern"}]}}, {"skills": "sql"}]},
     ["ada", "bob"]),
    ({"all": []}, ["ada", "bob", "cy", "dee", "eve"]),
])
def test_filters_and_logic_select_the_right_people(warehouse, tmp_path, where, expected):
    assert members(warehouse, tmp_path, where) == expected


@pytest.mark.parametrize("body, key, words", [
    ("segment: s\nversion: 1\nwhere: {job_family: [astronauts]}", "where.job_family", "not a job family"),
    ("segment: s\nversion: 1\nwhere: {all: [{country: Atlantis}]}", "where.all[0].country", "not a country"),
    ("segment: s\nversion: 1\nwhere: {any: [{heat_band: [hot]}, {colour: red}]}", "where.any[1].colour",
     "unknown filter"),
    ("segment: s\nversion: 1\nwhere: {years_experience: {min: -1}}", "where.years_experience.min", ">= 0"),
    ("segment: s\nwhere: {heat_band: hot}", "version", "whole number"),
    ("segment: other\nversion: 1\nwhere: {heat_band: hot}", "segment", "file name"),
    ("segment: s\nversion: 1\nwhere: {all: [], not: {heat_band: hot}}", "where", "stand alone"),
    ("segment: s\nversion: 1\nwher: {}", "wher", "unknown key"),
])
def test_invalid_segments_name_the_file_and_the_key(tmp_path, body, key, words):
    path = write(tmp_path, "s", body)
    with pytest.raises(SegmentConfigError) as err:
        load_segment_file(path)
    assert err.value.key == key and str(path) in str(err.value) and words in str(err.value)


def test_shipped_segments_load_and_round_trip_through_the_warehouse(warehouse):
    segments = load_segments()
    assert {"active-engineering-and-data", "sales-silver-medalists"} <= set(segments)
    assert load_segments_table(warehouse, segments) == len(segments)
    stored = warehouse.execute("select segment, version, definition from raw_campaigns.segments").fetchall()
    # what write_segment_members runs from the stored definitions equals the direct answer
    rows = members_from_definitions(warehouse, stored, NOW)
    for name, segment in segments.items():
        assert sorted(p for s, _, p in rows if s == name) == segment_person_ids(warehouse, segment, NOW)
        assert count_segment(warehouse, segment, NOW) == len(segment_person_ids(warehouse, segment, NOW))
    assert segment_person_ids(warehouse, segments["sales-silver-medalists"], NOW) == ["cy"]


def test_values_are_bound_as_parameters_never_spliced(tmp_path):
    path = write(tmp_path, "s", "segment: s\nversion: 1\nwhere: {city: \"x') or true --\"}")
    compiled = compile_segment(load_segment_file(path), NOW)
    assert "or true" not in compiled.sql and ["x') or true --"] in compiled.params


def test_segment_cli_list_show_count(warehouse, tmp_path, monkeypatch):
    warehouse.close()
    monkeypatch.setenv("WARMPOOL_HOME", str(tmp_path))
    (tmp_path / "w.duckdb").rename(tmp_path / "warehouse.duckdb")
    runner = CliRunner()
    listed = runner.invoke(app, ["segment", "list"])
    assert listed.exit_code == 0 and "sales-silver-medalists" in listed.output
    shown = runner.invoke(app, ["segment", "show", "sales-silver-medalists"])
    assert shown.exit_code == 0 and "any of:" in shown.output and "silver_medalist" in shown.output
    counted = runner.invoke(app, ["segment", "count", "sales-silver-medalists", "--as-of", "2026-06-01"])
    assert counted.exit_code == 0, counted.output
    assert counted.output.strip().endswith(": 1")
    missing = runner.invoke(app, ["segment", "show", "nope"])
    assert missing.exit_code == 2 and "unknown segment" in missing.output
