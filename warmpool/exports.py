"""Read-only parquet copies of the marts, for dashboards and notebooks.

Readers never open the warehouse file, so a pipeline run can always take its write lock.
Files are written beside the old ones and renamed into place, so a reader never sees half a file.
Each file carries the names of its personal columns in its key-value metadata
(`warmpool.personal_columns`, `;`-separated), so a reader can keep them from roles that may not see them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

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
