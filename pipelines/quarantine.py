"""Rows rejected at the boundary, with the reason, in `quarantine.rejected_rows` (contract §5).

Loaded by dlt (its own pipeline and dataset), so it works on any dlt destination, and merged on
(source, file_name, row_number, field) so quarantining the same file again never duplicates rows.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable

import dlt

from pipelines import _runner
from warmpool import tables
from warmpool.config import Settings

PIPELINE_NAME = "warmpool_quarantine"
DATASET, TABLE = tables.QUARANTINED_ROWS.split(".")
KEY = ("source", "file_name", "row_number", "field")

COLUMNS = {
    "source": {"data_type": "text", "nullable": False},
    "file_name": {"data_type": "text", "nullable": False},
    "row_number": {"data_type": "bigint", "nullable": False},
    "field": {"data_type": "text", "nullable": False},
    "reason": {"data_type": "text"},
    "raw_record": {"data_type": "text"},
    "quarantined_at": {"data_type": "timestamp"},
}


def rejected_row(source: str, file_name: str, row_number: int, field: str, reason: str,
                 raw_record: Any) -> dict[str, Any]:
    """One quarantine row; `raw_record` is kept as JSON text exactly as read."""
    return {
        "source": source, "file_name": file_name, "row_number": int(row_number), "field": field,
        "reason": reason, "raw_record": json.dumps(raw_record, default=str, ensure_ascii=False),
        "quarantined_at": datetime.now(timezone.utc),
    }


def quarantine(rows: Iterable[dict[str, Any]], settings: Settings | None = None) -> int:
    """Load quarantine rows (see `rejected_row`); returns how many were written."""
    rows = list(rows)
    if not rows:
        return 0
    resource = dlt.resource(rows, name=TABLE, write_disposition="merge", primary_key=KEY,
                            columns={k: dict(v) for k, v in COLUMNS.items()})
    counts = _runner.run(_runner.make_pipeline(PIPELINE_NAME, DATASET, settings), resource)
    return counts.get(TABLE, 0)
