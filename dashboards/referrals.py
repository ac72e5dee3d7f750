"""The employee-referrals section (rpt_referrals): referrals per month and what became of the people
referred, with the referrers by name for roles that may see personal data (each view logged), and
counts only, small ones hidden, for the others (the aggregate export holds no referrer)."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from warmpool.reporting.queries import REFERRAL_STEPS


def section(page: str) -> None:
    ctx = common.context()
    st.subheader("Employee referrals")
    st.caption("Referrals made through the referral form each month, and what became of the people referred "
               "from the day of the referral on. The source filter applies as the referral source.")
    result = common.load(page, "referral_totals")
    common.note_not_applied(result, "Referrals")
    totals = result.frame.iloc[0]
    if not totals["referrals"]:
        st.info("No referrals in this period.")
        return
    cols = st.columns(len(REFERRAL_STEPS) + 1)
    for col, (column, label) in zip(cols, REFERRAL_STEPS.items()):
        col.metric(label, common.count(totals[column]))
    cols[-1].metric("Days from referral to hire", common.count(totals["avg_days_to_hire"]),
                    help="Average over the people hired.")
    monthly = common.load(page, "referrals_by_month").frame
    monthly["month"] = pd.to_datetime(monthly["referral_month"]).dt.strftime("%b %Y")
    steps = [c for c in REFERRAL_STEPS if c != "referrals"]
    long = monthly.melt(id_vars=["referral_month", "month"], value_vars=steps, var_name="step", value_name="people")
    long["step"] = long["step"].map(REFERRAL_STEPS)
    bars = alt.Chart(long).mark_bar().encode(
        x=alt.X("referral_month:T", title="Month of the referral", timeUnit="yearmonth"),
        y=alt.Y("people:Q", title="People", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("step:N", title=None, sort=[REFERRAL_STEPS[c] for c in steps],
                        scale=alt.Scale(range=["#c8d6cf", "#7cc4a4", "#2f9c72", "#0b6e4f"])),
        xOffset=alt.XOffset("step:N", sort=[REFERRAL_STEPS[c] for c in steps]),
        tooltip=[alt.Tooltip("month:N", title="Month"), alt.Tooltip("step:N", title="Step"), "people:Q"])
    month = common.drill_chart(common.clickable(bars, "month"), "referrals_chart", "month", "referrals made in")
    if common.shows_personal_data(page):
        st.caption("Who refers" + (f" (referrals made in {month})" if month else "") + ":")
        people = common.load(page, "referrals_by_referrer", filters=common.in_month(ctx.filters, month)).frame
        common.table(people.rename(columns=REFERRAL_STEPS), "referrers.csv",
                     column_config={"avg_days_to_hire": st.column_config.NumberColumn(
                         "days from referral to hire", format="%.0f")}, key="download-referrers")
        common.log_personal_view(page, f"referrers {month or ''}".strip(), len(people))
    else:
        shown, hidden = common.suppress_small_cells(
            monthly if not month else monthly[monthly["month"] == month], list(REFERRAL_STEPS))
        common.suppressed_note(hidden)
        common.table(shown.drop(columns=["month"]).rename(columns=REFERRAL_STEPS), "referrals_by_month.csv",
                     column_config={"referral_month": st.column_config.DateColumn("month", format="MMM YYYY"),
                                    "avg_days_to_hire": st.column_config.NumberColumn(
                                        "days from referral to hire", format="%.0f")},
                     key="download-referral-months")
