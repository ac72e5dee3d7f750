"""EEO applicants: voluntary self-identification (gender, race / ethnicity) by outcome, per year and
job family, in aggregate only (rpt_eeo_applicants' aggregate export), for every role. Nothing here can
single anyone out: the mart withholds cells under its own minimum and the page never adds cells up
(a sum over a withheld cell is unknown); it hides counts under min_cell_size, and wherever an answer
(row) or an outcome (column) of a year and job family would hold a single hidden cell (worked out by
subtracting the others from a total seen elsewhere, e.g. the same applicants under the other
question) a complementary cell is hidden too."""
from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import common
from warmpool.reporting.privacy import suppress_with_complements
from warmpool.reporting.queries import EEO_DIMENSIONS, EEO_OUTCOMES

PAGE = "eeo"


def body() -> None:
    ctx = common.context()
    st.title("EEO applicants")
    st.caption("Applicants (people) by their voluntary EEO answers and where their applications ended, per year "
               "and job family, as the EEO mart counts them. Answers are optional: 'Decline To Self Identify' "
               "and 'Not answered' are shown as given.")
    dimension = st.segmented_control("Question", list(EEO_DIMENSIONS), default="gender",
                                     format_func=EEO_DIMENSIONS.get, key="eeo_dimension") or "gender"
    result = common.load(PAGE, "eeo_applicants", dimension)
    common.note_not_applied(result, "EEO answers")
    frame = result.frame
    if frame.empty:
        st.info("No EEO answers from applicants in this period.")
        return
    frame["outcome"] = frame["outcome"].map(EEO_OUTCOMES).fillna(frame["outcome"])
    frame["year and job family"] = frame["applied_year"].astype(str) + " · " + frame["job_family"]
    # one table per year and job family: within it, no answer (row) nor outcome (column) may hold a
    # single hidden cell
    block = ["applied_year", "job_family"]
    shown, small, complements = suppress_with_complements(frame, "applicants", [*block, "category"],
                                                          [*block, "outcome"], ctx.access.min_cell_size)
    visible = shown.dropna(subset=["applicants"])
    if visible.empty:
        st.info("Every cell is too small to show for these filters: widen the period or clear the job family.")
    else:
        bars = alt.Chart(visible).mark_bar().encode(
            y=alt.Y("year and job family:N", title=None, sort=None, axis=alt.Axis(labelLimit=280)),
            x=alt.X("applicants:Q", title="Applicants (cells shown)", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("category:N", title=EEO_DIMENSIONS[dimension]),
            yOffset=alt.YOffset("outcome:N", sort=list(EEO_OUTCOMES.values())),
            tooltip=[alt.Tooltip("year and job family:N"), alt.Tooltip("outcome:N", title="Outcome"),
                     alt.Tooltip("category:N", title=EEO_DIMENSIONS[dimension]),
                     alt.Tooltip("applicants:Q", title="Applicants", format=",")])
        chosen = common.drill_chart(common.clickable(bars, "category"), "eeo_chart", "category", "answer")
        if chosen:
            shown = shown[shown["category"] == chosen]
    if small or complements:
        st.caption(f"{small} cell(s) with fewer than {max(ctx.access.min_cell_size, 1)} applicants or withheld by "
                   f"the mart, and {complements} more that would give one away from a total, are hidden.")
    order = [o for o in EEO_OUTCOMES.values() if o in set(shown["outcome"])]
    keys = ["applied_year", "job_family", "category"]
    table = shown.pivot(index=keys, columns="outcome", values="applicants").reindex(columns=order)
    # a cell the mart has no row for had no applicants: 0, unlike a hidden (blank) one
    absent = shown.assign(row=1).pivot(index=keys, columns="outcome", values="row").reindex(columns=order).isna()
    table = (table.mask(absent, 0).reset_index()
             .rename(columns={"applied_year": "year", "category": EEO_DIMENSIONS[dimension].lower()}))
    table.columns.name = None
    counts = {c: st.column_config.NumberColumn(c, format="%d", help="None: hidden") for c in EEO_OUTCOMES.values()}
    counts["year"] = st.column_config.NumberColumn("year", format="%d")
    common.table(table, f"eeo_{dimension}.csv", column_config=counts, key="download-eeo")
    st.caption("Cells showing None are hidden, not zero.")


common.guarded(body)
