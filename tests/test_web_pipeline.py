"""The candidate-facing web service through the whole pipeline, in real headless Chromium.

A small generated world in a private home; the web app on a loopback uvicorn server; the sandbox's
SMTP sink receiving every mail as .eml; Playwright driving Debian's chromium. Then:

  1. Ada opts in to the talent network, the confirmation mail arrives, the browser follows its link
     and confirms. Grace opts in too but never confirms. An employee refers Katherine.
  2. The pipeline runs: Ada is in `marts.dim_candidates` with marketing consent (basis opt_in) and
     her consent record (time, wording version and hash, IP, user agent; confirmed by double opt-in)
     in the ledger `marts.fct_consent_records` and on her `dim_candidates` row; Grace is not
     contactable (`pending_double_opt_in`), in no audience, and her ledger has only `requested`;
     Katherine is in the pool with source `referral` and no consent; Ada receives the nurture
     campaign mail, Grace nobody mails.
  3. Ada opens the campaign mail's List-Unsubscribe URL in the browser and leaves everything on the
     preference page; Katherine's mailbox provider one-click POSTs the referral notice's header URL.
     A contactable person of the generated world who is in an audience and has a second record
     with another address asks for erasure of that OTHER address on /privacy/erase and confirms
     from the mailed single-use link.
  4. The pipeline runs again: Ada and Katherine are `is_contactable = false` with reason
     `suppressed`, in no audience, and nobody is mailed twice; the ledger has each withdrawal (when
     and how: the preference centre for Ada, one-click from the referral notice for Katherine). The
     erasure suppresses the WHOLE person (reason `erasure`), takes them out of every audience, is in
     the consent ledger with the confirming browser, and the campaign sender refuses the erased
     address at send time.

Screenshots go to $WARMPOOL_SCREENSHOTS (default data/screenshots/) as `pipeline-*.png`.
"""
from __future__ import annotations

import email
import email.policy
import os
import re
import time
from datetime import timezone
from email.utils import getaddresses
from pathlib import Path

import httpx
import pytest

from warmpool import tables
from warmpool.config import get_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PEOPLE = 300
SEED = 23

ADA = "ada.lovelace.e2e@example.org"        # opts in and confirms, later unsubscribes on the page
GRACE = "grace.hopper.e2e@example.org"      # opts in, never confirms
KATHERINE = "katherine.johnson.e2e@example.org"  # referred; one-click unsubscribes from the notice
NURTURE = "tn-engineering-nurture"           # config/campaigns: job families engineering + data


def _clear_settings_cache() -> None:
    from warmpool import config

    config._settings_for.cache_clear()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chromium, screenshots_dir):
    """World + ATS simulator + SMTP sink + web server + chromium, all in a private home."""
    from sandbox.services import SandboxServices
    from sandbox.world import generate_world
    from web.app import create_app
    from web.context import WebOptions
    from web.server import free_port, serve_in_thread

    home = tmp_path_factory.mktemp("web-pipeline")
    mp = pytest.MonkeyPatch()
    mp.setenv("WARMPOOL_HOME", str(home))
    for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE"):
        mp.delenv(var, raising=False)
    _clear_settings_cache()
    shots = screenshots_dir
    timings: dict[str, float] = {}
    try:
        get_settings().ensure_dirs()
        t0 = time.perf_counter()
        generate_world(people=PEOPLE, seed=SEED, home=home)
        timings["world"] = time.perf_counter() - t0
        web_port = free_port()
        with SandboxServices(get_settings(), ats_port=0, smtp_port=0) as services:
            # the web service's own mail (confirmations, referral notices) goes to the sandbox's SMTP server
            mp.setenv("WARMPOOL_SMTP_HOST", services.smtp_host)
            mp.setenv("WARMPOOL_SMTP_PORT", str(services.smtp_port))
            mp.setenv("WARMPOOL_PUBLIC_URL", f"http://127.0.0.1:{web_port}")  # links in every mail
            settings = get_settings()
            app = create_app(settings, options=WebOptions(min_fill_seconds=1.0))
            with serve_in_thread(app, port=web_port) as base:
                # the session browser (tests/conftest.py): one sync Playwright per thread
                yield {"base": base, "settings": settings, "browser": chromium, "shots": shots,
                       "mailbox": services.mailbox_dir, "services": services, "timings": timings}
    finally:
        mp.undo()
        _clear_settings_cache()
        if timings:
            print("\nweb pipeline timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


# --------------------------------------------------------------------------------------------- helpers
def shot(page, stack, name: str) -> None:
    page.screenshot(path=str(stack["shots"] / f"pipeline-{name}.png"), full_page=True)


def mails_to(mailbox: Path, address: str) -> list[email.message.EmailMessage]:
    out = []
    for path in sorted(mailbox.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in {a.lower() for _, a in getaddresses([str(msg["To"] or "")])}:
            out.append(msg)
    return out


def wait_for_mail(mailbox: Path, address: str, subject: str, timeout: float = 15.0) -> email.message.EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in mails_to(mailbox, address) if subject in str(m["Subject"])]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no mail '{subject}' to {address} arrived")


def run_pipeline(stack, label: str) -> None:
    from dagster import DagsterInstance

    from cli.demo import sandbox_resources
    from cli.launch import launch

    t0 = time.perf_counter()
    result = launch(DagsterInstance.ephemeral(), resources=sandbox_resources(stack["services"]))
    assert result.success
    stack["timings"][label] = time.perf_counter() - t0
    steps = sorted(((e.step_key, e.event_specific_data.duration_ms / 1000) for e in result.events
                    if e.event_type_value == "STEP_SUCCESS"), key=lambda kv: -kv[1])
    print(f"\n{label}: slowest steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in steps[:6]))


def query(sql: str, *params) -> list[dict]:
    from warmpool.warehouse import warehouse

    with warehouse(read_only=True) as con:
        cur = con.execute(sql, list(params))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]


def candidate(address: str) -> dict:
    rows = query(f"select * from {tables.DIM_CANDIDATES} where lower(email) = ?", address)
    assert len(rows) == 1, (address, rows)
    return rows[0]


def consent_records(address: str) -> list[dict]:
    return query(f"select * from {tables.MARTS}.fct_consent_records where email = ? order by occurred_at, event",
                 address)


def _utc_naive(ts):
    # raw_* timestamps are timestamptz; the marts' are UTC timestamps
    return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts


def audiences_of(address: str) -> set[str]:
    return {r["campaign_id"] for r in query(
        f"select campaign_id from {tables.AUDIENCE_MEMBERS} where lower(email) = ?", address)}


def erasure_candidate() -> dict:
    """A contactable person in some audience with a second record under another address (that
    address belongs to nobody else): the address they will ask to erase."""
    rows = query(f"""
        with addresses as (
            select distinct person_id, lower(trim(email)) as email
            from {tables.MARTS}.bridge_candidate_records
            where email like '%_@_%._%'
        ),
        owners as (select email, count(distinct person_id) as people from addresses group by email)
        select candidates.person_id, lower(candidates.marketing_email) as mailed, addresses.email as other
        from {tables.DIM_CANDIDATES} as candidates
        inner join addresses on addresses.person_id = candidates.person_id
        inner join owners on owners.email = addresses.email and owners.people = 1
        where candidates.is_contactable
            and addresses.email <> lower(candidates.marketing_email)
            and addresses.email not like '%+%'
            and exists (select 1 from {tables.AUDIENCE_MEMBERS} as members
                        where members.person_id = candidates.person_id)
        order by candidates.person_id, addresses.email
        limit 1""")
    assert rows, "the generated world has no contactable person with a second address"
    return rows[0]


def opt_in(page, stack, *, first: str, last: str, address: str, country: str, family: str,
           shots: bool = False) -> None:
    page.goto(stack["base"] + "/talent-network")
    if shots:
        shot(page, stack, "01-talent-network")
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Email address").fill(address)
    page.get_by_label("City").fill("London")
    page.get_by_label("Country").select_option(country)
    page.get_by_label(family).check()
    page.get_by_label("Skills").fill("python, sql, statistics")
    page.get_by_label("I agree that Warmpool").check()
    page.wait_for_timeout(1100)  # the minimum fill time
    page.get_by_role("button", name="Join the talent network").click()
    assert page.get_by_role("heading", name="Check your inbox").is_visible()
    if shots:
        shot(page, stack, "02-check-inbox")


# ------------------------------------------------------------------------------------------------ test
def test_opt_in_referral_and_unsubscribe_through_the_pipeline(stack):
    base, mailbox, browser = stack["base"], stack["mailbox"], stack["browser"]
    page = browser.new_page()

    # 1a. Ada opts in and confirms through the mailed link.
    opt_in(page, stack, first="Ada", last="Lovelace", address=ADA, country="GB", family="Data and analytics",
           shots=True)
    confirmation = wait_for_mail(mailbox, ADA, "onfirm")
    link = re.search(r"(http://127\.0\.0\.1:\d+/confirm/\S+)",
                     confirmation.get_body(("plain",)).get_content()).group(1)
    page.goto(link)
    shot(page, stack, "03-confirm")
    page.get_by_role("button", name="Yes, confirm and join").click()
    assert page.get_by_role("heading", name=re.compile("You are in")).is_visible()
    shot(page, stack, "04-confirmed")

    # 1b. Grace opts in and never confirms (her confirmation mail arrives and is ignored).
    opt_in(page, stack, first="Grace", last="Hopper", address=GRACE, country="GB", family="Data and analytics")
    wait_for_mail(mailbox, GRACE, "onfirm")

    # 1c. An employee refers Katherine; she is told by mail, with a one-click unsubscribe header.
    page.goto(base + "/referral")
    shot(page, stack, "05-referral")
    page.get_by_label("Your name").fill("Dorothy Vaughan")
    page.get_by_label("Your work email address").fill("dorothy.vaughan@warmpool.example")
    page.get_by_label("First name").fill("Katherine")
    page.get_by_label("Last name").fill("Johnson")
    page.get_by_label("Their email address").fill(KATHERINE)
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Job family").select_option("data")
    page.get_by_label("How do you know them?").select_option("former_colleague")
    page.get_by_label("I have told this person").check()
    page.wait_for_timeout(1100)
    page.get_by_role("button", name="Send referral").click()
    assert page.get_by_role("heading", name="Thank you for your referral").is_visible()
    shot(page, stack, "06-referral-thanks")
    notice = wait_for_mail(mailbox, KATHERINE, "")
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # 2. The pipeline runs once.
    run_pipeline(stack, "pipeline_run_1")

    ada = candidate(ADA)
    assert "talent_network" in ada["sources"].split(";")
    assert ada["has_marketing_consent"] is True and ada["consent_basis"] == "opt_in"
    assert ada["country_code"] == "GB"  # opt-in country: only the confirmed opt-in gives consent
    assert ada["is_contactable"] is True and ada["not_contactable_reason"] is None
    # Her consent record, in the ledger mart: requested on the form, confirmed from the mailed link.
    requested, confirmed = consent_records(ADA)
    assert requested["person_id"] == confirmed["person_id"] == ada["person_id"]
    assert (requested["event"], requested["channel"]) == ("requested", "talent_network_form")
    assert re.fullmatch(r"[0-9a-f]{64}", requested["wording_hash"]) and requested["wording_version"]
    assert requested["ip"] == "127.0.0.1" and "Chrome" in requested["user_agent"]
    assert (confirmed["event"], confirmed["channel"]) == ("confirmed", "confirmation_link")
    assert confirmed["occurred_at"] >= requested["occurred_at"]
    assert confirmed["ip"] == "127.0.0.1" and "Chrome" in confirmed["user_agent"]
    assert (confirmed["wording_version"], confirmed["wording_hash"], confirmed["submission_id"]) == \
        (requested["wording_version"], requested["wording_hash"], requested["submission_id"])
    # ... exactly as the web store recorded it
    [record] = query(f"select * from {tables.RAW_FORMS}.form_submissions where email = ?", ADA)
    assert record["consent_marketing"] == 1 and record["submission_id"] == requested["submission_id"]
    assert _utc_naive(record["submitted_at"]) == requested["occurred_at"]
    assert (record["consent_wording_version"], record["consent_wording_hash"], record["ip"], record["user_agent"]) \
        == (requested["wording_version"], requested["wording_hash"], requested["ip"], requested["user_agent"])
    [raw_confirmation] = query(f"select * from {tables.RAW_FORMS}.consent_confirmations where submission_id = ?",
                               record["submission_id"])
    assert _utc_naive(raw_confirmation["confirmed_at"]) == confirmed["occurred_at"]
    assert raw_confirmation["user_agent"] == confirmed["user_agent"]
    # ... and on her dim_candidates row
    assert ada["marketing_consent_given_at"] == requested["occurred_at"]
    assert ada["marketing_consent_confirmed_at"] == confirmed["occurred_at"]
    assert ada["marketing_consent_wording_version"] == requested["wording_version"]
    assert ada["marketing_consent_withdrawn_at"] is None
    assert NURTURE in audiences_of(ADA)

    grace = candidate(GRACE)  # pending double opt-in: in the pool, never marketed to
    assert grace["has_marketing_consent"] is False
    assert grace["is_contactable"] is False and grace["not_contactable_reason"] == "pending_double_opt_in"
    assert audiences_of(GRACE) == set()
    [pending] = consent_records(GRACE)  # ticked, never confirmed: requested only
    assert (pending["event"], pending["channel"], pending["ip"]) == ("requested", "talent_network_form", "127.0.0.1")
    assert grace["marketing_consent_given_at"] == pending["occurred_at"]
    assert grace["marketing_consent_confirmed_at"] is None

    katherine = candidate(KATHERINE)
    assert "referral" in katherine["sources"].split(";")
    assert katherine["has_marketing_consent"] is False  # a referral alone never gives consent
    assert katherine["not_contactable_reason"] == "no_marketing_consent"
    assert audiences_of(KATHERINE) == set()
    assert consent_records(KATHERINE) == []  # a referral gives no consent
    assert katherine["marketing_consent_given_at"] is None

    # The campaign mail reached Ada (and only the confirmation reached Grace).
    campaign = wait_for_mail(mailbox, ADA, "What's new at Warmpool")
    assert campaign["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [str(m["Subject"]) for m in mails_to(mailbox, GRACE) if m["List-Unsubscribe"]] == []

    # 3a. Ada opens the campaign mail's List-Unsubscribe URL and leaves everything on the page.
    unsubscribe_url = re.fullmatch(r"<(http://127\.0\.0\.1:\d+/u/[^>]+)>", str(campaign["List-Unsubscribe"])).group(1)
    page.goto(unsubscribe_url)
    shot(page, stack, "07-preferences-from-campaign-mail")
    page.get_by_role("button", name="Unsubscribe from all emails").click()
    assert "unsubscribed from all" in page.get_by_role("status").inner_text()
    shot(page, stack, "08-unsubscribed")
    page.close()

    # 3b. Katherine's mailbox provider does RFC 8058 one-click on the notice's header URL.
    notice_url = re.fullmatch(r"<(.+)>", str(notice["List-Unsubscribe"])).group(1)
    r = httpx.post(notice_url, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert r.status_code == 200

    # 3c. A person of the pool asks to erase their OTHER address (another record of theirs) on the
    # privacy page; only the mailbox's owner can confirm, from the single-use link mailed to it.
    erased = erasure_candidate()
    assert audiences_of(erased["mailed"])
    page = browser.new_page()
    page.goto(base + "/")
    page.get_by_role("contentinfo").get_by_role("link", name="Delete my data").click()
    page.get_by_label("Your email address").fill(erased["other"])
    page.wait_for_timeout(1100)  # the minimum fill time
    page.get_by_role("button", name="Email me a confirmation link").click()
    assert page.get_by_role("heading", name="Check your inbox").is_visible()
    shot(page, stack, "09-privacy-erase-check-inbox")
    erase_mail = wait_for_mail(mailbox, erased["other"], "delete your data")
    erase_url = re.search(r"(http://127\.0\.0\.1:\d+/privacy/erase/\S+)",
                          erase_mail.get_body(("plain",)).get_content()).group(1)
    page.goto(erase_url)
    shot(page, stack, "10-privacy-erase-confirm")
    page.get_by_role("button", name="Yes, delete my data").click()
    assert page.get_by_role("heading", name="Your request is recorded").is_visible()
    shot(page, stack, "11-privacy-erase-recorded")
    page.close()

    # 4. The next pipeline run suppresses all three.
    mails_before = len(list(mailbox.glob("*.eml")))
    run_pipeline(stack, "pipeline_run_2")

    ada = candidate(ADA)
    assert ada["is_contactable"] is False and ada["not_contactable_reason"] == "suppressed"
    assert ada["is_suppressed"] is True
    assert audiences_of(ADA) == set()
    [event] = query(f"select * from {tables.RAW_EMAIL}.email_events where email = ? and event = 'unsubscribe'", ADA)
    assert event["campaign_id"] == NURTURE
    # the withdrawal in the ledger: when and how (the preference page, from the campaign mail)
    [withdrawn] = [r for r in consent_records(ADA) if r["event"] == "withdrawn"]
    assert (withdrawn["channel"], withdrawn["campaign_id"]) == ("preference_centre", NURTURE)
    assert withdrawn["provider_event_id"] == event["provider_event_id"]  # one row for the opt-out and its event
    assert withdrawn["ip"] == "127.0.0.1" and "Chrome" in withdrawn["user_agent"]
    assert ada["marketing_consent_withdrawn_at"] == withdrawn["occurred_at"] == ada["suppressed_at"]
    assert ada["marketing_consent_withdrawal_channel"] == "preference_centre"
    assert ada["marketing_consent_confirmed_at"] is not None  # the record of the consent stays
    katherine = candidate(KATHERINE)
    assert katherine["is_contactable"] is False and katherine["not_contactable_reason"] == "suppressed"
    [withdrawn] = consent_records(KATHERINE)  # the provider's RFC 8058 POST on the referral notice
    assert (withdrawn["event"], withdrawn["channel"], withdrawn["campaign_id"]) == \
        ("withdrawn", "one_click_unsubscribe", "referral-notice")
    assert withdrawn["person_id"] == katherine["person_id"] and withdrawn["user_agent"].startswith("python-httpx")
    assert len(list(mailbox.glob("*.eml"))) == mails_before  # nobody was mailed twice

    # The erasure request reached the warehouse once and suppresses the whole person: the address
    # they still had consent for is in no audience either.
    [request] = query(f"select * from {tables.RAW_FORMS}.erasure_requests where lower(email) = ?", erased["other"])
    assert request["source"] == "privacy_page" and request["ip"] == "127.0.0.1"
    [owner] = query(f"select distinct person_id from {tables.MARTS}.bridge_candidate_records "
                    f"where lower(trim(email)) = ?", erased["other"])
    assert owner["person_id"] == erased["person_id"]  # stable person id across runs
    [person] = query(f"select * from {tables.DIM_CANDIDATES} where person_id = ?", erased["person_id"])
    assert person["is_contactable"] is False and person["not_contactable_reason"] == "suppressed"
    assert person["is_suppressed"] is True and person["suppression_reason"] == "erasure"
    assert _utc_naive(request["requested_at"]) == person["suppressed_at"]
    assert query(f"select * from {tables.AUDIENCE_MEMBERS} where person_id = ?", erased["person_id"]) == []
    assert audiences_of(erased["mailed"]) == set() and audiences_of(erased["other"]) == set()
    [erasure] = [r for r in query(f"select * from {tables.MARTS}.fct_consent_records where person_id = ? "
                                  f"and channel = 'erasure_request'", erased["person_id"])]
    assert (erasure["event"], erasure["email"], erasure["ip"]) == ("withdrawn", erased["other"], "127.0.0.1")
    assert "Chrome" in erasure["user_agent"]
    # The privacy team's worklist names the person, the deadline and every record to delete.
    [item] = query(f"select * from {tables.MARTS}.rpt_erasure_requests where email = ?", erased["other"])
    assert item["person_id"] == erased["person_id"] and item["request_source"] == "privacy_page"
    assert item["due_by"] > item["requested_at"] and (item["due_by"] - item["requested_at"]).days in (28, 29, 30, 31)
    records = query(f"select source, source_record_id from {tables.MARTS}.bridge_candidate_records "
                    f"where person_id = ?", erased["person_id"])
    assert item["source_record_count"] == len(records) >= 2
    assert set(item["source_record_keys"].split(";")) == {f"{r['source']}:{r['source_record_id']}" for r in records}

    # ... and the campaign sender refuses the erased address at send time, whatever the audience says
    import dataclasses

    from warmpool.campaigns.config import load_campaigns
    from warmpool.campaigns.sender import send_campaign

    nurture = {c.campaign_id: c for c in load_campaigns()}[NURTURE]
    check = dataclasses.replace(nurture, content_version="erasure-send-time-check")  # a ledger key never sent
    report = send_campaign(check, [{"campaign_id": NURTURE, "person_id": erased["person_id"], "email": erased["other"],
                                    "first_name": "X", "last_name": "Y", "city": "", "country": "",
                                    "job_family": "engineering", "inclusion_reason": "job_family"}],
                           get_settings(), rate_per_second=0)
    assert report.suppressed == 1 and report.sent == 0, report.describe()
    assert [str(m["Subject"]) for m in mails_to(mailbox, erased["other"])] == [str(erase_mail["Subject"])]
