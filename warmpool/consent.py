"""The consent and suppression rules: one model, applied by the warehouse and at send time.

A person's consent state follows from the events on their addresses (every address of every record
of the person, compared by ``warmpool.emails.canonical_email``):

- **opted in**: a talent-network sign-up with the marketing box ticked whose double opt-in was
  confirmed; **pending**: ticked, not confirmed (never marketed to).
- **suppressed** (the earliest fact gives the reason; ties go by reason name):
  ``unsubscribe`` — a provider or web unsubscribe, or the address's latest preference-centre change
  opting out of everything; ``complaint``; ``hard_bounce`` — a bounce not reported as soft (an
  unknown type counts as hard: suppressing too much is the safe side); ``soft_bounce`` — at least
  ``soft_bounce_limit`` soft bounces since the address was last reached (a delivery, open or click),
  the first and the last at least ``soft_bounce_span_days`` apart; ``erasure`` — an erasure request.
- the state: ``suppressed``, else ``opted_in``, else ``pending_double_opt_in``, else ``no_consent``.

The warehouse applies these rules in ``int_candidate_consent_events`` (the events, with the
suppression each one causes) and ``int_candidate_consent`` (the state, derived from those events
only); the campaign sender applies them through the functions below to the web store's live
events. The thresholds are defined once, in the dbt seed ``consent_rules.csv``, which both read.
tests/test_consent_model.py runs one table of cases (tests/fixtures/consent_cases.csv) through both
and requires the same answer for every person.

Plain functions, no I/O except reading the rules file.
"""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from warmpool.config import DBT_PROJECT_DIR
from warmpool.emails import canonical_email

# One definition of each threshold, read by dbt (as a seed: `ref('consent_rules')`) and by Python.
RULES_FILE = DBT_PROJECT_DIR / "seeds" / "consent_rules.csv"

REQUESTED, CONFIRMED = "requested", "confirmed"
UNSUBSCRIBED, COMPLAINED, HARD_BOUNCED, SOFT_BOUNCED, REACHED = (
    "unsubscribed", "complained", "hard_bounced", "soft_bounced", "reached")
OPTED_OUT, PREFERENCES_SAVED, ERASURE_REQUESTED = "opted_out", "preferences_saved", "erasure_requested"

# The suppression reason each event causes by itself (opt-outs and soft bounces depend on others).
_REASONS = {UNSUBSCRIBED: "unsubscribe", COMPLAINED: "complaint", HARD_BOUNCED: "hard_bounce",
            ERASURE_REQUESTED: "erasure"}
_EMAIL_EVENTS = {"unsubscribe": UNSUBSCRIBED, "complaint": COMPLAINED, "delivered": REACHED, "open": REACHED,
                 "click": REACHED}


@dataclass(frozen=True)
class ConsentRules:
    soft_bounce_limit: int
    soft_bounce_span: dt.timedelta


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> ConsentRules:
    with open(path, encoding="utf-8", newline="") as fh:
        row = next(csv.DictReader(fh))
    return ConsentRules(soft_bounce_limit=int(row["soft_bounce_limit"]),
                        soft_bounce_span=dt.timedelta(days=int(row["soft_bounce_span_days"])))


@dataclass(frozen=True)
class ConsentEvent:
    kind: str                      # one of the constants above
    email: str | None              # the address as recorded
    occurred_at: dt.datetime       # aware UTC
    order: int = 0                 # the store's sequence: orders preference changes made at the same instant
    submission_id: int | None = None  # sign-ups and their confirmations


@dataclass(frozen=True)
class Suppression:
    reason: str
    at: dt.datetime

    def sort_key(self) -> tuple:
        return self.at, self.reason


@dataclass(frozen=True)
class ConsentState:
    state: str                     # suppressed | opted_in | pending_double_opt_in | no_consent
    has_confirmed_opt_in: bool
    has_pending_opt_in: bool
    suppression: Suppression | None

    @property
    def is_suppressed(self) -> bool:
        return self.suppression is not None

    @property
    def suppression_reason(self) -> str | None:
        return self.suppression.reason if self.suppression else None


def suppressions_by_address(events: Iterable[ConsentEvent], rules: ConsentRules) -> dict[str, Suppression]:
    """The earliest suppression of each canonical address that has one."""
    found: dict[str, list[Suppression]] = {}
    latest_preference: dict[str, ConsentEvent] = {}
    reached: dict[str, dt.datetime] = {}
    soft: dict[str, list[dt.datetime]] = {}
    for ev in events:
        key = canonical_email(ev.email)
        if key is None:
            continue
        if ev.kind in _REASONS:
            found.setdefault(key, []).append(Suppression(_REASONS[ev.kind], ev.occurred_at))
        elif ev.kind in (OPTED_OUT, PREFERENCES_SAVED):
            last = latest_preference.get(key)
            if last is None or (ev.occurred_at, ev.order) > (last.occurred_at, last.order):
                latest_preference[key] = ev
        elif ev.kind == REACHED:
            reached[key] = max(ev.occurred_at, reached.get(key, ev.occurred_at))
        elif ev.kind == SOFT_BOUNCED:
            soft.setdefault(key, []).append(ev.occurred_at)
    for key, ev in latest_preference.items():
        if ev.kind == OPTED_OUT:
            found.setdefault(key, []).append(Suppression("unsubscribe", ev.occurred_at))
    for key, times in soft.items():
        since = sorted(t for t in times if key not in reached or t > reached[key])
        if len(since) >= rules.soft_bounce_limit and since[-1] - since[0] >= rules.soft_bounce_span:
            found.setdefault(key, []).append(Suppression("soft_bounce", since[-1]))
    return {key: min(options, key=Suppression.sort_key) for key, options in found.items()}


def consent_state(events: Iterable[ConsentEvent], rules: ConsentRules) -> ConsentState:
    """One person's state from the events on all of their addresses."""
    events = list(events)
    suppression = min(suppressions_by_address(events, rules).values(), key=Suppression.sort_key, default=None)
    sign_ups = {ev.submission_id for ev in events if ev.kind == REQUESTED}
    confirmed = sign_ups & {ev.submission_id for ev in events if ev.kind == CONFIRMED}
    if suppression is not None:
        state = "suppressed"
    elif confirmed:
        state = "opted_in"
    elif sign_ups:
        state = "pending_double_opt_in"
    else:
        state = "no_consent"
    return ConsentState(state, bool(confirmed), bool(sign_ups - confirmed), suppression)


def events_from_store(rows: Mapping[str, list[dict[str, Any]]]) -> list[ConsentEvent]:
    """Consent events from the web store's rows (``warmpool.web_store.consent_rows``)."""
    out: list[ConsentEvent] = []

    def add(kind: str, email: Any, at: Any, order: int = 0, submission_id: int | None = None) -> None:
        when = parse_time(at)
        if when is not None:
            out.append(ConsentEvent(kind, email, when, order, submission_id))

    emails_by_submission = {}
    for r in rows.get("form_submissions", []):
        if r.get("form") == "talent_network" and r.get("consent_marketing"):
            emails_by_submission[r["submission_id"]] = r.get("email")
            add(REQUESTED, r.get("email"), r.get("submitted_at"), submission_id=r["submission_id"])
            if r.get("confirmed_at"):
                add(CONFIRMED, r.get("email"), r.get("confirmed_at"), submission_id=r["submission_id"])
    for r in rows.get("consent_confirmations", []):
        if r.get("submission_id") in emails_by_submission:
            add(CONFIRMED, emails_by_submission[r["submission_id"]], r.get("confirmed_at"),
                submission_id=r["submission_id"])
    for r in rows.get("preference_changes", []):
        add(OPTED_OUT if r.get("unsubscribed_all") else PREFERENCES_SAVED, r.get("email"), r.get("changed_at"),
            order=int(r.get("change_seq") or 0))
    for r in rows.get("erasure_requests", []):
        add(ERASURE_REQUESTED, r.get("email"), r.get("requested_at"))
    for r in rows.get("email_events", []):
        if r.get("event") == "bounce":
            kind = SOFT_BOUNCED if (r.get("bounce_type") or "hard").strip().lower() == "soft" else HARD_BOUNCED
        else:
            kind = _EMAIL_EVENTS.get(r.get("event") or "")
        if kind:
            add(kind, r.get("email"), r.get("occurred_at"))
    return out


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO-8601 timestamp as aware UTC (naive = UTC); None when absent or unreadable."""
    if isinstance(value, dt.datetime):
        t = value
    else:
        try:
            t = dt.datetime.fromisoformat(str(value).strip())
        except (TypeError, ValueError):
            return None
    return t.astimezone(dt.timezone.utc) if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
