"""Sourcing & recruiters: recruiter activity over time (prospects added, sourced applications, stage
moves, offers, hires), per recruiter, and silver medalists by job family beside the open jobs they
could fill, with the people behind them. Names are personal data: shown to roles that may see them,
and each view is written to the access log."""
from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import common

PAGE = "sourcing"
ACTIVITY = {"prospects_added": "Prospects added", "sourced_applications": "Sourced applications",
            "stage_moves": "Stage moves", "offers": "Offers", "hires": "Hires"}


def body() -> None:
    ctx = common.context()
    st.title("Sourcing & recruiters")
    st.caption("What recruiters did each month on the applications credited to them, and the silver "
               "medalists — people who came close before — ready for the open jobs in their job family.")
    monthly = common.load(PAGE, "recruiter_activity_by_month")
    common.note_not_applied(monthly, "Recruiter activity")
    frame = monthly.frame
    if frame.empty:
        st.info("No recruiter activity in this period.")
    else:
        totals = frame[list(ACTIVITY)].sum()
        cols = st.columns(len(ACTIVITY))
        for col, (column, label) in zip(cols, ACTIVITY.items()):
            col.metric(label, common.count(totals[column]))
        long = frame.melt(id_vars=["period_month"], value_vars=list(ACTIVITY), var_name="activity", value_name="count")
        long["activity"] = long["activity"].map(ACTIVITY)
        lines = alt.Chart(long).mark_line(point=True).encode(
            x=alt.X("period_month:T", title="Month"), y=alt.Y("count:Q", title="Count"),
            color=alt.Color("activity:N", title=None, sort=list(ACTIVITY.values())),
            tooltip=[alt.Tooltip("period_month:T", title="Month", format="%b %Y"), "activity:N", "count:Q"])
        common.chart(lines, key="recruiter_activity")
        if ctx.role.personal_data:
            st.subheader("Per recruiter")
            people = common.load(PAGE, "recruiter_activity_by_recruiter").frame.rename(columns=ACTIVITY)
            common.table(people, "recruiter_activity.csv", key="download-recruiters")
            common.log_personal_view(PAGE, "recruiter activity per recruiter", len(people))

    st.subheader("Silver medalists by job family")
    silver = common.load(PAGE, "silver_medalists_by_family")
    jobs = common.load(PAGE, "open_jobs_by_family").frame
    merged = silver.frame.merge(jobs, on="job_family", how="left").fillna({"open_jobs": 0, "jobs": ""})
    common.note_not_applied(silver, "Silver medalists")
    if merged.empty:
        st.info("No silver medalists for these filters.")
        return
    long = merged.melt(id_vars=["job_family"], value_vars=["people", "contactable_people", "open_jobs"],
                       var_name="what", value_name="count")
    long["what"] = long["what"].map({"people": "Silver medalists", "contactable_people": "…contactable now",
                                     "open_jobs": "Open jobs"})
    bars = alt.Chart(long).mark_bar().encode(
        y=alt.Y("job_family:N", title=None, sort="-x"), x=alt.X("count:Q", title="Count", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("what:N", title=None, scale=alt.Scale(domain=["Silver medalists", "…contactable now", "Open jobs"],
                                                              range=["#0b6e4f", "#7cc4a4", "#f2a541"])),
        yOffset=alt.YOffset("what:N", sort=["Silver medalists", "…contactable now", "Open jobs"]),
        tooltip=["job_family:N", "what:N", "count:Q"]).properties(height=48 * len(merged))
    common.chart(bars, key="silver_medalists")
    common.table(merged.rename(columns={"people": "silver medalists", "contactable_people": "contactable",
                                        "open_jobs": "open jobs", "jobs": "open jobs they could fill"}),
                 "silver_medalists_by_family.csv", key="download-silver")
    if not ctx.role.personal_data:
        return
    family = st.selectbox("The people behind a job family", ["—", *merged["job_family"].tolist()], key="drill_family")
    if family != "—":
        people = common.load(PAGE, "silver_medalist_rows", None if family == "(unknown)" else family).frame
        common.table(people, f"silver_medalists_{family}.csv", key="download-silver-people")
        common.log_personal_view(PAGE, f"silver medalists: {family}", len(people))


common.guarded(body)
