"""The normalised dimensions between runs: which distinct spellings still need a Python rule.

The dbt Python models `int_name_spellings`, `int_place_spellings` and `int_skill_spellings` apply a
Python rule to every distinct value the pool holds. A day's change brings a few new spellings among
tens of thousands, so those models are incremental: a spelling already normalised under the same rules
is kept, one the pool no longer holds (an erased person's, a corrected record's) is deleted, and only
the new ones go through the rule. The table then holds exactly what a full rebuild would.

`rules_version` fingerprints what decides a row (the rule's source file, its override seed rows): when
it changes, every spelling is normalised again.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import polars as pl

RULES_VERSION_COLUMN = "rules_version"


def rules_version(rule_file: str | Path, *override_rows: Sequence[dict[str, Any]]) -> str:
    """A short fingerprint of a rule module's source and its override seeds' rows."""
    h = hashlib.sha256(Path(rule_file).read_bytes())
    for rows in override_rows:
        h.update(json.dumps(list(rows), sort_keys=True, default=str).encode("utf-8"))
    return h.hexdigest()[:16]


def spellings_to_normalise(con, existing_table: str | None, current: pl.DataFrame, version: str) -> pl.DataFrame:
    """The rows of `current` (distinct values, one column per key) that `existing_table` does not hold
    under `version`; first deletes from `existing_table` every row the pool no longer holds or that an
    older version of the rules wrote. No table (a first or full-refresh run): all of `current`."""
    if existing_table is None:
        return current
    keys = current.columns
    if RULES_VERSION_COLUMN not in con.sql(f"select * from {existing_table} limit 0").columns:
        con.execute(f"delete from {existing_table}")  # written before rules_version existed: start over
        return current
    # null-safe key equality: a place without a region is still one place
    same = " and ".join(f"t.{k} is not distinct from c.{k}" for k in keys)
    con.register("spellings_now", current.to_arrow())
    try:
        con.execute(f"""
            delete from {existing_table} t
            where t.{RULES_VERSION_COLUMN} is distinct from ?
               or not exists (select 1 from spellings_now c where {same})""", [version])
        new = con.sql(f"""
            select c.* from spellings_now c
            where not exists (select 1 from {existing_table} t where {same})""").pl()
    finally:
        con.unregister("spellings_now")
    return new.select(keys).cast(current.schema)
