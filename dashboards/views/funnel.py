"""Funnel: pool -> contacted -> engaged -> applied -> interviewed -> offered -> hired, with the conversion
at each step, by cohort month, job family, first source or country. Aggregates only."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from warmpool.reporting.queries import FUNNEL_BREAKDOWNS, FUNNEL_STEPS

PAGE = "funnel"
STEP_LABELS = dict(FUNNEL_STEPS)


def body() -> None:
    st.title("Funnel")
    st.caption("People who got at least this far, from joining the talent pool to being hired (the period "
               "picks the month they joined). Each step is a subset of the one before.")
    totals = common.load(PAGE, "funnel_totals").frame.iloc[0]
    if not totals["pool_people"]:
        st.info("No one joined the pool in this period: widen the period or clear a filter.")
        return
    steps = pd.DataFrame({"step": [label for _, label in FUNNEL_STEPS],
                          "people": [int(totals[col]) for col, _ in FUNNEL_STEPS]})
    steps["of previous step"] = (steps["people"] / steps["people"].shift(1)).where(steps.index > 0)
    steps["of the pool"] = steps["people"] / steps["people"].iloc[0]

    cols = st.columns(len(FUNNEL_STEPS))
    for col, (_, r) in zip(cols, steps.iterrows()):
        col.metric(r["step"], common.count(r["people"]),
                   delta=None if pd.isna(r["of previous step"]) else f"{r['of previous step']:.1%} of previous",
                   delta_color="off")
    funnel = alt.Chart(steps).mark_bar(color="#0b6e4f").encode(
        x=alt.X("people:Q", title="People", scale=alt.Scale(type="symlog")),
        y=alt.Y("step:N", title=None, sort=list(steps["step"])),
        tooltip=[alt.Tooltip("step:N", title="Step"), alt.Tooltip("people:Q", title="People", format=","),
                 alt.Tooltip("of previous step:Q", format=".1%"), alt.Tooltip("of the pool:Q", format=".1%")])
    text = funnel.mark_text(align="left", dx=4).encode(text=alt.Text("people:Q", format=","))
    common.chart(funnel + text, key="funnel_steps")
    st.caption("Bar length on a log scale, so the later steps stay visible.")

    st.subheader("Conversion by segment")
    by = st.segmented_control("Segment by", list(FUNNEL_BREAKDOWNS), default="job_family",
                              format_func=FUNNEL_BREAKDOWNS.get, key="funnel_breakdown") or "job_family"
    segments = common.load(PAGE, "funnel_by", by).frame
    if by == "first_source":
        segments["breakdown"] = segments["breakdown"].map(common.source_label)
    elif by == "country_code":
        segments["breakdown"] = segments["breakdown"].map(lambda v: common.place_label(None if v == "(unknown)" else v))
    counts = [col for col, _ in FUNNEL_STEPS]
    segments, hidden = common.suppress_small_cells(segments, counts)
    # a share of nobody is blank, not 0% (and a hidden count leaves its share blank too)
    segments["applied of pool"] = segments["applied_people"] / segments["pool_people"].where(segments["pool_people"] > 0)
    segments["hired of applied"] = segments["hired_people"] / segments["applied_people"].where(segments["applied_people"] > 0)
    long = segments.melt(id_vars=["breakdown"], value_vars=["applied of pool", "hired of applied"],
                         var_name="conversion", value_name="rate").dropna()
    if long.empty:
        st.info("Every segment is too small to show.")
    else:
        bars = alt.Chart(long).mark_bar().encode(
            y=alt.Y("breakdown:N", title=FUNNEL_BREAKDOWNS[by], sort=None),
            x=alt.X("rate:Q", title="Conversion", axis=alt.Axis(format="%")),
            color=alt.Color("conversion:N", title=None), yOffset="conversion:N",
            tooltip=[alt.Tooltip("breakdown:N", title=FUNNEL_BREAKDOWNS[by]), "conversion:N",
                     alt.Tooltip("rate:Q", format=".1%")])
        segment = common.drill_chart(common.clickable(bars, "breakdown"), "funnel_segments", "breakdown",
                                     FUNNEL_BREAKDOWNS[by].lower())
        if segment:
            segments = segments[segments["breakdown"] == segment]
    common.suppressed_note(hidden)
    table = segments.rename(columns={"breakdown": FUNNEL_BREAKDOWNS[by].lower(), **STEP_LABELS})
    common.table(table, f"funnel_by_{by}.csv",
                 column_config={"applied of pool": st.column_config.NumberColumn(format="percent"),
                                "hired of applied": st.column_config.NumberColumn(format="percent")})


common.guarded(body)
