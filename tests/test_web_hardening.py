"""The web service against an outside attacker (issue 11) and as a company's own site (issue 12):
no public default secrets outside demo mode, bounded resume reading, webhooks that never 500, no
stranger's text in company mail, the brand from configuration, and messages a person can read."""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from sandbox import hostile_resumes as hostile
from test_web import SIGNING_KEY, csrf, env, mailgun, referral, submit, talent  # noqa: F401 (env: fixture)
from warmpool import config
from warmpool.config import SANDBOX_SECRETS, BrandError, UnsafeDeployment, check_deployment, get_settings
from warmpool.resumes import BUSY, TOO_COSTLY, ReadLimits, ResumeError, ResumeReader, read_in_child
from warmpool.tokens import make_token
from web.app import create_app
from web.context import WebOptions
from web.server import free_port, serve_in_thread

REPO = Path(__file__).resolve().parents[1]
REAL_SECRETS = {"WARMPOOL_SECRET_KEY": "a-real-secret-0123456789abcdef",
                "WARMPOOL_MAILGUN_SIGNING_KEY": "key-0123456789abcdef0123456789",
                "WARMPOOL_PRIVACY_KEY": "a-real-privacy-key-0123456789abcdef"}


@pytest.fixture
def live(monkeypatch, tmp_path):
    """Outside demo mode: no WARMPOOL_DEMO, no secrets (each test sets what it needs)."""
    monkeypatch.setenv("WARMPOOL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WARMPOOL_DEMO")
    for name in SANDBOX_SECRETS:
        monkeypatch.delenv(name, raising=False)
    config._settings_for.cache_clear()
    yield monkeypatch
    config._settings_for.cache_clear()


# --- 1. no public default secrets ------------------------------------------------------------------

@pytest.mark.parametrize("values, why", [
    ({}, "is not set"),
    (SANDBOX_SECRETS, "is the sandbox's public value"),
    ({"WARMPOOL_SECRET_KEY": "short", "WARMPOOL_MAILGUN_SIGNING_KEY": "short"}, "is shorter than 16"),
])
def test_outside_demo_mode_the_service_refuses_missing_or_public_secrets(live, values, why):
    for name, value in values.items():
        live.setenv(name, value)
    with pytest.raises(UnsafeDeployment) as refused:
        create_app(get_settings())
    message = str(refused.value)
    assert f"WARMPOOL_SECRET_KEY {why}" in message and f"WARMPOOL_MAILGUN_SIGNING_KEY {why}" in message
    assert "WARMPOOL_PRIVACY_KEY" in message  # the access-export requests are logged under it
    assert "WARMPOOL_DEMO=1" in message  # and says how the sandbox runs instead
    with pytest.raises(UnsafeDeployment):  # nothing signs a link with a key anyone can read
        make_token("unsubscribe", {"email": "a@example.com"})


def test_with_its_own_secrets_the_service_starts_and_rejects_sandbox_signed_links(live):
    live.setenv("WARMPOOL_DEMO", "1")
    config._settings_for.cache_clear()
    sandbox_link = make_token("unsubscribe", {"email": "victim@example.com", "campaign_id": "c"})
    live.delenv("WARMPOOL_DEMO")
    for name, value in REAL_SECRETS.items():
        live.setenv(name, value)
    config._settings_for.cache_clear()
    client = TestClient(create_app(get_settings()))
    page = client.get("/")
    assert page.status_code == 200 and "Demo site" not in page.text
    assert client.post(f"/u/{sandbox_link}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    body = json.dumps(mailgun(key=SANDBOX_SECRETS["WARMPOOL_MAILGUN_SIGNING_KEY"]))
    assert client.post("/webhooks/mailgun", content=body).status_code == 403


@pytest.mark.parametrize("variable, value, bind_host", [
    ("WARMPOOL_PUBLIC_URL", "https://careers.example.com", None),
    ("WARMPOOL_SMTP_HOST", "smtp.example.com", None),
    (None, None, "0.0.0.0"),
])
def test_demo_mode_serves_this_machine_only(live, variable, value, bind_host):
    live.setenv("WARMPOOL_DEMO", "1")
    if variable:
        live.setenv(variable, value)
    config._settings_for.cache_clear()
    with pytest.raises(UnsafeDeployment) as refused:
        check_deployment(get_settings(), bind_host=bind_host or "127.0.0.1")
    assert "serves this machine only" in str(refused.value) and (value or bind_host) in str(refused.value)


def test_demo_mode_says_it_is_a_demo(live, caplog):
    live.setenv("WARMPOOL_DEMO", "1")
    config._settings_for.cache_clear()
    with caplog.at_level("WARNING", logger="warmpool.web"):
        client = TestClient(create_app(get_settings()))
    assert any("DEMO MODE" in r.message for r in caplog.records)
    for path in ("/", "/talent-network", "/referral", "/privacy/erase"):
        assert "Demo site." in client.get(path).text


def test_warmpool_web_refuses_to_start_with_one_clear_message(live, tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("WARMPOOL_DEMO", *SANDBOX_SECRETS)}
    run = subprocess.run([sys.executable, "-m", "cli", "web", "--port", str(free_port())], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "WARMPOOL_SECRET_KEY is not set" in run.stderr and "WARMPOOL_MAILGUN_SIGNING_KEY is not set" in run.stderr
    run = subprocess.run([sys.executable, "-m", "cli", "web", "--demo", "--host", "0.0.0.0", "--port",
                          str(free_port())], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "serves this machine only" in run.stderr and "Traceback" not in run.stderr


# --- 2. bounded resume reading ----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(hostile.HOSTILE))
def test_a_hostile_resume_is_refused_within_its_limits(name):
    """Read in the service's process, the XML flood took ~22 s CPU and +600 MB and the operator flood
    ~12 s CPU, and both were accepted; now each is refused by a limited child process."""
    with pytest.raises(ResumeError) as refused:
        read_in_child(hostile.HOSTILE[name]())
    assert str(refused.value) in (TOO_COSTLY, "The document could not be read.", "The PDF could not be read.")


def test_ordinary_resumes_are_read_in_the_child():
    assert read_in_child(hostile.docx_resume("Ada Lovelace\nEngines")).text == "Ada Lovelace\nEngines"
    assert read_in_child(hostile.pdf_resume("Ada Lovelace")).text == "Ada Lovelace"
    assert read_in_child("Grace Hopper, COBOL".encode("cp1252")).kind == "txt"


def test_the_queue_is_bounded():
    reader = ResumeReader(ReadLimits(cpu_seconds=2, wall_seconds=20), max_workers=1, max_waiting=0)
    started = threading.Event()
    result = {}

    def slow():
        started.set()
        try:
            reader.read(hostile.pdf_operator_flood())
        except ResumeError as exc:
            result["first"] = str(exc)

    worker = threading.Thread(target=slow)
    worker.start()
    started.wait()
    _wait_for_reader_child()
    with pytest.raises(ResumeError, match=re.escape(BUSY)):
        reader.read(b"a plain resume")
    worker.join()
    assert result["first"] == TOO_COSTLY


def _reader_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):  # the session's browser and servers too
        try:
            if "warmpool.resumes" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # ended, or a zombie, between the listing and the look
            pass
    return found


def _wait_for_reader_child(timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not _reader_children():
        assert time.monotonic() < deadline, "no resume reader started"
        time.sleep(0.02)


def test_pages_are_served_while_a_hostile_upload_is_read(env):
    """A real server: while a child process chews on a hostile PDF, the start page answers; then the
    upload is answered with a message beside the resume field and nothing is stored."""
    app = create_app(env.settings, mailer=env.mailer, options=WebOptions(min_fill_seconds=0))
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        token = csrf(client)
        answer = {}
        upload = threading.Thread(target=lambda: answer.setdefault("r", client.post(
            "/talent-network", data={"csrf_token": token, **talent()},
            files={"resume": ("cv.pdf", hostile.pdf_operator_flood(), "application/pdf")})))
        upload.start()
        _wait_for_reader_child()
        with httpx.Client(base_url=base, timeout=10) as other:
            assert other.get("/").status_code == 200
        assert upload.is_alive() and _reader_children()  # the page did not wait for the upload
        upload.join()
    r = answer["r"]
    assert r.status_code == 400 and "too much work to open" in r.text
    assert env.rows() == [] and env.mailer.sent == []


# --- 3. webhooks never 500 -----------------------------------------------------------------------------

def _signed(event_data, key: str = SIGNING_KEY, ts: str | None = None) -> bytes:
    ts = ts or str(int(time.time()))
    token = hashlib.sha256(repr(event_data).encode() + str(time.perf_counter_ns()).encode()).hexdigest()[:50]
    sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": ts, "token": token, "signature": sig},
                       "event-data": event_data}, allow_nan=True).encode()


def _event(**over):
    data = mailgun()["event-data"]
    data.update(over)
    return data


@pytest.mark.parametrize("body, status", [
    (b"[" * 100_000 + b"]" * 100_000, 400),                    # deep nesting, unsigned: RecursionError before
    (b'{"signature": ' + b"{\"a\":" * 5000 + b"1" + b"}" * 5001, 400),
    (b'{"x": "' + b"a" * 300_000 + b'"}', 413),
    (b'{"signature": NaN}', 400),
    (b"\xff\xfe not json", 400),
])
def test_unsigned_hostile_bodies_are_refused_before_parsing(env, body, status):
    env.clock.now = time.time()
    assert env.client.post("/webhooks/mailgun", content=body).status_code == status
    assert env.rows("select * from email_events") == []


@pytest.mark.parametrize("event_data", [
    _event(event=["delivered"]), _event(event={"kind": "delivered"}),                 # 500 before
    _event(timestamp="NaN"), _event(timestamp=-5.0), _event(timestamp=1e300), _event(timestamp=True),
    _event(recipient=""), _event(recipient="eve@example.com\r\nBcc: all@example.com"), _event(recipient="not an address"),
    _event(recipient=["eve@example.com"]), _event(id=["ev"]), _event(**{"user-variables": {"campaign_id": {"x": 1}}}),
    _event(message={"headers": {"message-id": ["m"]}}), "not an object", None,
])
def test_signed_events_of_the_wrong_shape_are_refused_with_a_reason(env, event_data):
    env.clock.now = time.time()
    r = env.client.post("/webhooks/mailgun", content=_signed(event_data))
    assert r.status_code == 406 and r.json()["error"].startswith("invalid event-data")
    assert env.rows("select * from email_events") == [] and env.rows("select * from webhook_tokens") == []


@pytest.mark.parametrize("timestamp", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_not_json(env, timestamp):
    env.clock.now = time.time()
    assert env.client.post("/webhooks/mailgun", content=_signed(_event(timestamp=timestamp))).status_code == 400
    assert env.rows("select * from email_events") == []


def test_non_ascii_signatures_and_csrf_cookies_are_refused_not_crashed(env):
    """Found by schemathesis: hmac.compare_digest raised TypeError on a non-ASCII signature (a 500)."""
    env.clock.now = time.time()
    body = mailgun()
    body["signature"]["signature"] = "\u0080" * 64
    assert env.client.post("/webhooks/mailgun", json=body).status_code == 403
    token = csrf(env.client)
    env.client.cookies.clear()
    env.clock.now += 5
    r = env.client.post("/talent-network", data={"csrf_token": token, **talent()},
                        headers={"cookie": "wp_csrf=caf\u00e9".encode("latin-1")})
    assert r.status_code == 403
    assert env.rows() == [] and env.rows("select * from email_events") == []


def test_a_nan_signature_timestamp_is_never_fresh(env):
    """A signed request whose timestamp is "NaN" passed the freshness check forever (replayable)."""
    env.clock.now = time.time()
    assert env.client.post("/webhooks/mailgun", content=_signed(_event(), ts="NaN")).status_code == 403
    assert env.client.post("/webhooks/mailgun", content=_signed(_event(), ts="-1")).status_code == 403
    assert env.rows("select * from email_events") == []


# --- 4. no stranger's text in company mail -------------------------------------------------------------

def test_a_url_or_markup_in_a_name_never_reaches_the_mail(env):
    sneaky = "Win at https://evil.example <b>now</b>"
    r = submit(env, talent(first_name=sneaky, email="target@example.com"))
    assert r.status_code == 200
    r = submit(env, referral(first_name="www.evil.example", email="other@example.org"), path="/referral")
    assert r.status_code == 200
    assert len(env.mailer.sent) == 2
    for mail in env.mailer.sent:
        for part in ("plain", "html"):
            body = mail.get_body((part,)).get_content()
            assert "evil.example" not in body and "<b>now" not in body and "&lt;b&gt;" not in body
            assert re.search(r"Hello,", body)  # greeted without the name
    assert "Grace Hopper referred you" in env.mailer.sent[1].get_body(("plain",)).get_content()


@pytest.mark.parametrize("name", ["Visit https://evil.example", "<a href=x>Grace</a>", "Grace Hopper 4ever",
                                  "call me at evil.example", "a b c d e f g"])
def test_a_referrer_name_must_be_a_plain_name(env, name):
    r = submit(env, referral(referrer_name=name), path="/referral")
    assert r.status_code == 400 and "Please enter your name as letters only" in r.text
    assert env.rows() == [] and env.mailer.sent == []


def test_plain_names_of_every_script_are_accepted(env):
    for i, name in enumerate(["Zoë d\u2019Arc-Dubois", "李小龍", "Seán O'Brien"]):
        r = submit(env, referral(referrer_name=name, email=f"c{i}@example.org"), path="/referral")
        assert r.status_code == 200, r.text
    assert "Zoë d\u2019Arc-Dubois referred you" in env.mailer.sent[0].get_body(("plain",)).get_content()


# --- 8. every message read once by a person ---------------------------------------------------------------

DOUBLED = re.compile(r"\b(?:the|a|an|your|their) (?:the|a|an|your|their)\b|\ban [bcdfgjklmnpqrstvwxz]\w*|\ba [aeiou]\w*",
                     re.IGNORECASE)


def _errors(page: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", m)) for m in re.findall(r'<p class="error" id="[^"]+"><span class="sr">Error: '
                                                           r"</span>(.*?)</p>", page)]


def test_every_form_message_reads_once(env):
    env.client = env.make(submissions_per_minute=1000)
    long = "x" * 1001
    cases = [("/talent-network", {}), ("/talent-network", {k: long for k in talent()}),
             ("/talent-network", {k: "a\x07b" for k in talent()}),
             ("/talent-network", talent(email="no-at-sign", country="XX", job_families=["nope"])),
             ("/referral", {}), ("/referral", {k: long for k in referral()}),
             ("/referral", {k: "a\x07b" for k in referral()}),
             ("/referral", referral(referrer_email="x@", job_family="nope", relationship="nope")),
             ("/privacy/erase", {}), ("/privacy/erase", {"email": "@@"})]
    seen = []
    for path, data in cases:
        r = submit(env, data, path=path)
        assert r.status_code == 400
        seen += _errors(r.text)
    assert len(seen) > 30
    for text in seen:
        assert not DOUBLED.search(text), text
        assert text[0].isupper() and text.rstrip().endswith((".", ")")), text
    assert "Please enter your name." in seen and "Please enter your work email address." in seen
    assert "Please enter the candidate's first name." in seen


# --- 6. the brand ------------------------------------------------------------------------------------------

BRAND = """
smtp:
  host: 127.0.0.1
  port: 8025
  physical_address: "Acme Robotics Ltd., 2 Dock Road, Leeds LS1 4AP, UK"
  public_base_url: http://127.0.0.1:8300
brand:
  company_name: Acme Robotics
  logo: acme.png
  colors: {primary: "#5b2a86", primary_dark: "#3d1c5a", accent: "#f0c808"}
  privacy_notice_url: https://acme.example/privacy
  consent_version: acme-2027-02
  consent_text: Acme Robotics may email me about robotics jobs. I can stop this at any time.
"""
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture
def acme(env, tmp_path, monkeypatch):
    folder = tmp_path / "acme-config"
    folder.mkdir()
    (folder / "warmpool.yaml").write_text(BRAND)
    (folder / "acme.png").write_bytes(PNG)
    monkeypatch.setenv("WARMPOOL_CONFIG", str(folder / "warmpool.yaml"))
    env.settings = get_settings()
    env.client = TestClient(create_app(env.settings, mailer=env.mailer, options=WebOptions(
        clock=env.clock, mailgun_signing_key=SIGNING_KEY)))
    return env


def test_the_site_wears_the_configured_brand(acme):
    client = acme.client
    home = client.get("/")
    assert "Acme Robotics" in home.text and "Warmpool" not in home.text.replace("Warmpool's sandbox", "")
    assert 'src="/brand/logo"' in home.text and client.get("/brand/logo").content == PNG
    css = client.get("/brand.css")
    assert css.headers["content-type"].startswith("text/css") and "--brand:#5b2a86" in css.text
    token = make_token("unsubscribe", {"email": "ada@example.com", "person_id": "p", "campaign_id": "c"})
    for path in ("/", "/talent-network", "/referral", "/privacy/erase", f"/u/{token}"):
        assert 'href="https://acme.example/privacy"' in client.get(path).text, path
    assert client.get("/privacy-notice").status_code == 404  # the company links its own notice
    form = client.get("/talent-network").text
    assert "Acme Robotics may email me about robotics jobs." in form and "acme-2027-02" in form


def test_the_consent_stored_is_the_wording_shown(acme):
    assert submit(acme, talent()).status_code == 200
    [row] = acme.rows()
    shown = "Acme Robotics may email me about robotics jobs. I can stop this at any time."
    assert row["consent_wording_version"] == "acme-2027-02"
    assert row["consent_wording_hash"] == hashlib.sha256(shown.encode()).hexdigest()


def test_every_mail_footer_links_the_privacy_notice(acme):
    from warmpool.campaigns.config import load_campaigns
    from warmpool.campaigns.message import build_message
    import datetime as dt

    submit(acme, talent())
    submit(acme, referral(), path="/referral")
    campaign = load_campaigns()[0]
    built = build_message(campaign, {"person_id": "p1", "first_name": "Ada"}, acme.settings.smtp,
                          to_addr="ada@example.com", now=dt.datetime.now(dt.timezone.utc))
    mails = acme.mailer.sent + [built.message]
    assert len(mails) == 3
    assert acme.mailer.sent[1]["Subject"] == "Someone referred you for a job at Acme Robotics"
    for mail in mails:
        text, markup = mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()
        assert "Privacy notice: https://acme.example/privacy" in text and "Acme Robotics Ltd., 2 Dock Road" in text
        assert '<a href="https://acme.example/privacy">Privacy notice</a>' in markup


@pytest.mark.parametrize("logo, problem", [("missing.png", "brand.logo 'missing.png' is not a file"),
                                           ("notes.txt", "brand.logo must be one of")])
def test_an_unusable_logo_is_left_out_with_a_warning(tmp_path, caplog, logo, problem):
    (tmp_path / "notes.txt").write_text("not a picture")
    with caplog.at_level("WARNING", logger="warmpool.config"):
        brand = config.load_brand({"logo": logo, "company_name": "Acme"}, tmp_path, "config/warmpool.yaml")
    assert brand.logo_file is None and brand.company_name == "Acme"
    assert any(problem in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("section, problem", [
    ({"colors": {"primary": "#ffcc00"}}, "brand.colors.primary #ffcc00 gives white text a contrast of"),
    ({"colors": {"accent": "red; } body { display:none"}}, "brand.colors.accent must be a colour"),
    ({"privacy_notice_url": "javascript:alert(1)"}, "brand.privacy_notice_url must be"),
    ({"consent_text": ""}, "brand.consent_text must be non-empty"),
])
def test_a_bad_brand_is_refused_naming_the_field(tmp_path, section, problem):
    with pytest.raises(BrandError, match=re.escape(problem)) as refused:
        config.load_brand(section, tmp_path, "config/warmpool.yaml")
    assert str(refused.value).startswith("config/warmpool.yaml: ")
