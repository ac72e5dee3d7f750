"""The dlt pipelines against real HTTP and real files: every row arrives once, a re-run loads
nothing, bad vendor rows are quarantined while their good neighbours load.

The ATS tests run against the sandbox's real ATS simulator over HTTP, serving a small generated
world (tests/ingestion_fixtures.py); faults are injected through the simulator's `/_sim/faults`.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from pipelines.ats.settings import ENDPOINTS
from tests.ingestion_fixtures import *  # noqa: F401,F403 (fixtures: ats_world, home, ats)
from tests.ingestion_fixtures import assert_ats_matches_truth, count, query
from warmpool import tables
from warmpool.config import get_settings

# Fast retries for the fault tests: 1 s client timeout, 0.05 s backoff base.
def fast_options():
    from pipelines.ats import ClientOptions

    return ClientOptions(timeout_seconds=1.0, max_attempts=8, backoff_factor=0.05, max_retry_delay=5)


# --- ATS ----------------------------------------------------------------------------------------

def test_ats_loads_every_row_once_and_rerun_loads_nothing(ats):
    from pipelines.ats import run_ats

    counts = run_ats()
    for e in ENDPOINTS:
        rows = ats.truth(e.name)
        assert counts[e.name] == len(rows), e.name
    assert_ats_matches_truth(ats)
    again = run_ats()
    assert sum(again.values()) == 0, again
    assert_ats_matches_truth(ats)


def test_ats_flattens_nested_objects_and_keeps_all_null_columns(ats):
    from pipelines.ats import run_ats

    run_ats()
    cols = {r[0] for r in query("select column_name from information_schema.columns where table_schema = ? "
                                "and table_name = 'applications'", tables.RAW_ATS)}
    assert {"source__public_name", "current_stage__name", "rejection_reason__type__name", "credited_to__id",
            "rejected_at"} <= cols
    assert count(f"{tables.RAW_ATS}_staging.candidates") == 0  # staging copy of personal data emptied
    assert not list(get_settings().dlt_dir.rglob("completed_jobs/*"))  # no loaded rows left on disk


def test_ats_survives_429_500_timeouts_drops_and_pages_changing_between_calls(ats, caplog):
    """Every fault the simulator has, at once; then a quiet run picks up what changed mid-run."""
    from pipelines.ats import run_ats

    ats.faults(rate_limit_every=5, retry_after=1, status_500_every=7, drop_every=11,
               slow_every=13, delay_seconds=1.5, mutate_every=3)
    with caplog.at_level(logging.DEBUG):
        run_ats(options=fast_options())
    status = ats.sim_status()
    assert status["mutations"] >= 3 and status["requests"] >= 20  # the faults were really served
    ats.faults()  # faults off; the data keeps its mid-run changes
    run_ats(options=fast_options())  # picks up records changed on pages already fetched
    assert_ats_matches_truth(ats)
    assert sum(run_ats(options=fast_options()).values()) == 0  # and then nothing more
    assert ats.api_key not in caplog.text


def test_ats_reference_lists_load_only_changed_records(ats):
    """`sources` and `rejection_reasons` have no cursor: a changed record loads, nothing else."""
    from pipelines.ats import run_ats

    run_ats()
    path = ats.home / "sandbox" / "ats" / "sources.json"
    original = path.read_text(encoding="utf-8")
    try:
        rows = json.loads(original)
        rows[0]["name"] = rows[0]["name"] + " (renamed)"
        path.write_text(json.dumps(rows), encoding="utf-8")
        counts = run_ats()
        assert counts["sources"] == 1 and counts["candidates"] == 0 and counts["rejection_reasons"] == 0
        assert query(f"select name from {tables.RAW_ATS}.sources where id = ?", rows[0]["id"]) == [(rows[0]["name"],)]
    finally:
        path.write_text(original, encoding="utf-8")


def test_ats_record_whose_lists_shrink_or_empty_keeps_only_its_new_children(ats):
    """Child tables follow the record's latest version: a candidate whose addresses were all removed
    (and whose phones became one) has no old child rows left, and no child row is an orphan."""
    from datetime import datetime, timezone

    from pipelines.ats import run_ats

    run_ats()
    path = ats.home / "sandbox" / "ats" / "candidates.json"
    original = path.read_text(encoding="utf-8")
    try:
        rows = json.loads(original)
        target = next(r for r in rows if len(r["email_addresses"]) >= 2 and len(r["phone_numbers"]) >= 1)
        target["email_addresses"] = []
        target["phone_numbers"] = target["phone_numbers"][:1]
        target["updated_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        path.write_text(json.dumps(rows), encoding="utf-8")
        counts = run_ats()
        assert counts["candidates"] == 1
        children = lambda table: query(  # noqa: E731
            f"select count(*) from {tables.RAW_ATS}.{table} t join {tables.RAW_ATS}.candidates c "
            f"on t._dlt_parent_id = c._dlt_id where c.id = ?", target["id"])[0][0]
        assert children("candidates__email_addresses") == 0 and children("candidates__phone_numbers") == 1
        for child in ("candidates__email_addresses", "candidates__phone_numbers", "candidates__tags"):
            assert query(f"select count(*) from {tables.RAW_ATS}.{child} where _dlt_parent_id not in "
                         f"(select _dlt_id from {tables.RAW_ATS}.candidates)") == [(0,)], child
        assert_ats_matches_truth(ats)
    finally:
        path.write_text(original, encoding="utf-8")


def test_ats_stays_within_a_tight_rate_limit_while_fetching_pages_concurrently(ats):
    """Eight requests a second at most: pages are fetched several at a time, the 429s that provokes are
    waited out (Retry-After), and every row still arrives once."""
    from pipelines.ats import run_ats

    ats.faults(rate_limit=8, rate_window_seconds=1)
    run_ats(options=fast_options())
    assert_ats_matches_truth(ats)


def test_ats_fresh_source_every_call(home):
    from pipelines.ats import ats_source

    a, b = ats_source(), ats_source()
    assert a is not b and set(a.resources) == {e.name for e in ENDPOINTS}


# --- vendor files -------------------------------------------------------------------------------

TALENTDB_HEADER = ("CandidateID,FirstName,LastName,EmailAddress,Phone,City,State,Country,LinkedIn,CurrentTitle,"
                   "CurrentEmployer,Skills,YearsExp,LastUpdated\n")


def write_vendor_files(landing: Path) -> dict[str, Path]:
    import openpyxl

    paths = {v: landing / "vendors" / v for v in ("talentdb", "hirewire", "eurocv")}
    for p in paths.values():
        p.mkdir(parents=True, exist_ok=True)
    csv_file = paths["talentdb"] / "talentdb_2025-03-01.csv"
    csv_file.write_text(
        TALENTDB_HEADER
        + 'T1,Ann,Lee,ann.lee@gmail.com,(415) 555-0100,San Francisco,CA,United States,https://linkedin.com/in/ann,'
          'Engineer,Acme,"Python, SQL",5,03/01/2025\n'
        + "T2,Bob,Ray,bob.ray-at-gmail.com,415-555-0101,Austin,TX,United States,,Analyst,Beta,SQL,3,02/15/2025\n"
        + "T3,Cy,Doe,cy@gmail.com,not a phone,Austin,TX,United States,,Analyst,Beta,,2,02/15/2025\n",
        encoding="utf-8")
    jsonl_file = paths["hirewire"] / "hirewire_2025-04-01.jsonl"
    jsonl_file.write_text("\n".join(json.dumps(r) for r in [
        {"id": "H1", "name": "María José García", "contact": {"email": "mj.garcia@gmail.com", "phone": "+34 612 345 678"},
         "location": "Madrid, Comunidad de Madrid, Spain", "profile_url": "https://linkedin.com/in/mjg",
         "headline": "Data Scientist", "employer": "Datos SL", "skills": ["Python", "ML"], "experience_years": 7,
         "modified": "2025-03-30T10:00:00Z"},
        {"id": "H2", "name": "Jose Garcia", "contact": {"email": "jose@gmail.com"}, "location": "Lyon, France",
         "modified": "30/03/2025"},
    ]) + "\n", encoding="utf-8")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Ref", "Given Name", "Surname", "E-mail", "Mobile", "Town", "County/State", "Country", "Profile",
                  "Job Title", "Company", "Key Skills", "Experience (yrs)", "Updated"])
    sheet.append([1001, "Jörg", "Müller", "joerg@web.de", "+49 151 23456789", "Berlin", "Berlin", "Germany", None,
                  "Developer", "Werk GmbH", "Java|Kubernetes", 10, "01.02.2025"])
    sheet.append([None, "Eva", "Nowak", "eva@web.de", None, "Warsaw", None, "Poland", None, "PM", "Z", "", 4,
                  "31.12.2024"])
    xlsx_file = paths["eurocv"] / "eurocv_2025-02-15.xlsx"
    book.save(xlsx_file)
    return {"talentdb": csv_file, "hirewire": jsonl_file, "eurocv": xlsx_file}


def quarantined() -> set[tuple]:
    return set(query(f"select source, file_name, row_number, field from {tables.QUARANTINED_ROWS}"))


def test_vendor_files_good_rows_load_and_bad_rows_are_quarantined(home):
    from pipelines.vendor_files import new_vendor_files, run_vendor_files

    files = write_vendor_files(home.landing_dir)
    assert sorted(f.url for f in new_vendor_files()) == sorted(str(p) for p in files.values())
    counts = run_vendor_files()
    assert counts["resumes"] == 4 and counts["loaded_files"] == 3 and counts["contracts"] == 3
    assert quarantined() == {
        ("talentdb", "talentdb_2025-03-01.csv", 2, "email"),
        ("talentdb", "talentdb_2025-03-01.csv", 3, "phone"),  # kept, phone nulled
        ("hirewire", "hirewire_2025-04-01.jsonl", 2, "updated_at"),
        ("eurocv", "eurocv_2025-02-15.xlsx", 2, "vendor_record_id"),
    }
    raw = query(f"select raw_record from {tables.QUARANTINED_ROWS} where field = 'email'")[0][0]
    assert json.loads(raw)["CandidateID"] == "T2"

    rows = {r[0]: r[1:] for r in query(
        f"select vendor_record_id, first_name, last_name, city, region, country, skills, updated_at, phone, "
        f"file_row, cast(purchased_at as varchar), cost from {tables.RAW_VENDORS}.resumes")}
    assert set(rows) == {"T1", "T3", "H1", "1001"}
    assert rows["H1"][:7] == ("María", "José García", "Madrid", "Comunidad de Madrid", "Spain", "Python;ML",
                              "2025-03-30T10:00:00+00:00")
    assert rows["T1"][5:7] == ("Python;SQL", "2025-03-01")
    assert rows["T3"][7] is None and rows["T3"][8] == 3  # unparseable phone nulled, row kept
    assert rows["1001"][5:7] == ("Java;Kubernetes", "2025-02-01")
    assert rows["1001"][9:] == ("2025-02-15", 9)
    assert query(f"select cost_per_resume from {tables.RAW_VENDORS}.contracts where contract_id = 'TDB-2024-01'") == [(4.0,)]


def test_vendor_file_is_loaded_once(home):
    from pipelines.vendor_files import new_vendor_files, run_vendor_files

    files = write_vendor_files(home.landing_dir)
    run_vendor_files()
    assert new_vendor_files() == []
    assert sum(run_vendor_files().values()) == 0
    shutil.copy(files["talentdb"], files["talentdb"].with_name("renamed.csv"))  # same content, new name
    assert new_vendor_files() == []
    newer = files["talentdb"].with_name("talentdb_2025-04-01.csv")
    newer.write_text(TALENTDB_HEADER + "T9,Gus,Ho,gus@gmail.com,,Reno,NV,United States,,Dev,Co,,1,04/01/2025\n")
    assert [f.url for f in new_vendor_files()] == [str(newer)]
    assert run_vendor_files()["resumes"] == 1
    assert count(f"{tables.RAW_VENDORS}.resumes") == 5
    assert len(quarantined()) == 4  # nothing quarantined twice


def test_a_corrected_redelivery_under_the_same_name_replaces_that_files_rows(home):
    """Resumes are appended, each file's content once; a file whose name was loaded before with other
    content is a corrected re-delivery: its rows replace the earlier ones (merged), never doubled."""
    from pipelines.vendor_files import run_vendor_files

    files = write_vendor_files(home.landing_dir)
    run_vendor_files()
    files["talentdb"].write_text(
        TALENTDB_HEADER + "T1,Ann,Lee,ann.lee@gmail.com,,Reno,NV,United States,,Engineer,Acme,,5,03/02/2025\n"
        + "T2,Bob,Ray,bob.ray@gmail.com,,Austin,TX,United States,,Analyst,Beta,SQL,3,02/15/2025\n", encoding="utf-8")
    assert run_vendor_files()["resumes"] == 2
    rows = query(f"select vendor_record_id, city from {tables.RAW_VENDORS}.resumes "
                 f"where file_name = 'talentdb_2025-03-01.csv' order by 1")
    assert rows == [("T1", "Reno"), ("T2", "Austin"), ("T3", "Austin")]  # T3 from the first delivery stays
    assert query(f"select count(*) from {tables.RAW_VENDORS}.loaded_files") == [(4,)]


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_vendor_landing_folder_is_any_fsspec_url(home, tmp_path, monkeypatch, scheme):
    """The same three files through `file://` and the in-memory filesystem: same rows, loaded once."""
    import uuid

    import fsspec

    from pipelines.vendor_files import new_vendor_files, run_vendor_files

    local = tmp_path / "staged"
    files = write_vendor_files(local)
    if scheme == "file":
        url = f"file://{local}"
    else:
        url = f"memory://landing-{uuid.uuid4().hex}"
        fs = fsspec.filesystem("memory")
        for vendor, path in files.items():
            fs.pipe(f"{url[len('memory://'):]}/vendors/{vendor}/{path.name}", path.read_bytes())
    monkeypatch.setenv("WARMPOOL_LANDING_URL", url)
    assert len(new_vendor_files()) == 3
    counts = run_vendor_files()
    assert counts["resumes"] == 4 and counts["loaded_files"] == 3
    assert new_vendor_files() == [] and run_vendor_files()["resumes"] == 0
    urls = [r[0] for r in query(f"select file_url from {tables.RAW_VENDORS}.loaded_files")]
    assert all(u.startswith("memory://") for u in urls) if scheme == "memory" else all(u.startswith("/") for u in urls)


# --- web store ----------------------------------------------------------------------------------

def _submission(i: int) -> dict:
    return {"form": "talent_network" if i % 2 else "referral", "submitted_at": f"2025-05-{1 + i % 28:02d}T09:00:00Z",
            "first_name": f"F{i}", "last_name": "Sub", "email": f"f{i}@gmail.com", "consent_marketing": i % 2}


def _event(i: int) -> dict:
    return {"provider_event_id": f"ev-{i}", "provider": "sandbox", "event": "open", "email": f"f{i}@gmail.com",
            "campaign_id": "c1", "occurred_at": "2025-06-01T00:00:00Z", "payload": {"n": i}}


def test_web_store_loads_incrementally(home):
    from pipelines.web_store import run_web_store
    from warmpool import web_store as store

    assert sum(run_web_store().values()) == 0  # no store yet: nothing, no error
    with store.store(home.web_store_path) as con:
        store.insert_submissions(con, [_submission(i) for i in range(5)])
        store.insert_email_events(con, [_event(i) for i in range(3)])
    first = run_web_store()
    assert (first["form_submissions"], first["email_events"]) == (5, 3)
    assert sum(run_web_store().values()) == 0
    with store.store(home.web_store_path) as con:
        store.insert_submissions(con, [_submission(i) for i in range(5, 8)])
        store.insert_email_events(con, [_event(i) for i in range(5)])  # 3 repeats ignored by the store
    second = run_web_store()
    assert (second["form_submissions"], second["email_events"]) == (3, 2)
    assert count(f"{tables.RAW_FORMS}.form_submissions") == 8
    assert count(f"{tables.RAW_EMAIL}.email_events") == 5
    assert query(f"select max(submission_id) from {tables.RAW_FORMS}.form_submissions") == [(8,)]
