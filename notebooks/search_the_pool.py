# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Searching the pool from a notebook
#
# Reads the search index the last pipeline run built (`make demo` first); never the warehouse.
# Every call below is a search a person makes, so each is written to the search audit log with
# your name (`$WARMPOOL_USER`, else your login name) — see docs/search.md.

# %%
from warmpool.search import LookupQuery, lookup_person, search

response = search("senior data engineer spark airflow", {"country": "US", "contactable_only": True}, limit=10)
print(f"{len(response.results)} of {response.allowed:,} people who pass the filters")
for r in response.results:
    print(r.rank, r.person_id, r.profile["current_title"], "|", ", ".join(r.why["matched_terms"]),
          f"| similarity {r.why['similarity']}")

# %% [markdown]
# Search first: is someone a vendor offers already in the pool?

# %%
answer = lookup_person(LookupQuery(name="Bob Smith", email="bob.smith@example.com", city="Seattle"))
print(answer.describe())
