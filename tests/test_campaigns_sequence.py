"""Drip sequences over simulated weeks (an injected clock) against the real loopback SMTP server:
each step once, waits honoured, stops on reply / application / unsubscribe, late joiners start at
step 1, and a crash mid-sequence followed by a re-run sends nothing twice."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from tests.test_campaigns_send import T0, member, settings, smtp  # noqa: F401
from warmpool import web_store as store
from warmpool.campaigns.config import CAMPAIGNS_DIR, CampaignConfigError, load_campaign_file
from warmpool.campaigns.operations import dry_run
from warmpool.campaigns.sequence import run_sequence
from warmpool.campaigns.sender import open_ledger

DAY = dt.timedelta(days=1)
SUBJECTS = ("Welcome to the talent community", "Roles picked for you", "Still interested?")


@pytest.fixture
def drip(tmp_path):
    folder = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS_DIR / "templates", folder / "templates")
    path = folder / "drip.yaml"
    path.write_text(f"""
campaign_id: drip
name: Welcome sequence
kind: nurture
segment: engineering-and-data
starts_at: 2025-01-01T00:00:00Z
frequency_cap_days: 3
sequence:
  - {{subject: "{SUBJECTS[0]}", template: whats_new}}
  - {{subject: "{SUBJECTS[1]}", template: invite_to_apply, wait_days: 7}}
  - {{subject: "{SUBJECTS[2]}", template: whats_new, wait_days: 7}}
""")
    return load_campaign_file(path)


def people(*numbers):
    return [member(f"p-{n}", f"person{n}@example.com", campaign_id="drip") for n in numbers]


def received(sink) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in sink.parsed():
        out.setdefault(str(m["To"]), []).append(str(m["Subject"]))
    return out


def week(settings, drip, members, at, **kw):
    return run_sequence(drip, members, settings, clock=lambda: at, **kw)


def test_a_sequence_over_weeks_sends_each_step_once_and_stops_people(smtp, settings, drip):
    sink, _ = smtp
    r = week(settings, drip, people(0, 1, 2, 3), T0)
    assert r.steps[1].sent == 4 and set(r.steps) == {1}

    r = week(settings, drip, people(0, 1, 2, 3), T0 + 3 * DAY)   # nothing is due before the wait
    assert r.sent == 0 and r.waiting == 4

    # Week 1: p-0 replied to its mail, p-1 applied, p-2 unsubscribed; p-4 joined the segment.
    first_mail_to_p0 = next(m for m in sink.parsed() if str(m["To"]) == "person0@example.com")
    with open_ledger(settings) as ledger:
        assert ledger.record_reply([first_mail_to_p0["Message-ID"]], T0 + 5 * DAY) == ("drip", "p-0")
        assert ledger.record_reply(["<unknown@elsewhere>"], T0 + 5 * DAY) is None
    with store.store(settings.web_store_path) as con:
        store.insert_email_events(con, [{"provider_event_id": "u2", "provider": "test", "event": "unsubscribe",
                                         "email": "person2@example.com", "occurred_at": "2026-03-08T00:00:00Z"}])
    preview = {line.person_id: (line.outcome, line.detail)
               for line in dry_run(drip, people(0, 1, 2, 3, 4), settings, now=T0 + 7 * DAY)}
    assert preview["p-0"] == ("stopped", "replied") and preview["p-2"][0] == "suppressed"
    assert preview["p-3"] == ("send", f"subject {SUBJECTS[1]!r}, template invite_to_apply")
    assert preview["p-4"] == ("send", f"subject {SUBJECTS[0]!r}, template whats_new")
    assert dry_run(drip, people(3), settings, now=T0 + 2 * DAY)[0].outcome == "waiting"
    r = week(settings, drip, people(0, 1, 2, 3, 4), T0 + 7 * DAY, stops={"p-1": "applied"})
    assert r.stopped == {"replied": 1, "applied": 1}
    assert r.steps[2].sent == 1 and r.steps[2].suppressed == 1   # p-3 gets step 2; p-2 is suppressed
    assert r.steps[1].sent == 1                                   # the late joiner starts at step 1

    r = week(settings, drip, people(0, 1, 2, 3, 4), T0 + 14 * DAY, stops={"p-1": "applied"})
    assert r.steps[3].sent == 1 and r.steps[2].sent == 1          # p-3 step 3, p-4 step 2
    week(settings, drip, people(0, 1, 2, 3, 4), T0 + 21 * DAY, stops={"p-1": "applied"})
    r = week(settings, drip, people(0, 1, 2, 3, 4), T0 + 60 * DAY, stops={"p-1": "applied"})
    assert r.sent == 0 and r.finished == 2

    mails = received(sink)
    assert mails["person0@example.com"] == [SUBJECTS[0]]
    assert mails["person1@example.com"] == [SUBJECTS[0]]
    assert mails["person2@example.com"] == [SUBJECTS[0]]
    assert mails["person3@example.com"] == list(SUBJECTS)
    assert mails["person4@example.com"] == list(SUBJECTS)
    with open_ledger(settings) as ledger:
        steps = ledger.con.execute("select person_id, sequence_step, count(*) from sends where state = 'accepted' "
                                   "group by 1, 2 having count(*) > 1").fetchall()
    assert steps == []


def test_a_crash_mid_sequence_then_a_rerun_sends_nothing_twice(smtp, settings, drip):
    sink, _ = smtp
    week(settings, drip, people(0, 1, 2), T0)

    def crash(step, info):  # the relay accepted p-1's step 2, then the process dies before recording it
        if step == "accepted" and info["person_id"] == "p-1":
            raise KeyboardInterrupt("power cut")
    with pytest.raises(KeyboardInterrupt):
        week(settings, drip, people(0, 1, 2), T0 + 7 * DAY, fault_hook=crash)
    for at in (T0 + 7 * DAY, T0 + 8 * DAY, T0 + 15 * DAY):  # re-runs, then the next week
        week(settings, drip, people(0, 1, 2), at)

    mails = received(sink)
    for n in range(3):
        assert mails[f"person{n}@example.com"].count(SUBJECTS[1]) == 1, mails
        assert mails[f"person{n}@example.com"].count(SUBJECTS[0]) == 1
    # p-1's step 2 is ambiguous (never resent blindly), so p-1 waits there; the others move on
    assert mails["person0@example.com"] == list(SUBJECTS) and mails["person2@example.com"] == list(SUBJECTS)


def test_a_sequence_file_is_validated(tmp_path, drip):
    path = Path(drip.source_file)
    path.write_text(path.read_text().replace("invite_to_apply, wait_days: 7", "invite_to_apply, wait_days: 0"))
    with pytest.raises(CampaignConfigError) as err:
        load_campaign_file(path)
    assert err.value.key == "sequence[1].wait_days"
