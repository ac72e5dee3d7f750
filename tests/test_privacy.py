"""Privacy carried out on a world that went through the whole graph (a copy of the session's
`pipeline_world`): the access export of a person found in several sources, campaigns and mail; their
erasure from every store, proved by a byte search of every file under the data folder; the rest of
the pool unchanged, row for row; a second erasure changing nothing; and re-ingesting the original
sources (the ATS re-read from scratch, the vendor files delivered again) not bringing them back,
with the boundary checks passing.

Retention, legal holds, keys and the auditor exports have their own fast tests in
tests/test_privacy_rules.py."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pyarrow.parquet as pq
import pytest

from conftest import pipeline_env
from pipelines.ats import run_ats, run_eeo
from pipelines.erasure import stores
from pipelines.validation import CHECKS_BY_NAME, run_check
from pipelines.vendor_files import run_vendor_files
from sandbox.services import SandboxServices
from warmpool import tables
from warmpool.campaigns.ledger import pseudonym
from warmpool.campaigns.sender import open_ledger
from warmpool.tokens import secret_key
from warmpool.config import get_settings
from warmpool.exports import mart_path
from warmpool.privacy.aggregates import aggregate_marts
from warmpool.privacy.erasure import erase, export_person
from warmpool.privacy.render import write_access_export
from warmpool.privacy.store import privacy_store
from warmpool.privacy.warehouse import LAYERS
from warmpool.search import audit_log, sourcing_store

pytestmark = pytest.mark.slow

# the one documented place an erased person's identifiers may remain (docs/privacy.md, "Legal hold")
LEGAL_HOLD_FILE = Path("privacy") / "legal_hold.sqlite"
# the source systems of the sandbox (the ATS's own data, the generator's truth): outside Warmpool
OUTSIDE = ("sandbox",)


def _counts(warehouse_path: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        names = [f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
            "and (table_schema in (select unnest(?::VARCHAR[])) or table_schema = 'identity')",
            [list(LAYERS)]).fetchall()]
        return {n: con.execute(f"select count(*) from {n}").fetchone()[0] for n in names}
    finally:
        con.close()


def _query(home: Path, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _byte_hits(home: Path, needles: set[str]) -> dict[str, set[str]]:
    """Every file under the data folder (outside the sandbox's source systems) whose bytes contain
    one of ``needles``, compared lower-cased."""
    wanted = {n.lower().encode("utf-8") for n in needles if n}
    hits: dict[str, set[str]] = {}
    for path in home.rglob("*"):
        rel = path.relative_to(home)
        if not path.is_file() or rel.parts[0] in OUTSIDE:
            continue
        body = path.read_bytes().lower()
        for n in wanted:
            if n in body:
                hits.setdefault(str(rel), set()).add(n.decode())
    return hits


@pytest.fixture(scope="module")
def world(pipeline_world, tmp_path_factory):
    """A private copy of the pipeline world (this module changes it) and the person to erase: in
    the ATS, a vendor's file and the web store (at least three sources), in an audience, with a name
    nobody else has."""
    home = tmp_path_factory.mktemp("privacy") / "home"
    shutil.copytree(pipeline_world.home, home)
    rows = _query(home, f"""
        select c.person_id, c.email, c.first_name, c.last_name, count(distinct b.source) as sources
        from {tables.DIM_CANDIDATES} c join {tables.MARTS}.bridge_candidate_records b using (person_id)
        where c.person_id in (select person_id from {tables.AUDIENCE_MEMBERS})
          and c.person_id in (select person_id from {tables.FCT_APPLICATIONS})
          and c.person_id in (select person_id from {tables.MARTS}.bridge_candidate_records
                              where source in ('talent_network', 'referral'))
          and c.person_id in (select person_id from {tables.MARTS}.bridge_candidate_records
                              where source not in ('ats', 'talent_network', 'referral'))
          and (select count(*) from {tables.DIM_CANDIDATES} o where o.last_name = c.last_name) = 1
        group by 1, 2, 3, 4 having count(distinct b.source) >= 3 order by sources desc, 1 limit 1""")
    assert rows, "the world has nobody in the ATS, a vendor file, the web store and an audience"
    person_id, email, first, last, _ = rows[0]
    return {"home": home, "person_id": person_id, "email": email, "name": f"{first} {last}",
            "last_name": last, "landing_before": tmp_path_factory.mktemp("landing-before") / "landing"}


@pytest.fixture(scope="module")
def env(world):
    mp = pytest.MonkeyPatch()
    for k, v in pipeline_env(world["home"]).items():
        mp.setenv(k, v)
    yield get_settings()
    mp.undo()


@pytest.fixture(scope="module")
def exported(world, env, tmp_path_factory):
    """The person in a recruiter's pipeline and in an audited search's results, then exported."""
    with sourcing_store.sourcing_store(env.sourcing_store_path) as con:
        pipeline = sourcing_store.create_pipeline(con, "privacy-test", "recruiter@example.com")
        sourcing_store.add_members(con, pipeline, [world["person_id"]], "recruiter@example.com", "hand")
    with audit_log.audit_log(env.search_audit_path) as con:
        audit_log.record(con, audit_log.AuditEntry("recruiter@example.com", "cli", "engineer", {},
                                                   [world["person_id"]]))
    out = tmp_path_factory.mktemp("export") / "person.json"
    data = export_person(world["email"], stores(), env)
    return data, write_access_export(data, out)


@pytest.fixture(scope="module")
def erased(world, env, exported):
    """The person's identifiers, the counts before, the erasure's report and the counts after."""
    data, _ = exported
    shutil.copytree(world["home"] / "landing", world["landing_before"])
    phones = {r.get("phone") for rows in data["stores"]["warehouse"].values() for r in rows if r.get("phone")}
    before = _counts(env.warehouse_path)
    pool_by_source_before = _pool_by_source(world["home"])
    people_before = {p for (p,) in _query(world["home"], f"select person_id from {tables.DIM_CANDIDATES}")}
    con = duckdb.connect(str(env.warehouse_path), read_only=True)
    records = con.execute(f"select source, source_record_id from {tables.PERSON_ASSIGNMENTS} where person_id = ?",
                          [world["person_id"]]).fetchall()
    con.close()
    report = erase(world["email"], stores(), env)
    return {"report": report, "report_records": records, "before": before, "after": _counts(env.warehouse_path), "phones": phones,
            "people_before": people_before, "export": data, "pool_by_source_before": pool_by_source_before}


def _pool_by_source(home: Path) -> dict[str, tuple[int, int]]:
    """(records, people) per source, as the aggregate mart counts them."""
    return {s: (r, p) for s, r, p in _query(home, "select source, record_count, person_count "
                                                  f"from {tables.MARTS}.rpt_pool_by_source")}


def test_the_access_export_holds_every_source_consent_campaign_and_mail(world, exported):
    data, (json_path, html_path) = exported
    assert data["found"] and data["person_ids"] == [world["person_id"]]
    sources = {r["source"] for r in data["source_records"]}
    assert len(sources) >= 3 and "ats" in sources
    warehouse = data["stores"]["warehouse"]
    assert {f"{tables.MARTS}.dim_candidates", f"{tables.MARTS}.fct_applications",
            f"{tables.MARTS}.audience_members", f"{tables.MARTS}.bridge_candidate_records"} <= set(warehouse)
    assert {tables.PERSON_ASSIGNMENTS} <= set(data["stores"]["identity"])
    assert data["stores"]["campaigns"] and data["stores"]["mailbox"], "their campaign mail is listed"
    assert data["stores"]["sourcing_store"]["pipeline_members"] and data["stores"]["search_audit"]
    assert json.loads(json_path.read_text())["asked_as"] == world["email"]
    html = html_path.read_text()
    assert world["email"] in html and "Where your records came from" in html
    assert "The consent wording you agreed to" in html and data["consent_wording"]
    assert (json_path.stat().st_mode & 0o777) == 0o600


def test_erasure_leaves_no_byte_of_the_person_outside_the_legal_hold(world, env, erased):
    report = erased["report"]
    assert report.found and report.person_ids == 1
    for store in ("warehouse", "identity", "web_store", "campaigns", "mart_exports", "mailbox",
                  "landing_files", "sourcing_store", "search_index"):
        assert report.stores[store], f"nothing removed from {store}"
    assert report.stores["search_audit"] == {"kept_under_legal_hold": 1}  # the audit row stays, ids only
    assert report.stores["search_index"]["profiles"] == 1 and report.stores["search_index"]["older_snapshots"] >= 1
    needles = {world["email"], world["name"], *erased["phones"]}
    hits = _byte_hits(world["home"], needles)
    assert set(hits) <= {str(LEGAL_HOLD_FILE)}, hits
    with privacy_store(env) as privacy:
        held = privacy.held()
        assert held and all(h["kind"] == "applicant_record" for h in held)
        assert {"job_id", "applied_at", "status"} <= set(held[0]["record"])
        log = privacy.erasures()
    assert [e["erasure_id"] for e in log] == [report.erasure_id]
    assert world["email"] not in json.dumps(log)


def test_the_rest_of_the_pool_is_unchanged_row_for_row(world, env, erased):
    removed = {**erased["report"].stores["warehouse"], **erased["report"].stores["identity"]}
    con = duckdb.connect(str(env.warehouse_path), read_only=True)
    rebuilt = {f"{tables.MARTS}.{name}" for name in aggregate_marts(con, env)}  # counts, not people's rows
    con.close()
    changed = {t: (erased["before"][t], n) for t, n in erased["after"].items()
               if t not in rebuilt and erased["before"][t] - n != removed.get(t, 0)}
    assert not changed, f"tables whose row counts moved by more than the person's rows: {changed}"
    people_after = {p for (p,) in _query(world["home"], f"select person_id from {tables.DIM_CANDIDATES}")}
    assert people_after == erased["people_before"] - {world["person_id"]}


def test_the_aggregate_marts_and_their_exports_count_the_person_no_more(world, env, erased):
    """Counts are rebuilt with the erasure (dbt on the aggregate marts only), not at the next run."""
    report = erased["report"]
    assert report.aggregates["marts_rebuilt"] >= 10 and report.aggregates["exports_rewritten"] >= 10
    theirs: dict[str, int] = {}
    for source, _ in erased["report_records"]:
        theirs[source] = theirs.get(source, 0) + 1
    before, after = erased["pool_by_source_before"], _pool_by_source(world["home"])
    for source, (records, people) in before.items():
        gone = theirs.get(source, 0)
        assert after.get(source, (0, 0)) == (records - gone, people - (1 if gone else 0)), source
    exported = pq.read_table(mart_path("rpt_pool_by_source", aggregate=True, settings=env)).to_pylist()
    assert {r["source"]: (r["record_count"], r["person_count"]) for r in exported} == after


def test_the_send_ledger_keeps_a_keyed_row_so_nobody_is_mailed_twice(world, env, erased):
    with open_ledger(env) as ledger:
        assert ledger.person_rows([world["person_id"]], []) == []
        kept = ledger.person_rows([pseudonym(world["person_id"], secret_key())], [])
    assert kept and all(r["email"] is None for r in kept)


def test_erasing_again_changes_nothing(world, env, erased):
    again = erase(world["email"], stores(), env)
    assert again.rows_removed == 0 and again.warehouse_bytes is None
    assert _counts(env.warehouse_path) == erased["after"]


def test_reingesting_the_original_sources_does_not_bring_them_back(world, env, erased, monkeypatch):
    """The ATS read again from scratch (cursor and state forgotten) and every vendor file delivered
    again as it was before the erasure: the loaders refuse the person's rows, quarantined without data,
    and the boundary checks (row counts included) pass."""
    home = world["home"]
    shutil.rmtree(home / "dlt" / "warmpool_ats")
    shutil.rmtree(home / "dlt" / "warmpool_eeo", ignore_errors=True)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute(f"delete from {tables.RAW_ATS}._dlt_pipeline_state")
    con.execute(f"delete from {tables.RAW_EEO}._dlt_pipeline_state")
    con.close()
    for original in sorted(world["landing_before"].rglob("*.*")):
        again = home / "landing" / original.relative_to(world["landing_before"])
        again = again.with_name(again.stem + "-redelivered" + again.suffix)  # a new file: one byte more
        if original.suffix == ".xlsx":  # the same sheet saved again: other bytes, the same rows
            book = openpyxl.load_workbook(original)
            book.save(again)
        else:
            again.write_bytes(original.read_bytes() + b"\n")
    with SandboxServices(env, ats_port=0, smtp_port=0) as services:
        monkeypatch.setenv("WARMPOOL_ATS_URL", services.ats_url)
        loaded = {**run_ats(), **run_eeo(), **run_vendor_files()}
    assert loaded["candidates"] > 0 and loaded["resumes"] > 0  # everything else was read again
    ats_ids = [r for s, r in erased["report_records"] if s == "ats"]
    assert _query(home, f"select count(*) from {tables.RAW_ATS}.candidates where cast(id as varchar) in "
                        "(select unnest(?::VARCHAR[]))", ats_ids)[0][0] == 0
    assert _query(home, f"select count(*) from {tables.RAW_VENDORS}.resumes where lower(email) = ?",
                  world["email"].lower())[0][0] == 0
    refused = _query(home, f"select source, file_name, row_number, raw_record from {tables.QUARANTINED_ROWS} "
                           "where field = '_erased'")
    assert {s for s, *_ in refused} >= {"ats"} and len({s for s, *_ in refused}) >= 2, refused
    assert all(raw in (None, "null") for *_, raw in refused), "a refused row keeps no personal data"
    blocking = [o for o in (run_check(name) for name in CHECKS_BY_NAME) if o.blocking]
    assert not blocking, [(o.check, [f.rule.column for f in o.failures]) for o in blocking]
    hits = {f: n for f, n in _byte_hits(home, {world["email"], world["name"], *erased["phones"]}).items()
            if not f.startswith("landing")}  # the re-delivered files are the vendor's, as delivered
    assert set(hits) <= {str(LEGAL_HOLD_FILE)}, hits


def test_eeo_answers_stay_apart_and_reach_dashboards_only_in_cells_of_eleven_or_more(world):
    from warmpool.eeo import is_eeo_field

    home = world["home"]
    assert _query(home, f"select count(*) from {tables.EEO_SELF_IDENTIFICATION}")[0][0] > 0

    def columns(schema: str, table: str) -> set[str]:
        return {c for (c,) in _query(home, "select column_name from information_schema.columns "
                                           "where table_schema = ? and table_name = ?", schema, table)}

    aggregate = columns(*tables.EEO_APPLICANT_AGGREGATES.split("."))
    assert aggregate and not aggregate & {"person_id", "candidate_id", "application_id", "email", "first_name",
                                          "last_name"}
    assert _query(home, f"select count(*) from {tables.EEO_APPLICANT_AGGREGATES} "
                        "where not is_suppressed and applicants < 11")[0][0] == 0
    assert _query(home, f"select count(*) from {tables.EEO_APPLICANT_AGGREGATES} where is_suppressed "
                        "and applicants is null")[0][0] > 0  # a small world has small cells, and they are withheld
    for schema, table in ((tables.MARTS, "dim_candidates"), (tables.MARTS, "audience_members"),
                          (tables.INTERMEDIATE, "int_candidates_golden")):
        assert not [c for c in columns(schema, table) if is_eeo_field(c)], table
