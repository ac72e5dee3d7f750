"""Hand-off to the provider's contact lists (SendGrid Marketing Contacts shape) against the sandbox's
simulator over real HTTP: after two runs the list holds exactly the audience; an unsubscribe, a
person leaving the segment and an erasure remove them there too; nothing is sent twice."""
from __future__ import annotations

import json

import httpx
import pytest

from sandbox.provider_lists import provider_lists_app
from sandbox.services import SANDBOX_PROVIDER_KEY, AppServer
from tests.test_campaigns_send import audience, settings, smtp  # noqa: F401
from warmpool import web_store as store
from warmpool.campaigns.erasure import forget_people
from warmpool.campaigns.provider_lists import ProviderListConfig, ProviderListError, sync_audience
from warmpool.campaigns.sender import WebStoreSuppression

CAMPAIGN = "tn-engineering-nurture"


@pytest.fixture
def provider():
    server = AppServer(provider_lists_app(SANDBOX_PROVIDER_KEY), "127.0.0.1", 0, "test-provider").start()
    try:
        yield server
    finally:
        server.stop()


def list_emails(provider) -> list[str]:
    [lst] = provider.app.state.sim.lists.values()
    return provider.app.state.sim.list_emails(lst["id"])


def test_the_provider_list_holds_exactly_the_audience_after_two_runs_and_an_unsubscribe(provider, settings):
    config = ProviderListConfig(provider.root, SANDBOX_PROVIDER_KEY)
    members = audience(5)
    web = WebStoreSuppression(settings.web_store_path, refresh_seconds=0)

    def suppressed(m):
        return web(m["email"])  # what provider_list_suppression checks, without the topics

    for _ in range(2):
        sync_audience(CAMPAIGN, members, settings, suppressed, config=config)
    assert list_emails(provider) == [f"person{i}@example.com" for i in range(5)]
    sim = provider.app.state.sim
    assert len(sim.lists) == 1 and len(sim.contacts) == 5
    upsert = json.loads(next(r for r in sim.requests if r["method"] == "PUT")["body"])
    assert upsert["contacts"][0]["custom_fields"]["person_id"] == "p-0"

    with store.store(settings.web_store_path) as con:
        store.insert_email_events(con, [{"provider_event_id": "u1", "provider": "test", "event": "unsubscribe",
                                         "email": "person1@example.com", "occurred_at": "2026-01-01T00:00:00Z"}])
    report = sync_audience(CAMPAIGN, members[:4], settings, suppressed, config=config)   # p-4 left the segment
    assert report.removed == 2 and list_emails(provider) == ["person0@example.com", "person2@example.com",
                                                             "person3@example.com"]
    sync_audience(CAMPAIGN, members[:4], settings, suppressed, config=config)
    assert list_emails(provider) == ["person0@example.com", "person2@example.com", "person3@example.com"]

    forget_people(settings, emails=["person3@example.com"], provider_config=config)      # erasure
    assert list_emails(provider) == ["person0@example.com", "person2@example.com"]


def test_a_wrong_key_is_a_clear_error(provider, settings):
    with pytest.raises(ProviderListError, match="401"):
        sync_audience(CAMPAIGN, audience(1), settings, config=ProviderListConfig(provider.root, "wrong"))
    assert httpx.get(f"{provider.root}/_sim/health").status_code == 200


def test_a_daily_sync_pushes_only_new_and_changed_contacts(provider, settings):
    config = ProviderListConfig(provider.root, SANDBOX_PROVIDER_KEY)
    sim = provider.app.state.sim

    def pushed() -> list[str]:  # addresses of every upsert request so far, in order
        return [c["email"] for r in sim.requests if r["method"] == "PUT" for c in json.loads(r["body"])["contacts"]]

    members = audience(5)
    assert sync_audience(CAMPAIGN, members, settings, config=config).upserted == 5
    again = sync_audience(CAMPAIGN, members, settings, config=config)
    assert again.upserted == 0 and len(pushed()) == 5
    members[2] = {**members[2], "city": "Leeds"}                                         # a changed contact
    daily = sync_audience(CAMPAIGN, audience(6)[5:] + members, settings, config=config)  # and a newcomer
    assert daily.upserted == 2 and pushed()[5:] == ["person5@example.com", "person2@example.com"]
    assert list_emails(provider) == [f"person{i}@example.com" for i in range(6)]
    assert sim.contacts[sim.by_email["person2@example.com"]]["city"] == "Leeds"
