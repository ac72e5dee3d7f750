"""Data health: how fresh each source is, rows quarantined by source and reason, and the identity
figures (records, people, merges, review queue, model version) of every identity run."""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from warmpool.config import get_settings
from warmpool.run_status import RunStorageUnreadable, freshness, stage_status

PAGE = "data_health"


@st.cache_data(ttl=30, show_spinner=False)
def _runs(dagster_home: str):
    return stage_status(Path(dagster_home))


def body() -> None:
    ctx = common.context()
    st.title("Data health")
    st.caption(f"{common.as_of_caption(ctx.version)} (when the marts were last exported). Period, job family "
               "and location do not apply here; the source filter does.")
    runs = common.load(PAGE, "identity_runs", filtered=False).frame
    if runs.empty:
        st.info("Identity resolution has not run yet.")
    else:
        latest = runs.iloc[0]
        cols = st.columns(5)
        cols[0].metric("Source records", common.count(latest["records"]))
        cols[1].metric("People", common.count(latest["people"]))
        cols[2].metric("Duplicates merged", common.count(latest["records"] - latest["people"]),
                       help="Records that joined another record's person.")
        cols[3].metric("Waiting for review", common.count(latest["review_queue_open"]),
                       help="Uncertain pairs: `warmpool identity review list`.")
        cols[4].metric("Match model version", str(latest["model_version"]) if pd.notna(latest["model_version"]) else "–")
        st.caption(f"Last identity run: {pd.Timestamp(latest['started_at']):%d %b %Y, %H:%M} UTC ({latest['kind']}).")

    st.subheader("Pipeline runs")
    try:
        stages, recent = _runs(str(get_settings().dagster_home))
    except RunStorageUnreadable as exc:
        st.warning(f"Run status unavailable: {exc}.")
        stages = recent = pd.DataFrame()
    if stages.empty and recent.empty:
        st.info("No pipeline run recorded yet: `make demo` or `warmpool run`.")
    else:
        last = recent.iloc[0] if not recent.empty else None
        if last is not None:
            started = (f", started {pd.Timestamp(last['started']):%d %b %Y, %H:%M} UTC"
                       if pd.notna(last["started"]) else "")
            message = f"Latest run {last['run']} ({last['job']}): {last['status'].replace('_', ' ')}{started}."
            if last["status"] == "success":
                st.success(message, icon=":material/check_circle:")
            elif last["status"] in ("failure", "canceled"):
                st.error(message, icon=":material/error:")
            else:  # queued, not started, running
                st.info(message, icon=":material/pending:")
        left, right = st.columns(2)
        with left:
            common.table(stages.rename(columns={"last_success": "last successful"}), "pipeline_stages.csv",
                         key="download-stages")
        with right:
            common.table(recent, "pipeline_runs.csv", key="download-pipeline-runs")
    late = [f for f in freshness(get_settings()) if f.stale]
    if late:  # the same limits as Dagster's freshness policies (operations.freshness_hours)
        st.warning("Older than its limit: " + "; ".join(
            f"{f.target.replace('_', ' ')} ({'never loaded' if f.last_update is None else 'last ' + f.last_update[:16].replace('T', ' ') + ' UTC'}, limit {f.limit_hours:g} h)"
            for f in late) + ".", icon=":material/schedule:")

    sources = common.load(PAGE, "source_health").frame
    st.subheader("Freshness of each source")
    if sources.empty:
        st.info("No source has records yet.")
    else:
        now = pd.Timestamp(ctx.version).tz_localize(None) if ctx.version else pd.Timestamp.utcnow().tz_localize(None)
        sources["source"] = sources["source"].map(common.source_label)
        sources["days since newest record"] = (now - pd.to_datetime(sources["newest_record_at"])).dt.days
        bars = alt.Chart(sources).mark_bar().encode(
            y=alt.Y("source:N", title=None, sort="x"), x=alt.X("days since newest record:Q", title="Days since the newest record"),
            color=alt.Color("days since newest record:Q", scale=alt.Scale(scheme="yelloworangered"), legend=None),
            tooltip=["source:N", alt.Tooltip("newest_record_at:T", title="Newest record", format="%d %b %Y"),
                     alt.Tooltip("records:Q", format=","), alt.Tooltip("people:Q", format=","),
                     alt.Tooltip("quarantined_rows:Q", title="Quarantined rows", format=",")])
        source = common.drill_chart(common.clickable(bars, "source"), "freshness", "source", "source")
        if source:
            sources = sources[sources["source"] == source]
        common.table(sources, "source_health.csv", key="download-sources")

    st.subheader("Quarantined rows by source and reason")
    reasons = common.load(PAGE, "quarantine_reasons").frame
    if reasons.empty:
        st.success("Nothing quarantined: every loaded row passed the boundary checks.")
    else:
        reasons["source"] = reasons["source"].map(common.source_label)
        bars = alt.Chart(reasons).mark_bar().encode(
            x=alt.X("sum(quarantined_rows):Q", title="Rows quarantined", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("reason:N", title=None, sort="-x", axis=alt.Axis(labelLimit=320)),
            color=alt.Color("source:N", title="Source"),
            tooltip=["source:N", "reason:N", "field:N", alt.Tooltip("sum(quarantined_rows):Q", title="Rows")])
        reason = common.drill_chart(common.clickable(bars, "reason"), "quarantine", "reason", "reason")
        if reason:
            reasons = reasons[reasons["reason"] == reason]
        common.table(reasons, "quarantined_rows.csv", key="download-quarantine")

    if not runs.empty:
        st.subheader("Identity runs")
        common.table(runs, "identity_runs.csv", key="download-runs")


common.guarded(body)
