"""The whole flow on a small sandbox world: every stage's counts agree with the generated world,
the audience mail really arrives at the SMTP server, and a second run loads and sends nothing twice.
"""
from __future__ import annotations

import csv
import json
import sqlite3
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from warmpool import tables
from warmpool.campaigns.audience import AUDIENCE_PRESETS
from warmpool.campaigns.config import load_campaigns
from warmpool.config import get_settings
from warmpool.warehouse import warehouse

pytestmark = pytest.mark.slow



@pytest.fixture
def e2e_home(pointed_at_pipeline_world):
    """The shared world that went once through the whole graph (tests/conftest.py)."""
    return pointed_at_pipeline_world.home


@pytest.fixture
def first_run(pointed_at_pipeline_world):
    return pointed_at_pipeline_world.first_run


def _count(sql: str) -> int:
    with warehouse(read_only=True) as con:
        return int(con.execute(sql).fetchone()[0])


def _world(home: Path) -> dict:
    return json.loads((home / "sandbox" / "truth" / "world.json").read_text())


def _truth(home: Path) -> list[dict]:
    with open(home / "sandbox" / "truth" / "source_record_person.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _mails(settings) -> list:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in sorted(Path(settings.mailbox_dir).glob("*.eml"))]


def test_ats_rows_arrive_once(e2e_home, first_run):
    for endpoint in ("candidates", "applications", "jobs", "users", "offers"):
        served = len(json.loads((e2e_home / "sandbox" / "ats" / f"{endpoint}.json").read_text()))
        assert _count(f"select count(*) from {tables.RAW_ATS}.{endpoint}") == served, endpoint


def test_every_source_record_gets_one_person(e2e_home, first_run):
    truth = _truth(e2e_home)
    quarantined = _count(f"select count(distinct source || file_name || row_number) from {tables.QUARANTINED_ROWS}") \
        if _count(f"select count(*) from information_schema.tables where table_schema='{tables.QUARANTINE}'") else 0
    records = _count(f"select count(*) from {tables.SOURCE_RECORDS}")
    assigned = _count(f"select count(*) from {tables.PERSON_ASSIGNMENTS}")
    assert records == assigned
    assert records + quarantined == len(truth)
    assert _count(f"select count(*) from (select source, source_record_id from {tables.PERSON_ASSIGNMENTS} "
                  f"group by all having count(distinct person_id) > 1)") == 0
    people = _count(f"select count(distinct person_id) from {tables.PERSON_ASSIGNMENTS}")
    # Matching is probabilistic; the pool is close to the world's real number of people.
    real = len({row["true_person_id"] for row in truth})
    assert 0.9 * real <= people <= 1.1 * real, (people, real)
    assert _count(f"select count(*) from {tables.DIM_CANDIDATES}") == people


def test_applications_reach_the_marts(e2e_home, first_run):
    world = _world(e2e_home)
    assert _count(f"select count(*) from {tables.FCT_APPLICATIONS}") == world["applications"]["total"]
    assert _count(f"select count(*) from {tables.FCT_APPLICATIONS} where person_id is null") == 0


def test_audience_files_and_mail_arrive(e2e_home, first_run):
    settings = get_settings()
    with warehouse(read_only=True) as con:
        audience = con.execute(f"select campaign_id, lower(email) from {tables.AUDIENCE_MEMBERS}").fetchall()
    assert audience, "the demo campaigns should select someone"
    by_campaign: dict[str, set[str]] = {}
    for campaign_id, email in audience:
        by_campaign.setdefault(campaign_id, set()).add(email)
    presets = {c.campaign_id: AUDIENCE_PRESETS[c.audience_preset] for c in load_campaigns()}
    for campaign_id, emails in by_campaign.items():
        with open(settings.audiences_dir / f"{campaign_id}.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        email_header = presets[campaign_id].headers[0]  # the address comes first in every preset
        assert {r[email_header].lower() for r in rows} == emails
    mails = _mails(settings)
    # frequency caps may defer a person who is in two audiences: never more mails than members
    recipients = [str(m["To"]).lower() for m in mails]
    assert len(recipients) == len(set(recipients)) or len(by_campaign) > 1
    assert 0 < len(mails) <= len(audience)
    assert set(recipients) <= {e for emails in by_campaign.values() for e in emails} | {
        f"<{e}>" for emails in by_campaign.values() for e in emails}
    for mail in mails:
        assert mail["List-Unsubscribe"] and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_second_run_loads_and_sends_nothing_twice(e2e_home, first_run, rerun_whole_graph):
    settings = get_settings()
    raw_counts = {t: _count(f"select count(*) from {t}") for t in (
        f"{tables.RAW_ATS}.candidates", f"{tables.RAW_ATS}.applications", f"{tables.RAW_VENDORS}.resumes",
        f"{tables.RAW_FORMS}.form_submissions", f"{tables.RAW_EMAIL}.email_events")}
    with warehouse(read_only=True) as con:
        ids_before = dict(con.execute(
            f"select source || ':' || source_record_id, person_id from {tables.PERSON_ASSIGNMENTS}").fetchall())
    mails_before = len(_mails(settings))

    assert rerun_whole_graph(e2e_home).success

    assert {t: _count(f"select count(*) from {t}") for t in raw_counts} == raw_counts
    with warehouse(read_only=True) as con:
        ids_after = dict(con.execute(
            f"select source || ':' || source_record_id, person_id from {tables.PERSON_ASSIGNMENTS}").fetchall())
    assert ids_after == ids_before
    assert len(_mails(settings)) == mails_before

    # The warehouse knows what was sent: per campaign, the report's sends are the ledger's.
    with sqlite3.connect(settings.campaign_ledger_path) as ledger:
        ledger_sent = dict(ledger.execute("select campaign_id, count(*) from sends where state = 'accepted' "
                                          "group by campaign_id").fetchall())
    with warehouse(read_only=True) as con:
        reported = dict(con.execute(f"select campaign_id, sum(sent) from {tables.CAMPAIGN_PERFORMANCE} "
                                    f"where is_configured_campaign group by campaign_id").fetchall())
    assert ledger_sent and all(n > 0 for n in ledger_sent.values())
    assert reported == ledger_sent
