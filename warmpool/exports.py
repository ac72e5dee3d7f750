"""Read-only parquet copies of the marts, for dashboards and notebooks.

Readers never open the warehouse, so a pipeline run can always take its write lock (DuckDB) and readers
need no database access (either engine).
Files are written beside the old ones and renamed into place, so a reader never sees half a file.
Each file carries the names of its personal columns in its key-value metadata
(`warmpool.personal_columns`, `;`-separated), so a reader can keep them from roles that may not see them.

Two folders, by who may read them (the export policy, declared in the marts' YAML):

- `exports/marts/`: every mart with `meta: {export: parquet}`, whole (personal columns included);
- `exports/aggregates/`: the marts whose rows are groups, never people (`meta: {aggregate: true}`),
  with every personal column left out. Aggregate-only readers (the leadership and marketer
  dashboards) read this folder only, so no name, email or phone can reach them.

`exports/manifest.json` is written last: the export's time (what the dashboards show as "data as of"
and cache by) and what each folder holds.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warmpool import tables
from warmpool.config import Settings, get_settings
from warmpool.warehouse import PostgresConnection, WarehouseConnection, frame_of, open_warehouse

PERSONAL_COLUMNS_KEY = "warmpool.personal_columns"
MARTS_FOLDER = "marts"
AGGREGATES_FOLDER = "aggregates"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class ExportPolicy:
    """Which marts leave the warehouse, and how (from the marts' YAML: `assets.dbt_project.parquet_exports`)."""

    personal_columns: Mapping[str, list[str]]                     # every exported mart -> its personal columns
    aggregates: frozenset[str] = field(default_factory=frozenset)  # also exported without personal columns

    def __post_init__(self):
        unknown = sorted(set(self.aggregates) - set(self.personal_columns))
        if unknown:
            raise ValueError(f"aggregate exports must be exported marts too: {unknown}")


def _copy(con: WarehouseConnection, table: str, dropped: list[str], target: Path, personal: list[str]) -> Path:
    """``table`` without its ``dropped`` columns to parquet at ``target``, marked with its personal columns."""
    tmp = target.with_suffix(".parquet.tmp")
    marked = ";".join(personal)
    if isinstance(con, PostgresConnection):  # no COPY to parquet on the server: through a frame
        # oldest: plain (large) strings, which every parquet reader takes, not string views
        rows = frame_of(con, f"select * from {table}").drop(dropped).to_arrow(compat_level=pl.CompatLevel.oldest())
        pq.write_table(rows.replace_schema_metadata({PERSONAL_COLUMNS_KEY: marked}), tmp)
    else:  # DuckDB writes parquet itself, streaming
        excluded = f" exclude ({', '.join(dropped)})" if dropped else ""
        quoted = marked.replace("'", "''")
        con.execute(f"copy (select *{excluded} from {table}) to '{tmp}' "
                    f"(format parquet, kv_metadata {{\"{PERSONAL_COLUMNS_KEY}\": '{quoted}'}})")
    os.replace(tmp, target)
    return target


def export_marts(policy: ExportPolicy, settings: Settings | None = None) -> list[Path]:
    """Export the marts the policy names to parquet (whole, and aggregate-only where it says so)."""
    settings = settings or get_settings()
    marts_dir = settings.exports_dir / MARTS_FOLDER
    aggregates_dir = settings.exports_dir / AGGREGATES_FOLDER
    marts_dir.mkdir(parents=True, exist_ok=True)
    aggregates_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with open_warehouse(settings, read_only=True) as con:
        for name, personal in policy.personal_columns.items():
            written += _export_mart(con, name, list(personal), name in policy.aggregates, settings)
    manifest = {"exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                MARTS_FOLDER: sorted(policy.personal_columns), AGGREGATES_FOLDER: sorted(policy.aggregates)}
    target = settings.exports_dir / MANIFEST_FILE
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(tmp, target)
    return written


def refresh(names: Iterable[str], settings: Settings | None = None) -> list[Path]:
    """Export again those of ``names`` the last export wrote (after a rebuild of those marts only),
    each with the personal columns its file recorded; the manifest's time is left as it was."""
    settings = settings or get_settings()
    last = export_manifest(settings) or {}
    written = []
    with open_warehouse(settings, read_only=True) as con:
        for name in sorted(set(names) & set(last.get(MARTS_FOLDER, []))):
            target = mart_path(name, settings=settings)
            metadata = (pq.read_schema(target).metadata or {}) if target.exists() else {}
            personal = [c for c in metadata.get(PERSONAL_COLUMNS_KEY.encode(), b"").decode().split(";") if c]
            written += _export_mart(con, name, personal, name in last.get(AGGREGATES_FOLDER, []), settings)
    return written


def _export_mart(con, name: str, personal: list[str], aggregate: bool, settings: Settings) -> list[Path]:
    """Mart ``name`` whole, and without its personal columns too when it is an ``aggregate``."""
    table = f"{tables.MARTS}.{name}"
    written = [_copy(con, table, [], mart_path(name, settings=settings), personal)]
    if aggregate:
        written.append(_copy(con, table, personal, mart_path(name, aggregate=True, settings=settings), []))
    return written


def mart_path(name: str, *, aggregate: bool = False, settings: Settings | None = None) -> Path:
    """Where the export of mart `name` is: the aggregate-only copy when `aggregate`."""
    settings = settings or get_settings()
    return settings.exports_dir / (AGGREGATES_FOLDER if aggregate else MARTS_FOLDER) / f"{name}.parquet"


def export_manifest(settings: Settings | None = None) -> dict | None:
    """The last export's manifest (`exported_at`, what each folder holds), or None before the first."""
    path = (settings or get_settings()).exports_dir / MANIFEST_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def forget_rows(person_ids: Iterable[str], emails: Iterable[str], settings: Settings | None = None) -> dict[str, int]:
    """Rewrite each exported mart without a person's rows (``person_id`` in ``person_ids``, or an
    address column equal to one of ``emails``, lower-cased), keeping the file's metadata (its
    personal columns); atomically, like an export. Rows removed per file."""
    ids = sorted({str(p) for p in person_ids if p})
    addresses = sorted({str(e).strip().lower() for e in emails if e})
    removed: dict[str, int] = {}
    out_dir = (settings or get_settings()).exports_dir / MARTS_FOLDER  # aggregates hold no person
    for path in sorted(out_dir.glob("*.parquet")) if out_dir.is_dir() else []:
        schema = pq.read_schema(path)
        keys = [f.name for f in schema if f.name == "person_id" or f.name.endswith("_person_id")
                or ("email" in f.name and pa.types.is_string(f.type))]
        if not keys:
            continue
        # the key columns alone say whether the person is in the file: most files are read no further
        drop = _person_rows(pq.read_table(path, columns=keys), ids, addresses)
        if not pc.any(drop).as_py():
            continue
        table = pq.read_table(path)
        kept = table.filter(pc.invert(drop))
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(kept, tmp)
        os.replace(tmp, path)
        removed[path.name] = table.num_rows - kept.num_rows
    return removed


def _person_rows(table: pa.Table, ids: list[str], addresses: list[str]) -> pa.ChunkedArray:
    """True for each row whose person-id column holds one of ``ids`` or address column one of ``addresses``."""
    drop = None
    for name in table.column_names:
        column = table[name]
        if name == "person_id" or name.endswith("_person_id"):
            hit = pc.is_in(column.cast("string"), value_set=pa.array(ids, pa.string()))
        else:
            hit = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(column)), value_set=pa.array(addresses, pa.string()))
        hit = pc.fill_null(hit, False)
        drop = hit if drop is None else pc.or_(drop, hit)
    return drop
