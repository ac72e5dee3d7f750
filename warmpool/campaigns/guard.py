"""The reputation guard: a campaign whose bounce or complaint rate crosses its threshold is paused
(``SendLedger.pause``, by ``reputation_guard``) and stays paused until someone runs
``warmpool campaign resume NAME``.

Defaults follow the Gmail / Yahoo bulk-sender guidance (docs/campaigns.md): keep the spam complaint
rate below 0.1% (never reach 0.3%); providers review an account at about 5% bounces, so a sender
pauses itself well before that, at 2%. Rates are over the messages the relay accepted from Warmpool
(the ledger), counted only from ``min_sent`` messages on so one early bounce does not stop a campaign.
Bounces and complaints come from the provider's events in the web store (webhooks).
Thresholds: ``campaigns.reputation_guard`` in config/warmpool.yaml. An explicit resume starts the
count again from that moment (the figures that tripped the guard were looked at by a person).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

from warmpool import web_store
from warmpool.campaigns.ledger import SendLedger
from warmpool.config import Settings

GUARD = "reputation_guard"
DEFAULTS = {"max_bounce_rate": 0.02, "max_complaint_rate": 0.001, "min_sent": 100}


@dataclass(frozen=True)
class Thresholds:
    max_bounce_rate: float = DEFAULTS["max_bounce_rate"]
    max_complaint_rate: float = DEFAULTS["max_complaint_rate"]
    min_sent: int = DEFAULTS["min_sent"]

    @classmethod
    def from_settings(cls, settings: Settings) -> "Thresholds":
        raw = ((settings.raw or {}).get("campaigns") or {}).get("reputation_guard") or {}
        unknown = set(raw) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"campaigns.reputation_guard: unknown key {sorted(unknown)[0]!r} "
                             f"(allowed: {', '.join(DEFAULTS)})")
        return cls(**{k: type(DEFAULTS[k])(v) for k, v in raw.items()})


@dataclass(frozen=True)
class Reputation:
    campaign_id: str
    sent: int
    bounced: int
    complained: int
    paused_now: bool = False       # this check paused the campaign
    reason: str = ""               # why it is (or would be) paused; "" when within the thresholds

    @property
    def bounce_rate(self) -> float:
        return self.bounced / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complained / self.sent if self.sent else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "bounce_rate": round(self.bounce_rate, 5), "complaint_rate": round(self.complaint_rate, 5)}


def verdict(sent: int, bounced: int, complained: int, t: Thresholds) -> str:
    """Why these figures must pause a campaign ("" when they need not)."""
    if sent < t.min_sent:
        return ""
    if complained / sent >= t.max_complaint_rate:
        return (f"complaint rate {complained / sent:.2%} ({complained} of {sent}) reached the threshold "
                f"{t.max_complaint_rate:.2%}")
    if bounced / sent >= t.max_bounce_rate:
        return f"bounce rate {bounced / sent:.2%} ({bounced} of {sent}) reached the threshold {t.max_bounce_rate:.2%}"
    return ""


def totals(ledger: SendLedger, campaign_id: str, settings: Settings) -> tuple[int, int, int]:
    """(messages accepted, bounced, complained about) of the campaign so far."""
    sent = ledger.counts(campaign_id).get("accepted", 0)
    counts: dict[str, int] = {}
    if Path(settings.web_store_path).exists():
        with web_store.reader(settings.web_store_path) as con:
            counts = web_store.messages_with_event(con, campaign_id, ("bounce", "complaint"))
    return sent, counts.get("bounce", 0), counts.get("complaint", 0)


def check_reputation(ledger: SendLedger, campaign_id: str, settings: Settings, now: dt.datetime | None = None,
                     thresholds: Thresholds | None = None) -> Reputation:
    """Measure the campaign's rates and pause it when they cross a threshold."""
    t = thresholds or Thresholds.from_settings(settings)
    sent, bounced, complained = totals(ledger, campaign_id, settings)
    since = ledger.guard_baseline(campaign_id)  # after an explicit resume, only what happened since counts
    sent, bounced, complained = (max(0, now_ - then) for now_, then in zip((sent, bounced, complained), since))
    reason = verdict(sent, bounced, complained, t)
    paused_now = False
    if reason and not ledger.paused(campaign_id):
        ledger.pause(campaign_id, GUARD, reason, now or dt.datetime.now(dt.timezone.utc))
        paused_now = True
    return Reputation(campaign_id, sent, bounced, complained, paused_now, reason)
