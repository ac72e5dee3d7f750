"""Search first: before buying a profile from a vendor, is this person already in the pool? Audited."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from warmpool.config import get_settings
from warmpool.search import IndexNotBuilt, LookupQuery, NothingToLookUp, lookup_person, who

st.title("Search first")
st.caption("What the vendor shows you: the identity model (nicknames, typos, moved cities, any phone format) "
           "tells you whether the pool already holds this person, and how sure it is.")
with st.form("lookup"):
    left, right = st.columns(2)
    name = left.text_input("Name", key="name")
    email = right.text_input("Email", key="email")
    phone = left.text_input("Phone", key="phone")
    url = right.text_input("Profile URL", key="url")
    city = left.text_input("City", key="city")
    company = right.text_input("Current employer", key="company")
    user = st.text_input("Your name (kept in the search audit log)", value=who(None), key="user")
    submitted = st.form_submit_button("Look up")

if submitted:
    try:
        answer = lookup_person(LookupQuery(name=name or None, email=email or None, phone=phone or None,
                                           profile_url=url or None, city=city or None, company=company or None),
                               user=user, channel="lookup", settings=get_settings())
    except (IndexNotBuilt, NothingToLookUp) as exc:
        st.warning(str(exc))
        st.stop()
    if answer.verdict == "in_pool":
        st.error("Already in the pool: do not buy this profile.")
    elif answer.verdict == "possible":
        st.warning("Possibly in the pool: check the records below before buying.")
    else:
        st.success("Not in the pool.")
    rows = [{"person_id": m.person_id, "how sure": f"{m.probability:.1%}", "record": f"{r['source']}:{r['source_record_id']}",
             "name": r.get("name"), "email": r.get("email"), "record match": f"{r['probability']:.1%}"}
            for m in answer.matches for r in m.records]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
