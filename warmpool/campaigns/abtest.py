"""A/B tests: variants of a campaign's subject and/or template, each person assigned one variant for
good, and a winner named only when the test says so.

- Assignment is a hash of (campaign id, person id): the same person always gets the same variant,
  whatever the order, size or run of the audience. ``test_share`` of the audience is in the test,
  split by the variants' weights; the rest waits and gets the winner once there is one (ledger
  variant ``rest:<winner>``) when ``send_winner_to_rest``.
- The metric (``clicks``, ``replies`` or ``applications``) is a proportion of each variant's sent
  messages. The best variant wins when every variant has at least ``min_sample`` messages and a
  two-sided two-proportion z-test of the best against the runner-up (pooled variance; scipy's normal
  distribution) gives p < ``alpha``. Before that: no winner, and the reason.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Iterable

from scipy.stats import norm

from warmpool import web_store
from warmpool.campaigns.config import Campaign
from warmpool.campaigns.sender import SendReport, open_ledger, send_campaign
from warmpool.config import Settings

REST_PREFIX = "rest:"


def bucket(campaign_id: str, person_id: str) -> float:
    """A stable number in [0, 1) for the person in this campaign."""
    digest = hashlib.sha256(f"{campaign_id}\x1f{person_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def assign(campaign: Campaign, person_id: str) -> str | None:
    """The person's variant, or None when they are outside the test (they wait for the winner)."""
    share = campaign.ab_test.test_share if campaign.ab_test else 1.0
    b = bucket(campaign.campaign_id, person_id)
    if b >= share:
        return None
    position, edge = b / share, 0.0
    for v in campaign.variants:
        edge += v.weight
        if position < edge:
            return v.name
    return campaign.variants[-1].name


@dataclass(frozen=True)
class VariantResult:
    variant: str
    sent: int
    successes: int

    @property
    def rate(self) -> float:
        return self.successes / self.sent if self.sent else 0.0


@dataclass(frozen=True)
class Decision:
    winner: str | None
    p_value: float | None
    reason: str
    results: tuple[VariantResult, ...] = ()

    def describe(self) -> str:
        rows = ", ".join(f"{r.variant}: {r.successes}/{r.sent} ({r.rate:.1%})" for r in self.results)
        return f"{rows}; " + (f"winner {self.winner} (p={self.p_value:.4f})" if self.winner else f"no winner: {self.reason}")


def two_proportion_p_value(s1: int, n1: int, s2: int, n2: int) -> float:
    """Two-sided p-value of the two-proportion z-test with pooled variance."""
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (s1 / n1 - s2 / n2) / se
    return float(2 * norm.sf(abs(z)))


def decide(results: Iterable[VariantResult], min_sample: int, alpha: float) -> Decision:
    ranked = tuple(sorted(results, key=lambda r: (-r.rate, r.variant)))
    short = [r.variant for r in ranked if r.sent < min_sample]
    if short:
        return Decision(None, None, f"below the minimum sample of {min_sample} messages: {', '.join(sorted(short))}",
                        ranked)
    best, runner_up = ranked[0], ranked[1]
    p = two_proportion_p_value(best.successes, best.sent, runner_up.successes, runner_up.sent)
    if best.rate == runner_up.rate or p >= alpha:
        return Decision(None, p, f"no significant difference (p={p:.4f} >= {alpha})", ranked)
    return Decision(best.variant, p, "", ranked)


def variant_results(campaign: Campaign, settings: Settings, applied_people: Iterable[str] = ()) -> list[VariantResult]:
    """Per test variant: messages accepted and those that led to the metric."""
    with open_ledger(settings) as ledger:
        rows = ledger.con.execute("select variant, person_id, message_id from sends where campaign_id = ? "
                                  "and state = 'accepted' and variant is not null and variant not like 'rest:%'",
                                  (campaign.campaign_id,)).fetchall()
        replied = ledger.replied(campaign.campaign_id)
    metric = campaign.ab_test.metric
    if metric == "clicks":
        with web_store.reader(settings.web_store_path) as con:
            clicked = set(web_store.message_ids_with_event(con, [r["message_id"] for r in rows], "click"))
        hit = lambda r: r["message_id"] in clicked  # noqa: E731
    elif metric == "replies":
        hit = lambda r: r["person_id"] in replied  # noqa: E731
    else:
        applied = set(applied_people)
        hit = lambda r: r["person_id"] in applied  # noqa: E731
    counts = {v.name: [0, 0] for v in campaign.variants}
    for r in rows:
        if r["variant"] in counts:
            counts[r["variant"]][0] += 1
            counts[r["variant"]][1] += bool(hit(r))
    return [VariantResult(name, sent, hits) for name, (sent, hits) in counts.items()]


@dataclass
class AbReport:
    campaign_id: str
    variants: dict[str, SendReport] = field(default_factory=dict)
    decision: Decision | None = None
    waiting_for_winner: int = 0

    @property
    def sent(self) -> int:
        return sum(r.sent for r in self.variants.values())

    def describe(self) -> str:
        parts = "; ".join(f"{name}: {r.describe()}" for name, r in self.variants.items())
        return (f"{self.campaign_id} A/B: {parts}; {self.decision.describe() if self.decision else ''}"
                + (f"; waiting for the winner {self.waiting_for_winner}" if self.waiting_for_winner else ""))

    def as_dict(self) -> dict:
        return {"variants": {k: r.as_dict() for k, r in self.variants.items()}, "sent": self.sent,
                "winner": self.decision.winner if self.decision else None,
                "p_value": self.decision.p_value if self.decision else None,
                "waiting_for_winner": self.waiting_for_winner}


def run_ab_test(campaign: Campaign, members: Iterable[dict], settings: Settings, *,
                applied_people: Iterable[str] = (), **send_options) -> AbReport:
    """Send each test member their variant, then decide; the rest get the winner once there is one."""
    report = AbReport(campaign.campaign_id)
    groups: dict[str | None, list[dict]] = {}
    for m in members:
        if m.get("person_id") not in (None, ""):
            groups.setdefault(assign(campaign, str(m["person_id"])), []).append(m)
    for v in campaign.variants:
        group = groups.get(v.name, [])
        report.variants[v.name] = send_campaign(campaign.for_variant(v.name), group, settings,
                                                variants={str(m["person_id"]): v.name for m in group}, **send_options)
    report.decision = decide(variant_results(campaign, settings, applied_people), campaign.ab_test.min_sample,
                             campaign.ab_test.alpha)
    rest = groups.get(None, [])
    if rest and report.decision.winner and campaign.ab_test.send_winner_to_rest:
        winner = report.decision.winner
        report.variants[REST_PREFIX + winner] = send_campaign(
            campaign.for_variant(winner), rest, settings,
            variants={str(m["person_id"]): REST_PREFIX + winner for m in rest}, **send_options)
    else:
        report.waiting_for_winner = len(rest)
    return report
