"""Warmpool dashboards (Streamlit): the pages in the sidebar. Thin: the talent pool page reads the marts'
parquet exports; the recruiter pages read the search index (warmpool.search), never the warehouse."""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` from a checkout

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="Warmpool", layout="wide")
page = st.navigation([
    st.Page(HERE / "pool.py", title="Talent pool", default=True),
    st.Page(HERE / "search_page.py", title="Recruiter search", url_path="search"),
    st.Page(HERE / "lookup_page.py", title="Search first (look-up)", url_path="lookup"),
])
page.run()
