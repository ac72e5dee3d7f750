"""What every page shares: the session's role and filters (set by app.py), cached mart queries keyed
by the export version, friendly numbers, charts, downloadable tables and the access-log hook."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import altair as alt
import pandas as pd
import streamlit as st

from warmpool.config import get_settings
from warmpool.places import country_name
from warmpool.reporting import queries
from warmpool.reporting.access import AGGREGATE_PAGES, DashboardAccess, Role
from warmpool.reporting.access_log import record_view
from warmpool.reporting.privacy import suppress_small_counts
from warmpool.reporting.marts import FILTER_LABELS, Filters, MartReader, MartsNotExported, Result

CONTEXT_KEY = "warmpool_dashboard_context"
SOURCE_LABELS = {"ats": "ATS", "talent_network": "Talent network", "referral": "Referral form", "email": "Email",
                 "(no touch)": "(no touch)", "unknown": "(unknown)"}
HEAT_COLORS = {"hot": "#d62728", "warm": "#ff7f0e", "cold": "#1f77b4", "inactive": "#9e9e9e"}


@dataclass(frozen=True)
class PageContext:
    role: Role
    user: str                 # signed-in email, or local:<role>
    local_mode: bool
    access: DashboardAccess
    filters: Filters
    version: str | None       # export time (ISO UTC); None before the first export


def context() -> PageContext:
    return st.session_state[CONTEXT_KEY]


# ---- data -------------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=1024)
def run_query(version: str | None, home: str, aggregate_only: bool, query: str, filters: Filters | None,
              args: tuple) -> Result:
    # `version` and `home` are part of the cache key: a new export (or another data folder) is read afresh
    reader = MartReader(get_settings(), aggregate_only=aggregate_only)
    try:
        fn: Callable = getattr(queries, query)
        return fn(reader, filters, *args) if filters is not None else fn(reader, *args)
    finally:
        reader.close()


def load(page: str, query: str, *args, filtered: bool = True, filters: Filters | None = None) -> Result:
    """Run `queries.<query>` for `page` under the session's filters (or `filters`, e.g. narrowed to a
    clicked month; `filtered=False`: a query that takes none), cached per export version. A page in AGGREGATE_PAGES, or a role without personal data, reads
    the aggregate-only exports."""
    ctx = context()
    aggregate_only = not shows_personal_data(page)
    return run_query(ctx.version, str(get_settings().home), aggregate_only, query,
                     (filters or ctx.filters) if filtered else None, args)


def in_month(filters, month: str | None):
    """The filters narrowed to one clicked month ("Mar 2025"); unchanged when none is clicked."""
    if not month:
        return filters
    first = pd.Timestamp(f"1 {month}").date()
    return dataclasses.replace(filters, period_start=first, period_end=first)


def shows_personal_data(page: str) -> bool:
    """May `page` show the session's role names and the rows behind a chart (not an aggregate page)?"""
    return context().role.personal_data and page not in AGGREGATE_PAGES


def guarded(fn):
    """Run a page body; a missing export becomes a friendly note instead of a traceback."""
    try:
        fn()
    except MartsNotExported as exc:
        st.info(f"No data yet. {exc}")


def note_not_applied(result: Result, what: str) -> None:
    if result.not_applied:
        names = ", ".join(FILTER_LABELS[n] for n in result.not_applied)
        st.caption(f"{what} is not broken down by {names}: the {names} filter does not apply to it.")


def log_personal_view(page: str, shown: str, rows: int) -> None:
    """Write a view of personal data to the access log, once per page, table and filters in a session."""
    ctx = context()
    key = hashlib.sha256(json.dumps([page, shown, ctx.filters.as_dict(), ctx.version], default=str)
                         .encode()).hexdigest()
    seen = st.session_state.setdefault("warmpool_logged_views", set())
    if key in seen:
        return
    record_view(user=ctx.user, role=ctx.role.name, page=page, shown=shown, rows=rows, filters=ctx.filters.as_dict())
    seen.add(key)


# ---- words and numbers ------------------------------------------------------------------------------
def source_label(key: str | None) -> str:
    if key is None:
        return "(unknown)"
    vendor = get_settings().vendors.get(key)
    return vendor["name"] if vendor else SOURCE_LABELS.get(key, key)


def place_label(code: str | None) -> str:
    return (country_name(code) or code) if code else "(unknown)"


def _short(n: float, prefix: str, millions: int) -> str:
    if abs(n) >= 1_000_000:
        return f"{prefix}{n / 1_000_000:.{millions}f}M"
    if abs(n) >= 10_000:
        return f"{prefix}{n / 1_000:.1f}k"
    return f"{prefix}{n:,.0f}" if n == int(n) or prefix else f"{n:,.1f}"


def count(n) -> str:
    """1,234 / 12.3k / 1.2M; a missing figure is a dash."""
    return "–" if n is None or pd.isna(n) else _short(float(n), "", 1)


def money(n) -> str:
    """$1,234 / $12.3k / $1.23M (US dollars); a missing figure is unknown, never $0."""
    return "unknown" if n is None or pd.isna(n) else _short(float(n), "$", 2)


def percent(n) -> str:
    return "–" if n is None or pd.isna(n) else f"{float(n):.1%}"


def as_of_caption(version: str | None) -> str:
    if not version:
        return "No data exported yet"
    when = datetime.fromisoformat(version)
    return f"Data as of {when:%d %b %Y, %H:%M} UTC"


# ---- tables and charts ------------------------------------------------------------------------------
def table(frame: pd.DataFrame, file_name: str, column_config: dict | None = None, key: str | None = None) -> None:
    """A table and its CSV download: exactly the frame shown, with column names in words."""
    frame = frame.rename(columns=lambda c: str(c).replace("_", " "))
    config = {str(k).replace("_", " "): v for k, v in (column_config or {}).items()}
    for column in frame.columns:
        if column not in config and pd.api.types.is_datetime64_any_dtype(frame[column]):
            config[column] = st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm")
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)
    st.download_button("Download (CSV)", frame.to_csv(index=False).encode("utf-8"), file_name=file_name,
                       mime="text/csv", key=key or f"download-{file_name}", icon=":material/download:")


def chart(spec: alt.Chart, key: str | None = None, on_select: str = "ignore"):
    return st.altair_chart(spec, width="stretch", key=key, on_select=on_select)


def clickable(spec: alt.Chart, field: str) -> alt.Chart:
    """`spec` with a click selection on `field` (the clicked mark stays bright, the others fade)."""
    pick = alt.selection_point(fields=[field], name="pick")
    return spec.add_params(pick).encode(opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)))


def drill_chart(spec, key: str, field: str, what: str):
    """Draw a chart made `clickable` on `field`; return the value of the clicked mark (the page then
    narrows the table below it to that), or None when nothing is clicked."""
    value = picked(chart(spec, key=key, on_select="rerun"), "pick", field)
    if value is not None:
        st.caption(f"Showing {what} {value} only: click the chart's background to show all.")
    return value


def picked(event, selection: str, field: str):
    """The `field` value of the mark clicked on a chart drawn with on_select="rerun" (its point
    selection named `selection`), or None when nothing is selected."""
    if not event:
        return None
    # the chart's state is a dict ({"selection": {name: [points]}}), also when set through session_state
    points = (event.get("selection") or {}).get(selection) or []
    values = [p[field] for p in points if field in p]
    return values[0] if values else None


def suppress_small_cells(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, int]:
    """Hide counts of people below the configured minimum (for roles without personal data)."""
    ctx = context()
    if ctx.role.personal_data:
        return frame, 0
    return suppress_small_counts(frame, columns, ctx.access.min_cell_size)


def suppressed_note(hidden: int) -> None:
    if hidden:
        st.caption(f"{hidden} cell(s) with fewer than {context().access.min_cell_size} people hidden, so no "
                   "one can be singled out.")
