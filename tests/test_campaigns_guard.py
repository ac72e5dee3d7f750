"""The reputation guard pauses a campaign mid-send when its bounce or complaint rate reaches the
threshold (provider events arriving during the send), says so, and only an explicit resume lifts it."""
from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from tests.test_campaigns_send import T0, audience, campaigns, nurture, send, settings, smtp  # noqa: F401
from warmpool import web_store as store
from warmpool.campaigns.guard import GUARD, Thresholds, verdict
from warmpool.campaigns.operations import resume
from warmpool.campaigns.sender import open_ledger

LIMITS = {"max_bounce_rate": 0.25, "max_complaint_rate": 0.05, "min_sent": 10}


@pytest.mark.parametrize("sent, bounced, complained, pauses", [
    (100, 2, 0, True), (100, 1, 0, False), (1000, 0, 1, True), (2000, 0, 1, False),  # defaults: 2% / 0.1%
    (99, 50, 50, False),                                                             # below the minimum sample
])
def test_default_thresholds(sent, bounced, complained, pauses):
    assert bool(verdict(sent, bounced, complained, Thresholds())) is pauses


def test_the_guard_pauses_at_the_threshold_and_only_resume_lifts_it(smtp, settings, nurture):
    sink, _ = smtp
    guarded = dataclasses.replace(settings, raw={**settings.raw, "campaigns": {**settings.raw["campaigns"],
                                                                            "reputation_guard": LIMITS}})
    bounced = []

    def provider_reports_bounces(step, info):  # every 4th accepted mail bounces
        if step == "accepted" and int(info["person_id"].split("-")[1]) % 4 == 3:
            bounced.append(info)
            with store.store(settings.web_store_path) as con:
                store.insert_email_events(con, [{
                    "provider_event_id": f"b-{info['person_id']}", "provider": "test", "event": "bounce",
                    "bounce_type": "hard", "email": info["email"], "campaign_id": info["campaign_id"],
                    "message_id": info["message_id"], "occurred_at": "2026-03-02T09:00:00Z"}])

    members = audience(40)
    report = send(nurture, members, guarded, batch_size=10, fault_hook=provider_reports_bounces)
    # after 10 sent: 2 bounced (20%, under 25%); after 20: 5 bounced = 25%, the threshold: paused
    assert report.sent == 20 and "paused" in report.note and "bounce rate 25.00%" in report.note
    with open_ledger(settings) as ledger:
        assert ledger.paused(nurture.campaign_id)["paused_by"] == GUARD

    again = send(nurture, members, guarded, batch_size=10)
    assert again.sent == 0 and len(sink.messages) == 20            # it stays paused run after run

    assert resume(nurture, guarded)                                 # a person looked and resumed it
    rest = send(nurture, members, guarded, batch_size=10)
    assert rest.sent == 20 and len(sink.messages) == 40             # old bounces no longer count
