"""ATS pages -> Arrow tables, in the layout dlt's own normaliser used to give them, built column-wise.

A page (a list of JSON records) becomes one polars frame; nested objects are flattened into
`parent__child` columns and every list becomes a child table `<table>__<field>` (a list of scalars
gives a `value` column), exactly the tables and columns documented in pipelines/README.md. The
`_dlt_*` keys are made here, deterministic and vectorised:

- a root row's `_dlt_id` is `<id>.<hash of the whole record, lists included>`: one per version
  of a record, the same whenever that version is seen again;
- a child row's `_dlt_parent_id` (and `_dlt_root_id`) is its parent row's `_dlt_id`, `_dlt_list_idx`
  its position in the list and `_dlt_id` `<parent>:<position>`.
So a record's children always point at the version of the record they came with; children of a
version that has been replaced are removed after each load (`pipelines.ats.drop_replaced_children`).

Columns keep their JSON type; text that is an ISO-8601 timestamp with a time (in every row of the
page), or a column declared as a timestamp, becomes a UTC timestamp. A column that is null in every
row of a page takes its declared type, or is left out until a value arrives (as dlt did).

Plain polars and pyarrow: no dlt.
"""
from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from pipelines.ats.settings import PRIMARY_KEY, Endpoint

MAX_NESTING = 3                     # deeper lists stay JSON text in their parent (dlt's max_table_nesting)
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$"
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"
_POLARS_TYPES = {"text": pl.String, "bigint": pl.Int64, "bool": pl.Boolean, "double": pl.Float64,
                 "timestamp": pl.Datetime("us", "UTC")}
KEY_COLUMNS = ("_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_list_idx")


class Emitted:
    """The record versions flattened so far in one run."""

    def __init__(self) -> None:
        self.ids = pl.DataFrame(schema={"_dlt_id": pl.String})

    def new(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame`'s rows whose version was not flattened before (each version once); remembers them."""
        fresh = frame.filter(pl.col("_dlt_id").is_first_distinct()).join(self.ids, on="_dlt_id", how="anti")
        self.ids = pl.concat([self.ids, fresh.select("_dlt_id")])
        return fresh


def flatten(endpoint: Endpoint, frame: pl.DataFrame, emitted: Emitted | None = None) -> dict[str, pa.Table]:
    """Records (a frame of JSON records as polars reads them) as Arrow tables by table name: the
    endpoint's own table first, then its children. A record version already in `emitted` (the
    same version seen twice in one run) is left out, and the versions given are added to it, so
    no child row is emitted twice in one load."""
    if not frame.height:
        return {}
    version = frame.hash_rows(seed=0).cast(pl.String)
    frame = frame.with_columns(_dlt_id=pl.format("{}.{}", pl.col("id"), version))
    if emitted is not None:
        frame = emitted.new(frame)
        if not frame.height:
            return {}
    out: dict[str, pl.DataFrame] = {}
    _emit(endpoint.name, frame, 1, out, root_id="_dlt_id")
    declared = {endpoint.name: endpoint.columns,
                **{f"{endpoint.name}__{path}": cols for path, cols in endpoint.nested_columns.items()}}
    return {name: _required(_typed(table, declared.get(name, {})).to_arrow(), root=name == endpoint.name)
            for name, table in out.items()}


def _required(table: pa.Table, root: bool) -> pa.Table:
    """Keys marked not-null, as dlt's schema has them (else dlt warns that the hints differ)."""
    keys = set(KEY_COLUMNS) | ({PRIMARY_KEY} if root else set())
    schema = pa.schema([f.with_nullable(False) if f.name in keys else f for f in table.schema])
    return table.cast(schema) if schema != table.schema else table


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Struct columns unnested into `parent__child` columns, recursively."""
    while True:
        structs = [c for c, t in frame.schema.items() if isinstance(t, pl.Struct)]
        if not structs:
            return frame
        for name in structs:
            fields = [f.name for f in frame.schema[name].fields]
            frame = frame.with_columns(pl.col(name).struct.rename_fields([f"{name}__{f}" for f in fields])) \
                .unnest(name)


def _emit(name: str, frame: pl.DataFrame, depth: int, out: dict[str, pl.DataFrame], root_id: str) -> None:
    frame = _flat(frame)
    lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List) and c not in KEY_COLUMNS]
    if depth >= MAX_NESTING:  # too deep for a table of its own: kept as JSON text
        frame = frame.with_columns(pl.col(c).map_elements(_json, return_dtype=pl.String) for c in lists)
        lists = []
    out[name] = frame.drop(lists)
    for column in lists:
        child = frame.select(
            pl.col("_dlt_id").alias("_dlt_parent_id"), pl.col(root_id).alias("_dlt_root_id"),
            pl.col(column).alias("_item"),
            pl.col(column).list.eval(pl.int_range(pl.len())).alias("_dlt_list_idx"),
        ).explode(["_item", "_dlt_list_idx"]).filter(pl.col("_dlt_list_idx").is_not_null())
        child = child.with_columns(
            _dlt_list_idx=pl.col("_dlt_list_idx").cast(pl.Int64),
            _dlt_id=pl.format("{}:{}", pl.col("_dlt_parent_id"), pl.col("_dlt_list_idx")))
        if isinstance(frame.schema[column].inner, pl.Struct):
            child = child.unnest("_item")
        else:
            child = child.rename({"_item": "value"})
        if child.height:
            _emit(f"{name}__{column}", child, depth + 1, out, root_id="_dlt_root_id")


def _json(value: Any) -> str | None:
    import json  # only for the rare list nested deeper than MAX_NESTING

    return None if value is None else json.dumps(value.to_list() if hasattr(value, "to_list") else value,
                                                 default=str)


def _typed(frame: pl.DataFrame, declared: dict[str, dict]) -> pl.DataFrame:
    columns = []
    for name, dtype in frame.schema.items():
        hint = declared.get(name, {}).get("data_type")
        if dtype == pl.Null:
            if hint in _POLARS_TYPES:
                columns.append(pl.col(name).cast(_POLARS_TYPES[hint]))
            continue  # no value yet and no declared type: the column comes with its first value
        if dtype == pl.String and (hint == "timestamp" or (
                hint is None and frame[name].drop_nulls().str.contains(_TIMESTAMP).all())):
            columns.append(pl.col(name).str.to_datetime(_TIMESTAMP_FORMAT, time_unit="us", time_zone="UTC"))
        else:
            columns.append(pl.col(name))
    return frame.select(columns)
