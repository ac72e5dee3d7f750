"""The daily sending limit (``campaigns.daily_limit``) against the real loopback SMTP server, the clock
moved day by day: never more than the limit a UTC day across runs, campaigns, connections, processes
and crashes; the rest stays planned and goes out on later days, each member exactly once."""
from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import sqlite3
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.test_campaigns_cli import CAMPAIGN, home, run as cli  # noqa: F401
from tests.test_campaigns_send import (T0, audience, campaigns, clock_at, ledger_state, member, nurture,  # noqa: F401
                                       send, send_then_die, settings, smtp)
from warmpool import config
from warmpool.campaigns.ledger import MAILED_STATES, SendIntent, SendLedger
from warmpool.campaigns.operations import dry_run
from warmpool.config import CONFIG_DIR, CampaignSettingsError

DAY = dt.timedelta(days=1)
SALES = "invite-to-apply-sales"


def limited(settings, n):
    return dataclasses.replace(settings, raw={"campaigns": {"rate_per_second": 0, "daily_limit": n}})


def received(sink) -> Counter:
    return Counter(str(m["To"]).lower() for m in sink.parsed())


def sales_audience(n):
    return [member(f"s-{i}", f"seller{i}@example.com", job_family="sales", campaign_id=SALES) for i in range(n)]


def test_a_limit_below_the_audience_spreads_it_over_days_each_member_once(smtp, settings, nurture):
    sink, _ = smtp
    capped, members = limited(settings, 3), audience(8)

    first = send(nurture, members, capped, clock=clock_at(T0))
    assert (first.sent, first.deferred_by_daily_limit) == (3, 5), first.describe()
    assert len(sink.messages) == 3
    assert "deferred by daily limit 5" in first.describe() and "daily limit of 3 mails reached" in first.note
    assert first.as_dict()["deferred_by_daily_limit"] == 5  # what the Dagster asset's metadata carries
    # the members beyond the limit are not settled: planned, in the audience's order
    assert [ledger_state(capped, nurture, f"p-{i}")["state"] for i in range(8)] == ["accepted"] * 3 + ["planned"] * 5

    again = send(nurture, members, capped, clock=clock_at(T0 + dt.timedelta(hours=14)))  # 23:00, same UTC day
    assert (again.sent, again.deferred_by_daily_limit, again.skipped_already_sent) == (0, 5, 3), again.describe()
    assert len(sink.messages) == 3

    second_day = send(nurture, members, capped, clock=clock_at(T0 + DAY))
    assert (second_day.sent, second_day.deferred_by_daily_limit) == (3, 2), second_day.describe()
    assert [str(m["To"]) for m in sink.parsed()][3:] == ["person3@example.com", "person4@example.com",
                                                          "person5@example.com"]
    third_day = send(nurture, members, capped, clock=clock_at(T0 + 2 * DAY))
    assert (third_day.sent, third_day.deferred_by_daily_limit) == (2, 0), third_day.describe()
    assert "daily limit" not in third_day.note

    assert received(sink) == {m["email"]: 1 for m in members}
    assert send(nurture, members, capped, clock=clock_at(T0 + 3 * DAY)).sent == 0


def test_no_limit_when_absent_or_zero(smtp, settings, nurture):
    sink, _ = smtp
    report = send(nurture, audience(6), limited(settings, 0))
    assert (report.sent, report.deferred_by_daily_limit) == (6, 0) and "daily limit" not in report.note


def test_two_campaigns_in_one_day_share_the_limit(smtp, settings, nurture, campaigns):
    sink, _ = smtp
    capped, sales = limited(settings, 5), campaigns[SALES]
    engineers, sellers = audience(4), sales_audience(4)

    a = send(nurture, engineers, capped)
    b = send(sales, sellers, capped)
    assert (a.sent, a.deferred_by_daily_limit) == (4, 0), a.describe()
    assert (b.sent, b.deferred_by_daily_limit) == (1, 3), b.describe()
    assert len(sink.messages) == 5

    # the same run repeated that day: the day is full for both
    assert send(sales, sellers, capped, clock=clock_at(T0 + dt.timedelta(hours=1))).sent == 0
    next_day = send(sales, sellers, capped, clock=clock_at(T0 + DAY))
    assert (next_day.sent, next_day.deferred_by_daily_limit) == (3, 0), next_day.describe()
    assert received(sink) == {m["email"]: 1 for m in engineers + sellers}


def test_the_limit_holds_with_several_connections(smtp, settings, nurture):
    sink, _ = smtp
    capped, members = limited(settings, 7), audience(20)
    day = 0
    while True:
        report = send(nurture, members, capped, clock=clock_at(T0 + day * DAY), connections=4, batch_size=5)
        assert report.sent == min(7, 20 - 7 * day), report.describe()
        assert report.deferred_by_daily_limit == max(0, 20 - 7 * (day + 1))
        assert len(sink.messages) == min(20, 7 * (day + 1))
        day += 1
        if not report.deferred_by_daily_limit:
            break
    assert day == 3 and received(sink) == {m["email"]: 1 for m in members}


def test_two_sends_at_once_on_several_connections_never_pass_the_limit(smtp, settings, nurture, campaigns):
    """Two campaigns sent at the same moment from two threads, each with its own ledger connection and
    three SMTP connections: the ledger's write lock decides, so the day's total is exactly the limit."""
    sink, _ = smtp
    capped = limited(settings, 9)
    jobs = [(nurture, audience(15)), (campaigns[SALES], sales_audience(15))]
    # The ledger exists before they start, as in any deployment after its first send: two connections
    # creating a new SQLite file at the same instant can fail switching it to WAL ("database is locked").
    SendLedger(capped.campaign_ledger_path).close()
    go = threading.Barrier(len(jobs))  # both start together

    def run(job):
        go.wait()
        return send(*job, capped, connections=3, batch_size=4)

    with ThreadPoolExecutor(len(jobs)) as pool:
        reports = list(pool.map(run, jobs))  # an error in either thread is raised here
    assert len(sink.messages) == 9 and sum(r.sent for r in reports) == 9
    assert sum(r.deferred_by_daily_limit for r in reports) == 30 - 9, [r.describe() for r in reports]
    with SendLedger(capped.campaign_ledger_path) as ledger:
        assert ledger.mailed_on(T0) == 9


def test_an_ambiguous_row_counts_and_is_never_resent(smtp, settings, nurture):
    """A crash after the server took p-1's mail leaves its row ambiguous: it counts for the day's limit
    (it may have gone out) and is never resent; the others go out over the next days."""
    sink, _ = smtp
    capped, members = limited(settings, 3), audience(6)

    class Crash(Exception):
        pass

    def crash(step, info):
        if step == "accepted" and info["person_id"] == "p-1":
            raise Crash()

    with pytest.raises(Crash):
        send(nurture, members, capped, fault_hook=crash)
    assert ledger_state(capped, nurture, "p-1")["state"] == "ambiguous" and len(sink.messages) == 2

    rerun = send(nurture, members, capped, clock=clock_at(T0 + dt.timedelta(hours=1)))
    assert (rerun.sent, rerun.ambiguous, rerun.deferred_by_daily_limit) == (1, 1, 3), rerun.describe()
    assert len(sink.messages) == 3

    next_day = send(nurture, members, capped, clock=clock_at(T0 + DAY))
    assert (next_day.sent, next_day.deferred_by_daily_limit) == (3, 0), next_day.describe()
    assert received(sink) == {m["email"]: 1 for m in members}


def test_a_submitted_row_of_a_dead_process_counts(smtp, settings, nurture, tmp_path):
    """A process dies right after the server accepted p-1's mail: the row is still `submitted` (leased)
    when the same day's next run starts. It counts, so that run sends only what is left of the limit."""
    sink, port = smtp
    members = audience(5)
    proc = send_then_die(tmp_path, port, members, die_after_accepting="p-1", batch_size=3)
    assert proc.returncode == 137, proc.stderr
    assert ledger_state(settings, nurture, "p-1")["state"] == "submitted" and len(sink.messages) == 2

    # p-0 accepted and p-1 submitted count; p-2 is still claimed by the dead run (its lease runs), so
    # p-3 is the one the day has room for
    after = send(nurture, members, limited(settings, 3), clock=clock_at(T0 + dt.timedelta(minutes=1)))
    assert (after.sent, after.deferred_by_daily_limit, after.in_flight) == (1, 1, 2), after.describe()
    assert [str(m["To"]) for m in sink.parsed()] == ["person0@example.com", "person1@example.com",
                                                     "person3@example.com"]


@pytest.mark.parametrize("value", [-1, 2.5, "50000", True, [100]])
def test_a_bad_limit_stops_the_send_before_anything_is_planned(smtp, settings, nurture, value):
    sink, _ = smtp
    bad = dataclasses.replace(settings, raw={"campaigns": {"daily_limit": value}})
    with pytest.raises(CampaignSettingsError, match=r"campaigns\.daily_limit"):
        send(nurture, audience(2), bad)
    assert sink.messages == [] and not bad.campaign_ledger_path.exists()


def test_the_limit_is_read_from_the_configuration_file(tmp_path, monkeypatch):
    path = tmp_path / "warmpool.yaml"
    monkeypatch.setenv("WARMPOOL_CONFIG", str(path))
    path.write_text("campaigns:\n  daily_limit: 50000\n")
    assert config.get_settings().campaign_daily_limit == 50_000
    other = tmp_path / "other.yaml"  # settings are cached per file: another file for another value
    other.write_text("campaigns:\n  rate_per_second: 0\n")
    monkeypatch.setenv("WARMPOOL_CONFIG", str(other))
    assert config.get_settings().campaign_daily_limit == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("campaigns:\n  daily_limit: lots\n")
    monkeypatch.setenv("WARMPOOL_CONFIG", str(bad))
    with pytest.raises(CampaignSettingsError, match=r"campaigns\.daily_limit.*'lots'"):
        config.get_settings().campaign_daily_limit


def test_the_command_line_shows_the_deferral_and_refuses_a_bad_limit(home, smtp, tmp_path, monkeypatch):
    """`warmpool campaign send` with the limit set in a deployment's yaml (WARMPOOL_CONFIG): p-1 is
    unsubscribed (test_campaigns_cli's home), so a limit of 2 sends p-0 and p-2 and defers p-3."""
    sink, _ = smtp
    folder = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, folder)
    shipped = (folder / "warmpool.yaml").read_text()
    assert shipped.count("daily_limit: 0") == 1
    for name, value in (("bad.yaml", "lots"), ("limited.yaml", "2")):
        (folder / name).write_text(shipped.replace("daily_limit: 0", f"daily_limit: {value}"))

    monkeypatch.setenv("WARMPOOL_CONFIG", str(folder / "bad.yaml"))
    code, out = cli("campaign", "send", CAMPAIGN)
    assert code == 2 and "error: campaigns.daily_limit" in out and "'lots'" in out, out
    code, out = cli("campaign", "send", CAMPAIGN, "--dry-run")
    assert code == 2 and "error: campaigns.daily_limit" in out, out
    assert sink.messages == []

    monkeypatch.setenv("WARMPOOL_CONFIG", str(folder / "limited.yaml"))
    code, out = cli("campaign", "send", CAMPAIGN, "--dry-run")  # says beforehand what the send then does
    outcomes = {line.split()[1]: line.split()[0] for line in out.splitlines() if line.split()[1:2] and
                line.split()[1].startswith("p-")}
    assert code == 0 and outcomes == {"p-0": "send", "p-1": "suppressed", "p-2": "send", "p-3": "deferred"}, out
    assert "daily limit of 2 mails (campaigns.daily_limit), 0 already mailed" in out, out
    assert sink.messages == []
    code, out = cli("campaign", "send", CAMPAIGN)
    assert code == 0 and "sent 2," in out and "deferred by daily limit 1," in out, out
    assert sorted(str(m["To"]) for m in sink.parsed()) == ["person0@example.com", "person2@example.com"]


def test_a_dry_run_defers_who_the_days_remaining_room_cannot_take(smtp, settings, nurture, campaigns):
    """Another campaign already used 3 of the day's 4 mails: the dry run says one member goes today and
    which one, the rest later; the send then mails exactly that member."""
    sink, _ = smtp
    capped = limited(settings, 4)
    send(campaigns[SALES], sales_audience(3), capped)
    members = audience(6)
    lines = dry_run(nurture, members, capped, now=T0 + dt.timedelta(hours=2))
    assert [(line.person_id, line.outcome) for line in lines] == [("p-0", "send")] + [
        (f"p-{i}", "deferred") for i in range(1, 6)]
    assert "3 already mailed on 2026-03-02 (UTC)" in lines[1].detail
    report = send(nurture, members, capped, clock=clock_at(T0 + dt.timedelta(hours=2)))
    assert (report.sent, report.deferred_by_daily_limit) == (1, 5)
    assert str(sink.parsed()[-1]["To"]) == "person0@example.com"
    # the next day has the whole limit again: four go, one waits
    lines = dry_run(nurture, members, capped, now=T0 + DAY)
    assert Counter(line.outcome for line in lines) == {"already_sent": 1, "send": 4, "deferred": 1}


def _counted(path, day) -> int:
    """The day's mailed rows counted straight from the sends table: what the triggers' tally must equal."""
    with sqlite3.connect(path) as con:
        mailed = ", ".join(repr(s) for s in MAILED_STATES)
        return con.execute(f"select count(*) from sends where substr(submitted_at, 1, 10) = ? and state in ({mailed})",
                           (day.strftime("%Y-%m-%d"),)).fetchone()[0]


def test_the_day_tally_follows_every_change_of_a_row(tmp_path):
    """The limit reads a tally the ledger's triggers keep; after every kind of change (accepted, 5xx,
    4xx released, ambiguous, reconciled, forgotten, a row of another day) it equals the rows themselves,
    and a ledger written before the tally existed gets it filled from its rows when opened."""
    path, hour = tmp_path / "ledger.sqlite", dt.timedelta(hours=1)
    pids = [f"p-{i}" for i in range(6)]
    with SendLedger(path, pseudonym_key="k" * 32) as ledger:
        ledger.plan("c", "v", [(p, f"{p}@x.example", f"{p}@x.example", None) for p in pids], T0)
        assert ledger.claim("c", "v", pids, "me", T0 + 2 * DAY) == pids
        intents = [SendIntent(p, f"{p}@x.example", f"{p}@x.example", f"<{p}@x.example>", None) for p in pids]
        assert ledger.begin_sends("c", "v", "me", intents[:5], T0, T0 + 2 * DAY, daily_limit=10) == ["ok"] * 5
        assert ledger.mailed_on(T0) == _counted(path, T0) == 5
        ledger.finish("c", "p-0", "v", "accepted", T0 + hour, message_id="<p-0@x.example>")
        ledger.finish("c", "p-1", "v", "failed", T0 + hour, message_id="<p-1@x.example>")  # 5xx: not mailed
        ledger.release("c", "p-2", "v", "me", error="421 try later")  # 4xx: planned again, not mailed
        ledger.finish("c", "p-3", "v", "ambiguous", T0 + hour, message_id="<p-3@x.example>")
        assert ledger.mailed_on(T0) == _counted(path, T0) == 3  # p-0, p-3 and p-4 (still submitted)
        assert ledger.reconcile("c", "v", ["p-3@x.example"], T0 + hour) == 1
        assert ledger.forget(["p-0"]) == 1
        assert ledger.mailed_on(T0) == _counted(path, T0) == 3
        # the limit: one more today, p-5 refused and planned again; it goes out the next day
        assert ledger.begin_sends("c", "v", "me", [intents[5]], T0 + hour, T0 + 2 * DAY, daily_limit=3) == ["limited"]
        assert ledger.row("c", "p-5", "v")["state"] == "planned"
        assert ledger.claim("c", "v", ["p-5"], "me", T0 + 2 * DAY) == ["p-5"]
        assert ledger.begin_sends("c", "v", "me", [intents[5]], T0 + DAY, T0 + 2 * DAY, daily_limit=3) == ["ok"]
        assert ledger.mailed_on(T0 + DAY) == _counted(path, T0 + DAY) == 1
        assert ledger.mailed_on(T0) == 3

    with sqlite3.connect(path) as con:  # a ledger as the version before the limit left it
        for trigger in ("insert", "update", "delete"):
            con.execute(f"drop trigger mailed_per_day_{trigger}")
        con.execute("drop table mailed_per_day")
    with SendLedger(path) as ledger:
        assert (ledger.mailed_on(T0), ledger.mailed_on(T0 + DAY), ledger.mailed_on(T0 + 2 * DAY)) == (3, 1, 0)
