"""Search on a world that went through the whole pipeline: the index the run built, hybrid ranking judged
against the generator's truth, filters that never cost a result, the audit log, saved searches, the
search-first look-up and the ATS write-back."""
from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import polars as pl
import pytest

from sandbox import vocab as V
from sandbox.relevance import ndcg_at, read_csv, world_relevance_set
from warmpool.config import get_settings
from warmpool.search import LookupQuery, SearchFilters, audit_log, lookup_person, search, sourcing_store
from warmpool.search.engine import SearchEngine
from warmpool.search.index import SearchIndex
from warmpool.search.lookup import pool_features
from warmpool.search.refresh import _LOOKUP_RECORDS_SQL, _identity_features
from warmpool.search.sourcing import push_pipeline, run_saved_searches
from warmpool.search.vector_index import VectorIndex
from warmpool.warehouse import frame_of, warehouse


@pytest.fixture(scope="module")
def built_index(pipeline_world) -> Path:
    index_dir = pipeline_world.home / "search" / "index"
    assert (index_dir / "CURRENT").exists(), "the pipeline run did not build the search index"
    return index_dir


@pytest.fixture
def search_home(built_index, pipeline_world, tmp_path, monkeypatch):
    """A home holding a copy of the pipeline world's search index (and its ATS files), nothing else:
    searches here write their own audit log and sourcing store, never the shared world's."""
    from warmpool import config

    home = tmp_path / "home"
    shutil.copytree(built_index, home / "search" / "index")
    shutil.copytree(pipeline_world.home / "sandbox" / "ats", home / "sandbox" / "ats")
    monkeypatch.setenv("WARMPOOL_HOME", str(home))
    monkeypatch.setenv("WARMPOOL_USER", "test.recruiter")
    config._settings_for.cache_clear()
    yield get_settings()
    config._settings_for.cache_clear()


@pytest.fixture(scope="module")
def index(built_index) -> SearchIndex:
    return SearchIndex.load(built_index)


@pytest.fixture(scope="module")
def engine(index) -> SearchEngine:
    return SearchEngine(index)


@pytest.fixture(scope="module")
def truth_people(pipeline_world) -> dict[str, dict]:
    return {p["true_person_id"]: p for p in read_csv(pipeline_world.truth_dir / "people.csv")}


@pytest.fixture(scope="module")
def true_of(pipeline_world, index) -> dict[str, str]:
    """pool person id -> true person id (the majority of their records)."""
    records = pd.read_csv(pipeline_world.truth_dir / "source_record_person.csv", dtype=str)
    merged = index.frame("records").astype({"source_record_id": str}).merge(records, on=["source", "source_record_id"])
    return merged.groupby("person_id")["true_person_id"].agg(lambda s: s.mode().iloc[0]).to_dict()


# --- the index the pipeline built -------------------------------------------------------------------
def test_the_run_indexed_every_person_with_their_resume_text(index, pipeline_world):
    from warmpool.warehouse import warehouse

    with warehouse(pipeline_world.home / "warehouse.duckdb", read_only=True) as con:
        people = con.execute("select count(*) from marts.dim_candidates").fetchone()[0]
        resume = con.execute("select person_id, resume_text from marts.dim_candidate_resumes limit 1").fetchone()
    assert index.rows == people
    assert resume is not None, "uploaded resume text should reach the marts"
    document = index.profiles.set_index("person_id").loc[resume[0], "keyword_text"]
    assert " ".join(resume[1].split()) in document


# --- relevance ------------------------------------------------------------------------------------
def test_hybrid_is_at_least_as_good_as_keyword_or_vector_alone(engine, index, pipeline_world):
    queries = world_relevance_set(pipeline_world.truth_dir,
                                  index.frame("records")[["person_id", "source", "source_record_id"]]
                                  .itertuples(index=False))
    assert len(queries) >= 10
    vectors = {q.query: engine.encoder.encode_query(q.query) for q in queries}
    score = {mode: float(np.mean([ndcg_at(engine.search(q.query, limit=10, mode=mode,
                                                        query_vector=vectors[q.query]).person_ids, q.gains)
                                  for q in queries]))
             for mode in ("keyword", "semantic", "hybrid")}
    assert score["hybrid"] >= score["keyword"] and score["hybrid"] >= score["semantic"], score
    assert score["hybrid"] > 0.3, score


@pytest.mark.parametrize("query, family, skills", [
    ("senior data engineer spark airflow", "data", {"spark", "airflow"}),
    ("account executive salesforce saas", "sales", {"salesforce", "saas"}),
    ("product designer figma design systems", "design", {"figma", "design systems"}),
])
def test_hand_checked_queries(engine, true_of, truth_people, query, family, skills):
    """Checked by hand on this world: the top five are all of the query's family (by the generator's
    truth), and the first result has every skill the query names."""
    top = engine.search(query, limit=5).results
    assert [truth_people[true_of[r.person_id]]["job_family"] for r in top] == [family] * 5
    assert skills <= set(truth_people[true_of[top[0].person_id]]["skills"].split(";"))
    assert set(top[0].why["matched_terms"]) >= {t for s in skills for t in s.split()}


def test_each_result_says_why_it_matched(engine):
    response = engine.search("python kubernetes", SearchFilters(job_families=("engineering",)), limit=3)
    for r in response.results:
        assert r.why["filters"] == {"job_families": ["engineering"]}
        assert r.why["similarity"] is not None and -1 <= r.why["similarity"] <= 1
        assert r.why["matched_terms"] and set(r.why["matched_terms"]) <= {"python", "kubernetes"}
        assert r.profile["job_family"].lower() == "engineering"


# --- filters ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("filters", [
    SearchFilters(country="Germany"),
    SearchFilters(job_families=("finance",), contactable_only=True),
    SearchFilters(skills=("python", "sql")),
    SearchFilters(min_years=10, silver_medalist_only=False, sources=("talentdb", "eurocv")),
    SearchFilters(near="London", radius_km=50),
    SearchFilters(silver_medalist_only=True),
])
def test_a_filtered_query_returns_k_results_when_k_exist(engine, index, filters):
    allowed = int(index.table.mask(filters).sum())
    assert allowed > 0
    for k in (1, 10, allowed + 5):
        response = engine.search("experienced hands-on professional", filters, limit=k)
        assert len(response.results) == min(k, allowed)
        assert response.allowed == allowed


def test_filters_hold_for_every_result(engine):
    since = datetime(2026, 6, 1).date()
    f = SearchFilters(country="US", min_years=3, max_years=12, contactable_only=True, active_since=since)
    results = engine.search("sales", f, limit=50).results
    assert results
    for r in results:
        p = r.profile
        assert p["country"] in ("United States", "US", "USA", "United States of America")
        assert 3 <= float(p["years_experience"]) <= 12 and p["is_contactable"]
        assert datetime.fromisoformat(str(p["last_activity_at"])).date() >= since


def test_radius_uses_coordinates_and_leaves_unknown_places_out(index):
    near = index.table.mask(SearchFilters(near="San Francisco", radius_km=100))
    cities = set(index.profiles.loc[near, "city"].str.lower())
    assert cities and cities <= {"san francisco", "san jose", "sf", "san francisco bay area"}
    assert not index.profiles.loc[near, "latitude"].isna().any()


def test_the_graph_search_with_a_selective_filter_still_finds_k(index):
    """The HNSW path (built here on the small pool): filtered inside the graph walk, exact fallback."""
    graph = VectorIndex.build(np.asarray(index.vectors.vectors), min_rows_for_graph=0)
    graph.exact_max_rows = graph.walk_min_rows = 0  # always the graph first
    q = np.asarray(index.vectors.vectors[0])
    methods = set()
    for share in (0.5, 0.05, 0.005):
        mask = np.random.default_rng(3).random(index.rows) < share
        k = 10
        rows, _, how = graph.search(q, k, mask)
        methods.add(how)
        exact_rows, _ = graph.exact(q, k, mask)
        assert len(rows) == min(k, int(mask.sum())) and mask[rows].all()
        assert len(set(rows) & set(exact_rows)) >= 0.9 * len(exact_rows)
    assert "hnsw" in methods


# --- audit log ---------------------------------------------------------------------------------------
def test_1000_scripted_searches_leave_1000_complete_audit_rows(search_home):
    words = ["python", "sales", "designer", "finance", "data", "marketing", "operations", "product"]
    filters = [{}, {"country": "US"}, {"contactable_only": True}, {"job_families": ["engineering"]}]
    queries = [f"{w} {n}" for w in words for n in ("lead", "remote", "senior", "junior", "contract")]
    for i in range(1000):
        search(queries[i % len(queries)], filters[i % len(filters)], limit=5, user=f"recruiter{i % 7}",
               requisition_id=None if i % 3 else f"REQ-{i}", channel="cli")
    with audit_log.audit_log(search_home.search_audit_path) as con:
        rows = audit_log.rows(con)
    assert len(rows) == 1000
    for i, row in enumerate(rows):
        for column in ("searched_at", "searched_by", "channel", "query", "filters", "result_person_ids", "retain_until"):
            assert row[column] not in (None, ""), (i, column)
        assert row["query"] == queries[i % len(queries)]
        assert json.loads(row["filters"]) == SearchFilters.from_dict(filters[i % len(filters)]).as_dict()
        assert len(json.loads(row["result_person_ids"])) == row["result_count"] == 5
        assert row["requisition_id"] == (None if i % 3 else f"REQ-{i}")
        assert row["retain_until"] >= (datetime.now(timezone.utc) + timedelta(days=729)).strftime("%Y-%m-%d")


def test_the_audit_store_refuses_updates_and_early_deletes(search_home, tmp_path):
    search("python", {}, limit=3, user="alice")
    con = sqlite3.connect(search_home.search_audit_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("update search_audit set query = 'nothing to see' where audit_seq = 1")
        with pytest.raises(sqlite3.IntegrityError, match="retention"):
            con.execute("delete from search_audit")
        assert con.execute("select query from search_audit").fetchall() == [("python",)]
        # past its retention date a row may go (a retention purge); the trigger checks the row's own date
        con.execute("insert into search_audit (searched_at, searched_by, channel, query, filters, result_person_ids, "
                    "result_count, retain_until) values ('2020-01-01T00:00:00Z', 'x', 'cli', 'old', '{}', '[]', 0, "
                    "'2022-01-01T00:00:00Z')")
        con.execute("delete from search_audit where query = 'old'")
        con.commit()
    finally:
        con.close()
    out = tmp_path / "audit.csv"
    with audit_log.audit_log(search_home.search_audit_path) as alog:
        assert audit_log.export_csv(alog, out, datetime.now(timezone.utc) - timedelta(days=1)) == 1
    assert pd.read_csv(out)["searched_by"].tolist() == ["alice"]


# --- saved searches and pipelines -----------------------------------------------------------------
def test_a_saved_search_run_twice_adds_each_new_match_once(search_home):
    with sourcing_store.sourcing_store(search_home.sourcing_store_path) as con:
        pid = sourcing_store.create_pipeline(con, "Data engineers", "alice")
        sourcing_store.add_members(con, pid, [search("data engineer spark", {}, 1).person_ids[0]], "alice", "search")
        sourcing_store.save_search(con, "spark people", "data engineer spark", {"job_families": ["data"]}, pid,
                                   "alice", top_n=15)
    first = run_saved_searches(search_home)
    second = run_saved_searches(search_home)
    assert len(first[0].added) == 14  # the one added by hand is matched but not added twice
    assert second[0].added == []
    with sourcing_store.sourcing_store(search_home.sourcing_store_path) as con:
        members = sourcing_store.members(con, pid)
        events = sourcing_store.read_after(con, "pipeline_events", 0)
    assert len(members) == 15 and len({m["person_id"] for m in members}) == 15
    assert len(events) == 15
    with audit_log.audit_log(search_home.search_audit_path) as con:
        channels = [r["channel"] for r in audit_log.rows(con)]
    assert channels.count("saved_search") == 2


def test_a_saved_search_restricted_to_a_segment_adds_only_its_members_once_each(search_home, pipeline_world):
    """The segment as dbt computed it (marts.segment_members): the saved search keeps its filter in the
    sourcing store and the audit log, and its runs add members of that segment only, each once."""
    from warmpool.warehouse import warehouse

    with warehouse(pipeline_world.home / "warehouse.duckdb", read_only=True) as con:
        members = {r[0] for r in con.execute("select person_id from marts.segment_members "
                                             "where segment = 'experienced-sales'").fetchall()}
    assert len(members) > 30
    query = "sales account executive"
    unfiltered = search(query, {}, 30).person_ids
    shown = search(query, {"segment": "experienced-sales"}, 5).results
    assert all("experienced-sales" in r.profile["segments"].split(";") for r in shown)   # each result says so
    assert set(unfiltered) - members, "the query alone should also find people outside the segment"
    with sourcing_store.sourcing_store(search_home.sourcing_store_path) as con:
        pid = sourcing_store.create_pipeline(con, "Experienced sellers", "alice")
        sourcing_store.save_search(con, "sellers", query, SearchFilters(segment="experienced-sales").as_dict(), pid,
                                   "alice", top_n=30)
    first = run_saved_searches(search_home)
    second = run_saved_searches(search_home)
    assert len(first[0].added) == 30 and set(first[0].added) <= members
    assert second[0].added == [] and second[0].error is None
    with sourcing_store.sourcing_store(search_home.sourcing_store_path) as con:
        added = [m["person_id"] for m in sourcing_store.members(con, pid)]
    assert sorted(added) == sorted(first[0].added)
    with audit_log.audit_log(search_home.search_audit_path) as con:
        saved = [r for r in audit_log.rows(con) if r["channel"] == "saved_search"]
    assert [json.loads(r["filters"]) for r in saved] == [{"segment": "experienced-sales"}] * 2


def test_an_unknown_segment_is_refused_naming_the_known_ones(search_home):
    from typer.testing import CliRunner

    from cli.main import app

    result = subprocess.run([str(Path(sys.executable).with_name("warmpool")), "search", "python", "--segment",
                             "sales-people"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert ("unknown segment 'sales-people'; known segments: active-engineering-and-data, engineering-and-data, "
            "experienced-sales, sales-silver-medalists, silver-medalists-beyond-tech-and-sales") in result.stderr
    with sourcing_store.sourcing_store(search_home.sourcing_store_path) as con:
        sourcing_store.create_pipeline(con, "Sellers", "alice")
    saved = CliRunner().invoke(app, ["pipeline", "save-search", "Sellers", "sellers", "sales", "--segment", "sales-people"])
    assert saved.exit_code == 2 and "unknown segment 'sales-people'" in saved.output
    with sourcing_store.sourcing_store(search_home.sourcing_store_path) as con:
        assert sourcing_store.saved_searches(con) == []
        # one saved from elsewhere with a segment since removed: its run says so, the others still run
        pid = int(sourcing_store.pipeline(con, "Sellers")["pipeline_id"])
        sourcing_store.save_search(con, "stale", "sales", {"segment": "sales-people"}, pid, "alice", top_n=5)
        sourcing_store.save_search(con, "fine", "sales", {"segment": "experienced-sales"}, pid, "alice", top_n=5)
    runs = {r.name: r for r in run_saved_searches(search_home)}
    assert "unknown segment 'sales-people'" in runs["stale"].describe() and not runs["stale"].added
    assert len(runs["fine"].added) == 5


def test_lookup_finds_a_person_bought_twice_under_a_nickname_and_a_new_email(search_home, pipeline_world, true_of,
                                                                              truth_people):
    records = pd.read_csv(pipeline_world.truth_dir / "source_record_person.csv", dtype=str)
    exported = pd.read_csv(pipeline_world.home / "sandbox" / "exports" / "source_records.csv", dtype=str)
    vendors = records[records["source"].isin(["talentdb", "hirewire", "eurocv"])]
    bought_twice = vendors.groupby("true_person_id")["source"].nunique()
    chosen = None
    for true_id in bought_twice[bought_twice >= 2].index:
        person = truth_people[true_id]
        rows = records[records["true_person_id"] == true_id].merge(exported, on=["source", "source_record_id"])
        first = rows["first_name"].dropna()
        if person["kind"] == "base" and len(first) and first.iloc[0] in V.NICKNAMES:
            chosen = (true_id, person, rows)
            break
    assert chosen, "the world should hold someone bought from two vendors with a nickname-able name"
    true_id, person, rows = chosen
    first, last = rows["first_name"].dropna().iloc[0], rows["last_name"].dropna().iloc[0]
    nickname = V.NICKNAMES[first][0]
    answer = lookup_person(LookupQuery(name=f"{nickname} {last}", email=f"{nickname}.{last}@new-mailbox.example".lower(),
                                       city=person["city"], company=person["current_company"]), user="sourcer")
    assert answer.verdict in ("in_pool", "possible")
    assert true_of[answer.matches[0].person_id] == true_id
    found = {(r["source"], r["source_record_id"]) for r in answer.matches[0].records}
    assert {s for s, _ in found} & {"talentdb", "hirewire", "eurocv"}
    with audit_log.audit_log(search_home.search_audit_path) as con:
        row = audit_log.rows(con)[-1]
    assert row["channel"] == "lookup" and json.loads(row["result_person_ids"])[0] == answer.matches[0].person_id


def test_a_pipelines_prospects_arrive_once_at_the_ats_after_two_runs(search_home):
    from sandbox.services import SandboxServices

    index = SearchIndex.load(search_home.search_index_dir)
    jobs = index.frame("jobs")
    job_id = int(jobs[jobs["status"] == "open"]["job_id"].iloc[0])
    records = index.frame("records")
    in_ats = set(records.loc[records["source"] == "ats", "person_id"])
    not_in_ats = index.profiles.loc[~index.profiles["person_id"].isin(in_ats), "person_id"].tolist()[:3]
    people = not_in_ats + sorted(in_ats)[:2]
    with sourcing_store.sourcing_store(search_home.sourcing_store_path) as con:
        pid = sourcing_store.create_pipeline(con, "Req push", "alice", job_id, ["warmpool", "silver-2026"])
        sourcing_store.add_members(con, pid, people, "alice", "hand")
    with SandboxServices(search_home, ats_port=0, smtp_port=0) as svc:
        settings = dataclasses.replace(search_home, ats=dataclasses.replace(search_home.ats, base_url=svc.ats_url))
        first = push_pipeline(settings, "Req push", on_behalf_of=4100001)
        second = push_pipeline(settings, "Req push", on_behalf_of=4100001)
        writes = httpx.get(f"{svc.ats_root}/_sim/writes").json()
        candidates = httpx.get(f"{svc.ats_url}/candidates", params={"per_page": 500, "created_after": "2026-11-02"},
                               auth=(search_home.ats.api_key, "")).json()
    assert (first.pushed, first.failed, second.pushed, second.already) == (5, [], 0, 5)
    prospects = [w for w in writes if w["kind"] == "prospect"]
    assert len(prospects) == 3 and all(w["on_behalf_of"] == "4100001" for w in writes)
    assert all(w["body"]["tags"] == ["warmpool", "silver-2026"] and w["body"]["applications"] == [{"job_id": job_id}]
               for w in prospects)
    assert len([w for w in writes if w["kind"] == "application"]) == 2
    assert len([c for c in candidates if c.get("is_prospect")]) == 3


# --- the command line ---------------------------------------------------------------------------------
def test_warmpool_search_json(search_home):
    result = subprocess.run([str(Path(sys.executable).with_name("warmpool")), "search", "python engineer", "--limit",
                             "4", "--json", "--country", "US", "--user", "cli.user"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout)
    assert len(payload["results"]) == 4 and payload["filters"] == {"country": "US"}
    assert {"person_id", "why", "current_title", "is_contactable", "sources"} <= set(payload["results"][0])
    with audit_log.audit_log(search_home.search_audit_path) as con:
        assert [(r["searched_by"], r["channel"]) for r in audit_log.rows(con)] == [("cli.user", "cli")]


@pytest.fixture
def refresh_home(pipeline_world, tmp_path, monkeypatch):
    """A home holding a copy of the pipeline world's warehouse and search folder (index and embeddings)."""
    from warmpool import config

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2(pipeline_world.home / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(pipeline_world.home / "search", home / "search")
    monkeypatch.setenv("WARMPOOL_HOME", str(home))
    monkeypatch.delenv("WARMPOOL_WAREHOUSE", raising=False)
    config._settings_for.cache_clear()
    yield get_settings()
    config._settings_for.cache_clear()


def test_warmpool_search_index_refresh_rebuilds_what_search_and_lookup_read(refresh_home, index):
    """The per-record tables go from the warehouse straight into the snapshot: the rebuilt index holds the
    same profiles, every source record for the look-up, and a look-up by a record's name and email finds
    its person."""
    from warmpool.warehouse import warehouse

    index_dir = refresh_home.search_index_dir
    before = (index_dir / "CURRENT").read_text(encoding="utf-8")
    result = subprocess.run([str(Path(sys.executable).with_name("warmpool")), "search-index", "refresh"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "embedded 0 new or changed" in result.stdout  # every profile's embedding was already stored
    rebuilt = SearchIndex.load(index_dir)
    assert rebuilt.folder.name != before
    pd.testing.assert_frame_equal(rebuilt.profiles, index.profiles)
    pd.testing.assert_frame_equal(rebuilt.frame("records"), index.frame("records"))
    with warehouse(refresh_home.warehouse_path, read_only=True) as con:
        source_records = con.execute("select count(*) from intermediate.int_source_records").fetchone()[0]
    looked_up = pd.read_parquet(rebuilt.folder / "lookup_records.parquet")
    assert len(looked_up) == source_records
    record = looked_up.dropna(subset=["first_name", "last_name", "email"]).iloc[0]
    answer = lookup_person(LookupQuery(name=f"{record.first_name} {record.last_name}", email=record.email),
                           user="sourcer")
    assert answer.verdict == "in_pool" and answer.matches[0].person_id == record.person_id
    assert not [p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith(".")]


def test_the_lookup_normalises_only_records_identity_has_not_seen_and_gets_the_same_features(refresh_home,
                                                                                            pipeline_world):
    """A refresh takes identity's normalised features for records it already saw and normalises the rest:
    a record whose email moved since identity ran gets its new email, and the look-up's features equal
    normalising every record again."""
    shutil.copytree(pipeline_world.home / "identity", refresh_home.identity_dir, dirs_exist_ok=True)
    with warehouse(refresh_home.warehouse_path) as con:
        source, record_id = con.execute("select source, source_record_id from intermediate.int_source_records "
                                        "where email is not null order by 1, 2 limit 1").fetchone()
        con.execute("update intermediate.int_source_records set email = 'moved.recently@example.org' "
                    "where source = ? and source_record_id = ?", [source, record_id])
        known = _identity_features(con)
        records = frame_of(con, _LOOKUP_RECORDS_SQL).cast(pl.String)
    assert known is not None and known.height == records.height
    reused, fresh = pool_features(records, known=known), pool_features(records)
    keys = ["source", "source_record_id"]
    assert reused.drop("unique_id").sort(keys).equals(fresh.drop("unique_id").sort(keys))
    assert reused["unique_id"].sort().to_list() == list(range(records.height))
    moved = reused.filter((pl.col("source") == source) & (pl.col("source_record_id") == record_id))
    assert moved["email_norm"].to_list() == ["moved.recently@example.org"]
    # a record identity saw unchanged is taken from identity's features as they are, not normalised again
    other = pl.col("source_record_id") == known.filter(pl.col("source_record_id") != record_id)["source_record_id"][0]
    marked = known.with_columns(pl.when(other).then(pl.lit("as.identity.left.it@cache")).otherwise("email_norm")
                                .alias("email_norm"))
    assert pool_features(records, known=marked).filter(other)["email_norm"].to_list()[0] == "as.identity.left.it@cache"


def test_a_refresh_that_fails_leaves_the_current_index_and_no_half_written_snapshot(refresh_home):
    from warmpool.search import refresh_index
    from warmpool.warehouse import warehouse

    index_dir = refresh_home.search_index_dir
    before = (index_dir / "CURRENT").read_text(encoding="utf-8")

    def interrupted(progress):
        raise RuntimeError("stopped while embedding")

    with warehouse(refresh_home.warehouse_path, read_only=True) as con, pytest.raises(RuntimeError, match="stopped"):
        refresh_index(con, refresh_home, progress=interrupted)
    assert (index_dir / "CURRENT").read_text(encoding="utf-8") == before
    assert SearchIndex.load(index_dir).rows > 0
    assert not [p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith(".")]
    # the next refresh completes, reusing the snapshot the stopped one left current
    with warehouse(refresh_home.warehouse_path, read_only=True) as con:
        report = refresh_index(con, refresh_home)
    assert report.documents_built == 0 and (index_dir / "CURRENT").read_text(encoding="utf-8") != before


def _snapshot_files(folder: Path) -> dict:
    """What a snapshot holds that a search or look-up reads (the manifest, with its build time, aside)."""
    return {"profiles": pd.read_parquet(folder / "profiles.parquet"), "vectors": np.load(folder / "vectors.npy"),
            "keyword": {f.name: f.read_bytes() for f in sorted((folder / "keyword").iterdir())},  # BM25 and tokens
            **{name: pd.read_parquet(folder / f"{name}.parquet") for name in
               ("positions", "records", "jobs", "segments", "places", "lookup_records", "lookup_features")}}


def test_a_refresh_after_a_change_rebuilds_only_the_changed_people_and_equals_a_rebuild_from_nothing(refresh_home):
    """Updates (a title, skills, a resume, a move to a city the index never looked up), new people and an
    erasure: the refresh builds the documents of the changed and new people only and writes the snapshot
    a rebuild from nothing writes, file for file, with the same search results."""
    from warmpool.search import refresh_index
    from warmpool.search.refresh import refresh_from_pool, read_pool

    with warehouse(refresh_home.warehouse_path) as con:
        people = [r[0] for r in con.execute(
            "select person_id from marts.dim_candidates where current_title is not null and person_id in "
            "(select person_id from marts.dim_candidate_resumes) order by person_id limit 6").fetchall()]
        retitled, reskilled, resumed, moved, copied, erased = people
        con.execute("update marts.dim_candidates set current_title = 'Principal Quantum Kernel Engineer' "
                    "where person_id = ?", [retitled])
        con.execute("update marts.dim_candidates set skills = 'cobol;fortran' where person_id = ?", [reskilled])
        con.execute("update marts.dim_candidate_resumes set resume_text = 'Built zygomorphic compilers.' "
                    "where person_id = ?", [resumed])
        con.execute("update marts.dim_candidates set city = 'Kraków', country = 'PL' where person_id = ?", [moved])
        for new in ("p_new_1", "p_new_2"):  # new people: one like an existing person, one all new
            con.execute("insert into marts.dim_candidates select * replace (? as person_id) from marts.dim_candidates "
                        "where person_id = ?", [new, copied])
        con.execute("update marts.dim_candidates set current_title = 'Lighthouse Keeper', skills = 'lamps' "
                    "where person_id = 'p_new_2'")
        for table in ("dim_candidates", "dim_candidate_work_history", "dim_candidate_resumes",
                      "bridge_candidate_records"):
            con.execute(f"delete from marts.{table} where person_id = ?", [erased])
    index_dir = refresh_home.search_index_dir
    with warehouse(refresh_home.warehouse_path, read_only=True) as con:
        report = refresh_index(con, refresh_home)
        incremental = index_dir / (index_dir / "CURRENT").read_text()
        full_report = refresh_from_pool(read_pool(con, refresh_home), refresh_home, reuse=False)
    full = index_dir / (index_dir / "CURRENT").read_text()
    # the moved person's document is unchanged (places are filters): the three updated and two new are built
    assert (report.documents_built, full_report.documents_built) == (5, report.people)
    assert report.embedded == 5
    ours, theirs = _snapshot_files(incremental), _snapshot_files(full)
    pd.testing.assert_frame_equal(ours.pop("profiles"), theirs.pop("profiles"))
    assert np.array_equal(ours.pop("vectors"), theirs.pop("vectors"))
    assert ours.pop("keyword") == theirs.pop("keyword")
    for name, frame in ours.items():  # tables whose row order the index does not use
        by = list(frame.columns[:3])
        pd.testing.assert_frame_equal(frame.sort_values(by).reset_index(drop=True),
                                      theirs[name].sort_values(by).reset_index(drop=True))
    profiles = pd.read_parquet(full / "profiles.parquet").set_index("person_id")
    assert erased not in profiles.index and {"p_new_1", "p_new_2"} <= set(profiles.index)
    assert profiles.loc[moved, "latitude"] == pytest.approx(50.06, abs=0.05)  # Kraków, looked up this time
    engines = [SearchEngine(SearchIndex.load(index_dir))]
    (index_dir / "CURRENT").write_text(incremental.name)
    engines.append(SearchEngine(SearchIndex.load(index_dir)))
    for query in ("principal quantum kernel engineer", "cobol fortran", "zygomorphic compilers", "lighthouse keeper",
                  "senior data engineer python"):
        theirs_, ours_ = (e.search(query, limit=10) for e in engines)
        assert [(r.person_id, r.score) for r in ours_.results] == [(r.person_id, r.score) for r in theirs_.results]
    assert engines[0].search("zygomorphic compilers", limit=1, mode="keyword").person_ids == [resumed]


# --- the dashboards' recruiter pages -----------------------------------------------------------------
PAGES = Path(__file__).resolve().parent.parent / "dashboards"


def test_the_search_page_searches_shows_profiles_adds_to_a_pipeline_and_exports(search_home):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES / "search_page.py"), default_timeout=120).run()
    assert not at.exception
    at.text_input(key="query").input("data engineer spark")
    at.checkbox(key="contactable").check()
    at.text_input(key="user").input("page.user")
    at.button[0].click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert len(table) == 20 and table["contactable"].all()
    assert at.get("download_button")
    assert len(at.expander) == 20  # golden profile, sources and work history per result
    at.text_input(key="new_pipeline").input("Spark pipeline")
    at.button[1].click().run()
    assert any("added to 'Spark pipeline'" in s.value for s in at.success)
    with sourcing_store.sourcing_store(search_home.sourcing_store_path) as con:
        pipe = sourcing_store.pipeline(con, "Spark pipeline")
        assert {m["person_id"] for m in sourcing_store.members(con, pipe["pipeline_id"])} == \
            set(table["person_id"].tolist()[:5])
    with audit_log.audit_log(search_home.search_audit_path) as con:
        rows = audit_log.rows(con)
    assert [(r["channel"], r["searched_by"], json.loads(r["filters"])) for r in rows] == \
        [("page", "page.user", {"contactable_only": True})]


def test_the_search_page_offers_the_segments_and_keeps_to_the_one_picked(search_home, index):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES / "search_page.py"), default_timeout=120).run()
    assert at.selectbox(key="segment").options == ["Any", "active-engineering-and-data", "engineering-and-data",
                                                   "experienced-sales", "sales-silver-medalists",
                                                   "silver-medalists-beyond-tech-and-sales"]
    at.text_input(key="query").input("data engineer spark")
    at.selectbox(key="segment").select("active-engineering-and-data")
    at.button[0].click().run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value["person_id"].tolist()
    segments = index.profiles.set_index("person_id")["segments"]
    assert len(shown) == 20 and all("active-engineering-and-data" in segments[p].split(";") for p in shown)
    with audit_log.audit_log(search_home.search_audit_path) as con:
        assert [json.loads(r["filters"]) for r in audit_log.rows(con)] == [{"segment": "active-engineering-and-data"}]


def test_the_lookup_page_answers_and_is_audited(search_home, index):
    from streamlit.testing.v1 import AppTest

    someone = index.frame("records").dropna(subset=["email"]).iloc[0]
    at = AppTest.from_file(str(PAGES / "lookup_page.py"), default_timeout=120).run()
    at.text_input(key="name").input(f"{someone['first_name']} {someone['last_name']}")
    at.text_input(key="email").input(str(someone["email"]))
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.error and "Already in the pool" in at.error[0].value
    assert someone["person_id"] in at.dataframe[0].value["person_id"].tolist()
    with audit_log.audit_log(search_home.search_audit_path) as con:
        assert [r["channel"] for r in audit_log.rows(con)] == ["lookup"]


def test_rediscovery_ranks_past_applicants_and_silver_medalists_for_an_open_job(search_home):
    from warmpool.search import rediscover

    index = SearchIndex.load(search_home.search_index_dir)
    jobs = index.frame("jobs")
    job = jobs[(jobs["status"] == "open") & jobs["job_description"].notna()].iloc[0]
    found = rediscover(search_home, int(job["job_id"]), limit=15, user="alice")
    profiles = index.profiles.set_index("person_id")
    in_job = profiles["applied_job_ids"].map(lambda ids: ids is not None and int(job["job_id"]) in list(ids))
    eligible = ((profiles["application_count"] > 0) | profiles["is_silver_medalist"]) & ~in_job \
        & (profiles["job_family"] == job["job_family"])
    assert len(found.results) == min(15, int(eligible.sum())) > 0
    for result, score, history in found.results:
        p = profiles.loc[result.person_id]
        assert p["application_count"] > 0 or p["is_silver_medalist"]
        assert int(job["job_id"]) not in set(np.asarray(p["applied_job_ids"] if p["applied_job_ids"] is not None
                                                        else [], dtype=np.int64).tolist())
        assert p["job_family"] == job["job_family"]
        assert history["furthest_stage"] == p["furthest_stage"]
    scores = [score for _, score, _ in found.results]
    assert scores == sorted(scores, reverse=True)
    with audit_log.audit_log(search_home.search_audit_path) as con:
        row = audit_log.rows(con)[-1]
    assert (row["channel"], row["requisition_id"]) == ("rediscovery", str(job["requisition_id"]))
