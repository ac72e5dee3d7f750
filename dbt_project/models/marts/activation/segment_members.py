"""Who is in each segment today: one row per (segment, person). The segment's meaning is compiled
to SQL by its one owner, warmpool/segments.py; this model only runs it over the marts."""
import datetime as dt

import polars as pl

from warmpool.segments import members_from_definitions


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dim_candidates")      # what the compiled SQL reads (declared so dbt orders the build)
    dbt.ref("fct_applications")
    dbt.ref("fct_pipeline_members")
    stored = session.execute("select count(*) from information_schema.tables "
                             "where table_schema = 'raw_campaigns' and table_name = 'segments'").fetchall()[0][0]
    # a warehouse whose campaign definitions were never loaded has no segments yet
    definitions = (dbt.source("raw_campaigns", "segments").project("segment, version, definition").fetchall()
                   if stored else [])
    as_of = dbt.config.get("as_of")
    now = (dt.datetime.fromisoformat(as_of).replace(tzinfo=dt.timezone.utc) if as_of
           else dt.datetime.now(dt.timezone.utc))
    rows = members_from_definitions(session, definitions, now)
    return pl.DataFrame(rows, schema={"segment": pl.String, "segment_version": pl.Int64, "person_id": pl.String},
                        orient="row")
