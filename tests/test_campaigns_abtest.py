"""A/B tests on the real loopback SMTP server: stable assignment, each variant's subject, and a winner
reported only past the minimum sample and a significant two-proportion z-test; then the rest get it."""
from __future__ import annotations

import shutil
from collections import Counter

import pytest

from tests.test_campaigns_send import T0, member, settings, smtp  # noqa: F401
from warmpool import web_store as store
from warmpool.campaigns.abtest import REST_PREFIX, VariantResult, assign, decide, run_ab_test, two_proportion_p_value
from warmpool.campaigns.config import CAMPAIGNS_DIR, CampaignConfigError, load_campaign_file


def ab_campaign(tmp_path, min_sample=30, test_share=0.5, extra=""):
    folder = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS_DIR / "templates", folder / "templates", dirs_exist_ok=True)
    path = folder / "ab.yaml"
    path.write_text(f"""
campaign_id: ab
name: Subject line test
kind: nurture
segment: engineering-and-data
subject: "What's new"
template: whats_new
starts_at: 2025-01-01T00:00:00Z
frequency_cap_days: 0
variants:
  - {{name: plain, subject: "What's new at Warmpool"}}
  - {{name: curious, subject: "Guess who is hiring?"}}
ab_test: {{metric: clicks, min_sample: {min_sample}, alpha: 0.05, test_share: {test_share}}}
{extra}""")
    return load_campaign_file(path)


def people(n):
    return [member(f"p-{i}", f"person{i}@example.com", campaign_id="ab") for i in range(n)]


def test_assignment_is_stable_and_follows_the_split(tmp_path):
    campaign = ab_campaign(tmp_path, test_share=1.0)
    first = {f"p-{i}": assign(campaign, f"p-{i}") for i in range(4000)}
    again = {pid: assign(campaign, pid) for pid in reversed(list(first))}
    assert first == again
    counts = Counter(first.values())
    assert abs(counts["plain"] - 2000) < 150 and abs(counts["curious"] - 2000) < 150
    half = ab_campaign(tmp_path, test_share=0.5)
    assert abs(sum(assign(half, f"p-{i}") is None for i in range(4000)) - 2000) < 150


def test_the_z_test_and_the_minimum_sample():
    assert two_proportion_p_value(30, 100, 10, 100) == pytest.approx(0.000407, rel=0.01)  # z = 3.54
    assert decide([VariantResult("a", 29, 20), VariantResult("b", 100, 1)], 30, 0.05).winner is None
    close = decide([VariantResult("a", 100, 12), VariantResult("b", 100, 10)], 30, 0.05)
    assert close.winner is None and "no significant difference" in close.reason
    assert decide([VariantResult("a", 100, 30), VariantResult("b", 100, 10)], 30, 0.05).winner == "a"


def test_a_test_names_the_winner_only_past_the_minimum_sample_then_mails_the_rest(smtp, settings, tmp_path):
    sink, _ = smtp
    campaign = ab_campaign(tmp_path, min_sample=30)
    audience = people(160)
    first = run_ab_test(campaign, audience, settings, suppressed=None, clock=lambda: T0)
    in_test = {pid for pid in (m["person_id"] for m in audience) if assign(campaign, pid)}
    assert first.sent == len(in_test) and first.decision.winner is None and first.waiting_for_winner > 0
    by_subject = Counter(str(m["Subject"]) for m in sink.parsed())
    assert set(by_subject) == {"What's new at Warmpool", "Guess who is hiring?"}

    # Clicks arrive (tracking events carry the Message-ID): "curious" does far better.
    events = []
    for n, mail in enumerate(sink.parsed()):
        curious = str(mail["Subject"]) == "Guess who is hiring?"
        if (curious and n % 2 == 0) or (not curious and n % 10 == 0):
            events.append({"provider_event_id": f"c{n}", "provider": "warmpool-web", "event": "click",
                           "email": str(mail["To"]), "campaign_id": "ab", "message_id": mail["Message-ID"],
                           "occurred_at": "2026-03-03T00:00:00Z", "url": "https://jobs.example"})
    with store.store(settings.web_store_path) as con:
        store.insert_email_events(con, events)

    small = ab_campaign(tmp_path, min_sample=1000)  # the same test with a larger minimum: still no winner
    assert run_ab_test(small, audience, settings, suppressed=None, clock=lambda: T0).decision.winner is None

    second = run_ab_test(campaign, audience, settings, suppressed=None, clock=lambda: T0)
    assert second.decision.winner == "curious" and second.decision.p_value < 0.05
    rest = second.variants[REST_PREFIX + "curious"]
    assert rest.sent == 160 - len(in_test) and second.waiting_for_winner == 0
    assert len(sink.messages) == 160                                   # everyone once, nobody twice
    assert Counter(str(m["To"]) for m in sink.parsed()).most_common(1)[0][1] == 1
    third = run_ab_test(campaign, audience, settings, suppressed=None, clock=lambda: T0)
    assert third.sent == 0


def test_invalid_variants_name_the_key(tmp_path):
    path = ab_campaign(tmp_path).source_file
    path.write_text(path.read_text().replace("metric: clicks", "metric: opens"))
    with pytest.raises(CampaignConfigError) as err:
        load_campaign_file(path)
    assert err.value.key == "ab_test.metric"
