"""EEO applicants: voluntary self-identification (gender, race / ethnicity) by outcome, in aggregate
only (rpt_eeo_applicants' aggregate export), for every role. Nothing here can single anyone out: the
mart withholds cells under its own minimum, the page hides counts under min_cell_size, and wherever a
row or column would hold a single hidden cell (worked out by subtracting the others from a total seen
elsewhere, e.g. the same applicants under the other question) a complementary cell is hidden too."""
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
    st.caption("Applicants (people) by their voluntary EEO answers and where their applications ended, over "
               "the years the period touches. Answers are optional: 'Decline To Self Identify' and 'Not "
               "answered' are shown as given.")
    dimension = st.segmented_control("Question", list(EEO_DIMENSIONS), default="gender",
                                     format_func=EEO_DIMENSIONS.get, key="eeo_dimension") or "gender"
    result = common.load(PAGE, "eeo_applicants", dimension)
    common.note_not_applied(result, "EEO answers")
    frame = result.frame
    if frame.empty:
        st.info("No EEO answers from applicants in this period.")
        return
    frame["outcome"] = frame["outcome"].map(EEO_OUTCOMES).fillna(frame["outcome"])
    shown, small, complements = suppress_with_complements(frame, "applicants", "category", "outcome",
                                                          ctx.access.min_cell_size)
    visible = shown.dropna(subset=["applicants"])
    if visible.empty:
        st.info("Every cell is too small to show for these filters: widen the period or clear the job family.")
    else:
        pick = alt.selection_point(fields=["category"], name="pick")
        bars = alt.Chart(visible).mark_bar().add_params(pick).encode(
            y=alt.Y("category:N", title=None, sort="-x", axis=alt.Axis(labelLimit=280)),
            x=alt.X("applicants:Q", title="Applicants", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("outcome:N", title="Outcome", sort=list(EEO_OUTCOMES.values()),
                            scale=alt.Scale(domain=list(EEO_OUTCOMES.values()), range=["#9ecae1", "#c8d6cf", "#0b6e4f"])),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
            tooltip=[alt.Tooltip("category:N", title=EEO_DIMENSIONS[dimension]), "outcome:N",
                     alt.Tooltip("applicants:Q", title="Applicants", format=",")])
        event = common.chart(bars, key="eeo_chart", on_select="rerun")
        chosen = common.picked(event, "pick", "category")
        if chosen:
            st.caption(f"Showing {chosen} only (click the chart's background to show every answer).")
            shown = shown[shown["category"] == chosen]
    if small or complements:
        st.caption(f"{small} cell(s) with fewer than {ctx.access.min_cell_size} applicants (or withheld by the "
                   f"mart) and {complements} more that would give one away from the totals are hidden.")
    order = [o for o in EEO_OUTCOMES.values() if o in set(shown["outcome"])]
    table = shown.pivot(index="category", columns="outcome", values="applicants").reindex(columns=order)
    # a cell the mart has no row for had no applicants: 0, unlike a hidden (blank) one
    absent = shown.assign(row=1).pivot(index="category", columns="outcome", values="row").reindex(columns=order).isna()
    table = table.mask(absent, 0).reset_index().rename(columns={"category": EEO_DIMENSIONS[dimension].lower()})
    table.columns.name = None
    counts = {c: st.column_config.NumberColumn(c, format="%d", help="Blank: hidden") for c in EEO_OUTCOMES.values()}
    common.table(table, f"eeo_{dimension}.csv", column_config=counts, key="download-eeo")
    st.caption("Blank cells are hidden, not zero.")


common.guarded(body)
