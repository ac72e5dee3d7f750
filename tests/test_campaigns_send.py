"""Campaign sending against a real SMTP server (aiosmtpd on loopback): content, compliance headers,
exactly-once through re-runs and crashes, suppression, frequency caps, header injection."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from pipelines.send_ledger import run_send_ledger
from warmpool import tables
from warmpool.campaigns.config import load_campaigns
from warmpool.campaigns.ledger import SendLedger
from warmpool.mail import HeaderInjectionError
from warmpool.campaigns.sender import SendAborted, send_campaign
from warmpool.config import AtsSettings, Settings, SmtpSettings
from warmpool.tokens import read_token
from warmpool.warehouse import open_warehouse

REPO = Path(__file__).resolve().parent.parent
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


class Sink:
    """aiosmtpd handler keeping every accepted message; rejects chosen recipients on request."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.reject: dict[str, str] = {}  # address -> SMTP reply
        self.hang_up_in_data: set[str] = set()  # close the connection after receiving these messages
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.hang_up_in_data & set(envelope.rcpt_tos):
            server.transport.close()  # the sender cannot know whether the message was taken
            return "250 OK"
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                  or envelope.content))
            n = len(self.messages)
        return f"250 2.0.0 Ok: queued as Q{n:05d}"

    def parsed(self):
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(raw) for _, _, raw in self.messages]

    def to(self, address: str):
        return [m for m in self.parsed() if str(m["To"]).lower() == address.lower()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port(), enable_SMTPUTF8=True)
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()


@pytest.fixture
def settings(tmp_path, smtp):
    _, port = smtp
    return Settings(home=tmp_path, ats=AtsSettings(base_url="http://unused", api_key="unused"),
                    smtp=SmtpSettings(host="127.0.0.1", port=port, public_base_url="https://talent.warmpool.example"),
                    raw={"campaigns": {"rate_per_second": 0}})


@pytest.fixture
def campaigns():
    return {c.campaign_id: c for c in load_campaigns()}


@pytest.fixture
def nurture(campaigns):
    return campaigns["tn-engineering-nurture"]


def member(pid, email, first="Ada", last="Lovelace", city="London", job_family="engineering",
           campaign_id="tn-engineering-nurture"):
    return {"campaign_id": campaign_id, "person_id": pid, "email": email, "first_name": first, "last_name": last,
            "city": city, "country": "UK", "job_family": job_family, "inclusion_reason": "job_family"}


def audience(n=4, campaign_id="tn-engineering-nurture"):
    return [member(f"p-{i}", f"person{i}@example.com", first=f"Name{i}", city=f"City{i}", campaign_id=campaign_id)
            for i in range(n)]


def clock_at(t):
    return lambda: t


def ledger_state(settings, campaign, pid):
    with SendLedger(settings.campaign_ledger_path) as ledger:
        return ledger.row(campaign.campaign_id, pid, campaign.content_version)


def send(campaign, members, settings, **kw):
    kw.setdefault("suppressed", None)
    kw.setdefault("clock", clock_at(T0))
    return send_campaign(campaign, members, settings, **kw)


# --- content and headers ---------------------------------------------------------------------------

def test_each_member_gets_one_compliant_personalised_mail(smtp, settings, nurture):
    sink, _ = smtp
    members = audience(3) + [member("p-x", "mallory@example.com", first="<script>alert(1)</script>",
                                    last="O'Hara & Sons", city="Zürich")]
    report = send(nurture, members, settings)
    assert (report.planned, report.sent, report.failed, report.ambiguous) == (4, 4, 0, 0), report.describe()

    for m in members:
        [mail] = sink.to(m["email"])
        assert mail["From"] == settings.smtp.sender and mail["Subject"] == nurture.subject
        assert mail["Date"] and mail["Message-ID"].endswith("@warmpool.example>")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsub = str(mail["List-Unsubscribe"])
        assert unsub.startswith("<https://talent.warmpool.example/u/") and unsub.endswith(">") and "," not in unsub
        token = read_token("unsubscribe", unsub[1:-1].rsplit("/", 1)[1])
        assert token["email"] == m["email"] and token["person_id"] == m["person_id"]
        assert token["campaign_id"] == nurture.campaign_id and token["message_id"] == mail["Message-ID"]
        assert mail.get_content_type() == "multipart/alternative"
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        for body in (text, html):
            assert settings.smtp.physical_address in body and unsub[1:-1] in body
        # the recorded Message-ID is the one in the header
        assert ledger_state(settings, nurture, m["person_id"])["message_id"] == mail["Message-ID"]
        assert ledger_state(settings, nurture, m["person_id"])["smtp_response"].startswith("2.0.0 Ok: queued")

    [ada] = sink.to("person1@example.com")
    text, html = ada.get_body(("plain",)).get_content(), ada.get_body(("html",)).get_content()
    assert "Hi Name1," in text and "around City1" in text and "for engineering people" in text
    assert "Hi Name1," in html and "around City1" in html

    # On the wire the header is the bare <URI> (not RFC 2047 encoded-words), exactly once per mail.
    for _, _, raw in sink.messages:
        head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ")
        [line] = [h for h in head.split(b"\r\n") if h.lower().startswith(b"list-unsubscribe:")]
        assert line.startswith(b"List-Unsubscribe: <https://talent.warmpool.example/u/") and b"=?" not in line
        assert head.count(b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click") == 1

    [evil] = sink.to("mallory@example.com")
    html = evil.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Zürich" in html
    text = evil.get_body(("plain",)).get_content()
    assert "Hi <script>alert(1)</script>," in text  # plain text is not HTML: shown as typed


def test_links_are_tracked_and_the_open_pixel_is_signed(smtp, settings, nurture):
    sink, _ = smtp
    send(nurture, [member("p-1", "ada@example.com")], settings)
    [mail] = sink.to("ada@example.com")
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "https://careers.warmpool.example/engineering" not in html + text  # every template link rewritten
    import re
    clicks = re.findall(r'href="(https://talent\.warmpool\.example/c/[^"]+)"', html)
    assert len(clicks) == 1 and clicks[0] in text  # the text part points at the same tracked link
    click = read_token("click", clicks[0].rsplit("/", 1)[1])
    assert click["url"] == "https://careers.warmpool.example/engineering"
    assert click["person_id"] == "p-1" and click["message_id"] == mail["Message-ID"] and click["email"]
    [pixel] = re.findall(r'<img src="https://talent\.warmpool\.example/o/([^"]+)\.gif"', html)
    assert read_token("open", pixel)["campaign_id"] == nurture.campaign_id


def test_data_never_becomes_a_tracked_link(smtp, settings, nurture):
    sink, _ = smtp
    send(nurture, [member("p-1", "ada@example.com", first='<a href="https://evil.example/x">win</a>',
                          city="https://evil.example/y")], settings)
    [mail] = sink.to("ada@example.com")
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert '<a href="https://evil.example' not in html and "&lt;a href=" in html
    assert "https://evil.example/y" in text  # shown as text, not signed into a redirect


# --- exactly once ----------------------------------------------------------------------------------

def test_rerun_sends_nothing_new(smtp, settings, nurture):
    sink, _ = smtp
    first = send(nurture, audience(5), settings)
    assert first.sent == 5
    again = send(nurture, audience(5), settings, clock=clock_at(T0 + dt.timedelta(days=30)))
    assert again.sent == 0 and again.skipped_already_sent == 5 and again.planned == 5
    assert len(sink.messages) == 5
    # the audience grew: only the newcomer is mailed
    grown = send(nurture, audience(6), settings, clock=clock_at(T0 + dt.timedelta(days=30)))
    assert grown.sent == 1 and grown.skipped_already_sent == 5 and len(sink.messages) == 6
    assert "sent 1" in grown.describe() and "already sent 5" in grown.describe()


class Crash(Exception):
    pass


def test_crash_after_smtp_accept_is_ambiguous_never_resent(smtp, settings, nurture):
    sink, _ = smtp

    def crash_on_second(step, info):
        if step == "accepted" and info["person_id"] == "p-1":
            raise Crash("power cut between SMTP accept and the ledger write")

    with pytest.raises(Crash):
        send(nurture, audience(4), settings, fault_hook=crash_on_second)
    assert len(sink.to("person1@example.com")) == 1  # the server has it
    assert ledger_state(settings, nurture, "p-1")["state"] == "ambiguous"
    assert ledger_state(settings, nurture, "p-2")["state"] == "planned"  # untouched rows are free again

    rerun = send(nurture, audience(4), settings)
    assert rerun.ambiguous == 1 and rerun.sent == 2 and rerun.skipped_already_sent == 1, rerun.describe()
    assert len(sink.to("person1@example.com")) == 1  # no duplicate
    assert sorted(str(m["To"]) for m in sink.parsed()) == [f"person{i}@example.com" for i in range(4)]
    assert send(nurture, audience(4), settings).sent == 0


def test_an_ambiguous_send_is_settled_by_the_providers_event_for_it(smtp, settings, nurture):
    """After a crash between SMTP accept and the ledger write, the provider's delivered event for that
    Message-ID (as Mailgun posts it, without angle brackets) settles the row as sent; a row nobody
    reported stays ambiguous. Neither is ever resent."""
    from warmpool import web_store as store

    sink, _ = smtp

    def crash(step, info):
        if step == "accepted" and info["person_id"] in ("p-1", "p-2"):
            raise Crash("power cut between SMTP accept and the ledger write")

    for _ in range(2):  # p-1 in the first run, p-2 in the second
        with pytest.raises(Crash):
            send(nurture, audience(3), settings, fault_hook=crash)
    reported = ledger_state(settings, nurture, "p-1")
    assert reported["state"] == ledger_state(settings, nurture, "p-2")["state"] == "ambiguous"
    with store.store(settings.web_store_path) as con:
        store.insert_email_events(con, [{
            "provider_event_id": "mg-1", "provider": "mailgun", "event": "delivered", "email": "person1@example.com",
            "message_id": reported["message_id"].strip("<>"), "occurred_at": "2026-03-02T09:00:05Z"}])

    rerun = send(nurture, audience(3), settings)
    assert rerun.reconciled == 1 and rerun.ambiguous == 1 and "reconciled 1" in rerun.describe()
    assert ledger_state(settings, nurture, "p-1")["state"] == "accepted"
    assert ledger_state(settings, nurture, "p-2")["state"] == "ambiguous"
    assert len(sink.to("person1@example.com")) == 1 and len(sink.to("person2@example.com")) == 1


def test_crash_before_smtp_is_sent_once_on_rerun(smtp, settings, nurture):
    sink, _ = smtp

    def crash(step, info):
        if step == "submitted":
            raise Crash("stopped after the ledger write, before SMTP")

    with pytest.raises(Crash):
        send(nurture, audience(2), settings, fault_hook=crash)
    assert sink.messages == []
    assert send(nurture, audience(2), settings).sent == 2
    assert len(sink.messages) == 2


def send_then_die(home: Path, port: int, members: list[dict], die_after_accepting: str, step: str = "accepted",
                  **options) -> subprocess.CompletedProcess:
    """Send in a child process that dies (os._exit, no cleanup) right after the SMTP server accepted
    the mail of ``die_after_accepting`` (or at another ``step`` of the sender's fault hook for that person)."""
    script = textwrap.dedent(f"""
        import datetime as dt, json, os, sys
        from warmpool.campaigns.config import load_campaigns
        from warmpool.campaigns.sender import send_campaign
        from warmpool.config import AtsSettings, Settings, SmtpSettings
        from pathlib import Path
        settings = Settings(home=Path({str(home)!r}), ats=AtsSettings(base_url="x", api_key="x"),
                            smtp=SmtpSettings(host="127.0.0.1", port={port}), raw={{}})
        campaign = {{c.campaign_id: c for c in load_campaigns()}}["tn-engineering-nurture"]
        def die(step, info):
            if step == {step!r} and info["person_id"] == {die_after_accepting!r}:
                os._exit(137)
        send_campaign(campaign, json.loads(sys.argv[1]), settings, suppressed=None, rate_per_second=0,
                      clock=lambda: dt.datetime.fromisoformat({T0.isoformat()!r}), fault_hook=die, **{options!r})
    """)
    return subprocess.run([sys.executable, "-c", script, json.dumps(members)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_hard_crash_after_accept_then_rerun(smtp, settings, nurture, tmp_path):
    """A real process death (os._exit) right after the SMTP accept: the row stays `submitted` with a
    lease; while the lease runs the re-run leaves it alone, after it expires the row is ambiguous."""
    sink, port = smtp
    members = audience(3)
    proc = send_then_die(tmp_path, port, members, die_after_accepting="p-1")
    assert proc.returncode == 137, proc.stderr
    assert len(sink.messages) == 2  # p-0 and p-1 reached the server
    assert ledger_state(settings, nurture, "p-1")["state"] == "submitted"

    # p-1 (submitted) and p-2 (claimed in the same batch) are leased by the dead run: left alone.
    during = send(nurture, members, settings, clock=clock_at(T0 + dt.timedelta(minutes=1)))
    assert during.in_flight == 2 and during.sent == 0 and len(sink.messages) == 2, during.describe()

    after = send(nurture, members, settings, clock=clock_at(T0 + dt.timedelta(hours=2)))
    assert after.ambiguous == 1 and after.sent == 1 and len(sink.messages) == 3, after.describe()
    assert ledger_state(settings, nurture, "p-2")["state"] == "accepted"  # never reached SMTP: sent now
    assert ledger_state(settings, nurture, "p-1")["state"] == "ambiguous"
    assert len(sink.to("person1@example.com")) == 1


def test_a_death_before_the_held_sent_mark_is_written_mails_nobody_twice(smtp, settings, nurture, tmp_path):
    """The mark that the server accepted a mail is held back and written with the next row's
    `submitted` transaction (one transaction and one disk sync for both). A process death in between
    (here: p-2 claimed, p-1's mark still held) leaves p-1 `submitted` although the server has its
    mail: after the lease it is ambiguous and never resent; a provider event for it settles it."""
    from warmpool import web_store as store

    sink, port = smtp
    members = audience(4)
    proc = send_then_die(tmp_path, port, members, die_after_accepting="p-2", step="claimed")
    assert proc.returncode == 137, proc.stderr
    assert [str(m["To"]) for m in sink.parsed()] == ["person0@example.com", "person1@example.com"]
    assert ledger_state(settings, nurture, "p-0")["state"] == "accepted"  # written with p-1's `submitted`
    held = ledger_state(settings, nurture, "p-1")
    assert held["state"] == "submitted"

    after = send(nurture, members, settings, clock=clock_at(T0 + dt.timedelta(hours=2)))
    assert (after.sent, after.ambiguous, after.skipped_already_sent) == (2, 1, 1), after.describe()
    assert sorted(str(m["To"]) for m in sink.parsed()) == [m["email"] for m in members]  # four mails, one each
    with store.store(settings.web_store_path) as con:
        store.insert_email_events(con, [{
            "provider_event_id": "mg-9", "provider": "mailgun", "event": "delivered", "email": "person1@example.com",
            "message_id": held["message_id"].strip("<>"), "occurred_at": "2026-03-02T09:00:05Z"}])
    settled = send(nurture, members, settings, clock=clock_at(T0 + dt.timedelta(hours=3)))
    assert (settled.reconciled, settled.ambiguous, settled.sent) == (1, 0, 0), settled.describe()
    assert ledger_state(settings, nurture, "p-1")["state"] == "accepted" and len(sink.messages) == 4


def test_one_address_under_two_person_ids_gets_one_mail(smtp, settings, nurture):
    sink, _ = smtp
    members = [member("p-1", "Ada.Lovelace@gmail.com"), member("p-2", "adalovelace@gmail.com")]
    report = send(nurture, members, settings)
    assert report.sent == 1 and report.skipped_already_sent == 1 and len(sink.messages) == 1


def test_people_merged_after_a_send_are_not_mailed_that_version_again(smtp, settings, nurture, campaigns):
    """p-1 (ada@work) and p-2 (ada@home) were both mailed; identity resolution then merges them
    into p-2, whose golden address is a third one. The merged person gets no second copy, and the
    frequency cap counts what was sent under the retired id."""
    sink, _ = smtp
    first = send(nurture, [member("p-1", "ada@work.example"), member("p-3", "bob@example.com")], settings)
    assert first.sent == 2

    merged = [member("p-2", "ada.lovelace@home.example"), member("p-3", "bob@example.com"),
              member("p-4", "carol@example.com")]
    later = send(nurture, merged, settings, clock=clock_at(T0 + dt.timedelta(days=1)), person_id_map={"p-1": "p-2"})
    assert later.sent == 1 and sink.to("ada.lovelace@home.example") == []
    assert len(sink.to("carol@example.com")) == 1
    assert ledger_state(settings, nurture, "p-2")["state"] == "duplicate"

    # Another campaign inside the cap window: deferred for the merged person too.
    sales = campaigns["invite-to-apply-sales"]
    report = send(sales, [member("p-2", "ada.lovelace@home.example", campaign_id=sales.campaign_id)], settings,
                  clock=clock_at(T0 + dt.timedelta(days=2)))
    assert report.deferred_by_cap == 1 and report.sent == 0

    # Without the map (before the fix) the survivor would have been mailed: the map is what stops it.
    other = dataclasses.replace(settings, home=settings.home / "no-map")
    send(nurture, [member("p-1", "ada@work.example")], other)
    assert send(nurture, [member("p-2", "ada.lovelace@home.example")], other,
                clock=clock_at(T0 + dt.timedelta(days=1))).sent == 1


def test_a_new_content_version_is_a_new_send(smtp, settings, nurture):
    sink, _ = smtp
    send(nurture, audience(2), settings)
    edited = dataclasses.replace(nurture, content_version="edited-v2")
    assert send(edited, audience(2), settings).deferred_by_cap == 2  # within the 7-day cap
    later = send(edited, audience(2), settings, clock=clock_at(T0 + dt.timedelta(days=8)))
    assert later.sent == 2 and len(sink.messages) == 4


def test_not_before_starts_at(smtp, settings, nurture):
    sink, _ = smtp
    report = send(nurture, audience(2), settings, clock=clock_at(nurture.starts_at - dt.timedelta(days=1)))
    assert report.sent == 0 and "not started" in report.describe() and sink.messages == []


# --- suppression and caps ----------------------------------------------------------------------------

def test_suppressed_addresses_receive_nothing(smtp, settings, nurture):
    sink, _ = smtp
    members = audience(4)
    # an unsubscribe recorded under another spelling of the same mailbox still counts
    report = send(nurture, members, settings, suppressed={"Person1+jobs@Example.com", "p-3"})
    assert report.suppressed == 2 and report.sent == 2
    assert sink.to("person1@example.com") == [] and sink.to("person3@example.com") == []
    assert ledger_state(settings, nurture, "p-1")["state"] == "suppressed"


def test_suppression_is_checked_at_send_time(smtp, settings, nurture):
    """Someone unsubscribing while the campaign is going out is not mailed afterwards."""
    sink, _ = smtp
    unsubscribed: set[str] = set()

    def hook(step, info):
        if step == "accepted" and info["person_id"] == "p-0":
            unsubscribed.add("person2@example.com")

    report = send(nurture, audience(3), settings, suppressed=lambda email: email in unsubscribed, fault_hook=hook)
    assert report.sent == 2 and report.suppressed == 1 and sink.to("person2@example.com") == []


def test_default_suppression_reads_the_web_store(smtp, settings, nurture):
    from warmpool import web_store as store

    sink, _ = smtp
    with store.store(settings.web_store_path) as con:
        store.insert_email_events(con, [
            {"provider_event_id": "e1", "provider": "test", "event": "unsubscribe", "email": "PERSON0@example.com",
             "occurred_at": "2026-01-01T00:00:00Z"},
            {"provider_event_id": "e2", "provider": "test", "event": "bounce", "bounce_type": "hard",
             "email": "person1@example.com", "occurred_at": "2026-01-01T00:00:00Z"},
            {"provider_event_id": "e3", "provider": "test", "event": "bounce", "bounce_type": "soft",
             "email": "person2@example.com", "occurred_at": "2026-01-01T00:00:00Z"},
            {"provider_event_id": "e4", "provider": "test", "event": "complaint", "email": "person3@example.com",
             "occurred_at": "2026-01-01T00:00:00Z"},
        ])
    report = send_campaign(nurture, audience(5), settings, clock=clock_at(T0))  # default `suppressed`
    assert report.suppressed == 3 and report.sent == 2
    assert sorted(str(m["To"]) for m in sink.parsed()) == ["person2@example.com", "person4@example.com"]


def test_repeated_soft_bounces_suppress_at_send_time(smtp, settings, nurture):
    """Three soft bounces in a row spanning 14 days stop mail to the address; fewer, a shorter
    span, or a run broken by a delivery do not (the soft-bounce rule in consent_rules.csv)."""
    from warmpool import web_store as store

    def soft(i, email, day):
        return {"provider_event_id": f"s{i}", "provider": "test", "event": "bounce", "bounce_type": "soft",
                "email": email, "occurred_at": f"2026-02-{day:02d}T00:00:00Z"}

    sink, _ = smtp
    with store.store(settings.web_store_path) as con:
        store.insert_email_events(con, [
            soft(1, "person0@example.com", 1), soft(2, "Person0@Example.com", 8), soft(3, "person0@example.com", 15),
            soft(4, "person1@example.com", 1), soft(5, "person1@example.com", 2), soft(6, "person1@example.com", 3),
            soft(7, "person2@example.com", 1),
            {"provider_event_id": "d1", "provider": "test", "event": "delivered", "email": "person2@example.com",
             "occurred_at": "2026-02-05T00:00:00Z"},
            soft(8, "person2@example.com", 8), soft(9, "person2@example.com", 15),
        ])
    report = send_campaign(nurture, audience(3), settings, clock=clock_at(T0))
    assert report.suppressed == 1 and report.sent == 2
    assert sink.to("person0@example.com") == []
    assert len(sink.to("person1@example.com")) == 1 and len(sink.to("person2@example.com")) == 1


def test_an_event_on_the_persons_other_address_suppresses_at_send_time(smtp, settings, nurture):
    """The warehouse suppresses the whole person; so does the send-time check, on every address the
    audience row lists for the person (`person_email_keys`), e.g. a complaint since the last run."""
    from warmpool import web_store as store

    sink, _ = smtp
    with store.store(settings.web_store_path) as con:
        store.insert_email_events(con, [
            {"provider_event_id": "c1", "provider": "test", "event": "complaint", "email": "Ada.Work@Example.com",
             "occurred_at": "2026-03-01T00:00:00Z"}])
    members = [dict(member("p-1", "ada@example.com"), person_email_keys="ada@example.com;ada.work@example.com"),
               dict(member("p-2", "bob@example.com"), person_email_keys="bob@example.com")]
    report = send_campaign(nurture, members, settings, clock=clock_at(T0))  # default `suppressed`
    assert report.suppressed == 1 and report.sent == 1
    assert sink.to("ada@example.com") == [] and len(sink.to("bob@example.com")) == 1


def test_frequency_cap_defers_across_campaigns(smtp, settings, campaigns):
    sink, _ = smtp
    nurture, sales = campaigns["tn-engineering-nurture"], campaigns["invite-to-apply-sales"]
    send(nurture, [member("p-1", "ada@example.com")], settings)
    sales_members = [member("p-1", "ada@example.com", campaign_id=sales.campaign_id),
                     member("p-2", "bob@example.com", campaign_id=sales.campaign_id)]
    report = send(sales, sales_members, settings, clock=clock_at(T0 + dt.timedelta(days=3)))
    assert report.deferred_by_cap == 1 and report.sent == 1 and len(sink.to("ada@example.com")) == 1
    assert ledger_state(settings, sales, "p-1")["state"] == "planned"  # still owed, not dropped
    later = send(sales, sales_members, settings, clock=clock_at(T0 + dt.timedelta(days=8)))
    assert later.sent == 1 and later.deferred_by_cap == 0 and len(sink.to("ada@example.com")) == 2


# --- refusals, injection, rate ------------------------------------------------------------------------

def test_header_injection_in_the_subject_is_refused(smtp, settings, nurture):
    sink, _ = smtp
    for bad in ("Hello\r\nBcc: victim@example.com", "Hello\nX-Evil: 1", "Hello\x00"):
        with pytest.raises(HeaderInjectionError):
            send(nurture.__class__(**{**{f.name: getattr(nurture, f.name) for f in dataclasses.fields(nurture)},
                                      "subject": bad}), audience(2), settings)
    assert sink.messages == []
    assert not settings.campaign_ledger_path.exists() or \
        sqlite3.connect(settings.campaign_ledger_path).execute("select count(*) from sends").fetchone() == (0,)


def test_header_injection_in_an_address_is_refused(smtp, settings, nurture):
    sink, _ = smtp
    members = [member("p-1", "ada@example.com\r\nBcc: victim@example.com"), member("p-2", "not-an-address"),
               member("p-3", "grace@example.com")]
    report = send(nurture, members, settings)
    assert report.failed == 2 and report.sent == 1
    assert [rcpts for _, rcpts, _ in sink.messages] == [["grace@example.com"]]
    assert "invalid address" in ledger_state(settings, nurture, "p-1")["error"]


def test_permanent_refusal_fails_and_temporary_is_retried(smtp, settings, nurture):
    sink, _ = smtp
    sink.reject = {"person0@example.com": "550 5.1.1 No such user", "person1@example.com": "451 4.3.0 Try later"}
    report = send(nurture, audience(3), settings)
    assert (report.sent, report.failed, report.retry_later) == (1, 1, 1), report.describe()
    assert ledger_state(settings, nurture, "p-0")["state"] == "failed"
    assert ledger_state(settings, nurture, "p-1")["state"] == "planned"
    sink.reject = {}
    again = send(nurture, audience(3), settings)
    assert again.sent == 1 and again.failed == 1  # the 5xx address is never retried
    assert [m["To"] for m in sink.parsed()].count("person0@example.com") == 0


def test_a_connection_lost_during_data_is_ambiguous_never_resent(smtp, settings, nurture):
    sink, _ = smtp
    sink.hang_up_in_data = {"person1@example.com"}
    report = send(nurture, audience(3), settings)
    assert (report.sent, report.ambiguous, report.retry_later) == (2, 1, 0), report.describe()
    assert ledger_state(settings, nurture, "p-1")["state"] == "ambiguous"
    assert "during DATA" in ledger_state(settings, nurture, "p-1")["error"]
    sink.hang_up_in_data = set()
    again = send(nurture, audience(3), settings)
    assert (again.sent, again.ambiguous) == (0, 1) and sink.to("person1@example.com") == []


def test_unreachable_relay_marks_nothing(settings, nurture, smtp):
    sink, port = smtp
    dead = dataclasses.replace(settings, smtp=dataclasses.replace(settings.smtp, port=_free_port()))
    with pytest.raises(SendAborted):
        send(nurture, audience(2), dead)
    with SendLedger(settings.campaign_ledger_path) as ledger:
        assert set(ledger.states(nurture.campaign_id, nurture.content_version).values()) == {"planned"}
    assert send(nurture, audience(2), settings).sent == 2


def test_rate_limit(smtp, settings, nurture):
    started = time.monotonic()
    report = send(nurture, audience(6), settings, rate_per_second=20)
    assert report.sent == 6 and time.monotonic() - started >= 5 / 20


def test_preference_centre_topics_and_frequency_are_honoured(smtp, settings, campaigns):
    """Topics are campaign kinds; a monthly / quarterly choice widens that person's cap."""
    from warmpool import web_store as store

    sink, _ = smtp
    nurture, sales = campaigns["tn-engineering-nurture"], campaigns["invite-to-apply-sales"]
    with store.store(settings.web_store_path) as con:
        for email, topics, frequency in (("person0@example.com", "invite_to_apply", "normal"),  # no nurture
                                         ("person1@example.com", "nurture;invite_to_apply", "monthly")):
            store.record_preferences(con, {"email": email, "topics": topics, "frequency": frequency,
                                           "unsubscribed_all": False, "changed_at": "2026-01-01T00:00:00Z",
                                           "source": "page"})
    report = send_campaign(nurture, audience(3), settings, clock=clock_at(T0))
    assert report.suppressed == 1 and report.sent == 2 and sink.to("person0@example.com") == []

    sales_members = audience(3, campaign_id=sales.campaign_id)
    later = send_campaign(sales, sales_members, settings, clock=clock_at(T0 + dt.timedelta(days=10)))
    # person1 chose "at most monthly": 10 days after the nurture mail is too soon; the 7-day cap passed for person2
    assert later.deferred_by_cap == 1 and later.sent == 2, later.describe()
    assert len(sink.to("person1@example.com")) == 1 and len(sink.to("person0@example.com")) == 1


def test_several_connections_send_each_member_once(smtp, settings, nurture):
    """With four SMTP connections at once every member gets exactly one mail, over several
    connections, and a re-run sends nothing."""
    sink, _ = smtp
    members = audience(40)
    report = send(nurture, members, settings, connections=4, batch_size=7)
    assert (report.sent, report.ambiguous, report.failed) == (40, 0, 0), report.describe()
    assert sorted(str(m["To"]) for m in sink.parsed()) == sorted(m["email"] for m in members)
    assert len(set(report.message_ids)) == 40
    assert send(nurture, members, settings, connections=4).sent == 0 and len(sink.messages) == 40


def test_a_crash_on_one_of_several_connections_sends_nobody_twice(smtp, settings, nurture):
    """One connection fails between the SMTP accept and the ledger write: the run stops, the rows
    the other connections had in hand are settled (sent, ambiguous or planned again), and the
    re-run mails only people who got nothing."""
    sink, _ = smtp
    members = audience(30)

    def crash(step, info):
        if step == "accepted" and info["person_id"] == "p-9":
            raise Crash("power cut between SMTP accept and the ledger write")

    with pytest.raises(Crash):
        send(nurture, members, settings, connections=3, batch_size=5, fault_hook=crash)
    assert ledger_state(settings, nurture, "p-9")["state"] == "ambiguous"
    states = {m["person_id"]: ledger_state(settings, nurture, m["person_id"])["state"] for m in members}
    assert set(states.values()) <= {"accepted", "ambiguous", "planned"}, states  # nothing left leased
    rerun = send(nurture, members, settings, connections=3)
    ambiguous = [pid for pid, state in states.items() if state == "ambiguous"]
    assert rerun.ambiguous == len(ambiguous) and rerun.sent + rerun.skipped_already_sent + rerun.ambiguous == 30
    for m in members:
        assert len(sink.to(m["email"])) <= 1  # never twice
        if m["person_id"] not in ambiguous:
            assert len(sink.to(m["email"])) == 1, m


def test_a_process_death_while_several_connections_send_mails_nobody_twice(smtp, settings, nurture, tmp_path):
    """os._exit while three connections are sending: every mail the server took has a ledger row
    that says so (submitted or accepted), so after the leases expire the re-run mails exactly the
    people who got nothing."""
    sink, port = smtp
    members = audience(24)
    proc = send_then_die(tmp_path, port, members, die_after_accepting="p-10", connections=3, batch_size=6)
    assert proc.returncode == 137, proc.stderr
    received = {str(m["To"]) for m in sink.parsed()}
    for m in members:
        if m["email"] in received:
            assert ledger_state(settings, nurture, m["person_id"])["state"] in ("submitted", "accepted"), m

    after = send(nurture, members, settings, clock=clock_at(T0 + dt.timedelta(hours=2)), connections=3)
    assert after.sent + after.skipped_already_sent + after.ambiguous == 24 and after.ambiguous >= 1, after.describe()
    assert all(len(sink.to(m["email"])) <= 1 for m in members)
    assert sum(len(sink.to(m["email"])) == 0 for m in members) <= after.ambiguous  # only ambiguous rows may lack one


def test_a_process_death_leaves_at_most_one_unsettled_row_per_connection(smtp, settings, nurture, tmp_path):
    """Rows are marked submitted a group at a time (one transaction and disk sync for several), yet
    never more than one per connection is between `submitted` and its outcome: a death leaves at most
    that many rows to turn ambiguous, and each one the server did not get is among them."""
    sink, port = smtp
    members = audience(40)
    proc = send_then_die(tmp_path, port, members, die_after_accepting="p-21", connections=4, batch_size=8)
    assert proc.returncode == 137, proc.stderr
    with SendLedger(settings.campaign_ledger_path) as ledger:
        states = ledger.states(nurture.campaign_id, nurture.content_version)
    unsettled = [pid for pid, state in states.items() if state == "submitted"]
    assert 1 <= len(unsettled) <= 4, states
    received = {str(m["To"]) for m in sink.parsed()}
    assert all(m["email"] in received for m in members if states[m["person_id"]] == "accepted")

    after = send(nurture, members, settings, clock=clock_at(T0 + dt.timedelta(hours=2)), connections=4)
    assert after.ambiguous == len(unsettled) and after.sent + after.skipped_already_sent + after.ambiguous == 40
    assert all(len(sink.to(m["email"])) <= 1 for m in members)
    assert sum(len(sink.to(m["email"])) == 0 for m in members) <= after.ambiguous



def test_a_daily_run_sends_and_loads_only_the_newcomers(smtp, settings, nurture):
    """The daily run after a small change: only the new members are mailed, and the warehouse load of
    the send ledger writes only their rows (the members sent earlier are neither re-planned nor re-loaded)."""
    sink, _ = smtp
    first = send(nurture, audience(5), settings)
    assert first.sent == 5 and run_send_ledger(settings) == {"sends": 5}
    daily = send(nurture, audience(7), settings, clock=clock_at(T0 + dt.timedelta(days=1)))
    assert daily.sent == 2 and daily.skipped_already_sent == 5 and len(sink.messages) == 7
    assert run_send_ledger(settings) == {"sends": 2}
    again = send(nurture, audience(7), settings, clock=clock_at(T0 + dt.timedelta(days=2)))
    assert again.sent == 0 and again.skipped_already_sent == 7 and len(sink.messages) == 7
    assert run_send_ledger(settings).get("sends", 0) == 0
    with open_warehouse(settings, read_only=True) as con:
        loaded = con.execute(f"select person_id, state from {tables.RAW_SENDS}.sends order by person_id").fetchall()
    assert loaded == [(f"p-{i}", "accepted") for i in range(7)]


def test_connections_opening_a_brand_new_ledger_at_the_same_instant_all_get_it(tmp_path):
    """Six connections open a ledger file that does not exist yet at the same instant, a hundred times
    over: each switch to WAL that SQLite refuses at once ("database is locked", without waiting) is
    tried again, so every one of them opens it (the first send of a run with several connections)."""
    failures = []

    def open_ledger_at(path, barrier):
        try:
            barrier.wait()
            SendLedger(path).close()
        except Exception as exc:  # noqa: BLE001 - any failure to open is what the test counts
            failures.append(repr(exc))

    for trial in range(100):
        barrier = threading.Barrier(6)
        threads = [threading.Thread(target=open_ledger_at, args=(tmp_path / f"ledger-{trial}.sqlite", barrier))
                   for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []

