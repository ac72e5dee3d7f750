"""The segments section (rpt_segment_sizes): how many people each segment of config/segments holds as of
the last run and who they are by job family or country, counts only. For roles without personal data
counts under min_cell_size are hidden, and in a breakdown also a complementary cell beside a lone
hidden one. Clicking a segment's bar narrows the breakdown to it."""
from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import common
from warmpool.reporting.privacy import suppress_with_complements
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
    ctx = common.context()
    if not ctx.role.personal_data:
        # a segment's size shows above: within a segment no cell may be the lone hidden one (its size
        # minus the cells shown would give it away), so a complementary cell is hidden with it
        breakdown, small, complements = suppress_with_complements(breakdown, "people", "segment", "segment",
                                                                  ctx.access.min_cell_size)
        if small or complements:
            st.caption(f"{small} cell(s) with fewer than {ctx.access.min_cell_size} people, and {complements} more "
                       "that would give one away from the segment's size, hidden so no one can be singled out.")
    common.table(breakdown.rename(columns={"breakdown": SEGMENT_BREAKDOWNS[by].lower()}),
                 f"segment_members_by_{by}.csv", key="download-segment-breakdown")
