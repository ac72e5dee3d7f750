"""One row per distinct first / last name spelling in the pool, with its case-repaired form and
the key survivorship votes on. The rule is Python's (warmpool/names.py, nameparser), so it has one
owner; this model only applies it to the spellings the pool holds. Incremental: only spellings not
yet in the table are named again (warmpool/spellings.py)."""
import polars as pl

import warmpool.names
from warmpool.names import name_spellings
from warmpool.spellings import rules_version, spellings_to_normalise


def model(dbt, session):
    dbt.config(materialized="incremental", on_schema_change="sync_all_columns")
    records = dbt.ref("int_source_records_unioned")
    values = (records.project("'first' as name_part, first_name as spelling")
              .union(records.project("'last' as name_part, last_name as spelling"))
              .distinct().pl())
    version = rules_version(warmpool.names.__file__)
    new = spellings_to_normalise(session, str(dbt.this) if dbt.is_incremental else None, values, version)
    rows = name_spellings(sorted(new.iter_rows(), key=lambda v: (v[0], v[1] or "")))
    schema = {"name_part": pl.String, "spelling": pl.String, "display_spelling": pl.String,
              "spelling_key": pl.String, "is_case_repaired": pl.Boolean, "is_initial": pl.Boolean,
              "has_accent": pl.Boolean, "formal_keys": pl.String}
    return pl.DataFrame([r.__dict__ for r in rows], schema=schema).with_columns(rules_version=pl.lit(version))
