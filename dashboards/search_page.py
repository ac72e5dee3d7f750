"""Recruiter search: hybrid search of the pool with filters; each result with its golden profile, sources,
work history, consent and contactability; add results to a pipeline; export. Every search is audited."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from warmpool.config import get_settings
from warmpool.search import FilterError, IndexNotBuilt, SearchFilters, engine, search, sourcing_store, who

st.title("Recruiter search")
settings = get_settings()
try:
    index = engine(settings).index
except IndexNotBuilt as exc:
    st.warning(str(exc))
    st.stop()

profiles = index.profiles


def options(column: str) -> list[str]:
    return sorted(v for v in profiles[column].dropna().astype(str).unique() if v) if column in profiles else []


with st.form("search"):
    query = st.text_input("What are you looking for?", placeholder="senior data engineer spark airflow", key="query")
    left, middle, right = st.columns(3)
    country = left.selectbox("Country", ["Any", *options("country_code")])
    city = left.text_input("City")
    families = middle.multiselect("Job family", options("job_family"))
    skills = middle.multiselect("Has all of these skills", sorted(index.table.skill_rows))
    sources = right.multiselect("Found in any of these sources", sorted(index.table.source_rows))
    min_years = right.number_input("Years of experience, at least", min_value=0.0, max_value=60.0, value=0.0, step=1.0)
    segment = right.selectbox("In segment", ["Any", *sorted(index.table.segment_rows)], key="segment",
                              help="Members of a segment of config/segments as of the last pipeline run.")
    a, b, c, d = st.columns(4)
    contactable = a.checkbox("Contactable only", key="contactable")
    silver = b.checkbox("Silver medalists only")
    recent = c.checkbox("Active since")
    since = c.date_input("since", value=date(2026, 1, 1), label_visibility="collapsed")
    limit = d.number_input("Results", min_value=1, max_value=200, value=20)
    user = st.text_input("Your name (kept in the search audit log)", value=who(None), key="user")
    requisition = st.text_input("Requisition / ATS job (optional, audited)")
    submitted = st.form_submit_button("Search")

if submitted:
    try:
        filters = SearchFilters(country=None if country == "Any" else country, city=city or None,
                                job_families=tuple(families), skills=tuple(skills), sources=tuple(sources),
                                min_years=min_years or None, contactable_only=contactable,
                                silver_medalist_only=silver, active_since=since if recent else None,
                                segment=None if segment == "Any" else segment)
        response = search(query, filters, int(limit), user=user, requisition_id=requisition or None, channel="page",
                          settings=settings)
        st.session_state["search_response"] = response
    except (FilterError, ValueError) as exc:
        st.error(str(exc))

response = st.session_state.get("search_response")
if response is None:
    st.info(f"{index.rows:,} people in the index (built {index.manifest.get('built_at')}).")
    st.stop()

st.caption(f"{len(response.results)} of {response.allowed:,} people who pass the filters "
           f"({response.search_seconds * 1000:.0f} ms)")
table = pd.DataFrame([{
    "rank": r.rank, "person_id": r.person_id,
    "name": " ".join(x for x in (r.profile.get("first_name"), r.profile.get("last_name")) if x),
    "title": r.profile.get("current_title"), "company": r.profile.get("current_company"),
    "location": ", ".join(x for x in (r.profile.get("city"), r.profile.get("country")) if x),
    "sources": r.profile.get("sources"), "consent": r.profile.get("consent_state"),
    "contactable": bool(r.profile.get("is_contactable")), "silver medalist": bool(r.profile.get("is_silver_medalist")),
    "matched terms": ", ".join(r.why["matched_terms"]), "similarity": r.why["similarity"],
} for r in response.results])
st.dataframe(table, hide_index=True, width="stretch")
st.download_button("Export results (CSV)", table.to_csv(index=False), file_name="search_results.csv", mime="text/csv")

st.subheader("Add to a pipeline")
with sourcing_store.sourcing_store(settings.sourcing_store_path) as con:
    pipes = sourcing_store.pipelines(con)
with st.form("add"):
    chosen = st.multiselect("People", table["person_id"].tolist(), default=table["person_id"].tolist()[:5])
    existing = st.selectbox("Pipeline", ["New pipeline ..."] + [p["name"] for p in pipes])
    new_name = st.text_input("New pipeline's name (if new)", key="new_pipeline")
    if st.form_submit_button("Add"):
        name = new_name.strip() if existing == "New pipeline ..." else existing
        if not name:
            st.error("Name the new pipeline.")
        else:
            with sourcing_store.sourcing_store(settings.sourcing_store_path) as con:
                pid = sourcing_store.create_pipeline(con, name, who(user))
                added = sourcing_store.add_members(con, pid, chosen, who(user), "search")
            st.success(f"{len(added)} added to {name!r} ({len(chosen) - len(added)} were already in it).")

st.subheader("Profiles")
for r in response.results:
    p = r.profile
    with st.expander(f"{r.rank}. {p.get('first_name') or ''} {p.get('last_name') or ''} — "
                     f"{p.get('current_title') or ''}"):
        left, right = st.columns(2)
        left.markdown(f"**Golden profile**  \n{p.get('current_title') or '-'} at {p.get('current_company') or '-'}  \n"
                      f"{p.get('city') or '-'}, {p.get('region') or '-'}, {p.get('country') or '-'}  \n"
                      f"{p.get('years_experience') or '-'} years; {p.get('seniority') or '-'} "
                      f"{p.get('job_family') or ''}  \nSkills: {p.get('skills') or '-'}  \n"
                      f"Segments: {(p.get('segments') or '-').replace(';', ', ')}")
        right.markdown(f"**Consent and contact**  \nConsent: {p.get('consent_state')}  \n"
                       f"Contactable: {'yes' if p.get('is_contactable') else 'no'}"
                       f"{'' if p.get('is_contactable') else ' (' + str(p.get('not_contactable_reason')) + ')'}  \n"
                       f"Engagement: {p.get('heat_band')}  \nLast activity: {p.get('last_activity_at') or '-'}  \n"
                       f"Why it matched: similarity {r.why['similarity']}, terms {', '.join(r.why['matched_terms']) or '-'}")
        st.markdown("**Sources**")
        st.dataframe(index.records_of(r.person_id).drop(columns=["person_id"], errors="ignore"), hide_index=True)
        st.markdown("**Work history**")
        st.dataframe(index.positions_of(r.person_id).drop(columns=["person_id"], errors="ignore"), hide_index=True)
