"""Web store (SQLite) → `raw_forms` and `raw_email`, incrementally by each table's increasing key.

Every table is read with the key greater than the last one loaded (`dlt.sources.incremental`) and
merged on that key, so a re-run loads nothing twice. One pipeline per dataset (`raw_forms`,
`raw_email`): a dlt pipeline loads into one dataset.

A double opt-in confirmation updates an *old* `form_submissions` row, which a reader keyed on
`submission_id` never sees again: `raw_forms.consent_confirmations` (append-only, its own key) is
the authoritative record of confirmation; `form_submissions.confirmed_at` is as of the load.
`erasure_requests` (append-only, one per address) lands in `raw_forms.erasure_requests`, which
`int_candidate_consent` reads to suppress the whole person.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import dlt

from pipelines import _runner
from warmpool import tables
from warmpool.config import Settings
from warmpool import web_store as store

PAGE = 10_000


class StoreTable(NamedTuple):
    name: str
    columns: tuple[str, ...] = ()
    counters: tuple[str, ...] = ()  # integer columns besides the key

    @property
    def key(self) -> str:
        return store.INCREMENTAL_KEYS[self.name]


FORMS = (
    StoreTable("form_submissions", store.FORM_COLUMNS, ("consent_marketing",)),
    StoreTable("consent_confirmations", ("submission_id", "token_nonce", "confirmed_at", "ip", "user_agent"),
               ("submission_id",)),
    StoreTable("preference_changes", ("email", "person_id", "campaign_id", "topics", "frequency",
                                      "unsubscribed_all", "changed_at", "source", "ip", "user_agent"),
               ("unsubscribed_all",)),
    StoreTable("erasure_requests", store.ERASURE_COLUMNS),
)
EMAIL = (
    StoreTable("email_events", store.EVENT_COLUMNS, ("is_machine_open",)),
)
PIPELINES = {tables.RAW_FORMS: ("warmpool_forms", FORMS), tables.RAW_EMAIL: ("warmpool_email", EMAIL)}


def _columns(t: StoreTable) -> dict[str, dict]:
    # Declared so that a column null in every row still exists; ISO text `*_at` columns as timestamps.
    def hint(c: str) -> dict:
        if c in t.counters:
            return {"data_type": "bigint"}
        return {"data_type": "timestamp" if c.endswith("_at") else "text"}
    return {t.key: {"data_type": "bigint", "nullable": False}, **{c: hint(c) for c in t.columns}}


def _store_resource(path: Path, t: StoreTable):
    @dlt.resource(name=t.name, primary_key=t.key, write_disposition="merge", columns=_columns(t))
    def rows(cursor=dlt.sources.incremental(t.key, initial_value=0)):
        if not path.exists():  # no web store yet: nothing to load (never create one here)
            return
        after = cursor.last_value or 0
        with store.store(path) as con:
            while page := store.read_after(con, t.name, after, PAGE):
                yield page
                after = page[-1][t.key]
    return rows


@dlt.source(name="web_store")
def web_store(path: Path, family: tuple[StoreTable, ...]):
    return [_store_resource(Path(path), t) for t in family]


def forms_source(settings: Settings | None = None):
    """A fresh source over the talent-network / referral forms and consent tables."""
    return web_store(_runner.resolve(settings).web_store_path, FORMS)


def email_source(settings: Settings | None = None):
    """A fresh source over the email provider events."""
    return web_store(_runner.resolve(settings).web_store_path, EMAIL)


def run_web_store(settings: Settings | None = None) -> dict[str, int]:
    """Load new web-store rows into `raw_forms` and `raw_email`; rows loaded per table."""
    s = _runner.resolve(settings)
    counts: dict[str, int] = {}
    for dataset, source in ((tables.RAW_FORMS, forms_source(s)), (tables.RAW_EMAIL, email_source(s))):
        name, family = PIPELINES[dataset]
        counts.update(_runner.run(_runner.make_pipeline(name, dataset, s), source,
                                  expected_tables=[t.name for t in family]))
    return counts
