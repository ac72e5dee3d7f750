"""Warmpool dashboards (Streamlit): sign-in or local mode, the role's pages in the sidebar, the filters
every page honours and the "data as of" time. Thin: the figures come from warmpool.reporting's queries
over the marts' parquet exports, never the warehouse file."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` from a checkout

from dashboards import common  # noqa: E402
from dashboards.registry import PAGES  # noqa: E402
from warmpool.config import get_settings  # noqa: E402
from warmpool.exports import export_manifest  # noqa: E402
from warmpool.reporting.access import load_access  # noqa: E402
from warmpool.reporting.marts import Filters, MartsNotExported  # noqa: E402

st.set_page_config(page_title="Warmpool dashboards", page_icon=":material/insights:", layout="wide")
access = load_access()


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all: local mode
        return False


# ---- who is looking ---------------------------------------------------------------------------------
local_mode = not auth_configured()
if local_mode:
    names = list(access.roles)
    role_name = st.sidebar.selectbox("Viewing as", names, index=names.index(access.local_role), key="role",
                                     format_func=lambda n: access.roles[n].label)
    role = access.roles[role_name]
    user = f"local:{role.name}"
    st.sidebar.warning("Local mode: no sign-in. Configure OIDC (`[auth]` in .streamlit/secrets.toml) before "
                       "sharing these dashboards.", icon=":material/lock_open:")
else:
    if not st.user.get("is_logged_in"):
        st.title("Warmpool dashboards")
        st.write("Sign in with your company account to see the recruiting dashboards.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    user = str(st.user.get("email") or "")
    role = access.role_for(user)
    if role is None:
        st.title("Warmpool dashboards")
        st.error(f"{user or 'This account'} has no dashboard role. Ask the data team to add it to "
                 "config/dashboards.yaml.")
        st.button("Sign out", on_click=st.logout)
        st.stop()
    st.sidebar.caption(f"Signed in as {user} ({role.label})")
    st.sidebar.button("Sign out", on_click=st.logout)

# ---- the filters every page honours -----------------------------------------------------------------
settings = get_settings()
manifest = export_manifest(settings)
version = manifest["exported_at"] if manifest else None
try:
    choices = common.run_query(version, str(settings.home), True, "filter_choices", None, ()) if version else None
except MartsNotExported:
    choices = None

filters = Filters()
st.sidebar.caption(common.as_of_caption(version))
if choices and choices["first_day"] is not None:
    months = [d.date() for d in pd.date_range(
        date(choices["first_day"].year, choices["first_day"].month, 1), choices["last_day"], freq="MS")]
    if len(months) > 1:
        start, end = st.sidebar.select_slider("Period", options=months, value=(months[0], months[-1]),
                                              format_func=lambda d: d.strftime("%b %Y"), key="period")
    else:
        start = end = months[0]
    families = st.sidebar.multiselect("Job family", choices["job_families"], key="job_families",
                                      placeholder="All job families")
    countries = st.sidebar.multiselect("Location", choices["countries"], key="countries",
                                       format_func=common.place_label, placeholder="All countries")
    sources = st.sidebar.multiselect("Source", choices["sources"], key="sources", format_func=common.source_label,
                                     placeholder="All sources")
    filters = Filters(period_start=start if start != months[0] else None,
                      period_end=end if end != months[-1] else None,
                      job_families=tuple(families), countries=tuple(countries), sources=tuple(sources))

st.session_state[common.CONTEXT_KEY] = common.PageContext(role=role, user=user, local_mode=local_mode,
                                                          access=access, filters=filters, version=version)

pages = [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path) for p in PAGES if p.key in role.pages]
st.navigation(pages).run()
