"""Send ledger (SQLite) → `raw_sends.sends`, incrementally by the ledger's change number.

Rows and columns come from the ledger's owner (`warmpool/campaigns/ledger.py`, `changed_after`):
the warehouse gets each row's campaign, person, version, variant, sequence step, state, Message-ID and
times, never the address. Rows are merged on `ledger_row_id`, which stays the same when a row changes
state or when erasure replaces its person id by a keyed hash, so a re-run loads nothing twice and an
erased person's id disappears from the warehouse with the next load.
"""
from __future__ import annotations

import dlt

from pipelines import _runner
from warmpool import tables
from warmpool.campaigns.ledger import SendLedger
from warmpool.config import Settings
from warmpool.warehouse import open_warehouse, table_exists, warehouse_exists

PAGE = 10_000
PIPELINE = "warmpool_send_ledger"
_TEXT = {"data_type": "text"}
COLUMNS = {"ledger_row_id": {"data_type": "bigint", "nullable": False}, "change_seq": {"data_type": "bigint"},
           "campaign_id": _TEXT, "person_id": _TEXT, "content_version": _TEXT, "variant": _TEXT,
           "sequence_step": {"data_type": "bigint"}, "state": _TEXT, "message_id": _TEXT,
           "planned_at": {"data_type": "timestamp"}, "submitted_at": {"data_type": "timestamp"},
           "finished_at": {"data_type": "timestamp"}, "attempts": {"data_type": "bigint"}}
assert tuple(COLUMNS) == SendLedger.WAREHOUSE_COLUMNS  # the ledger owns the column list; this only types it


@dlt.source(name="send_ledger")
def send_ledger_source(settings: Settings):
    path = settings.campaign_ledger_path

    @dlt.resource(name="sends", primary_key="ledger_row_id", write_disposition="merge", columns=COLUMNS)
    def sends(cursor=dlt.sources.incremental("change_seq", initial_value=0)):
        if not path.exists():  # nothing sent yet (never create a ledger here)
            return
        after = cursor.last_value or 0
        with SendLedger(path) as ledger:
            while page := ledger.changed_after(after, PAGE):
                yield page
                after = page[-1]["change_seq"]
    return [sends]


def run_send_ledger(settings: Settings | None = None) -> dict[str, int]:
    """Load ledger rows changed since the last load into `raw_sends.sends`; rows loaded."""
    s = _runner.resolve(settings)
    pipeline = _runner.make_pipeline(PIPELINE, tables.RAW_SENDS, s)
    if not pipeline.has_pending_data and not _changed_since_load(s):
        return {"sends": 0}  # a dlt run that finds nothing still costs seconds (state, schema, a load package)
    return _runner.run(pipeline, send_ledger_source(s), expected_tables=["sends"])


def _changed_since_load(settings: Settings) -> bool:
    """Whether the ledger holds a change the warehouse has not: its newest change number beyond the
    newest loaded one (every row loaded carries the change number it was loaded at)."""
    if not settings.campaign_ledger_path.exists():
        return False
    with SendLedger(settings.campaign_ledger_path) as ledger:
        newest = ledger.last_change()
    if newest is None or not warehouse_exists(settings):
        return newest is not None
    with open_warehouse(settings, read_only=True) as con:
        if not table_exists(con, tables.LEDGER_SENDS):
            return True
        loaded = con.execute(f"select max(change_seq) from {tables.LEDGER_SENDS}").fetchall()[0][0]
    return loaded is None or newest > loaded
