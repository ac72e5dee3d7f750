"""Drip sequences: steps with waits, sent one step at a time per person, stopping people on reply,
application, hire, unsubscribe, bounce or an active hiring process.

Each run, for every member of the campaign's audience today, the next step is due when the previous
one went out at least ``wait_days`` ago (step 1: at once, so people who join the segment later start
at step 1). Due people of each step go through the ordinary sender (``send_campaign``) with that
step's subject, template and content version, recorded with ``sequence_step`` on the ledger rows:
exactly-once, send-time suppression, the frequency cap and crash safety are the sender's. Which step
a person is at is read from the ledger, so a crashed run re-run sends nobody a step twice, and one
run moves a person by one step at most.

Stops: ``replied`` from the ledger's replies (matched by In-Reply-To / References,
``SendLedger.record_reply``); ``applied``, ``hired`` and ``in_process`` from the warehouse
(``warehouse_stops``: an application after the person's first step, a hire, an active application);
``unsubscribed`` and ``bounced`` (and complaints, erasure) from the send-time suppression check.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from warmpool import tables
from warmpool.campaigns.config import Campaign
from warmpool.campaigns.ledger import iso
from warmpool.campaigns.sender import SendReport, open_ledger, send_campaign
from warmpool.config import Settings
from warmpool.warehouse import table_exists


@dataclass
class SequenceReport:
    campaign_id: str
    steps: dict[int, SendReport] = field(default_factory=dict)
    stopped: dict[str, int] = field(default_factory=dict)      # stop reason -> people
    waiting: int = 0                                            # next step not due yet
    finished: int = 0                                           # got the last step

    @property
    def sent(self) -> int:
        return sum(r.sent for r in self.steps.values())

    def describe(self) -> str:
        steps = "; ".join(f"step {n}: {r.describe()}" for n, r in sorted(self.steps.items())) or "no step due"
        stops = ", ".join(f"{k} {v}" for k, v in sorted(self.stopped.items())) or "none"
        return f"{self.campaign_id} sequence: {steps}; stopped: {stops}; waiting {self.waiting}; finished {self.finished}"

    def as_dict(self) -> dict:
        return {"steps": {n: r.as_dict() for n, r in self.steps.items()}, "stopped": self.stopped,
                "waiting": self.waiting, "finished": self.finished, "sent": self.sent}


def _applications(con) -> list[tuple[str, str, str | None]]:
    """(person_id, status, applied_at as ISO UTC) of every non-prospect application in the marts."""
    if not table_exists(con, tables.FCT_APPLICATIONS):
        return []
    rows = con.execute(f"select person_id, status, applied_at from {tables.FCT_APPLICATIONS} "
                       f"where person_id is not null and not coalesce(is_prospect, false)").fetchall()
    return [(pid, status, iso(at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)) if at else None)
            for pid, status, at in rows]


def applied_after(con, sent_at: Mapping[str, str]) -> set[str]:
    """People who applied on or after the time given for them (person_id -> ISO UTC)."""
    return {pid for pid, _, at in _applications(con) if pid in sent_at and at is not None and at >= sent_at[pid]}


def warehouse_stops(con, campaign: Campaign, first_sent: Mapping[str, str]) -> dict[str, str]:
    """person_id -> stop reason from the marts: ``hired``, ``in_process`` (an active application),
    ``applied`` (an application on or after the person's first step). ``first_sent``: person_id ->
    ISO time step 1 was submitted."""
    stops: dict[str, str] = {}
    for pid, status, _ in _applications(con):
        if status == "hired" and "hired" in campaign.stop_on:
            stops[pid] = "hired"
        elif status == "active" and "in_process" in campaign.stop_on:
            stops.setdefault(pid, "in_process")
    if "applied" in campaign.stop_on:
        for pid in applied_after(con, first_sent):
            stops.setdefault(pid, "applied")
    return stops


def first_sent_times(settings: Settings, campaign: Campaign) -> dict[str, str]:
    """person_id -> when the campaign (a sequence: its step 1) was first submitted to them (ISO UTC)."""
    with open_ledger(settings) as ledger:
        return {r[0]: r[1] for r in ledger.con.execute(
            "select person_id, min(submitted_at) from sends where campaign_id = ? and submitted_at is not null "
            "group by person_id", (campaign.campaign_id,)).fetchall()}


def where_each_member_is(campaign: Campaign, members: Iterable[dict], settings: Settings,
                         stops: Mapping[str, str] | None, now: dt.datetime) -> list[tuple[dict, tuple[str, object]]]:
    """Per member: ("due", step number), ("stopped", reason), ("waiting", next step) or ("finished", None)."""
    with open_ledger(settings) as ledger:
        at_step = ledger.steps_sent(campaign.campaign_id)
        open_rows = ledger.steps_open(campaign.campaign_id)
        replied = ledger.replied(campaign.campaign_id) if "replied" in campaign.stop_on else set()
    outside = dict(stops or {})
    out = []
    for member in members:
        if member.get("person_id") in (None, ""):
            continue
        pid = str(member["person_id"])
        reason = "replied" if pid in replied else outside.get(pid)
        step, sent_at = at_step.get(pid, (0, None))
        if reason:
            where = ("stopped", reason)
        elif pid in open_rows and step == 0:
            where = ("due", 1)  # step 1 planned but not settled: the sender resumes it
        elif step >= len(campaign.steps):
            where = ("finished", None)
        elif pid in open_rows:  # a later step planned but not settled (deferred, retried): resume that one
            where = ("due", step + 1)
        elif step == 0 or (sent_at is not None
                           and iso(now - dt.timedelta(days=campaign.steps[step].wait_days)) >= sent_at):
            where = ("due", step + 1)
        else:
            where = ("waiting", step + 1)
        out.append((member, where))
    return out


def run_sequence(campaign: Campaign, members: Iterable[dict], settings: Settings, *,
                 stops: Mapping[str, str] | None = None, clock: Callable[[], dt.datetime] | None = None,
                 **send_options) -> SequenceReport:
    """Send every member the step now due to them (at most one per run); ``stops``: person_id -> reason
    from outside the ledger (``warehouse_stops``). ``send_options`` go to ``send_campaign``."""
    if not campaign.is_sequence:
        raise ValueError(f"{campaign.campaign_id} is not a sequence")
    clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
    now = clock()
    report = SequenceReport(campaign.campaign_id)
    due: dict[int, list[dict]] = {}
    for member, (where, detail) in where_each_member_is(campaign, members, settings, stops, now):
        if where == "due":
            due.setdefault(detail, []).append(member)
        elif where == "stopped":
            report.stopped[detail] = report.stopped.get(detail, 0) + 1
        elif where == "finished":
            report.finished += 1
        else:
            report.waiting += 1
    for number in sorted(due):
        report.steps[number] = send_campaign(campaign.for_step(number), due[number], settings, clock=clock,
                                             sequence_step=number, **send_options)
    return report
