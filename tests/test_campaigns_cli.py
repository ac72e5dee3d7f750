"""`warmpool campaign list | preview | send [--dry-run] | status | pause | resume` on a real warehouse
file, the real web store and the real loopback SMTP server."""
from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.test_campaigns_send import audience, smtp  # noqa: F401
from warmpool import web_store as store
from warmpool.config import get_settings

CAMPAIGN = "tn-engineering-nurture"


@pytest.fixture
def home(warmpool_home, smtp, monkeypatch):
    _, port = smtp
    monkeypatch.setenv("WARMPOOL_SMTP_PORT", str(port))
    members = audience(4)
    with duckdb.connect(str(warmpool_home / "warehouse.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.audience_members (campaign_id varchar, person_id varchar, email varchar, "
                    "first_name varchar, last_name varchar, city varchar, country varchar, job_family varchar, "
                    "inclusion_reason varchar, person_email_keys varchar)")
        con.executemany("insert into marts.audience_members values (?,?,?,?,?,?,?,?,?,?)",
                        [[m["campaign_id"], m["person_id"], m["email"], m["first_name"], m["last_name"], m["city"],
                          m["country"], m["job_family"], m["inclusion_reason"], None] for m in members])
    with store.store(get_settings().web_store_path) as con:
        store.insert_email_events(con, [{"provider_event_id": "e1", "provider": "test", "event": "unsubscribe",
                                         "email": "person1@example.com", "occurred_at": "2026-01-01T00:00:00Z"}])
    return warmpool_home


def run(*args):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_preview_renders_the_real_message_for_a_real_member(home, smtp):
    sink, _ = smtp
    code, out = run("campaign", "preview", CAMPAIGN, "--person", "p-2", "--output", str(home / "p.eml"))
    assert code == 0, out
    assert "To: person2@example.com" in out and "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in out
    assert "Name2" in out and (home / "p.eml").read_bytes().startswith(b"From:")
    assert sink.messages == []  # a preview sends nothing
    code, out = run("campaign", "preview", CAMPAIGN, "--person", "nobody")
    assert code == 2 and "not in the audience" in out


def test_dry_run_says_who_gets_what_and_who_is_suppressed_and_why_then_send_and_status(home, smtp):
    sink, _ = smtp
    code, out = run("campaign", "send", CAMPAIGN, "--dry-run")
    assert code == 0, out
    lines = {line.split()[1]: line.split()[0] for line in out.splitlines() if not line.startswith("total")}
    assert lines == {"p-0": "send", "p-1": "suppressed", "p-2": "send", "p-3": "send"}
    assert "p-1  person1@example.com  unsubscribe since 2026-01-01" in out and "total: send 3, suppressed 1" in out
    assert sink.messages == []

    code, out = run("campaign", "send", CAMPAIGN)
    assert code == 0 and "sent 3" in out and "suppressed 1" in out
    assert len(sink.messages) == 3
    code, out = run("campaign", "send", CAMPAIGN, "--dry-run")
    assert "already_sent" in out and "total: already_sent 3, suppressed 1" in out

    code, out = run("campaign", "status", CAMPAIGN)
    assert code == 0 and "running" in out and "accepted 3" in out and "suppressed 1" in out
    code, out = run("campaign", "list")
    assert code == 0 and f"{CAMPAIGN}  [nurture]" in out and "audience=4  sent=3" in out


def test_a_paused_campaign_sends_nothing_until_resumed(home, smtp):
    sink, _ = smtp
    assert run("campaign", "pause", CAMPAIGN, "--reason", "checking the copy")[0] == 0
    code, out = run("campaign", "send", CAMPAIGN)
    assert code == 0 and "sent 0" in out and "paused" in out and sink.messages == []
    assert "PAUSED" in run("campaign", "status", CAMPAIGN)[1]
    assert "resumed" in run("campaign", "resume", CAMPAIGN)[1]
    assert "sent 3" in run("campaign", "send", CAMPAIGN)[1]


def test_an_unknown_campaign_is_a_clean_error(home):
    code, out = run("campaign", "status", "nope")
    assert code == 2 and "unknown campaign 'nope'" in out
