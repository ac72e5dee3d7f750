"""The candidate-facing web service end to end: a real uvicorn server on a loopback port, a real
SMTP server receiving the mail, and Debian's chromium driven by Playwright. Screenshots of every
page go to $WARMPOOL_SCREENSHOTS (default data/screenshots/) for review."""
from __future__ import annotations

import email
import email.policy
import os
import re
import time
from pathlib import Path

import httpx
import pytest

from warmpool.config import get_settings
from warmpool.tokens import make_token
from warmpool import web_store as store
from web.app import create_app
from web.context import WebOptions
from web.server import free_port, serve_in_thread

pytestmark = pytest.mark.browser


class MailboxHandler:
    """Like the sandbox SMTP sink: every received message becomes mailbox/<n>.eml."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        n = len(list(self.folder.glob("*.eml"))) + 1
        (self.folder / f"{n}.eml").write_bytes(envelope.original_content or envelope.content)
        return "250 OK"


@pytest.fixture(scope="module")
def world(tmp_path_factory, chromium, screenshots_dir):
    from aiosmtpd.controller import Controller

    home = tmp_path_factory.mktemp("webhome")
    web_port, smtp_port = free_port(), free_port()
    saved = {k: os.environ.get(k) for k in ("WARMPOOL_HOME", "WARMPOOL_SMTP_PORT", "WARMPOOL_SMTP_HOST",
                                            "WARMPOOL_PUBLIC_URL", "WARMPOOL_WEB_STORE")}
    os.environ.update(WARMPOOL_HOME=str(home), WARMPOOL_SMTP_HOST="127.0.0.1", WARMPOOL_SMTP_PORT=str(smtp_port),
                      WARMPOOL_PUBLIC_URL=f"http://127.0.0.1:{web_port}")
    os.environ.pop("WARMPOOL_WEB_STORE", None)
    settings = get_settings()
    shots = screenshots_dir
    smtp = Controller(MailboxHandler(settings.mailbox_dir), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    # More form posts a minute than a person makes: this module's tests share one client IP.
    app = create_app(settings, options=WebOptions(min_fill_seconds=1.0, submissions_per_minute=60))
    try:
        with serve_in_thread(app, port=web_port) as base:
            # the session browser (tests/conftest.py): one sync Playwright per thread
            yield {"base": base, "settings": settings, "browser": chromium, "shots": shots}
    finally:
        smtp.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def wait_for_mail(folder: Path, to: str, timeout: float = 10.0) -> email.message.EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(folder.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if msg["To"] == to:
                return msg
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} arrived")


def rows(settings, sql: str) -> list[dict]:
    with store.store(settings.web_store_path) as con:
        return [dict(r) for r in con.execute(sql)]


def shot(page, world, name: str) -> None:
    page.screenshot(path=str(world["shots"] / f"{name}.png"), full_page=True)


def ask_from_the_footer(page, world, link: str, address: str, button: str, shots: tuple[str, str]) -> None:
    """A privacy page reached from the footer of any page: enter the address, send, "Check your inbox"."""
    page.goto(world["base"] + "/")
    page.get_by_role("contentinfo").get_by_role("link", name=link).click()
    assert page.get_by_role("heading", name=link).is_visible()
    shot(page, world, shots[0])
    page.get_by_label("Your email address").fill(address)
    page.wait_for_timeout(1100)  # the minimum fill time
    page.get_by_role("button", name=button).click()
    assert page.get_by_role("heading", name="Check your inbox").is_visible()
    shot(page, world, shots[1])


def test_opt_in_confirmed_through_the_mailed_link(world, tmp_path):
    base, settings = world["base"], world["settings"]
    page = world["browser"].new_page()
    page.goto(base + "/")
    shot(page, world, "01-home")
    page.get_by_role("link", name="Join the talent network").click()
    assert page.title().startswith("Join our talent network")
    shot(page, world, "02-talent-network")
    # First an empty submit: errors appear beside the fields, nothing stored.
    page.wait_for_timeout(1100)
    page.get_by_role("button", name="Join the talent network").click()
    assert page.locator("#first_name-error").is_visible() and page.locator("#consent-error").is_visible()
    shot(page, world, "03-talent-network-errors")
    assert rows(settings, "select * from form_submissions") == []

    resume = tmp_path / "resume.txt"
    resume.write_text("Marie Curie\nPhysicist, chemist. Radioactivity research.", encoding="utf-8")
    page.get_by_label("First name").fill("Marie")
    page.get_by_label("Last name").fill("Curie")
    page.get_by_label("Email address").fill("marie@example.org")
    page.get_by_label("Phone").fill("+33 1 42 34 56 78")
    page.get_by_label("City").fill("Paris")
    page.get_by_label("Country").select_option("FR")
    page.get_by_label("Data and analytics").check()
    page.get_by_label("Skills").fill("physics, chemistry")
    page.get_by_label("Resume").set_input_files(str(resume))
    page.get_by_label("I agree that Warmpool").check()
    page.get_by_role("button", name="Join the talent network").click()
    assert page.get_by_role("heading", name="Check your inbox").is_visible()
    shot(page, world, "04-check-inbox")

    [pending] = rows(settings, "select * from form_submissions")
    assert pending["confirmed_at"] is None
    mail = wait_for_mail(settings.mailbox_dir, "marie@example.org")
    link = re.search(r"(http://127\.0\.0\.1:\d+/confirm/\S+)", mail.get_body(("plain",)).get_content()).group(1)
    page.goto(link)
    shot(page, world, "05-confirm")
    assert rows(settings, "select confirmed_at from form_submissions")[0]["confirmed_at"] is None
    page.get_by_role("button", name="Yes, confirm and join").click()
    assert page.get_by_role("heading", name=re.compile("You are in")).is_visible()
    shot(page, world, "06-confirmed")

    [row] = rows(settings, "select * from form_submissions")
    assert row["confirmed_at"] and row["consent_marketing"] == 1 and row["consent_wording_version"]
    assert row["consent_wording_hash"] and row["ip"] == "127.0.0.1" and "Chrome" in row["user_agent"]
    assert row["phone"] == "+33142345678" and row["country"] == "FR" and "Radioactivity" in row["resume_text"]
    page.goto(link)  # the used link: already confirmed, nothing changes
    assert "Already confirmed" in page.content()
    page.close()


def test_referral_and_unsubscribe_from_the_mail_header(world):
    base, settings = world["base"], world["settings"]
    page = world["browser"].new_page()
    page.goto(base + "/referral")
    shot(page, world, "07-referral")
    page.get_by_label("Your name").fill("Pierre Curie")
    page.get_by_label("Your work email address").fill("pierre@warmpool.example")
    page.get_by_label("First name").fill("Irène")
    page.get_by_label("Last name").fill("Joliot-Curie")
    page.get_by_label("Their email address").fill("irene@example.org")
    page.get_by_label("Job family").select_option("data")
    page.get_by_label("How do you know them?").select_option("family")
    page.get_by_label("I have told this person").check()
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Send referral").click()
    assert page.get_by_role("heading", name="Thank you for your referral").is_visible()
    shot(page, world, "08-referral-thanks")
    [row] = rows(settings, "select * from form_submissions where form = 'referral'")
    assert row["first_name"] == "Irène" and row["referrer_email"] == "pierre@warmpool.example"

    mail = wait_for_mail(settings.mailbox_dir, "irene@example.org")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(.+)>", mail["List-Unsubscribe"]).group(1)
    # What a mailbox provider does for RFC 8058: a POST, no cookies, no redirect followed.
    r = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert r.status_code == 200
    r = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert r.status_code == 200
    events = rows(settings, "select * from email_events where email = 'irene@example.org'")
    assert [e["event"] for e in events] == ["unsubscribe"]
    page.close()


def test_preferences_and_unsubscribe_from_the_page(world):
    base, settings = world["base"], world["settings"]
    # The link a campaign mail carries (written by the mail sender with the shared token helper).
    token = make_token("unsubscribe", {"email": "marie@example.org", "person_id": "p-1", "campaign_id": "nurture-q1"})
    page = world["browser"].new_page()
    page.goto(f"{base}/u/{token}")
    shot(page, world, "09-preferences")
    assert rows(settings, "select * from email_events where email = 'marie@example.org'") == []  # GET: no change
    page.get_by_label("News, stories and hiring events").uncheck()
    page.get_by_label("At most once a month").check()
    page.get_by_role("button", name="Save my preferences").click()
    assert page.get_by_role("status").inner_text() == "Your preferences are saved."
    shot(page, world, "10-preferences-saved")
    pref = rows(settings, "select * from preference_changes where email = 'marie@example.org'")[-1]
    assert pref["topics"] == "invite_to_apply" and pref["frequency"] == "monthly"
    page.get_by_role("button", name="Unsubscribe from all emails").click()
    assert "unsubscribed from all" in page.get_by_role("status").inner_text()
    shot(page, world, "11-unsubscribed")
    events = rows(settings, "select * from email_events where email = 'marie@example.org'")
    assert [(e["event"], e["campaign_id"]) for e in events] == [("unsubscribe", "nurture-q1")]
    page.goto(f"{base}/u/{token[:-3]}xyz")
    shot(page, world, "12-invalid-link")
    assert "not valid" in page.content()
    page.close()


def test_erasure_from_a_campaign_mail_and_from_the_privacy_page(world):
    """A real campaign mail (the campaign sender over SMTP) → its unsubscribe link → the preference
    centre → "Delete my data" → confirm; then, for another address, /privacy/erase → the mailed
    single-use link → confirm."""
    from warmpool.campaigns.config import load_campaigns
    from warmpool.campaigns.sender import send_campaign

    base, settings = world["base"], world["settings"]
    nurture = {c.campaign_id: c for c in load_campaigns()}["tn-engineering-nurture"]
    member = {"campaign_id": nurture.campaign_id, "person_id": "p-erase-1", "email": "lise@example.org",
              "first_name": "Lise", "last_name": "Meitner", "city": "Vienna", "country": "AT",
              "job_family": "engineering", "inclusion_reason": "job_family"}
    report = send_campaign(nurture, [member], settings, suppressed=None, rate_per_second=0)
    assert report.sent == 1, report.describe()
    mail = wait_for_mail(settings.mailbox_dir, "lise@example.org")

    page = world["browser"].new_page()
    page.set_content(mail.get_body(("html",)).get_content())  # the mail as a mail client shows it
    page.get_by_role("link", name="Unsubscribe").click()
    page.wait_for_url(re.compile(r"/u/"))
    assert page.get_by_role("heading", name="Your email preferences").is_visible()
    erase_section = page.get_by_role("region", name="Delete my data")
    assert erase_section.is_visible()
    shot(page, world, "13-preferences-delete-my-data")
    erase_section.get_by_role("link", name="Ask us to delete my data").click()
    assert page.get_by_role("heading", name="Delete my data").is_visible()
    assert "within one month" in page.content()
    shot(page, world, "14-erase-confirm")
    assert rows(settings, "select * from erasure_requests") == []  # showing the page changes nothing
    page.get_by_role("button", name="Yes, delete my data").click()
    assert page.get_by_role("heading", name="Your request is recorded").is_visible()
    assert "No more emails, starting now" in page.content()
    shot(page, world, "15-erase-recorded")
    [row] = rows(settings, "select * from erasure_requests")
    assert (row["email"], row["person_id"], row["campaign_id"], row["source"]) == \
        ("lise@example.org", "p-erase-1", nurture.campaign_id, "preference_centre")
    assert row["ip"] == "127.0.0.1" and "Chrome" in row["user_agent"]
    page.go_back()
    page.reload()  # the browser resubmits nothing it should not: still one row
    assert len(rows(settings, "select * from erasure_requests")) == 1

    # /privacy/erase, reached from the footer of any page: only the mailed link records the request
    ask_from_the_footer(page, world, "Delete my data", "otto@example.org", "Email me a confirmation link",
                        ("16-privacy-erase", "17-privacy-erase-check-inbox"))
    assert rows(settings, "select * from erasure_requests where email = 'otto@example.org'") == []
    mail = wait_for_mail(settings.mailbox_dir, "otto@example.org")
    link = re.search(r"(http://127\.0\.0\.1:\d+/privacy/erase/\S+)", mail.get_body(("plain",)).get_content()).group(1)
    page.goto(link)
    assert rows(settings, "select * from erasure_requests where email = 'otto@example.org'") == []
    page.get_by_role("button", name="Yes, delete my data").click()
    assert page.get_by_role("heading", name="Your request is recorded").is_visible()
    shot(page, world, "18-privacy-erase-recorded")
    [row] = rows(settings, "select * from erasure_requests where email = 'otto@example.org'")
    assert row["source"] == "privacy_page" and row["person_id"] is None and "Chrome" in row["user_agent"]
    page.goto(link)  # the used link: already recorded, nothing new
    assert "We already have your request" in page.content()
    assert len(rows(settings, "select * from erasure_requests")) == 2
    page.close()


def test_access_export_through_the_mailed_single_use_link(world, tmp_path):
    """/privacy/access from the footer → the mail on the SMTP server → its link → the download, holding
    the person's sign-up and the campaign mail sent to them; the link again is refused."""
    import json
    import zipfile

    from warmpool.campaigns.config import load_campaigns
    from warmpool.campaigns.sender import send_campaign

    base, settings = world["base"], world["settings"]
    with store.store(settings.web_store_path) as con:
        store.insert_submission(con, {"form": "talent_network", "submitted_at": "2026-10-01T09:00:00.000Z",
                                      "first_name": "Rosalind", "last_name": "Franklin", "email": "rosalind@example.org",
                                      "consent_marketing": 1, "consent_wording_version": settings.brand.consent_version,
                                      "consent_wording_hash": settings.brand.consent_hash})
    nurture = {c.campaign_id: c for c in load_campaigns()}["tn-engineering-nurture"]
    member = {"campaign_id": nurture.campaign_id, "person_id": "p-access-1", "email": "rosalind@example.org",
              "first_name": "Rosalind", "last_name": "Franklin", "city": "London", "country": "GB",
              "job_family": "engineering", "inclusion_reason": "job_family"}
    assert send_campaign(nurture, [member], settings, suppressed=None, rate_per_second=0).sent == 1
    campaign_mail = wait_for_mail(settings.mailbox_dir, "rosalind@example.org")

    page = world["browser"].new_page()
    ask_from_the_footer(page, world, "Get a copy of my data", "Rosalind@example.org", "Email me a link to my data",
                        ("19-privacy-access", "20-privacy-access-check-inbox"))
    mail = wait_for_mail(settings.mailbox_dir, "Rosalind@example.org")
    link = re.search(r"(http://127\.0\.0\.1:\d+/privacy/access/\S+)", mail.get_body(("plain",)).get_content()).group(1)

    page.goto(link)
    assert page.get_by_role("heading", name="Get a copy of my data").is_visible() and "R•••@example.org" in page.content()
    shot(page, world, "21-privacy-access-download")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    assert re.fullmatch(r"my-data-\d{4}-\d\d-\d\d\.zip", download.value.suggested_filename)
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        data = json.loads(archive.read("my-data.json"))
        assert "Franklin" in archive.read("my-data.html").decode()
    [signup] = data["stores"]["web_store"]["form_submissions"]
    assert signup["last_name"] == "Franklin" and signup["consent_wording_hash"] == settings.brand.consent_hash
    assert campaign_mail["Message-ID"] in [m["message_id"] for m in data["stores"]["mailbox"]]

    page.goto(link)  # single use
    assert page.get_by_role("heading", name="This link is not valid").is_visible()
    shot(page, world, "22-privacy-access-used")
    page.close()


# --- every page at a phone's width, and axe-core on every page ------------------------------------------

def _pages(base: str) -> dict[str, str]:
    email = {"email": "ines@example.org", "person_id": "p-9", "campaign_id": "nurture-q1"}
    return {"home": "/", "talent-network": "/talent-network", "referral": "/referral",
            "privacy-erase": "/privacy/erase", "privacy-notice": "/privacy-notice",
            "preferences": "/u/" + make_token("unsubscribe", email),
            "erase-confirm": "/u/" + make_token("unsubscribe", email) + "/erase",
            "erase-link": "/privacy/erase/" + make_token("erase", {"email": "ines@example.org", "n": "nonce-1"}),
            "privacy-access": "/privacy/access",
            "access-link": "/privacy/access/" + make_token("access", {"email": "ines@example.org", "n": "nonce-2"}),
            "invalid-link": "/confirm/not-a-token"}


# Elements a sighted visitor never sees, placed off-screen on purpose (the honeypot, screen-reader text,
# the skip link until it is focused).
_OVERFLOW = """() => [...document.querySelectorAll('body *')]
  .filter(e => !e.closest('.hp, .sr, .skip'))
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.width > 0 && (r.right > window.innerWidth + 0.5 || r.left < -0.5))
  .map(([e, r]) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(r.left)}..${Math.round(r.right)}`)"""


def _check_page(page, world, name: str, width: int) -> None:
    from axe_playwright_python.sync_playwright import Axe

    wide = page.evaluate(_OVERFLOW)
    assert wide == [], f"{name} at {width} px: elements wider than the viewport: {wide}"
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name
    results = Axe().run(page)
    assert results.violations_count == 0, f"{name} at {width} px:\n{results.generate_report()}"
    shot(page, world, f"{width}px-{name}")


@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_every_page_fits_a_phone_and_passes_axe(world, width, height):
    """At 390 px the "Your work" inputs used to overflow; axe-core (bundled by axe-playwright-python,
    nothing fetched) must find 0 violations on every page, forms with their errors shown included."""
    context = world["browser"].new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    try:
        for name, path in _pages(world["base"]).items():
            page.goto(world["base"] + path)
            _check_page(page, world, name, width)
        for name, path, button in (("talent-network-errors", "/talent-network", "Join the talent network"),
                                   ("referral-errors", "/referral", "Send referral"),
                                   ("privacy-erase-errors", "/privacy/erase", "Email me a confirmation link"),
                                   ("privacy-access-errors", "/privacy/access", "Email me a link to my data")):
            page.goto(world["base"] + path)
            page.wait_for_timeout(1100)  # the minimum fill time
            page.get_by_role("button", name=button).click()
            assert page.locator(".summary").is_visible(), name
            _check_page(page, world, name, width)
    finally:
        context.close()
