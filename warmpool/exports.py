"""Read-only parquet copies of the marts, for dashboards and notebooks.

Readers never open the warehouse file, so a pipeline run can always take its write lock.
Files are written beside the old ones and renamed into place, so a reader never sees half a file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from warmpool import tables
from warmpool.config import get_settings
from warmpool.warehouse import warehouse


def export_marts(names: Iterable[str]) -> list[Path]:
    out_dir = get_settings().exports_dir / "marts"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with warehouse(read_only=True) as con:
        for name in names:
            target = out_dir / f"{name}.parquet"
            tmp = target.with_suffix(".parquet.tmp")
            con.execute(f"copy (select * from {tables.MARTS}.{name}) to '{tmp}' (format parquet)")
            os.replace(tmp, target)
            written.append(target)
    return written


def mart_path(name: str) -> Path:
    return get_settings().exports_dir / "marts" / f"{name}.parquet"
