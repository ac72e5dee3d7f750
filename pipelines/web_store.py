"""Web store (SQLite) → `raw_forms` and `raw_email`, incrementally by each table's increasing key.

Rows, keys and columns come from the store's owner, `warmpool/web_store.py` (its incremental reader
and its schema): this module holds no SQL and no column list of its own. Every table is read with
the key greater than the last one loaded (`dlt.sources.incremental`) and merged on that key, so a
re-run loads nothing twice. One pipeline per dataset (`raw_forms`,
`raw_email`): a dlt pipeline loads into one dataset.

A double opt-in confirmation updates an *old* `form_submissions` row, which a reader keyed on
`submission_id` never sees again: `raw_forms.consent_confirmations` (append-only, its own key) is
the authoritative record of confirmation; `form_submissions.confirmed_at` is as of the load.
`erasure_requests` (append-only, one per address) lands in `raw_forms.erasure_requests`, which
`int_candidate_consent` reads to suppress the whole person.
"""
from __future__ import annotations

from pathlib import Path

import dlt

from pipelines import _runner
from warmpool import tables
from warmpool import web_store as store
from warmpool.config import Settings

PAGE = 10_000

FORMS = ("form_submissions", "consent_confirmations", "preference_changes", "erasure_requests")
EMAIL = ("email_events",)
PIPELINES = {tables.RAW_FORMS: ("warmpool_forms", FORMS), tables.RAW_EMAIL: ("warmpool_email", EMAIL)}


def _columns(table: str) -> dict[str, dict]:
    """dlt column hints from the store's own schema, so a column null in every row still exists:
    INTEGER columns as bigint, ISO text `*_at` columns as timestamps, the rest text."""
    key = store.INCREMENTAL_KEYS[table]

    def hint(name: str, declared: str) -> dict:
        if name == key:
            return {"data_type": "bigint", "nullable": False}
        if declared == "INTEGER":
            return {"data_type": "bigint"}
        return {"data_type": "timestamp" if name.endswith("_at") else "text"}
    return {name: hint(name, declared) for name, declared in store.table_columns(table).items()}


def _store_resource(path: Path, table: str):
    key = store.INCREMENTAL_KEYS[table]

    @dlt.resource(name=table, primary_key=key, write_disposition="merge", columns=_columns(table))
    def rows(cursor=dlt.sources.incremental(key, initial_value=0)):
        if not path.exists():  # no web store yet: nothing to load (never create one here)
            return
        after = cursor.last_value or 0
        with store.store(path) as con:
            while page := store.read_after(con, table, after, PAGE):
                yield page
                after = page[-1][key]
    return rows


@dlt.source(name="web_store")
def web_store_source(path: Path, family: tuple[str, ...]):
    return [_store_resource(Path(path), table) for table in family]


def forms_source(settings: Settings | None = None):
    """A fresh source over the talent-network / referral forms and consent tables."""
    return web_store_source(_runner.resolve(settings).web_store_path, FORMS)


def email_source(settings: Settings | None = None):
    """A fresh source over the email provider events."""
    return web_store_source(_runner.resolve(settings).web_store_path, EMAIL)


def run_web_store(settings: Settings | None = None) -> dict[str, int]:
    """Load new web-store rows into `raw_forms` and `raw_email`; rows loaded per table."""
    s = _runner.resolve(settings)
    counts: dict[str, int] = {}
    for dataset, source in ((tables.RAW_FORMS, forms_source(s)), (tables.RAW_EMAIL, email_source(s))):
        name, family = PIPELINES[dataset]
        counts.update(_runner.run(_runner.make_pipeline(name, dataset, s), source, expected_tables=list(family)))
    return counts
