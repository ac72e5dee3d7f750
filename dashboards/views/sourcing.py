"""Sourcing & recruiters: recruiter activity over time (prospects added, sourced applications, stage
moves, offers, hires), per recruiter; silver medalists by job family beside the open jobs they could
fill, with the people behind them; employee referrals (who refers, and what becomes of the people
referred). Names are personal data: shown to roles that may see them, and each view is written to the
access log. Clicking a month or a job family on a chart narrows the table below it."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common, referrals

PAGE = "sourcing"
ACTIVITY = {"prospects_added": "Prospects added", "sourced_applications": "Sourced applications",
            "stage_moves": "Stage moves", "offers": "Offers", "hires": "Hires"}


def body() -> None:
    ctx = common.context()
    st.title("Sourcing & recruiters")
    st.caption("What recruiters did each month on the applications credited to them, the silver medalists — "
               "people who came close before — ready for the open jobs in their job family, and employee "
               "referrals. Click a month or a job family on a chart to narrow the table below it.")
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
        frame["month"] = pd.to_datetime(frame["period_month"]).dt.strftime("%b %Y")
        long = frame.melt(id_vars=["period_month", "month"], value_vars=list(ACTIVITY), var_name="activity",
                          value_name="count")
        long["activity"] = long["activity"].map(ACTIVITY)
        bars = alt.Chart(long).mark_bar().encode(
            x=alt.X("period_month:T", title="Month", timeUnit="yearmonth"), y=alt.Y("count:Q", title="Count"),
            color=alt.Color("activity:N", title=None, sort=list(ACTIVITY.values())),
            xOffset=alt.XOffset("activity:N", sort=list(ACTIVITY.values())),
            tooltip=[alt.Tooltip("month:N", title="Month"), "activity:N", "count:Q"])
        month = common.drill_chart(common.clickable(bars, "month"), "recruiter_activity", "month", "the month of")
        if common.shows_personal_data(PAGE):
            st.subheader("Per recruiter" + (f" in {month}" if month else ""))
            people = common.load(PAGE, "recruiter_activity_by_recruiter", filters=common.in_month(ctx.filters, month)
                                 ).frame.rename(columns=ACTIVITY)
            common.table(people, "recruiter_activity.csv", key="download-recruiters")
            common.log_personal_view(PAGE, f"recruiter activity per recruiter {month or ''}".strip(), len(people))
        else:
            shown = frame if not month else frame[frame["month"] == month]
            common.table(shown.drop(columns=["month"]).rename(columns=ACTIVITY), "recruiter_activity_by_month.csv",
                         column_config={"period_month": st.column_config.DateColumn("month", format="MMM YYYY")},
                         key="download-recruiter-months")

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
    family = common.drill_chart(common.clickable(bars, "job_family"), "silver_medalists", "job_family", "job family")
    if family:
        merged = merged[merged["job_family"] == family]
    common.table(merged.rename(columns={"people": "silver medalists", "contactable_people": "contactable",
                                        "open_jobs": "open jobs", "jobs": "open jobs they could fill"}),
                 "silver_medalists_by_family.csv", key="download-silver")
    if common.shows_personal_data(PAGE):
        family = family or st.selectbox("The people behind a job family (or click its bars)",
                                        ["—", *merged["job_family"].tolist()], key="drill_family")
        if family != "—":
            st.caption(f"The silver medalists in {family}:")
            people = common.load(PAGE, "silver_medalist_rows", None if family == "(unknown)" else family).frame
            common.table(people, f"silver_medalists_{family}.csv", key="download-silver-people")
            common.log_personal_view(PAGE, f"silver medalists: {family}", len(people))

    referrals.section(PAGE)


common.guarded(body)
