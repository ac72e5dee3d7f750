"""Campaigns: per campaign (and variant / step where the mart has them) sent -> delivered -> opened
(machine opens apart) -> clicked -> applied -> hired; bounce, unsubscribe and complaint rates against
the thresholds; each segment's size and make-up; the pool's engagement heat bands. Aggregates only."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common, segments

PAGE = "campaigns"
STAGES = (("sent", "Sent"), ("delivered", "Delivered"), ("opened", "Opened (people)"), ("clicked", "Clicked"),
          ("applied_people", "Applied"), ("hired_people", "Hired"))
RATES = (("bounce_rate", "Bounce rate", "of sent"), ("unsubscribe_rate", "Unsubscribe rate", "of delivered"),
         ("complaint_rate", "Complaint rate", "of delivered"))


def body() -> None:
    st.title("Campaigns")
    st.caption("What each campaign's mail led to. Opens count people only: opens by mail-privacy machines "
               "(which fetch every image) are shown apart.")
    result = common.load(PAGE, "campaign_performance")
    perf = result.frame
    common.note_not_applied(result, "Campaign performance")
    thresholds = common.context().access.campaign_thresholds
    if perf.empty:
        st.info("No campaign was sent in this period.")
    else:
        keys = [c for c in ("campaign_name", "variant", "sequence_step") if c in perf.columns]
        for key in keys[1:]:   # a campaign without variants or steps reads "—" there
            perf[key] = perf[key].astype("string").fillna("—")
        perf["campaign"] = perf[keys].astype(str).agg(" · ".join, axis=1)
        totals = perf[[c for c, _ in STAGES] + ["machine_opened_only", "bounced", "unsubscribed", "complained"]].sum()
        cols = st.columns(len(STAGES) + 1)
        for col, (column, label) in zip(cols, STAGES):
            col.metric(label, common.count(totals[column]))
        cols[-1].metric("Machine opens only", common.count(totals["machine_opened_only"]),
                        help="Opened only by a privacy proxy, not by a person: not in the open figures.")

        funnel = pd.DataFrame({"stage": [label for _, label in STAGES], "count": [totals[c] for c, _ in STAGES]})
        bars = alt.Chart(funnel).mark_bar(color="#0b6e4f").encode(
            y=alt.Y("stage:N", title=None, sort=list(funnel["stage"])),
            x=alt.X("count:Q", title="Messages (sent … clicked) / people (applied, hired)", scale=alt.Scale(type="symlog")),
            tooltip=["stage:N", alt.Tooltip("count:Q", format=",")])
        common.chart(bars + bars.mark_text(align="left", dx=4).encode(text=alt.Text("count:Q", format=",")),
                     key="campaign_funnel")
        st.caption("All campaigns in the period together; log scale, so applications and hires stay visible.")

        st.subheader("Per campaign: engagement and list health")
        rates = perf.assign(applied_rate=perf["applied_people"] / perf["delivered"].where(perf["delivered"] > 0))
        shown_rates = (("human_open_rate", "Opened"), ("click_rate", "Clicked"), ("applied_rate", "Applied"),
                       *[(c, label) for c, label, _ in RATES])
        long = rates.melt(id_vars=["campaign"], value_vars=[c for c, _ in shown_rates], var_name="rate", value_name="value")
        long["limit"] = long["rate"].map(thresholds)
        long["status"] = [("over the limit" if v > lim else "within the limit") if lim == lim and lim is not None
                          else "engagement" for v, lim in zip(long["value"].fillna(0), long["limit"])]
        long["rate"] = long["rate"].map(dict(shown_rates))
        grid = alt.Chart(long).encode(
            x=alt.X("rate:N", title=None, sort=[label for _, label in shown_rates], axis=alt.Axis(orient="top", labelAngle=0)),
            y=alt.Y("campaign:N", title=None, sort=list(perf["campaign"]), axis=alt.Axis(labelLimit=260)))
        cells = grid.mark_rect(stroke="white").encode(
            color=alt.Color("status:N", title=None, scale=alt.Scale(
                domain=["engagement", "within the limit", "over the limit"], range=["#dfeee7", "#eef1f0", "#f4b6b6"])),
            tooltip=["campaign:N", "rate:N", alt.Tooltip("value:Q", format=".2%"), alt.Tooltip("limit:Q", format=".2%")])
        labels = grid.mark_text(fontSize=12).encode(text=alt.Text("value:Q", format=".1%"))
        campaign = common.drill_chart((common.clickable(cells, "campaign") + labels).properties(height=32 * len(perf)),
                                      "campaign_rates", "campaign", "campaign")
        limits = ", ".join(f"{label.lower()} {thresholds[c]:.1%} {of}" for c, label, of in RATES if c in thresholds)
        st.caption(f"Opened, clicked and applied are shares of delivered mail. Red: over the limit "
                   f"(config/dashboards.yaml): {limits}.")
        shown = perf[perf["campaign"] == campaign] if campaign else perf
        shown = shown[["campaign", "first_sent_at", *[c for c, _ in STAGES], "machine_opened_only", "bounced",
                      "unsubscribed", "complained", "human_open_rate", "click_rate", *[c for c, _, _ in RATES]]]
        common.table(shown, "campaign_performance.csv",
                     column_config={c: st.column_config.NumberColumn(format="percent")
                                    for c in ("human_open_rate", "click_rate", *[c for c, _, _ in RATES])})

    segments.section(PAGE)

    st.subheader("Engagement heat of the pool")
    st.caption("People in the pool now by heat band (hot: engaged recently; inactive: no engaging touch in six "
               "months), for the people the filters select.")
    heat = common.load(PAGE, "heat_bands").frame
    heat, hidden = common.suppress_small_cells(heat, ["people"])
    if heat["people"].fillna(0).sum() == 0:
        st.info("No one in the pool for these filters.")
        return
    donut = alt.Chart(heat.dropna(subset=["people"])).mark_arc(innerRadius=60).encode(
        theta=alt.Theta("people:Q"),
        color=alt.Color("heat_band:N", title="Heat band", sort=list(common.HEAT_COLORS),
                        scale=alt.Scale(domain=list(common.HEAT_COLORS), range=list(common.HEAT_COLORS.values()))),
        tooltip=[alt.Tooltip("heat_band:N", title="Heat band"), alt.Tooltip("people:Q", format=",")])
    left, right = st.columns([2, 3])
    with left:
        band = common.drill_chart(common.clickable(donut, "heat_band"), "heat_bands", "heat_band", "heat band")
        if band:
            heat = heat[heat["heat_band"] == band]
    with right:
        common.suppressed_note(hidden)
        common.table(heat.rename(columns={"heat_band": "heat band"}), "pool_heat_bands.csv", key="download-heat")


common.guarded(body)
