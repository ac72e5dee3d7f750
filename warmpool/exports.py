"""Read-only parquet copies of the marts, for dashboards and notebooks.

Readers never open the warehouse file, so a pipeline run can always take its write lock.
Files are written beside the old ones and renamed into place, so a reader never sees half a file.
Each file carries the names of its personal columns in its key-value metadata
(`warmpool.personal_columns`, `;`-separated), so a reader can keep them from roles that may not see them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warmpool import tables
from warmpool.config import Settings, get_settings
from warmpool.warehouse import warehouse

PERSONAL_COLUMNS_KEY = "warmpool.personal_columns"


def export_marts(personal_columns: Mapping[str, list[str]], settings: Settings | None = None) -> list[Path]:
    """Export each mart named in `personal_columns` (mart -> its personal columns) to parquet."""
    settings = settings or get_settings()
    out_dir = settings.exports_dir / "marts"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with warehouse(settings.warehouse_path, read_only=True) as con:
        for name, personal in personal_columns.items():
            target = out_dir / f"{name}.parquet"
            tmp = target.with_suffix(".parquet.tmp")
            marked = ";".join(personal).replace("'", "''")
            con.execute(f"copy (select * from {tables.MARTS}.{name}) to '{tmp}' "
                        f"(format parquet, kv_metadata {{\"{PERSONAL_COLUMNS_KEY}\": '{marked}'}})")
            os.replace(tmp, target)
            written.append(target)
    return written


def mart_path(name: str) -> Path:
    return get_settings().exports_dir / "marts" / f"{name}.parquet"


def forget_rows(person_ids: Iterable[str], emails: Iterable[str], settings: Settings | None = None) -> dict[str, int]:
    """Rewrite each exported mart without a person's rows (``person_id`` in ``person_ids``, or an
    address column equal to one of ``emails``, lower-cased), keeping the file's metadata (its
    personal columns); atomically, like an export. Rows removed per file."""
    ids = sorted({str(p) for p in person_ids if p})
    addresses = sorted({str(e).strip().lower() for e in emails if e})
    removed: dict[str, int] = {}
    out_dir = (settings or get_settings()).exports_dir / "marts"
    for path in sorted(out_dir.glob("*.parquet")) if out_dir.is_dir() else []:
        table = pq.read_table(path)
        drop = None
        for name in table.column_names:
            column = table[name]
            if name == "person_id" or name.endswith("_person_id"):
                hit = pc.is_in(column.cast("string"), value_set=pa.array(ids, pa.string()))
            elif "email" in name and pa.types.is_string(column.type):
                hit = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(column)), value_set=pa.array(addresses, pa.string()))
            else:
                continue
            hit = pc.fill_null(hit, False)
            drop = hit if drop is None else pc.or_(drop, hit)
        if drop is None or not pc.any(drop).as_py():
            continue
        kept = table.filter(pc.invert(drop))
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(kept, tmp)
        os.replace(tmp, path)
        removed[path.name] = table.num_rows - kept.num_rows
    return removed
