"""Reading the marts' parquet exports under the filters every dashboard page honours.

`MartReader` opens no warehouse: it queries `data/exports/` with an in-memory DuckDB, so a running
pipeline and the dashboards never wait for each other. An aggregate-only reader reads
`exports/aggregates/` only (the marts whose rows are groups, personal columns left out).

`Filters` are the page-wide filters (period, job family, location, source) on the normalised
dimensions (job families from the controlled vocabulary, ISO country codes, the pool's source keys).
`DIMENSIONS` says, once, which column of each mart carries each of them; a filter a mart has no
column for is reported back as not applied (`Result.not_applied`), so a page can say so instead of
pretending.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from warmpool.config import Settings, get_settings
from warmpool.exports import mart_path

# The pool's source key of an rpt_source_roi row: its vendor's key, a vendor without an ATS source
# ("(vendor talentdb)"), else the ATS.
_ROI_SOURCE_KEY = ("coalesce(vendor, nullif(regexp_extract(source_name, '^\\(vendor (.+)\\)$', 1), ''), 'ats')")

# mart -> filter -> column (or SQL expression over the mart's columns). "period" columns are dates or
# timestamps filtered to the months chosen; "period_year" marts (a contract year) overlap the period;
# "period_year_number" marts (an integer year) keep the years the period touches.
DIMENSIONS: dict[str, dict[str, str]] = {
    "rpt_source_roi": {"period": "period_month", "job_family": "job_family", "country": "country_code",
                       "source": _ROI_SOURCE_KEY},
    "rpt_hire_attribution": {"period": "period_month", "job_family": "job_family", "country": "country_code",
                             "source": "source"},
    "rpt_vendor_utilization": {"period_year": "period_year", "source": "vendor"},
    "rpt_talent_pool_growth": {"period": "snapshot_date", "job_family": "job_family", "country": "country_code",
                               "source": "source"},
    "rpt_pool_by_source": {"source": "source"},
    "rpt_funnel": {"period": "cohort_month", "job_family": "job_family", "country": "country_code",
                   "source": "first_source"},
    "rpt_campaign_performance": {"period": "first_sent_at"},
    "rpt_segment_sizes": {"job_family": "job_family", "country": "country_code"},   # membership now: no period
    "rpt_recruiter_activity": {"period": "period_month"},
    "rpt_silver_medalists": {"period": "rejected_at", "job_family": "job_family"},
    "rpt_data_health": {"source": "source"},
    "rpt_quarantine_reasons": {"source": "source"},
    "rpt_identity_runs": {},
    # every referral came in through the referral form: the pool's "referral" source
    "rpt_referrals": {"period": "referral_month", "job_family": "job_family", "country": "country_code",
                      "source": "'referral'"},
    "rpt_eeo_applicants": {"period_year_number": "applied_year", "job_family": "job_family"},
    "fct_hires": {"period": "hired_at", "job_family": "job_family", "source": "coalesce(vendor, 'ats')"},
}
# each kind of period column against (the first day of the first month chosen, a day of the last month)
PERIOD_BOUNDS = {
    "period": ("{column} >= ?", "{column} < date_trunc('month', ?::date) + interval 1 month"),  # to the month's end
    "period_year": ("{column} >= date_trunc('year', ?::date)", "{column} <= ?"),
    "period_year_number": ("{column} >= year(?::date)", "{column} <= year(?::date)"),
}
FILTER_LABELS = {"period": "period", "job_family": "job family", "country": "location", "source": "source"}


class MartsNotExported(FileNotFoundError):
    """No export of a mart yet (the message says what to run)."""


@dataclass(frozen=True)
class Filters:
    period_start: date | None = None        # first month shown (its first day)
    period_end: date | None = None          # last month shown (any day of it)
    job_families: tuple[str, ...] = ()      # controlled vocabulary; empty = all
    countries: tuple[str, ...] = ()         # ISO 3166 alpha-2 codes; empty = all
    sources: tuple[str, ...] = ()           # pool source keys; empty = all

    def set_filters(self) -> list[str]:
        out = []
        if self.period_start or self.period_end:
            out.append("period")
        for name, values in (("job_family", self.job_families), ("country", self.countries),
                             ("source", self.sources)):
            if values:
                out.append(name)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"period_start": self.period_start, "period_end": self.period_end,
                "job_families": list(self.job_families), "countries": list(self.countries),
                "sources": list(self.sources)}


@dataclass
class Result:
    frame: pd.DataFrame
    not_applied: list[str] = field(default_factory=list)   # filters set that this mart cannot honour


def filter_clause(mart: str, filters: Filters) -> tuple[str, list, list[str]]:
    """SQL `where` body, its parameters, and the filters the mart has no column for."""
    dims = DIMENSIONS.get(mart, {})
    clauses, params, not_applied = [], [], []
    if "period" in filters.set_filters():
        kind = next((k for k in PERIOD_BOUNDS if k in dims), None)
        if kind is None:
            not_applied.append("period")
        else:
            low, high = PERIOD_BOUNDS[kind]
            if filters.period_start:
                clauses.append(low.format(column=dims[kind]))
                params.append(filters.period_start.replace(day=1))
            if filters.period_end:
                clauses.append(high.format(column=dims[kind]))
                params.append(filters.period_end)
    for name, values in (("job_family", filters.job_families), ("country", filters.countries),
                         ("source", filters.sources)):
        if not values:
            continue
        if name not in dims:
            not_applied.append(name)
            continue
        clauses.append(f"{dims[name]} in ({', '.join('?' for _ in values)})")
        params.extend(values)
    return (" and ".join(clauses) or "true"), params, not_applied


class MartReader:
    """Queries over the exported marts; `aggregate_only` reads the aggregate-only exports."""

    def __init__(self, settings: Settings | None = None, *, aggregate_only: bool = True):
        self.settings = settings or get_settings()
        self.aggregate_only = aggregate_only
        self._con = duckdb.connect()

    def close(self) -> None:
        self._con.close()

    def path(self, mart: str) -> Path:
        path = mart_path(mart, aggregate=self.aggregate_only, settings=self.settings)
        if not path.exists():
            where = "aggregate-only exports" if self.aggregate_only else "exports"
            raise MartsNotExported(f"{mart} is not in the {where} yet ({path}): run `make demo` "
                                   "(or the Dagster job's marts_export) first.")
        return path

    def columns(self, mart: str) -> list[str]:
        return [row[0] for row in self._con.execute("describe select * from read_parquet(?)",
                                                   [str(self.path(mart))]).fetchall()]

    def query(self, mart: str, sql: str, filters: Filters | None = None, params: list | None = None) -> Result:
        """Run `sql`, in which `{rows}` stands for the mart's rows under `filters`."""
        where, where_params, not_applied = filter_clause(mart, filters or Filters())
        rows = f"(select * from read_parquet('{self.path(mart)}') where {where})"
        frame = self._con.execute(sql.format(rows=rows), where_params + list(params or [])).df()
        return Result(frame, not_applied)
