"""The dlt pipelines against real HTTP and real files: every row arrives once, a re-run loads
nothing, bad vendor rows are quarantined while their good neighbours load.

The ATS tests use the sandbox simulator and world when the shared fixtures exist
(`sandbox_services`, `small_world`); otherwise a small Harvest-shaped server in this file serves
contract-shaped JSON (Basic auth, `Link` pagination, `updated_after`, one 429 with Retry-After).
"""
from __future__ import annotations

import base64
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import duckdb
import pytest

from pipelines.ats.settings import ENDPOINTS
from warmpool import tables
from warmpool.config import get_settings

API_KEY = "test-harvest-key"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private WARMPOOL_HOME: each test gets its own warehouse and dlt folder."""
    for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WARMPOOL_HOME", str(tmp_path / "home"))
    return get_settings().ensure_dirs()


def query(sql: str, *params):
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def count(table: str) -> int:
    return query(f"select count(*) from {table}")[0][0]


# --- a small Harvest-shaped server (used when the sandbox simulator is not available) ----------

def _user(i: int) -> dict:
    return {"id": i, "first_name": f"Rec{i}", "last_name": "Ruiter", "name": f"Rec{i} Ruiter", "employee_id": f"E{i}"}


def _candidate(i: int, ts: str) -> dict:
    return {
        "id": i, "first_name": f"First{i}", "last_name": f"Last{i}", "company": None if i % 3 else "Acme",
        "title": "Engineer", "created_at": ts, "updated_at": ts, "last_activity": ts,
        "email_addresses": [{"value": f"c{i}@mail.example.org", "type": "personal"}]
        + ([{"value": f"c{i}@work.example.org", "type": "work"}] if i % 2 else []),
        "phone_numbers": [{"value": f"+1 415 555 {i:04d}", "type": "mobile"}], "addresses": [],
        "social_media_addresses": [{"value": f"https://www.linkedin.com/in/c{i}"}], "website_addresses": [],
        "tags": ["silver-medalist"] if i % 5 == 0 else [], "application_ids": [1000 + i],
        "recruiter": _user(1) if i % 4 else None,
        "employments": [{"company_name": "Acme", "title": "Engineer", "start_date": "2020-01-01", "end_date": None}],
    }


def _application(i: int, ts: str) -> dict:
    rejected = i % 3 == 0
    return {
        "id": 1000 + i, "candidate_id": i, "prospect": False, "applied_at": ts,
        "rejected_at": ts if rejected else None, "last_activity_at": ts,
        "source": {"id": 1, "public_name": "LinkedIn"}, "credited_to": _user(1) if i % 2 else None,
        "rejection_reason": {"id": 1, "name": "Lacking skills", "type": {"id": 1, "name": "We rejected them"}}
        if rejected else None,
        "jobs": [{"id": 1, "name": "Data Engineer"}], "status": "rejected" if rejected else "active",
        "current_stage": None if rejected else {"id": 2, "name": "Phone Screen"},
        "stage_history": [{"stage_id": 1, "stage_name": "Application Review", "entered_at": ts, "exited_at": None}],
    }


def harvest_world(n: int = 120) -> dict[str, list[dict]]:
    ts = [f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z" for i in range(n + 1)]
    return {
        "candidates": [_candidate(i, ts[i]) for i in range(1, n + 1)],
        "applications": [_application(i, ts[i]) for i in range(1, n + 1)],
        "jobs": [{"id": 1, "name": "Data Engineer", "requisition_id": "R-1", "status": "open", "created_at": ts[0],
                  "opened_at": ts[0], "closed_at": None, "updated_at": ts[0],
                  "departments": [{"id": 1, "name": "Engineering"}],
                  "offices": [{"id": 1, "name": "Berlin", "location": {"name": "Berlin, Germany"}}],
                  "custom_fields": {"job_family": "engineering", "seniority": "senior", "employment_type": "full_time"},
                  "hiring_team": {"recruiters": [{**_user(1), "responsible": True}]}}],
        "users": [{**_user(1), "primary_email_address": "rec1@company.example.org", "created_at": ts[0],
                   "updated_at": ts[0], "disabled": False, "site_admin": False}],
        "sources": [{"id": 1, "name": "LinkedIn", "type": {"id": 1, "name": "Job Boards"}},
                    {"id": 2, "name": "Employee Referral", "type": {"id": 2, "name": "Referrals"}}],
        "offers": [{"id": 1, "version": 1, "application_id": 1001, "candidate_id": 1, "job_id": 1, "created_at": ts[1],
                    "updated_at": ts[1], "sent_at": ts[1], "resolved_at": None, "starts_at": "2025-03-01",
                    "status": "unresolved"}],
        "rejection_reasons": [{"id": 1, "name": "Lacking skills", "type": {"id": 1, "name": "We rejected them"}}],
    }


class HarvestServer:
    """Basic auth (key as user name), `per_page`/`page` with a `Link: rel="next"` header,
    `updated_after` / `last_activity_after` filters, and one 429 + Retry-After on demand."""

    def __init__(self, data: dict[str, list[dict]]):
        self.data, self.requests, self.throttle_next = data, [], 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Authorization")))
                self._reply(*server.respond(self.path, self.headers.get("Authorization", "")))

            def _reply(self, status, body, headers):
                payload = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", "Content-Length": str(len(payload)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def respond(self, path: str, auth: str):
        if auth != "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode():
            return 401, {"message": "Invalid Basic Auth credentials"}, {}
        if self.throttle_next:
            self.throttle_next -= 1
            return 429, {"message": "rate limit"}, {"Retry-After": "1"}
        url = urlparse(path)
        endpoint, q = url.path.rsplit("/", 1)[-1], {k: v[0] for k, v in parse_qs(url.query).items()}
        rows = self.data.get(endpoint)
        if rows is None:
            return 404, {}, {}
        cursor = "last_activity_at" if endpoint == "applications" else "updated_at"
        for param in ("updated_after", "last_activity_after"):
            if param in q:  # Harvest: "at or after"
                rows = [r for r in rows if r.get(cursor) is None or r[cursor] >= q[param]]
        per_page, page = int(q.get("per_page", 100)), int(q.get("page", 1))
        headers = {}
        if page * per_page < len(rows):
            headers["Link"] = f'<{self.url}/{endpoint}?{urlencode({**q, "page": page + 1})}>; rel="next"'
        return 200, rows[(page - 1) * per_page: page * per_page], headers

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ats(home, request, monkeypatch):
    """(ATS base URL, the JSON arrays it serves, the local server or None for the simulator)."""
    try:  # the shared sandbox world and simulator, when present
        world = request.getfixturevalue("warmpool_home")
        request.getfixturevalue("small_world")
        services = request.getfixturevalue("sandbox_services")
        sandbox_dir = getattr(world, "sandbox_dir", None) or Path(world) / "sandbox"
        data = {e.name: json.loads((sandbox_dir / "ats" / f"{e.name}.json").read_text()) for e in ENDPOINTS}
        monkeypatch.setenv("WARMPOOL_HOME", str(home.home))  # read the shared world, write our own warehouse
        monkeypatch.setenv("WARMPOOL_ATS_URL", services.ats_url)
        monkeypatch.delenv("WARMPOOL_ATS_API_KEY", raising=False)
    except (pytest.FixtureLookupError, OSError):
        pass
    else:
        yield services.ats_url, data, None
        return
    server = HarvestServer(harvest_world())
    monkeypatch.setenv("WARMPOOL_ATS_URL", server.url)
    monkeypatch.setenv("WARMPOOL_ATS_API_KEY", API_KEY)
    monkeypatch.setenv("WARMPOOL_ATS_PER_PAGE", "50")  # several pages per endpoint
    yield server.url, server.data, server
    server.close()


# --- ATS ----------------------------------------------------------------------------------------

def test_ats_loads_every_row_once_and_rerun_loads_nothing(ats):
    from pipelines.ats import run_ats

    _, data, _ = ats
    counts = run_ats()
    for endpoint, rows in data.items():
        if rows:
            assert counts[endpoint] == len(rows), endpoint
            assert count(f"{tables.RAW_ATS}.{endpoint}") == len(rows) == len({r["id"] for r in rows})
    emails = sum(len(c["email_addresses"]) for c in data["candidates"])
    assert count(f"{tables.RAW_ATS}.candidates__email_addresses") == emails

    again = run_ats()
    assert sum(again.values()) == 0, again
    for endpoint, rows in data.items():
        if rows:
            assert count(f"{tables.RAW_ATS}.{endpoint}") == len(rows)


def test_ats_flattens_nested_objects_and_keeps_all_null_columns(ats):
    from pipelines.ats import run_ats

    run_ats()
    cols = {r[0] for r in query("select column_name from information_schema.columns where table_schema = ? "
                                "and table_name = 'applications'", tables.RAW_ATS)}
    assert {"source__public_name", "current_stage__name", "rejection_reason__type__name", "credited_to__id",
            "rejected_at"} <= cols
    assert count(f"{tables.RAW_ATS}_staging.candidates") == 0  # staging copy of personal data emptied


def test_ats_picks_up_changes_honours_429_and_never_logs_the_key(ats, caplog):
    from pipelines.ats import run_ats

    url, data, server = ats
    if server is None:
        pytest.skip("needs the local server to change data and inject a 429")
    run_ats()
    server.throttle_next = 1
    changed = dict(data["candidates"][0], title="Staff Engineer", updated_at="2026-10-01T00:00:00Z")
    data["candidates"][0] = changed
    data["sources"][0] = dict(data["sources"][0], name="LinkedIn Jobs")
    counts = run_ats()
    assert counts["candidates"] == 1 and counts["sources"] == 1 and counts["applications"] == 0
    assert query(f"select title from {tables.RAW_ATS}.candidates where id = ?", changed["id"]) == [("Staff Engineer",)]
    assert count(f"{tables.RAW_ATS}.candidates") == len(data["candidates"])
    assert server.throttle_next == 0  # the 429 was served and the request retried
    assert API_KEY not in caplog.text
    assert not list((get_settings().dlt_dir).rglob("completed_jobs/*"))  # no loaded rows left on disk


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
    assert sorted(new_vendor_files()) == sorted(files.values())
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
    assert new_vendor_files() == [newer]
    assert run_vendor_files()["resumes"] == 1
    assert count(f"{tables.RAW_VENDORS}.resumes") == 5
    assert len(quarantined()) == 4  # nothing quarantined twice


# --- web store ----------------------------------------------------------------------------------

def _submission(i: int) -> dict:
    return {"form": "talent_network" if i % 2 else "referral", "submitted_at": f"2025-05-{1 + i % 28:02d}T09:00:00Z",
            "first_name": f"F{i}", "last_name": "Sub", "email": f"f{i}@gmail.com", "consent_marketing": i % 2}


def _event(i: int) -> dict:
    return {"provider_event_id": f"ev-{i}", "provider": "sandbox", "event": "open", "email": f"f{i}@gmail.com",
            "campaign_id": "c1", "occurred_at": "2025-06-01T00:00:00Z", "payload": {"n": i}}


def test_web_store_loads_incrementally(home):
    from pipelines.web_store import run_web_store
    from web import store

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
