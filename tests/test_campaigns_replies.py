"""Replies: an inbound message forwarded by a Mailgun route (signed, form-encoded) to the web service
is matched to the campaign mail it answers by In-Reply-To / References and recorded in the ledger."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time

from fastapi.testclient import TestClient

from tests.test_campaigns_send import T0, audience, campaigns, nurture, send, settings, smtp  # noqa: F401
from warmpool.campaigns.replies import referenced_message_ids
from warmpool.campaigns.sender import open_ledger
from web.app import create_app
from web.context import WebOptions

KEY = "test-mailgun-key"


def signed(fields: dict, key: str = KEY, ts: float | None = None) -> dict:
    ts = str(int(ts if ts is not None else time.time()))
    token = hashlib.sha256(f"{time.perf_counter_ns()}".encode()).hexdigest()[:50]
    return {**fields, "timestamp": ts, "token": token,
            "signature": hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()}


def test_a_signed_inbound_reply_is_matched_to_the_mail_it_answers(smtp, settings, nurture, monkeypatch):
    sink, _ = smtp
    send(nurture, audience(2), settings)
    answered = sink.parsed()[1]
    monkeypatch.setenv("WARMPOOL_HOME", str(settings.home))
    web_settings = dataclasses.replace(settings, demo=True, smtp=dataclasses.replace(
        settings.smtp, public_base_url="http://127.0.0.1:8300"))  # demo mode serves loopback only
    client = TestClient(create_app(web_settings, mailer=None, options=WebOptions(mailgun_signing_key=KEY)))

    reply = {"sender": str(answered["To"]), "subject": "Re: " + str(answered["Subject"]), "body-plain": "Yes please",
             "In-Reply-To": "<other@elsewhere.example>", "References": f"{answered['Message-ID']} <x@y.example>"}
    assert client.post("/webhooks/mailgun/inbound", data=signed(reply, key="wrong")).status_code == 403
    assert client.post("/webhooks/mailgun/inbound", data=signed(reply, ts=time.time() - 3600)).status_code == 403
    r = client.post("/webhooks/mailgun/inbound", data=signed(reply))
    assert r.status_code == 200 and r.json()["status"] == "reply recorded"
    stray = client.post("/webhooks/mailgun/inbound", data=signed({"In-Reply-To": "<nope@nowhere>"}))
    assert stray.status_code == 200 and stray.json()["status"] == "not a reply to a campaign mail"
    assert client.post("/webhooks/mailgun/inbound", json={"a": 1}).status_code == 415
    with open_ledger(settings) as ledger:
        assert ledger.replied(nurture.campaign_id) == {"p-1"}


def test_referenced_ids_in_reply_to_first_then_references_newest_first():
    assert referenced_message_ids("<a@x>", "<r1@x> <r2@x>\r\n <a@x>") == ["<a@x>", "<r2@x>", "<r1@x>"]
    assert referenced_message_ids(None, "no ids here") == []


def test_the_sandbox_smtp_server_answers_some_campaign_mails_through_the_inbound_path(tmp_path, settings, nurture):
    from functools import partial

    from sandbox.smtp_sink import SmtpSink
    from warmpool.campaigns.replies import record_inbound_reply

    with SmtpSink(tmp_path / "mailbox", port=0, on_reply=partial(record_inbound_reply, settings)) as sink:
        sink.handler.reply_share = 0.5  # the demo's share is REPLY_SHARE; half here, to see some with 20 mails
        local = dataclasses.replace(settings, smtp=dataclasses.replace(settings.smtp, port=sink.port))
        assert send(nurture, audience(20), local).sent == 20
    replies = sorted((tmp_path / "mailbox" / "replies").glob("*.eml"))
    assert 0 < len(replies) == sink.handler.replies < 20
    with open_ledger(settings) as ledger:
        assert len(ledger.replied(nurture.campaign_id)) == len(replies)


def test_a_replayed_inbound_request_is_refused_and_old_tokens_are_forgotten(smtp, settings, nurture, monkeypatch):
    """The same signed (timestamp, token) posted twice: the second is refused (406, Mailgun does not
    retry) and records nothing; tokens older than the accepted window leave the store."""
    from warmpool import web_store

    sink, _ = smtp
    send(nurture, audience(2), settings)
    answered = sink.parsed()[0]
    monkeypatch.setenv("WARMPOOL_HOME", str(settings.home))
    web_settings = dataclasses.replace(settings, demo=True, smtp=dataclasses.replace(
        settings.smtp, public_base_url="http://127.0.0.1:8300"))
    now = [time.time()]
    client = TestClient(create_app(web_settings, mailer=None, options=WebOptions(
        mailgun_signing_key=KEY, clock=lambda: now[0])))
    request = signed({"In-Reply-To": str(answered["Message-ID"])}, ts=now[0])
    first = client.post("/webhooks/mailgun/inbound", data=request)
    assert first.status_code == 200 and first.json()["status"] == "reply recorded"
    again = client.post("/webhooks/mailgun/inbound", data=request)
    assert again.status_code == 406 and again.json()["error"] == "replayed token"

    def tokens():
        with web_store.reader(settings.web_store_path) as con:
            return {r[0] for r in con.execute("select token from webhook_tokens").fetchall()}

    assert request["token"] in tokens()
    now[0] += 3600  # an hour on: that token's signature is long stale, so it is no longer kept
    later = signed({"In-Reply-To": "<nope@nowhere>"}, ts=now[0])
    assert client.post("/webhooks/mailgun/inbound", data=later).status_code == 200
    assert tokens() == {later["token"]}
