"""Dashboard data access: reads the parquet exports of the marts, never the warehouse file."""
from __future__ import annotations

import duckdb
import pandas as pd

from warmpool.exports import mart_path


class MartsNotExported(FileNotFoundError):
    pass


def read_mart(name: str) -> pd.DataFrame:
    path = mart_path(name)
    if not path.exists():
        raise MartsNotExported(f"{path} does not exist yet: run `make demo` (or the Dagster job) first.")
    return duckdb.connect().execute("select * from read_parquet(?)", [str(path)]).df()


def pool_by_source(candidates: pd.DataFrame, country: str | None = None) -> pd.DataFrame:
    """People per source (a person found in several sources counts once in each)."""
    frame = candidates if not country else candidates[candidates["country"] == country]
    exploded = frame.assign(source=frame["sources"].fillna("").str.split(";")).explode("source")
    exploded = exploded[exploded["source"].str.len() > 0]
    out = exploded.groupby("source", as_index=False).agg(people=("person_id", "nunique"))
    return out.sort_values("people", ascending=False, ignore_index=True)
