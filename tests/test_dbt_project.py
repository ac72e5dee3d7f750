"""The dbt project builds end to end on a small raw warehouse, in its two phases.

Phase 1 (`--select +int_source_records`) must build without the identity table; then a STAND-IN
for identity resolution (NOT the Splink step: one person per normalised email, see
`tests/dbt_fixtures.py`) writes `identity.source_record_person`; then phase 2
(`--exclude +int_source_records`), after `warmpool.spellings` wrote the pool's normalised spellings, builds everything that needs person ids, with every data test
and unit test. One process (dbt's Python API), a private warehouse file and target folder.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import duckdb
import pytest

from dbt_fixtures import (AUDIENCES, CONTACTABLE, EXPECTED_AUDIENCES, NOT_CONTACTABLE, PHASE_1, PHASE_2, build_raw_warehouse,
                          write_stand_in_identity)
from dbt_fixtures import dbt as _dbt
from warmpool.config import get_settings
from warmpool.segments import write_segment_members
from warmpool.spellings import write_spellings

RESOLVE_CONTRACT = ["source", "source_record_id", "first_name", "last_name", "email", "phone", "city", "region",
                    "country", "linkedin_url", "current_title", "current_company", "skills", "years_experience",
                    "updated_at"]
MARTS = ["dim_candidates", "bridge_candidate_records", "dim_candidate_work_history", "dim_jobs", "dim_recruiters",
         "dim_sources", "fct_applications", "fct_stage_transitions", "fct_hires", "fct_hire_touches", "fct_outreach",
         "fct_email_events", "fct_vendor_purchases", "rpt_talent_pool_growth", "rpt_funnel", "rpt_source_roi",
         "rpt_vendor_utilization", "rpt_recruiter_activity", "rpt_campaign_performance", "rpt_silver_medalists",
         "rpt_pool_by_source", "rpt_referrals", "audience_members", "fct_consent_records", "rpt_erasure_requests"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbt")
    path = build_raw_warehouse(tmp / "warehouse.duckdb")
    mp = pytest.MonkeyPatch()
    mp.setenv("WARMPOOL_WAREHOUSE", str(path))
    mp.setenv("DO_NOT_TRACK", "1")
    timings = {}
    try:
        started = time.perf_counter()
        builds = [_dbt(tmp, *PHASE_1)]
        timings["phase_1"] = time.perf_counter() - started
        with duckdb.connect(str(path)) as con:
            timings["identity_before_phase_2"] = con.execute(
                "select count(*) from information_schema.tables where table_schema = 'identity'").fetchone()[0]
            timings["marts_after_phase_1"] = con.execute(
                "select count(*) from information_schema.tables where table_schema = 'marts'").fetchone()[0]
        write_stand_in_identity(path)  # stand-in for the Splink identity step
        write_spellings(dataclasses.replace(get_settings(), warehouse_file=path))
        started = time.perf_counter()
        builds.append(_dbt(tmp, *PHASE_2))
        write_segment_members(dataclasses.replace(get_settings(), warehouse_file=path))
        builds.append(_dbt(tmp, *AUDIENCES))
        timings["phase_2"] = time.perf_counter() - started
        timings["unit_tests_passed"] = {r.node.name for build in builds for r in build.result
                                        if r.node.resource_type == "unit_test" and str(r.status) == "pass"}
        yield path, timings, tmp
    finally:
        mp.undo()


# Plain (read-write) connections: dbt-duckdb keeps its database instance open in this process, and
# DuckDB refuses a second instance of the same file with another configuration (e.g. read-only).
def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path)) as con:
        return con.execute(sql).fetchall()


def test_phase_1_builds_the_source_records_without_identity(warehouse):
    path, timings, _ = warehouse
    assert timings["identity_before_phase_2"] == 0
    assert timings["marts_after_phase_1"] == 0
    columns = _rows(path, "select column_name, data_type from information_schema.columns "
                          "where table_schema = 'intermediate' and table_name = 'int_source_records' "
                          "order by ordinal_position")
    assert [c for c, _ in columns] == RESOLVE_CONTRACT
    assert {t for _, t in columns} == {"VARCHAR"}
    by_source = dict(_rows(path, "select source, count(*) from intermediate.int_source_records group by 1"))
    assert by_source == {"ats": 6, "talentdb": 1, "hirewire": 1, "eurocv": 1, "talent_network": 3, "referral": 1}
    alice = _rows(path, "select email, phone, city, region, country, linkedin_url, years_experience, updated_at "
                        "from intermediate.int_source_records where source = 'ats' and source_record_id = '101'")
    # personal email before work; address parsed; LinkedIn picked among the social profiles
    assert alice == [("Alice@Example.com", "+1 415 555 0101", "San Francisco", "CA", "United States",
                      "https://www.linkedin.com/in/alice-ng", "10", "2026-03-01T10:00:00Z")]


def test_marts_exist_in_schema_marts(warehouse):
    path, _, _ = warehouse
    tables = {t for (t,) in _rows(path, "select table_name from information_schema.tables where table_schema = 'marts'")}
    assert set(MARTS) <= tables


def _manifest(tmp: Path) -> dict:
    import json

    return json.loads((tmp / "target" / "manifest.json").read_text())


def test_every_mart_has_a_description_tests_and_an_enforced_contract(warehouse, tmp_path_factory):
    manifest = _manifest(warehouse[2])
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    tested = {dep for n in manifest["nodes"].values() if n["resource_type"] == "test"
              for dep in n["depends_on"]["nodes"]}
    for name in MARTS:
        node = models[name]
        assert node["description"].strip(), name
        assert node["config"]["contract"]["enforced"], name
        assert node["unique_id"] in tested, name
        assert all(c.get("description") for c in node["columns"].values()), name


def test_every_unit_test_runs_here(warehouse):
    """Dagster's runs build without dbt's unit tests (they check the SQL, not the run's data): this
    module's builds are where each of them runs and must pass."""
    declared = {test["name"] for test in _manifest(warehouse[2])["unit_tests"].values()}
    assert declared and warehouse[1]["unit_tests_passed"] == declared


def test_no_data_test_spans_the_two_phases(warehouse):
    """A test whose parents sit in both phases would run in phase 1 against a phase-2 model that a
    fresh warehouse does not have yet (dbt selects a test when any parent is selected)."""
    manifest = _manifest(warehouse[2])
    nodes = manifest["nodes"]
    phase_1 = {"model.warmpool.int_source_records"}
    frontier = list(phase_1)
    while frontier:  # every ancestor of int_source_records
        for parent in nodes.get(frontier.pop(), {}).get("depends_on", {}).get("nodes", []):
            if parent not in phase_1:
                phase_1.add(parent)
                frontier.append(parent)
    for node in nodes.values():
        if node["resource_type"] != "test":
            continue
        parents = [p for p in node["depends_on"]["nodes"] if not p.startswith("source.")]
        in_phase_1 = {p in phase_1 for p in parents}
        assert len(in_phase_1) <= 1, (node["name"], parents)


def _enforces_constraints(model: dict) -> bool:
    # dbt applies a model's constraints only where an enforced contract creates the table (a view's or an
    # unenforced contract's constraints are dropped with a warning)
    return model["config"]["contract"]["enforced"] and model["config"]["materialized"] in ("table", "incremental")


def _not_null_constrained(model: dict) -> set[str]:
    return {name for name, column in model["columns"].items()
            if any(c["type"] == "not_null" for c in column.get("constraints") or [])}


def test_not_null_is_checked_once_as_a_constraint_where_a_contract_enforces_it(warehouse):
    """docs/data-contracts.md, "Not null: a constraint or a test": on a table with an enforced contract a
    column that must not be null declares a `not_null` constraint (the database refuses the null while the
    table is written) and has no `not_null` data test (a second query for the same check, ~50 ms of every
    run); a constraint sits only where it is enforced; every key (a `unique` test) of such a table is
    declared not null; and the built warehouse has every declared column NOT NULL."""
    path, _, tmp = warehouse
    nodes = _manifest(tmp)["nodes"]
    models = {uid: n for uid, n in nodes.items() if n["resource_type"] == "model"}
    duplicates, unenforced, nullable_keys = [], [], []
    for test in nodes.values():
        kind = (test.get("test_metadata") or {}).get("name")
        model = models.get(test.get("attached_node") or "")
        if test["resource_type"] != "test" or not model or not _enforces_constraints(model):
            continue
        if kind == "not_null" and not test["config"].get("where"):  # a test on some rows only stays a test
            duplicates.append(f"{model['name']}.{test['column_name']}")
        if kind == "unique" and test["column_name"] not in _not_null_constrained(model):
            nullable_keys.append(f"{model['name']}.{test['column_name']}")
    declared = {(m["schema"], m["alias"], c.lower()) for m in models.values() for c in _not_null_constrained(m)}
    unenforced = [f"{m['name']}: {sorted(_not_null_constrained(m))}" for m in models.values()
                  if _not_null_constrained(m) and not _enforces_constraints(m)]
    assert not duplicates, f"not_null tests on columns an enforced contract should constrain: {duplicates}"
    assert not unenforced, f"not_null constraints dbt drops (no enforced contract on a table): {unenforced}"
    assert not nullable_keys, f"keys of contracted tables without a not_null constraint: {nullable_keys}"
    assert len(declared) > 50  # the marts' keys and required columns, not an empty rule
    built = {(s, t, c.lower()) for s, t, c in _rows(path, "select table_schema, table_name, column_name "
                                                          "from information_schema.columns where is_nullable = 'NO'")}
    assert declared <= built, sorted(declared - built)


def test_a_null_in_a_constrained_column_fails_the_build_and_keeps_the_last_table(warehouse, tmp_path, monkeypatch):
    """A constraint stops a run as its data test did: on a copy of the built warehouse with an ATS application
    without a status, rebuilding fct_applications fails (so `dbt build` skips what reads it, and the Dagster
    step fails before the audiences and sends) and the mart keeps its last good rows."""
    import shutil

    path, _, _ = warehouse
    _rows(path, "checkpoint")  # the file holds every write (dbt's instance in this process keeps a WAL)
    copy = tmp_path / "seeded.duckdb"
    shutil.copy(path, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("update raw_ats.applications set status = null where id = (select min(id) from raw_ats.applications)")
        before = con.execute("select count(*), count(status) from marts.fct_applications").fetchone()
    monkeypatch.setenv("WARMPOOL_WAREHOUSE", str(copy))
    result = _dbt(tmp_path, "--select", "int_applications_enriched", "fct_applications", command=("run",), check=False)
    statuses = {r.node.name: (str(r.status), r.message or "") for r in result.result}
    assert statuses["int_applications_enriched"][0] == "success"  # no contract there: the null passes through
    assert statuses["fct_applications"][0] == "error" and "NOT NULL" in statuses["fct_applications"][1], statuses
    assert _rows(copy, "select count(*), count(status) from marts.fct_applications") == [before]


def test_dim_candidates_one_row_per_person_with_golden_fields(warehouse):
    path, _, _ = warehouse
    people = _rows(path, "select count(*), count(distinct person_id) from marts.dim_candidates")[0]
    assert people == (11, 11)  # 13 records; Alice and Bob each found in the ATS and a vendor
    alice = _rows(path, "select first_name, current_title, skills, sources, source_count, job_family "
                        "from marts.dim_candidates where lower(email) = 'alice@example.com'")
    # the ATS record is newer: its title wins; skills only the vendor has survive from the vendor
    assert alice == [("Alice", "Backend Engineer", "python;go;sql", "ats;talentdb", 2, "Engineering")]
    bob = _rows(path, "select current_title from marts.dim_candidates where email = 'bob@schmidt.example'")
    assert bob == [("Senior Sales Manager",)]  # the vendor's record is newer than the ATS's


def test_contactability(warehouse):
    path, _, _ = warehouse
    rows = dict((email.lower(), (ok, reason)) for email, ok, reason in _rows(
        path, "select email, is_contactable, not_contactable_reason from marts.dim_candidates"))
    assert {e for e, (ok, _) in rows.items() if ok} == CONTACTABLE
    assert {e: reason for e, (ok, reason) in rows.items() if not ok} == NOT_CONTACTABLE


def test_a_later_double_opt_in_confirmation_counts(warehouse):
    path, _, _ = warehouse
    # Heidi's submission was loaded unconfirmed; her confirmation arrived in consent_confirmations
    assert _rows(path, "select has_marketing_consent, consent_basis from marts.dim_candidates "
                       "where email = 'heidi@example.com'") == [(True, "opt_in")]


def test_consent_ledger(warehouse):
    path, _, _ = warehouse
    rows = _rows(path, """
        select c.email, c.event, c.channel, cast(c.occurred_at as varchar), c.wording_version, c.wording_hash, c.ip,
               c.user_agent, c.submission_id, c.provider_event_id, c.campaign_id
        from marts.fct_consent_records c
        order by c.email, c.occurred_at, c.event""")
    chrome, safari = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0", "Mozilla/5.0 (Macintosh) Safari/605.1"
    firefox, android = "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0", "Mozilla/5.0 (Android 14) Firefox/128.0"
    assert rows == [
        # confirmed before the load, no confirmation row: confirmed at the submission's confirmed_at, IP unknown
        ("carol@example.ca", "requested", "talent_network_form", "2026-01-05 12:00:00", "v1", "h1", "203.0.113.5",
         chrome, 1, None, None),
        ("carol@example.ca", "confirmed", "confirmation_link", "2026-01-05 12:10:00", "v1", "h1", None, None, 1,
         None, None),
        # pending double opt-in: requested only
        ("dan@example.com", "requested", "talent_network_form", "2026-02-05 12:00:00", "v1", "h1", "203.0.113.6",
         safari, 2, None, None),
        # one-click on the web: one row (the preference change), its unsubscribe event as provider_event_id
        ("erin@example.com", "withdrawn", "one_click_unsubscribe", "2026-05-01 08:00:00.123", None, None,
         "198.51.100.7", "GoogleImageProxy one-click", None, "warmpool-web:unsubscribe:e1", "c_old"),
        ("erin@globex.example", "withdrawn", "provider_unsubscribe", "2026-04-02 00:00:00", None, None, None, None,
         None, "ev-2", "c_old"),
        # confirmed later (consent_confirmations, with the confirming browser); her hard bounce is not consent
        ("heidi@example.com", "requested", "talent_network_form", "2026-02-07 12:00:00", "v1", "h1", "203.0.113.7",
         firefox, 3, None, None),
        ("heidi@example.com", "confirmed", "confirmation_link", "2026-02-07 12:05:00", "v1", "h1", "203.0.113.8",
         android, 3, None, None),
    ]
    # every row's person is the person of the address in dim_candidates (Erin: both her addresses)
    assert _rows(path, """
        select count(*) from marts.fct_consent_records c
        left join marts.dim_candidates d on c.person_id = d.person_id
        where d.person_id is null
           or (c.email not like 'erin@%' and lower(d.email) <> c.email)""") == [(0,)]


def test_dim_candidates_carries_the_consent_record(warehouse):
    path, _, _ = warehouse
    rows = {email: rest for email, *rest in _rows(path, """
        select lower(email), cast(marketing_consent_given_at as varchar), cast(marketing_consent_confirmed_at as varchar),
               marketing_consent_wording_version, cast(marketing_consent_withdrawn_at as varchar),
               marketing_consent_withdrawal_channel
        from marts.dim_candidates""")}
    assert rows["carol@example.ca"] == ["2026-01-05 12:00:00", "2026-01-05 12:10:00", "v1", None, None]
    assert rows["dan@example.com"] == ["2026-02-05 12:00:00", None, "v1", None, None]  # pending
    assert rows["heidi@example.com"] == ["2026-02-07 12:00:00", "2026-02-07 12:05:00", "v1", None, None]
    # no sign-up (legitimate interest, or a suppression without any opt-in): no consent record
    assert rows["alice@example.com"] == [None] * 5
    assert rows["erin@example.com"] == [None] * 5


def test_audience_members(warehouse):
    path, _, _ = warehouse
    audiences: dict[str, set[str]] = {campaign: set() for campaign in EXPECTED_AUDIENCES}
    for campaign_id, email in _rows(path, "select campaign_id, lower(email) from marts.audience_members"):
        audiences.setdefault(campaign_id, set()).add(email)
    assert audiences == EXPECTED_AUDIENCES
    # suppressed (unsubscribe on another of her addresses) and pending opt-in never selected
    everyone = audiences["everyone"]
    assert "erin@example.com" not in everyone and "dan@example.com" not in everyone
    reasons = dict(_rows(path, "select campaign_id, inclusion_reason from marts.audience_members "
                               "where lower(email) = 'alice@example.com'"))
    assert reasons["eng-nurture"] == "consent=legitimate_interest; segment=engineering-3y"


def test_fct_applications(warehouse):
    path, _, _ = warehouse
    assert _rows(path, "select count(*), count(person_id) from marts.fct_applications") == [(5, 5)]
    hired = _rows(path, "select status, job_family, screen_at, final_interview_at, offer_at, hired_at "
                        "from marts.fct_applications where application_id = 5005")
    status, family, screen_at, final_at, offer_at, hired_at = hired[0]
    assert (status, family) == ("hired", "Finance")
    assert screen_at < final_at < offer_at < hired_at
    assert str(hired_at) == "2025-06-15 09:00:00"


def test_pool_by_source(warehouse):
    path, _, _ = warehouse
    rows = {r[0]: r[1:] for r in _rows(path, "select source, source_kind, record_count, person_count, "
                                             "only_here_person_count from marts.rpt_pool_by_source")}
    assert rows["ats"] == ("ats", 6, 6, 4)
    assert rows["talentdb"] == ("resume_database", 1, 1, 0)


def test_dbt_docs_generate_documents_every_mart(warehouse):
    """`dbt docs generate` works: the catalog has every mart with its columns, and the manifest
    carries each mart's description (what an analyst browsing the docs site reads)."""
    import json

    path, _, tmp = warehouse
    _dbt(tmp, command=("docs", "generate"))
    catalog = json.loads((tmp / "target" / "catalog.json").read_text())
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    documented = {n["metadata"]["name"]: n for n in catalog["nodes"].values() if n["metadata"]["schema"] == "marts"}
    assert set(MARTS) <= set(documented), sorted(set(MARTS) - set(documented))
    assert {"person_id", "email", "is_contactable"} <= {c.lower() for c in documented["dim_candidates"]["columns"]}
    described = {n["name"]: n["description"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert all(described[m].strip() for m in MARTS)


def test_phase_1_builds_before_forms_vendors_and_child_lists_exist(tmp_path, monkeypatch):
    """A fresh deployment: only ATS candidates and their emails loaded so far."""
    missing = ("raw_vendors.resumes", "raw_forms.form_submissions", "raw_ats.candidates__phone_numbers",
               "raw_ats.candidates__addresses", "raw_ats.candidates__social_media_addresses",
               "raw_ats.candidates__employments")
    path = build_raw_warehouse(tmp_path / "fresh.duckdb", without=missing)
    monkeypatch.setenv("WARMPOOL_WAREHOUSE", str(path))
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    _dbt(tmp_path, *PHASE_1)
    assert _rows(path, "select source, count(*), count(email), count(city) from intermediate.int_source_records "
                       "group by 1") == [("ats", 6, 6, 0)]


def test_every_column_of_every_model_is_described(warehouse):
    """dbt docs describe every column each model really builds (the warehouse's own column list, so a
    column added to the SQL but not to the YAML fails here), and every declared column exists."""
    path, _, tmp = warehouse
    manifest = _manifest(tmp)
    built = {}
    for schema, table, column in _rows(path, "select table_schema, table_name, column_name "
                                             "from information_schema.columns "
                                             "where table_schema in ('staging', 'intermediate', 'marts')"):
        built.setdefault((schema, table), set()).add(column.lower())
    undocumented, phantom = [], []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        declared = {name.lower(): c for name, c in node["columns"].items()}
        columns = built.get((node["schema"], node["alias"]), set())
        assert columns, node["name"]  # every model is built by the two phases
        undocumented += [f"{node['name']}.{c}" for c in sorted(columns)
                         if not (declared.get(c) or {}).get("description", "").strip()]
        phantom += [f"{node['name']}.{c}" for c in sorted(set(declared) - columns)]
    assert not undocumented, f"{len(undocumented)} undocumented columns: {undocumented}"
    assert not phantom, f"documented columns the model does not build: {phantom}"


def test_every_source_table_and_declared_column_is_described(warehouse):
    manifest = _manifest(warehouse[2])
    bare = [f"{s['source_name']}.{s['name']}" for s in manifest["sources"].values()
            if not (s["description"] or s["source_description"]).strip()
            or not all(c.get("description", "").strip() for c in s["columns"].values())]
    assert not bare, bare


def test_lineage_reaches_every_dashboard_page_audience_file_and_send(warehouse):
    """dbt exposures: one per dashboard page, one per campaign's audience file, and the sends."""
    from dashboards.registry import PAGES
    from warmpool.campaigns.config import load_campaigns

    manifest = _manifest(warehouse[2])
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    dashboards = [e for e in exposures.values() if e["type"] == "dashboard"]
    assert len(dashboards) == len(PAGES), ([p.key for p in PAGES], sorted(e["name"] for e in dashboards))
    for page in PAGES:  # each page (dashboards/registry.py) is named by exactly one exposure, fed by marts
        named = [e for e in dashboards if f"dashboards/{page.script}" in e["description"]]
        assert len(named) == 1 and named[0]["depends_on"]["nodes"], page.key
    for campaign in load_campaigns():
        exposure = exposures[f"audience_file_{campaign.campaign_id.replace('-', '_')}"]
        assert "model.warmpool.audience_members" in exposure["depends_on"]["nodes"]
        assert campaign.campaign_id in exposure["description"]
    assert "model.warmpool.audience_members" in exposures["campaign_sends"]["depends_on"]["nodes"]


def test_web_store_sources_declare_the_stores_columns(warehouse):
    """The raw web-store tables are declared with their columns before dlt creates them (with their
    first row): exactly the store owner's schema, which the dlt source also passes as column hints."""
    from warmpool import web_store

    manifest = _manifest(warehouse[2])
    for source in manifest["sources"].values():
        if source["source_name"] in ("raw_forms", "raw_email"):
            assert set(source["columns"]) == set(web_store.table_columns(source["name"])), source["name"]


def test_report_checks_refuse_an_inverted_funnel_a_nameless_campaign_and_a_free_hire(warehouse, tmp_path,
                                                                                     monkeypatch):
    """The marts' checks are real: on a copy of the built warehouse with a funnel inversion (more
    engaged than contacted) and a cost per hire of 0 with no spend seeded in, exactly those data tests
    fail (and pass on the untouched marts); a campaign report row without a name is refused by the
    database itself (`campaign_name` is a not_null constraint of the enforced contract)."""
    import shutil

    from dbt.adapters.factory import reset_adapters
    from dbt.cli.main import dbtRunner

    from warmpool.config import DBT_PROJECT_DIR

    path, _, _ = warehouse
    copy = tmp_path / "seeded.duckdb"
    shutil.copy(path, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("update marts.rpt_funnel set engaged_people = contacted_people + 1 "
                    "where rowid = (select min(rowid) from marts.rpt_funnel)")
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
            con.execute("insert into marts.rpt_campaign_performance (campaign_id, campaign_name, sent) "
                        "values ('seeded-nameless', null, 1)")
        con.execute("insert into marts.rpt_source_roi (period_month, source_name, channel, applications, hires, "
                    "resumes_bought, spend, cost_per_hire) values "
                    "(date '2020-01-01', 'Seeded Board', 'inbound', 1, 1, 0, null, 0)")
    monkeypatch.setenv("WARMPOOL_WAREHOUSE", str(copy))

    def failing_tests() -> set[str]:
        try:
            result = dbtRunner().invoke([
                "test", "--select", "rpt_funnel", "rpt_campaign_performance", "rpt_source_roi",
                "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"), "--quiet"])
        finally:
            reset_adapters()
        return {r.node.name for r in result.result if str(r.status) == "fail"}

    failed = failing_tests()
    assert any(name.startswith("steps_never_grow_rpt_funnel") for name in failed), failed
    assert any(name.startswith("expression_is_true_rpt_source_roi_cost_per_hire") for name in failed), failed
    assert len(failed) == 2, failed
    monkeypatch.setenv("WARMPOOL_WAREHOUSE", str(path))
    assert failing_tests() == set()


def test_a_new_day_does_not_make_dbt_parse_the_project_again(tmp_path):
    """"Today" reaches the models as a row of the warehouse (warmpool_run.clock), not as a dbt var: the
    first call of the next day re-parses nothing (a changed var re-parsed all ~340 files, 5-7 s a run)."""
    import json

    from warmpool import tables
    from warmpool.dbt_cli import dbt_target_path, run_dbt

    warehouse_file = tmp_path / "warehouse.duckdb"
    parsed = {}
    for day in ("2026-11-01", "2026-11-02"):
        run_dbt(["parse", "--quiet"], warehouse_file, as_of=day)
        parsed[day] = json.loads((dbt_target_path(warehouse_file) / "perf_info.json").read_text())["parsed_path_count"]
        assert _rows(warehouse_file, f"select cast(as_of as date)::varchar from {tables.RUN_CLOCK}") == [(day,)]
    assert parsed["2026-11-01"] > 100 and parsed["2026-11-02"] == 0
