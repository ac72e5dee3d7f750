"""Retention: people kept longer than their period are erased (through ``erasure.erase``), never one
under a legal hold; held records whose hold ended are erased too.

Who is due on ``today`` (``PrivacyRules``):
- a person without marketing consent (any consent state but ``opted_in``) whose last *active*
  contact is more than ``no_consent_retention_days`` ago. Active: a source record's activity or
  update, an application's activity, a click on a mail; an open is not (CNIL), nor a mail sent;
- unless under hold: an application whose last action is less than ``applicant_hold_days`` ago
  (OFCCP / Title VII), or a running hold in the legal-hold store.
``--dry-run`` lists who would go and why, changing nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from warmpool import tables
from warmpool.config import Settings, get_settings
from warmpool.privacy.erasure import erase, finish_erasures
from warmpool.privacy.keys import PERSON, Keyer
from warmpool.privacy.registry import Store
from warmpool.privacy.rules import PrivacyRules
from warmpool.privacy.store import now_iso, privacy_store
from warmpool.warehouse import table_exists, warehouse


@dataclass(frozen=True)
class Decision:
    person_id: str
    consent_state: str | None
    last_active_at: dt.datetime | None
    reason: str


@dataclass
class RetentionReport:
    today: dt.date
    dry_run: bool
    due: list[Decision] = field(default_factory=list)
    held: list[Decision] = field(default_factory=list)
    erased: int = 0
    holds_released: int = 0

    def describe(self) -> str:
        verb = "would erase" if self.dry_run else "erased"
        lines = [f"retention on {self.today}: {verb} {len(self.due)} person(s); {len(self.held)} past their period "
                 f"kept under legal hold; {self.holds_released} held record(s) whose hold ended erased"]
        lines += [f"  {d.person_id}: {d.reason}" for d in self.due]
        lines += [f"  kept {d.person_id}: {d.reason}" for d in self.held]
        return "\n".join(lines)


_ACTIVITY_SQL = f"""
with activity as (
    select person_id, greatest(max(last_activity_at), max(updated_at)) as at
    from {tables.MARTS}.bridge_candidate_records group by 1
    union all
    select person_id, greatest(max(applied_at), max(last_activity_at)) from {tables.FCT_APPLICATIONS} group by 1
    union all
    select person_id, max(occurred_at) from {tables.MARTS}.fct_email_events where event_type = 'click' group by 1
), applications as (
    select person_id, max(greatest(applied_at, last_activity_at, rejected_at, hired_at)) as last_action_at
    from {tables.FCT_APPLICATIONS} group by 1
)
select c.person_id, c.consent_state, max(a.at) as last_active_at, max(p.last_action_at) as last_application_at
from {tables.DIM_CANDIDATES} c
left join activity a using (person_id)
left join applications p using (person_id)
group by 1, 2
order by 1
"""


def _date(value) -> dt.date | None:
    return None if value is None else (value.date() if hasattr(value, "date") else value)


def decide(rows, rules: PrivacyRules, today: dt.date, held_people: set[str]) -> tuple[list[Decision], list[Decision]]:
    """(due, kept under hold) from (person_id, consent_state, last_active_at, last_application_at) rows."""
    cutoff = today - dt.timedelta(days=rules.no_consent_retention_days)
    hold_cutoff = today - dt.timedelta(days=rules.applicant_hold_days)
    due, held = [], []
    for person_id, consent, last_active, last_application in rows:
        if consent == "opted_in":
            continue
        active = _date(last_active)
        if active is not None and active >= cutoff:
            continue
        why = (f"{consent or 'no consent'}; last active {active or 'never'}, "
               f"over {rules.no_consent_retention_days} days before {today}")
        application = _date(last_application)
        if application is not None and application >= hold_cutoff:
            held.append(Decision(person_id, consent, last_active,
                                 f"{why}; applicant record held until "
                                 f"{application + dt.timedelta(days=rules.applicant_hold_days)}"))
        elif person_id in held_people:
            held.append(Decision(person_id, consent, last_active, f"{why}; under a legal hold"))
        else:
            due.append(Decision(person_id, consent, last_active, why))
    return due, held


def run_retention(stores: Sequence[Store], settings: Settings | None = None, *, today: dt.date | None = None,
                  dry_run: bool = True, actor: str = "cli") -> RetentionReport:
    s = settings or get_settings()
    rules = PrivacyRules.from_settings(s)
    now = dt.datetime.now(dt.timezone.utc) if today is None else dt.datetime.combine(today, dt.time(12), dt.timezone.utc)
    today = now.date()
    report = RetentionReport(today, dry_run)
    rows = []
    if Path(s.warehouse_path).exists():
        with warehouse(s.warehouse_path, read_only=True) as con:
            if table_exists(con, tables.DIM_CANDIDATES) and table_exists(con, tables.FCT_APPLICATIONS):
                rows = con.execute(_ACTIVITY_SQL).fetchall()
    keyer = Keyer.from_settings(s)
    with privacy_store(s) as privacy:
        running = privacy.held_subjects(today.isoformat())
    held_people = {p for p, *_ in rows if keyer.key(PERSON, p) in running}
    report.due, report.held = decide(rows, rules, today, held_people)
    with privacy_store(s) as privacy:
        privacy.log_access(actor, "retention_dry_run" if dry_run else "retention", None,
                           {"due": len(report.due), "held": len(report.held)}, now_iso(now))
        if not dry_run:
            report.holds_released = privacy.release_expired(today.isoformat())
    if dry_run:
        return report
    for decision in report.due:
        erase(decision.person_id, stores, s, requested_via="retention", at=now, actor=actor, finish=False)
        report.erased += 1
    if report.erased:
        finish_erasures(s)
    return report
