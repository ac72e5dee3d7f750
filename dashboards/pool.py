"""The talent pool page: people by source, from the marts' parquet exports."""
from __future__ import annotations

import streamlit as st

from dashboards.data import MartsNotExported, pool_by_source, read_mart

st.title("Talent pool")

try:
    candidates = read_mart("dim_candidates")
except MartsNotExported as exc:
    st.warning(str(exc))
    st.stop()

countries = sorted(c for c in candidates["country"].dropna().unique())
country = st.selectbox("Country", ["All countries", *countries])
selected = None if country == "All countries" else country
by_source = pool_by_source(candidates, selected)

pool = candidates if selected is None else candidates[candidates["country"] == selected]
left, middle, right = st.columns(3)
left.metric("People in the pool", f"{len(pool):,}")
middle.metric("Contactable", f"{int(pool['is_contactable'].sum()):,}")
right.metric("Found in 2+ sources", f"{int((pool['source_count'] >= 2).sum()):,}")

st.subheader("People by source")
st.bar_chart(by_source, x="source", y="people")
st.dataframe(by_source, hide_index=True)
st.download_button("Download (CSV)", by_source.to_csv(index=False), file_name="pool_by_source.csv", mime="text/csv")
