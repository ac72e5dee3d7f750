"""Rows rejected at the boundary, with the reason, in `quarantine.rejected_rows` (contract §5).

Loaded by dlt (its own pipeline and dataset), so it works on any dlt destination, and merged on
(source, file_name, row_number, field) so quarantining the same file again never duplicates rows.
Rows reach dlt as Arrow tables (`rejected_rows_table`), so a file with a million bad rows is not
normalised row by row; `_dlt_id` is a digest of the key, the same whenever a row is quarantined again.
"""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

import dlt
import pyarrow as pa

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
ROWS_PER_TABLE = 50_000
ARROW_SCHEMA = pa.schema([
    pa.field("source", pa.string(), nullable=False), pa.field("file_name", pa.string(), nullable=False),
    pa.field("row_number", pa.int64(), nullable=False), pa.field("field", pa.string(), nullable=False),
    ("reason", pa.string()), ("raw_record", pa.string()), ("quarantined_at", pa.timestamp("us", tz="UTC")),
    pa.field("_dlt_id", pa.string(), nullable=False),
])


def _as_json(raw_record: Any) -> str:
    """The raw record as JSON text, readable as it was read; escaped where it cannot be stored as
    UTF-8 text (a lone surrogate), a note where it cannot be written at all (nested too deeply)."""
    try:
        text = json.dumps(raw_record, default=str, ensure_ascii=False)
    except (RecursionError, ValueError, TypeError):
        return json.dumps({"unwritable": "the raw record is nested too deeply to keep"})
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(raw_record, default=str)
    return text


def rejected_row(source: str, file_name: str, row_number: int, field: str, reason: str,
                 raw_record: Any) -> dict[str, Any]:
    """One quarantine row; `raw_record` is kept as JSON text exactly as read."""
    return {
        "source": source, "file_name": file_name, "row_number": int(row_number), "field": field,
        "reason": reason, "raw_record": _as_json(raw_record), "quarantined_at": datetime.now(timezone.utc),
    }


def _row_id(row: dict[str, Any]) -> str:
    key = "\x1f".join(str(row[k]) for k in KEY).encode("utf-8", "surrogatepass")
    return base64.b64encode(hashlib.blake2b(key, digest_size=10).digest()).decode("ascii")


def rejected_rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Quarantine rows (see `rejected_row`) as an Arrow table in ARROW_SCHEMA."""
    return pa.Table.from_pylist([{**row, "_dlt_id": _row_id(row)} for row in rows], schema=ARROW_SCHEMA)


def _tables(items: Iterable[dict[str, Any] | pa.Table]) -> Iterator[pa.Table]:
    pending: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, pa.Table):
            if item.num_rows:
                yield item
            continue
        pending.append(item)
        if len(pending) >= ROWS_PER_TABLE:
            yield rejected_rows_table(pending)
            pending = []
    if pending:
        yield rejected_rows_table(pending)


def quarantine(rows: Iterable[dict[str, Any] | pa.Table], settings: Settings | None = None) -> int:
    """Load quarantine rows (dicts from `rejected_row`, or tables from `rejected_rows_table`), streamed
    from any iterable; returns how many were written."""
    tables_ = _tables(rows)
    first = next(tables_, None)
    if first is None:
        return 0
    resource = dlt.resource(_chain(first, tables_), name=TABLE, write_disposition="merge", primary_key=KEY,
                            columns={k: dict(v) for k, v in COLUMNS.items()})
    counts = _runner.run(_runner.make_pipeline(PIPELINE_NAME, DATASET, settings), resource)
    return counts.get(TABLE, 0)


def _chain(first: pa.Table, rest: Iterator[pa.Table]) -> Iterator[pa.Table]:
    yield first
    yield from rest
