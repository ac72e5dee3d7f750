"""Leadership & ROI: hires, spend and cost per hire by source, channel and vendor over time; time to
hire; hires under each attribution model; vendor contracts; employee referrals (counts); pool growth.
Aggregates only. Clicking a chart's bar or point narrows the table below it."""
from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import common, referrals
from warmpool.reporting.queries import ATTRIBUTION_MODELS, POOL_BREAKDOWNS

PAGE = "leadership"


def body() -> None:
    st.title("Leadership & ROI")
    st.caption("Hires, spend and time to hire by where candidates came from. Money is in US dollars; spend is "
               "what vendors charged for resumes (job boards' and agencies' costs are not in the data), counted "
               "under the job family and country of each person bought, so every filter applies to it.")

    headline = common.load(PAGE, "roi_headline")
    pool = common.load(PAGE, "pool_size")
    row = headline.frame.iloc[0]
    cols = st.columns(5)
    cols[0].metric("Hires", common.count(row["hires"]))
    cols[1].metric("Resume spend", common.money(row["spend"]))
    cols[2].metric("Cost per hire", common.money(row["cost_per_hire"]),
                   help="Spend ÷ hires of the sources whose cost is known (vendors and free sources).")
    cols[3].metric("Average days to hire", common.count(row["avg_days_to_hire"]),
                   help="From application to hire.")
    cols[4].metric("People in the pool", common.count(pool.frame["pool"].iloc[0]),
                   help=f"{common.count(pool.frame['joined'].iloc[0])} joined in the period.")
    common.note_not_applied(headline, "Hires, spend and cost per hire (rpt_source_roi)")

    if not row["hires"] and not row["applications"]:
        st.info("No applications or hires in this period: widen the period or clear a filter.")
        return

    st.subheader("Hires per month by channel")
    by = st.segmented_control("Break down by", ["channel", "source", "vendor"], default="channel",
                              key="roi_breakdown", format_func=str.capitalize) or "channel"
    monthly = common.load(PAGE, "roi_by_month", by).frame
    pick = alt.selection_point(fields=["breakdown"], name="pick")
    chart = alt.Chart(monthly).mark_bar().add_params(pick).encode(
        x=alt.X("yearmonth(period_month):T", title="Month"),
        y=alt.Y("sum(hires):Q", title="Hires", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("breakdown:N", title=by.capitalize()),
        tooltip=[alt.Tooltip("yearmonth(period_month):T", title="Month"), alt.Tooltip("breakdown:N", title=by),
                 alt.Tooltip("sum(hires):Q", title="Hires"), alt.Tooltip("sum(spend):Q", title="Spend ($)", format=",.0f")],
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)))
    event = common.chart(chart, key="hires_by_month", on_select="rerun")
    chosen = common.picked(event, "pick", "breakdown")
    if chosen:
        st.caption(f"The rows behind {chosen} (click the chart's background to clear):")
    else:
        chosen = st.selectbox(f"The rows behind a {by} (or click a bar)",
                              ["—", *sorted(monthly["breakdown"].dropna().unique())], key=f"drill_{by}")
    if chosen != "—":
        rows = common.load(PAGE, "roi_rows", by, chosen).frame
        common.table(rows, f"source_roi_{by}_{chosen}.csv", key="download-drill")

    by_source = common.load(PAGE, "roi_by_source").frame
    left, right = st.columns(2)
    clicked = []
    with left:
        st.subheader("Spend vs hires per source")
        paid = by_source[by_source["spend"].fillna(0) > 0]
        if paid.empty:
            st.info("No resume spend in this period.")
        else:
            scatter = alt.Chart(paid).mark_circle(size=160).encode(
                x=alt.X("spend:Q", title="Resume spend ($)", axis=alt.Axis(format="$,.0f")),
                y=alt.Y("hires:Q", title="Hires", axis=alt.Axis(tickMinStep=1, format="d")),
                color=alt.Color("source_name:N", title="Source"),
                tooltip=[alt.Tooltip("source_name:N", title="Source"), alt.Tooltip("spend:Q", title="Spend ($)", format=",.0f"),
                         alt.Tooltip("hires:Q", title="Hires"), alt.Tooltip("cost_per_hire:Q", title="Cost per hire ($)", format=",.0f")])
            clicked.append(common.drill_chart(common.clickable(scatter, "source_name"), "spend_vs_hires",
                                              "source_name", "source"))
    with right:
        st.subheader("Average days to hire per source")
        timed = by_source.dropna(subset=["avg_days_to_hire"])
        if timed.empty:
            st.info("No hires in this period.")
        else:
            bars = alt.Chart(timed).mark_bar().encode(
                x=alt.X("avg_days_to_hire:Q", title="Average days from application to hire"),
                y=alt.Y("source_name:N", title=None, sort="-x", axis=alt.Axis(labelLimit=200)),
                tooltip=[alt.Tooltip("source_name:N", title="Source"),
                         alt.Tooltip("avg_days_to_hire:Q", title="Days", format=".1f"), alt.Tooltip("hires:Q", title="Hires")])
            clicked.append(common.drill_chart(common.clickable(bars, "source_name"), "days_to_hire",
                                              "source_name", "source"))
    st.caption("Per source over the period (cost per hire: spend ÷ hires; blank where the cost is unknown).")
    source = next((c for c in clicked if c), None)
    if source:
        by_source = by_source[by_source["source_name"] == source]
    common.table(by_source.rename(columns={"source_name": "source"}), "hires_and_spend_by_source.csv",
                 column_config={"spend": st.column_config.NumberColumn("spend ($)", format="dollar"),
                                "cost_per_hire": st.column_config.NumberColumn("cost per hire ($)", format="dollar"),
                                "avg_days_to_hire": st.column_config.NumberColumn("avg days to hire", format="%.1f")})

    st.subheader("Hires by source under each attribution model")
    model = st.radio("Credit a hire to", list(ATTRIBUTION_MODELS), format_func=ATTRIBUTION_MODELS.get,
                     horizontal=True, key="attribution")
    credited = common.load(PAGE, "hires_by_attribution", model)
    if credited.frame.empty:
        st.info("No hires in this period.")
    else:
        frame = credited.frame.assign(source=credited.frame["credited_source"].map(common.source_label)
                                      if model != "ats_source" else credited.frame["credited_source"])
        bars = alt.Chart(frame).mark_bar().encode(
            x=alt.X("hires:Q", title="Hires credited", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("source:N", title=None, sort="-x", axis=alt.Axis(labelLimit=220)),
            tooltip=[alt.Tooltip("source:N", title="Source"), alt.Tooltip("hires:Q", title="Hires", format=",.1f")])
        source = common.drill_chart(common.clickable(bars, "source"), "attribution_chart", "source", "source")
        if source:
            frame = frame[frame["source"] == source]
        common.table(frame[["source", "hires"]], f"hires_{model}.csv", key="download-attribution")

    st.subheader("Vendor contracts")
    st.caption("Credits bought vs used per contract year, and the money spent buying people already in the "
               "pool — what searching the pool first would have saved.")
    contracts = common.load(PAGE, "vendor_contracts")
    common.note_not_applied(contracts, "A contract's credits and fee")
    if contracts.frame.empty:
        st.info("No vendor contracts in this period.")
    else:
        frame = contracts.frame.assign(year=contracts.frame["period_year"].astype(str).str[:4])
        long = frame.melt(id_vars=["vendor_name", "year"], value_vars=["credits_used", "credits_unused"],
                          var_name="credits", value_name="resumes")
        long["credits"] = long["credits"].map({"credits_used": "Used", "credits_unused": "Bought, not used"})
        long["contract"] = long["vendor_name"] + " " + long["year"]
        used = alt.Chart(long).mark_bar().encode(
            y=alt.Y("contract:N", title=None, axis=alt.Axis(labelLimit=260)), x=alt.X("resumes:Q", title="Credits (one resume each)", stack=True),
            color=alt.Color("credits:N", title=None, scale=alt.Scale(domain=["Used", "Bought, not used"],
                                                                      range=["#0b6e4f", "#c8d6cf"])),
            order=alt.Order("credits:N", sort="descending"),
            tooltip=[alt.Tooltip("contract:N", title="Contract"), "credits:N", alt.Tooltip("resumes:Q", format=",")])
        contract = common.drill_chart(common.clickable(used, "contract"), "vendor_credits", "contract",
                                      "the contract")
        latest = frame.sort_values("period_year").groupby("vendor_name").tail(1)
        cols = st.columns(max(len(latest), 1))
        for col, (_, r) in zip(cols, latest.iterrows()):
            col.metric(f"{r['vendor_name']} {r['year']}: credits used", common.percent(r["credit_utilization"]),
                       help=f"{common.count(r['credits_unused'])} unused; {common.money(r['already_in_pool_spend'])} "
                            "spent on people already in the pool.")
        if contract:
            frame = frame[frame["vendor_name"] + " " + frame["year"] == contract]
        common.table(frame.drop(columns=["period_year"]), "vendor_contracts.csv",
                     column_config={"credit_utilization": st.column_config.NumberColumn("credits used", format="percent"),
                                    "annual_fee": st.column_config.NumberColumn("annual fee ($)", format="dollar"),
                                    "spend": st.column_config.NumberColumn("spend ($)", format="dollar"),
                                    "already_in_pool_spend": st.column_config.NumberColumn(
                                        "spent on people already in the pool ($)", format="dollar")})

    referrals.section(PAGE)   # counts only here: the aggregate export names no referrer

    st.subheader("Pool growth")
    growth_by = st.segmented_control("New people per month by", list(POOL_BREAKDOWNS), default="source",
                                     format_func=POOL_BREAKDOWNS.get, key="growth_breakdown") or "source"
    growth = common.load(PAGE, "pool_growth", growth_by)
    frame = growth.frame
    if frame.empty:
        st.info("No one joined the pool in this period.")
        return
    label = {"source": common.source_label, "country_code": common.place_label}.get(growth_by, lambda v: v)
    frame = frame.assign(breakdown=frame["breakdown"].map(lambda v: label(None if v == "(unknown)" else v)))
    frame, hidden = common.suppress_small_cells(frame, ["new_people"])
    area = alt.Chart(frame.dropna(subset=["new_people"])).mark_bar().encode(
        x=alt.X("yearmonth(month):T", title="Month"), y=alt.Y("sum(new_people):Q", title="New people"),
        color=alt.Color("breakdown:N", title=POOL_BREAKDOWNS[growth_by]),
        tooltip=[alt.Tooltip("month:T", format="%b %Y"), alt.Tooltip("breakdown:N", title=POOL_BREAKDOWNS[growth_by]),
                 alt.Tooltip("sum(new_people):Q", title="New people")])
    breakdown = common.drill_chart(common.clickable(area, "breakdown"), "pool_growth", "breakdown",
                                   POOL_BREAKDOWNS[growth_by].lower())
    common.suppressed_note(hidden)
    if breakdown:
        frame = frame[frame["breakdown"] == breakdown]
    common.table(frame.rename(columns={"breakdown": POOL_BREAKDOWNS[growth_by].lower()}), "pool_growth.csv",
                 column_config={"month": st.column_config.DateColumn(format="MMM YYYY")}, key="download-growth")


common.guarded(body)
