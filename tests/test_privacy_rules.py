"""Privacy's rules without a world: keyed hashes and their secret, retention on an injected clock
(exactly the people past their period, never one under hold), legal holds ending, the auditor's
files, and a property over random event streams: after any withdrawal, objection, hard bounce,
complaint or erasure, the person is in no later send and no provider list.

The erasure through every store of a world that ran the whole graph is tests/test_privacy.py."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from pipelines.erasure import stores
from warmpool import web_store
from warmpool.campaigns.audience import write_audience_csv
from warmpool.campaigns.sender import WebStoreSuppression
from warmpool.config import UnsafeDeployment, get_settings
from warmpool.privacy.auditor import export_for_auditor
from warmpool.privacy.erasure import erase
from warmpool.privacy.keys import EMAIL, Keyer
from warmpool.privacy.reingest import DoNotReingest
from warmpool.privacy.retention import decide
from warmpool.privacy.rules import PrivacyRules
from warmpool.privacy.store import privacy_store

TODAY = dt.date(2027, 3, 1)
RULES = PrivacyRules(no_consent_retention_days=730, applicant_hold_days=365 * 3)


def _ago(days: int) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=days), dt.time(9))


# ---- keys ----------------------------------------------------------------------------------------

def test_keys_are_keyed_and_follow_the_matching_form(warmpool_home):
    keyer = Keyer.from_settings(get_settings())
    key = keyer.key(EMAIL, "Ana.Lopez+jobs@Example.com")
    assert key == keyer.key(EMAIL, "ana.lopez@example.com")  # one person, one key, however written
    assert key != hashlib.sha256(b"ana.lopez@example.com").hexdigest()
    assert key != Keyer(b"another-deployment-key-123").key(EMAIL, "ana.lopez@example.com")
    assert keyer.key(EMAIL, "not an address") is None


def test_the_sandbox_key_is_refused_outside_demo_mode(warmpool_home, monkeypatch):
    monkeypatch.delenv("WARMPOOL_DEMO", raising=False)
    monkeypatch.delenv("WARMPOOL_PRIVACY_KEY", raising=False)
    with pytest.raises(UnsafeDeployment, match="WARMPOOL_PRIVACY_KEY is not set"):
        Keyer.from_settings(get_settings())
    monkeypatch.setenv("WARMPOOL_PRIVACY_KEY", "warmpool-sandbox-privacy-key-not-for-production")
    with pytest.raises(UnsafeDeployment, match="sandbox's public value"):
        erase("someone@example.com", stores(), get_settings())
    monkeypatch.setenv("WARMPOOL_PRIVACY_KEY", "a-real-deployment-privacy-key-0123")
    assert Keyer.from_settings(get_settings()).key(EMAIL, "a@example.com")


# ---- retention on an injected clock ----------------------------------------------------------------

PEOPLE = [  # person_id, consent_state, last active (days ago), last application action (days ago) -> expected
    ("p_old_no_consent", "no_consent", 800, None, "due"),
    ("p_old_legitimate", "legitimate_interest", 731, None, "due"),
    ("p_old_suppressed", "suppressed", 2000, None, "due"),
    ("p_never_active", "no_consent", None, None, "due"),
    ("p_recent_no_consent", "no_consent", 729, None, "kept"),
    ("p_old_opted_in", "opted_in", 3000, None, "kept"),
    ("p_old_applicant_in_hold", "no_consent", 900, 900, "held"),       # 3-year applicant hold still running
    ("p_old_applicant_past_hold", "no_consent", 1200, 1200, "due"),
    ("p_old_in_hold_store", "no_consent", 900, None, "held"),
]


def test_retention_purges_exactly_the_people_past_their_period_and_never_one_under_hold():
    rows = [(p, c, None if a is None else _ago(a), None if h is None else _ago(h)) for p, c, a, h, _ in PEOPLE]
    due, held = decide(rows, RULES, TODAY, held_people={"p_old_in_hold_store"})
    assert sorted(d.person_id for d in due) == sorted(p for p, *_, e in PEOPLE if e == "due")
    assert sorted(d.person_id for d in held) == sorted(p for p, *_, e in PEOPLE if e == "held")
    reasons = {d.person_id: d.reason for d in due + held}
    assert "last active never" in reasons["p_never_active"]
    assert "held until" in reasons["p_old_applicant_in_hold"]


@given(st.lists(st.tuples(st.sampled_from(["no_consent", "opted_in", "suppressed", "legitimate_interest"]),
                          st.one_of(st.none(), st.integers(0, 4000)), st.one_of(st.none(), st.integers(0, 4000)),
                          st.booleans()), max_size=40),
       st.integers(30, 3000), st.integers(30, 3000))
def test_retention_never_purges_anyone_under_hold_or_inside_their_period(people, period, hold):
    rules = PrivacyRules(no_consent_retention_days=period, applicant_hold_days=hold)
    rows = [(f"p{i}", c, None if a is None else _ago(a), None if h is None else _ago(h))
            for i, (c, a, h, _) in enumerate(people)]
    in_store = {f"p{i}" for i, (*_, flag) in enumerate(people) if flag}
    due, held = decide(rows, rules, TODAY, in_store)
    due_ids = {d.person_id for d in due}
    assert due_ids.isdisjoint({d.person_id for d in held}) and due_ids.isdisjoint(in_store)
    for pid, consent, active, application in rows:
        past = consent != "opted_in" and (active is None or (TODAY - active.date()).days > period)
        under_hold = pid in in_store or (application is not None and (TODAY - application.date()).days <= hold)
        assert (pid in due_ids) == (past and not under_hold), (pid, consent, active, application)


def test_a_hold_ends_on_its_date_and_its_record_is_erased(warmpool_home):
    settings = get_settings()
    with privacy_store(settings) as privacy:
        privacy.hold("k1", "applicant_record", "why", "2027-02-28", {"email": "held-one@example.com"}, "2025-01-01T00:00:00Z")
        privacy.hold("k2", "applicant_record", "why", "2027-03-01", {"email": "held-two@example.com"}, "2025-01-01T00:00:00Z")
        assert privacy.held_subjects("2027-03-01") == {"k2"}
        assert privacy.release_expired("2027-03-01") == 1
        assert [h["subject_key"] for h in privacy.held()] == ["k2"]
    hold_file = settings.privacy_dir / "legal_hold.sqlite"
    assert b"held-one@example.com" not in hold_file.read_bytes()
    assert (hold_file.stat().st_mode & 0o777) == 0o600


# ---- auditor exports ---------------------------------------------------------------------------------

def test_auditor_exports_are_files_a_spreadsheet_reads_safely(warmpool_home, tmp_path):
    settings = get_settings()
    with privacy_store(settings) as privacy:
        privacy.log_access("=cmd|' /C calc'!A0", "export", "k1", {"n": 1}, "2026-05-02T10:00:00Z")
        privacy.log_access("ops", "export", "k2", None, "2026-07-01T10:00:00Z")  # outside the period
        privacy.log_erasure({"erasure_id": "er-1", "subject_key": "k1", "requested_at": "2026-05-01T00:00:00Z",
                             "requested_via": "web:1", "deadline": "2026-05-31", "executed_at": "2026-05-02T00:00:00Z",
                             "stores": {"web_store": {"form_submissions": 1}}, "held_records": 0})
    manifest = export_for_auditor(dt.date(2026, 5, 1), dt.date(2026, 6, 1), tmp_path / "audit", settings)
    assert manifest["files"] == {"consent_evidence.csv": 0, "erasure_log.csv": 1, "search_audit.csv": 0,
                                 "access_log.csv": 1}
    with open(tmp_path / "audit" / "access_log.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["actor"] for r in rows] == ["'=cmd|' /C calc'!A0"]  # a formula stays text
    with open(tmp_path / "audit" / "erasure_log.csv", newline="", encoding="utf-8") as fh:
        erasure = next(csv.DictReader(fh))
    assert erasure["deadline"] == "2026-05-31" and '"form_submissions": 1' in erasure["stores"]


# ---- a property over random event streams ------------------------------------------------------------

EVENTS = ("delivered", "open", "click", "soft_bounce", "withdrawal", "objection", "hard_bounce", "complaint", "erasure")
SUPPRESSING = {"withdrawal", "objection", "hard_bounce", "complaint"}


def _apply(con, event: str, address: str, n: int) -> None:
    at = f"2026-06-{1 + n % 28:02d}T10:{n % 60:02d}:00.000Z"
    if event == "objection":  # the preference centre: out of everything (GDPR Art. 21)
        web_store.record_preferences(con, {"email": address, "topics": "", "unsubscribed_all": 1, "changed_at": at,
                                           "source": "page"})
        return
    kind = {"withdrawal": "unsubscribe", "hard_bounce": "bounce", "soft_bounce": "bounce"}.get(event, event)
    web_store.insert_email_events(con, [{"provider_event_id": f"ev-{n}", "provider": "mailgun", "event": kind,
                                         "email": address, "campaign_id": "c1", "message_id": f"<m{n}@x>",
                                         "occurred_at": at, "bounce_type": "soft" if event == "soft_bounce" else
                                         ("hard" if event == "hard_bounce" else None)}])


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(EVENTS), st.integers(0, 1)), min_size=1, max_size=8))
def test_after_any_withdrawal_objection_bounce_complaint_or_erasure_nobody_is_mailed_or_listed(
        warmpool_home, stream):
    settings = get_settings()
    for f in settings.home.rglob("*"):  # each example starts from nothing
        if f.is_file():
            f.unlink()
    addresses = ["casey.rivera@example.com", "c.rivera@work.example.org"]
    with web_store.store(settings.web_store_path) as con:
        web_store.insert_submissions(con, [{"form": "talent_network", "submitted_at": "2026-05-01T10:00:00.000Z",
                                            "first_name": "Casey", "last_name": "Rivera", "email": addresses[0],
                                            "consent_marketing": 1, "confirmed_at": "2026-05-01T10:05:00.000Z"}])
        for n, (event, which) in enumerate(stream):
            if event != "erasure":
                _apply(con, event, addresses[which], n)
    write_audience_csv([{"campaign_id": "c1", "person_id": "p1", "email": addresses[0], "first_name": "Casey"},
                        {"campaign_id": "c1", "person_id": "p2", "email": "someone.else@example.com"}],
                       "c1", settings.audiences_dir)
    kinds = {e for e, _ in stream}
    if "erasure" in kinds:
        erase(addresses[0], stores(), settings)
        listed = (settings.audiences_dir / "c1.csv").read_text(encoding="utf-8").lower()
        assert all(a not in listed for a in addresses[:1]) and "someone.else@example.com" in listed
        assert DoNotReingest.load(settings).blocks(source="talentdb", emails=[addresses[0].upper()])
        with web_store.store(settings.web_store_path) as con:
            assert web_store.person_rows(con, addresses[:1]) == {}
    elif kinds & SUPPRESSING:
        gate = WebStoreSuppression(settings.web_store_path)
        assert gate(addresses[0], other_addresses=addresses[1:]) and gate(addresses[1], other_addresses=addresses[:1])
    elif kinds <= {"delivered", "open", "click"}:
        assert not WebStoreSuppression(settings.web_store_path)(addresses[0], other_addresses=addresses[1:])


# ---- EEO self-identification is never a filter ----------------------------------------------------------

@pytest.mark.parametrize("key", ["gender", "Race", "eeo_race", "veteran_status", "disability", "race__description"])
def test_a_campaign_audience_cannot_filter_on_eeo_fields(tmp_path, key):
    from warmpool.campaigns.config import CampaignConfigError, load_campaign_file

    shipped = sorted((Path(__file__).resolve().parents[1] / "config" / "campaigns").glob("*.yaml"))[0]
    (tmp_path / "templates").symlink_to(shipped.parent / "templates")
    path = tmp_path / shipped.name
    path.write_text(shipped.read_text(encoding="utf-8") + f"\n{key}: [Female]\n", encoding="utf-8")
    with pytest.raises(CampaignConfigError, match="EEO self-identification"):
        load_campaign_file(path)
    path.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_campaign_file(path).campaign_id  # the same file without it loads


def test_eeo_fields_are_recognised_however_spelled():
    from warmpool.eeo import EeoFilterError, is_eeo_field, refuse_eeo_filters

    assert all(is_eeo_field(f) for f in ("gender", "Gender", "eeo-race", "disability_status", "self identification"))
    assert not any(is_eeo_field(f) for f in ("job_families", "countries", "min_years_experience", "segment", "grace"))
    with pytest.raises(EeoFilterError, match="'ethnicity'"):
        refuse_eeo_filters(["countries", "ethnicity"], "search filters")


# ---- the Dagster asset and the command line --------------------------------------------------------------

def _erasure_request(email: str, n: int) -> dict:
    return {"email": email, "requested_at": f"2026-03-0{n}T10:00:00.000Z", "ip": "192.0.2.1", "user_agent": "UA",
            "source": "privacy_page"}


def test_the_dagster_asset_works_each_confirmed_request_once(warmpool_home):
    import dagster as dg

    from assets.privacy import privacy_erasures
    from assets.resources import WarehouseResource, WebStoreResource

    settings = get_settings()
    with web_store.store(settings.web_store_path) as con:
        web_store.insert_submissions(con, [{"form": "talent_network", "submitted_at": "2026-02-01T10:00:00.000Z",
                                            "first_name": "Robin", "email": "robin.gone@example.com", "consent_marketing": 0}])
        web_store.record_erasure_request(con, _erasure_request("Robin.Gone@example.com", 1))
    resources = {"warehouse": WarehouseResource(), "web_store": WebStoreResource()}
    first = dg.materialize([privacy_erasures], resources=resources)
    assert first.success
    assert first.asset_materializations_for_node("privacy_erasures")[0].metadata["erasures"].value == 1
    with web_store.store(settings.web_store_path) as con:
        assert web_store.person_rows(con, ["robin.gone@example.com"]) == {}
    with privacy_store(settings) as privacy:
        log = privacy.erasures()
    assert [e["requested_via"] for e in log] == ["web:1"] and log[0]["deadline"] == "2026-03-31"
    again = dg.materialize([privacy_erasures], resources=resources)
    assert again.asset_materializations_for_node("privacy_erasures")[0].metadata["erasures"].value == 0


def test_the_command_line_exports_and_erases(warmpool_home, tmp_path):
    from typer.testing import CliRunner

    from cli.main import app

    settings = get_settings()
    with web_store.store(settings.web_store_path) as con:
        web_store.insert_submissions(con, [{"form": "talent_network", "submitted_at": "2026-02-01T10:00:00.000Z",
                                            "first_name": "Sam", "last_name": "Okafor", "email": "sam.okafor@example.com",
                                            "consent_marketing": 0}])
    runner = CliRunner()
    exported = runner.invoke(app, ["privacy", "export", "sam.okafor@example.com", "--output", str(tmp_path / "sam.json")])
    assert exported.exit_code == 0, exported.output
    assert "Okafor" in (tmp_path / "sam.html").read_text(encoding="utf-8")
    refused = runner.invoke(app, ["privacy", "erase", "sam.okafor@example.com"], input="n\n")
    assert refused.exit_code != 0 and "Erase this person" in refused.output
    erased = runner.invoke(app, ["privacy", "erase", "sam.okafor@example.com", "--yes"])
    assert erased.exit_code == 0 and "web_store: form_submissions 1" in erased.output
    dry = runner.invoke(app, ["privacy", "retention", "--dry-run", "--today", "2027-01-01"])
    assert dry.exit_code == 0 and "would erase 0 person(s)" in dry.output


def test_search_filters_refuse_eeo_fields():
    from warmpool.search.filters import FilterError, SearchFilters

    with pytest.raises(FilterError, match="EEO self-identification"):
        SearchFilters.from_dict({"country": "US", "gender": "Female"})
    assert SearchFilters.from_dict({"country": "US"}).country == "US"


def test_segment_filters_refuse_eeo_fields(tmp_path):
    from warmpool.segments import SegmentConfigError, load_segment_file

    path = tmp_path / "diverse.yaml"
    path.write_text("segment: diverse\nversion: 1\nwhere:\n  all:\n    - gender: [Female]\n", encoding="utf-8")
    with pytest.raises(SegmentConfigError, match="EEO self-identification"):
        load_segment_file(path)
