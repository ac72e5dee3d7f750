"""What a marketer asks of one campaign, as plain functions (the CLI and Dagster call them): its
audience today, a preview of the real message for a real member, a dry run (who would get what, who
is suppressed and why), its status (ledger counts, pause), and pause / resume.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from warmpool import tables
from warmpool.campaigns.config import Campaign
from warmpool.campaigns.guard import totals
from warmpool.campaigns.ledger import MAILED_STATES
from warmpool.campaigns.message import BuiltMessage, build_message
from warmpool.campaigns.sender import SendReport, WebStoreSuppression, open_ledger, send_campaign
from warmpool.campaigns.abtest import AbReport, assign, run_ab_test
from warmpool.campaigns.sequence import (SequenceReport, applied_after, first_sent_times, run_sequence, warehouse_stops,
                                         where_each_member_is)
from warmpool.config import Settings
from warmpool.emails import InvalidEmail, normalize_email
from warmpool.warehouse import table_exists


class CampaignNotFound(LookupError):
    pass


def find_campaign(campaigns: list[Campaign], campaign_id: str) -> Campaign:
    for campaign in campaigns:
        if campaign.campaign_id == campaign_id:
            return campaign
    raise CampaignNotFound(f"unknown campaign {campaign_id!r} (known: {', '.join(c.campaign_id for c in campaigns)})")


def audience(con, campaign_id: str) -> list[dict]:
    """The campaign's members today (``marts.audience_members``), in person-id order; [] before any build."""
    if not table_exists(con, tables.AUDIENCE_MEMBERS):
        return []
    cur = con.execute(f"select * from {tables.AUDIENCE_MEMBERS} where campaign_id = ? order by person_id",
                      [campaign_id])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def preview(campaign: Campaign, members: list[dict], settings: Settings, person_id: str | None = None,
            now: dt.datetime | None = None) -> BuiltMessage:
    """The message the member (the first one unless ``person_id`` is given) would receive now."""
    member = next((m for m in members if person_id is None or m["person_id"] == person_id), None)
    if member is None:
        raise CampaignNotFound(f"{person_id!r} is not in the audience of {campaign.campaign_id}" if person_id
                               else f"the audience of {campaign.campaign_id} is empty")
    return build_message(campaign, member, settings.smtp, to_addr=normalize_email(member["email"]),
                         now=now or dt.datetime.now(dt.timezone.utc))


def send_now(campaign: Campaign, members: list[dict], settings: Settings, con=None,
             **options) -> SendReport | SequenceReport | AbReport:
    """Send what is due now: the one-off mail, or each member's next step of a sequence (stops read
    from the warehouse connection ``con`` when given). ``options`` go to the sender."""
    if campaign.is_sequence:
        stops = warehouse_stops(con, campaign, first_sent_times(settings, campaign)) if con is not None else {}
        return run_sequence(campaign, members, settings, stops=stops, **options)
    if campaign.variants:
        applied = applied_after(con, first_sent_times(settings, campaign)) if con is not None else set()
        return run_ab_test(campaign, members, settings, applied_people=applied, **options)
    return send_campaign(campaign, members, settings, **options)


@dataclass(frozen=True)
class DryRunLine:
    person_id: str
    email: str | None
    outcome: str            # send | deferred | suppressed | already_sent | invalid_address | paused | ...
    detail: str = ""


def dry_run(campaign: Campaign, members: list[dict], settings: Settings, con=None,
            now: dt.datetime | None = None) -> list[DryRunLine]:
    """Who would get what if the campaign were sent now (a sequence: which step; an A/B test: which
    variant), and who is suppressed, stopped or waiting, and why; nothing is written anywhere. Under a
    daily limit (``campaigns.daily_limit``) the members past what is left of the day's room are
    ``deferred``, in the order a send takes them (sequence steps and A/B variants in theirs, each
    group in audience order); other campaigns sent later the same day share that room."""
    now = now or dt.datetime.now(dt.timezone.utc)
    daily_limit = settings.campaign_daily_limit  # a bad value stops the dry run as it stops a send
    suppression = WebStoreSuppression(settings.web_store_path) if Path(settings.web_store_path).exists() else None
    with open_ledger(settings) as ledger:
        mailed_today = ledger.mailed_on(now) if daily_limit else 0
        paused = ledger.paused(campaign.campaign_id)
        mailed = {(r[0], r[1]) for r in ledger.con.execute(
            f"select person_id, content_version from sends where campaign_id = ? "
            f"and state in ({','.join(repr(s) for s in (*MAILED_STATES, 'duplicate'))})", (campaign.campaign_id,))}
    if campaign.is_sequence:
        stops = warehouse_stops(con, campaign, first_sent_times(settings, campaign)) if con is not None else {}
        plan = {str(m["person_id"]): where for m, where in where_each_member_is(campaign, members, settings, stops, now)}
    lines = []
    sendable: list[tuple[int, int]] = []  # (group a send takes it in, line index) of each "send" line
    for m in members:
        pid = str(m["person_id"])
        what, group = campaign, 0
        if campaign.is_sequence:
            where, detail = plan.get(pid, ("stopped", "no person id"))
            if where != "due":
                lines.append(DryRunLine(pid, m.get("email"), where, "" if detail is None else
                                        (f"step {detail} not due yet" if where == "waiting" else str(detail))))
                continue
            what, group = campaign.for_step(detail), int(detail)
        elif campaign.variants:
            variant = assign(campaign, pid)
            if variant is None:
                lines.append(DryRunLine(pid, m.get("email"), "waiting", "outside the A/B test: gets the winner"))
                continue
            what, group = campaign.for_variant(variant), [v.name for v in campaign.variants].index(variant)
        try:
            address = normalize_email(m.get("email"))
        except InvalidEmail as exc:
            lines.append(DryRunLine(pid, m.get("email"), "invalid_address", str(exc)))
            continue
        others = [k for k in (m.get("person_email_keys") or "").split(";") if k]
        found = suppression.suppression(address, others) if suppression else None
        topics_refused = suppression is not None and found is None and suppression(address, campaign.kind, others)
        if (pid, what.content_version) in mailed:
            lines.append(DryRunLine(pid, address, "already_sent", f"version {what.content_version}"))
        elif found is not None:
            lines.append(DryRunLine(pid, address, "suppressed", f"{found.reason} since {found.at:%Y-%m-%d}"))
        elif topics_refused:
            lines.append(DryRunLine(pid, address, "suppressed", f"preference centre: not {campaign.kind} mail"))
        elif paused:
            lines.append(DryRunLine(pid, address, "paused", paused["paused_reason"]))
        else:
            sendable.append((group, len(lines)))
            lines.append(DryRunLine(pid, address, "send", f"subject {what.subject!r}, template {what.template}"))
    if daily_limit:
        room = max(0, daily_limit - mailed_today)
        why = (f"daily limit of {daily_limit:,} mails (campaigns.daily_limit), {mailed_today:,} already mailed on "
               f"{now.astimezone(dt.timezone.utc):%Y-%m-%d} (UTC): goes out on a later day")
        for _, i in sorted(sendable)[room:]:
            lines[i] = DryRunLine(lines[i].person_id, lines[i].email, "deferred", why)
    return lines


@dataclass
class CampaignStatus:
    campaign_id: str
    content_version: str
    audience: int
    states: dict[str, int] = field(default_factory=dict)   # ledger rows per state, every version
    paused: dict | None = None

    def describe(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.states.items())) or "nothing sent yet"
        pause = (f"PAUSED since {self.paused['paused_at']} by {self.paused['paused_by']}: {self.paused['paused_reason']}"
                 if self.paused else "running")
        return (f"{self.campaign_id} (version {self.content_version}): {pause}\n"
                f"  audience today: {self.audience}\n  ledger: {counts}")


def status(campaign: Campaign, members: list[dict], settings: Settings) -> CampaignStatus:
    with open_ledger(settings) as ledger:
        return CampaignStatus(campaign.campaign_id, campaign.content_version, len(members),
                              ledger.counts(campaign.campaign_id), ledger.paused(campaign.campaign_id))


def pause(campaign: Campaign, settings: Settings, by: str, reason: str) -> None:
    with open_ledger(settings) as ledger:
        ledger.pause(campaign.campaign_id, by, reason, dt.datetime.now(dt.timezone.utc))


def resume(campaign: Campaign, settings: Settings) -> bool:
    """Lift the pause; the reputation guard then measures what is sent from now on."""
    with open_ledger(settings) as ledger:
        return ledger.resume(campaign.campaign_id, guard_baseline=totals(ledger, campaign.campaign_id, settings))
