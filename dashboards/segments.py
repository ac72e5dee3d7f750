"""The segments section (rpt_segment_sizes): how many people each segment of config/segments holds as of
the last run and who they are by job family or country, counts only; for roles without personal data
counts under min_cell_size are hidden. Clicking a segment's bar narrows the breakdown to it."""
from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import common
from warmpool.reporting.queries import SEGMENT_BREAKDOWNS


def section(page: str) -> None:
    st.subheader("Segments")
    st.caption("People in each segment (config/segments/*.yaml) as of the last pipeline run: the audiences "
               "campaigns draw from, the segments saved searches and the search page filter by. The job family "
               "and location filters select among the members.")
    result = common.load(page, "segment_sizes")
    common.note_not_applied(result, "Segment membership")
    sizes, hidden = common.suppress_small_cells(result.frame, ["people"])
    if result.frame["people"].fillna(0).sum() == 0:
        st.info("No segment has members for these filters.")
        return
    bars = alt.Chart(sizes.dropna(subset=["people"])).mark_bar(color="#0b6e4f").encode(
        y=alt.Y("segment:N", title=None, sort="-x", axis=alt.Axis(labelLimit=300)),
        x=alt.X("people:Q", title="People"),
        tooltip=[alt.Tooltip("segment:N", title="Segment"), alt.Tooltip("segment_version:Q", title="Version"),
                 alt.Tooltip("people:Q", format=",")])
    left, right = st.columns([3, 2])
    with left:
        segment = common.drill_chart(common.clickable(bars, "segment").properties(height=34 * len(sizes) + 20),
                                     "segment_sizes", "segment", "segment")
    with right:
        common.suppressed_note(hidden)
        common.table(sizes.rename(columns={"segment_version": "version"}), "segment_sizes.csv",
                     key="download-segment-sizes")
    by = st.radio("Break the members down by", list(SEGMENT_BREAKDOWNS), format_func=SEGMENT_BREAKDOWNS.get,
                  horizontal=True, key="segment_breakdown")
    breakdown = common.load(page, "segment_breakdown", by, segment).frame
    if by == "country_code":
        breakdown["breakdown"] = breakdown["breakdown"].map(lambda c: common.place_label(None if c == "(unknown)" else c))
    breakdown, hidden = common.suppress_small_cells(breakdown, ["people"])
    common.suppressed_note(hidden)
    common.table(breakdown.rename(columns={"breakdown": SEGMENT_BREAKDOWNS[by].lower()}),
                 f"segment_members_by_{by}.csv", key="download-segment-breakdown")
