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
# # Identity resolution diagnostics
#
# Runs top to bottom on a fresh sandbox world in a temporary home (never your `data/` folder):
# generate the world, resolve it with the saved model exactly as the pipeline does, then look at
# the model (m/u parameters, match weights), one pair's waterfall, the clusters, the review queue,
# and pairwise precision / recall against the world's truth.
#
# Charts are written as self-contained HTML files (Splink's JavaScript inlined: they open offline)
# into `OUT`. Open them in a browser, or in Jupyter with `IPython.display.IFrame`.
#
# Knobs (environment): `IDENTITY_NOTEBOOK_PEOPLE` (default 2000), `IDENTITY_NOTEBOOK_SEED` (42),
# `IDENTITY_NOTEBOOK_HOME` (default: a new temporary folder), `IDENTITY_NOTEBOOK_OUT` (default:
# `charts/` inside that home).

# %%
import logging
import os
import tempfile
from pathlib import Path

import polars as pl

from sandbox.world import generate_world
from warmpool import tables
from warmpool.identity import (explain_person, features_for_model, load_model, open_items, pairwise_scores,
                               resolve_pool, splink_table)
from warmpool.identity.normalize import to_contract_frame
from warmpool.warehouse import connect

PEOPLE = int(os.environ.get("IDENTITY_NOTEBOOK_PEOPLE", "2000"))
SEED = int(os.environ.get("IDENTITY_NOTEBOOK_SEED", "42"))
HOME = Path(os.environ.get("IDENTITY_NOTEBOOK_HOME") or tempfile.mkdtemp(prefix="warmpool-identity-nb-"))
OUT = Path(os.environ.get("IDENTITY_NOTEBOOK_OUT") or HOME / "charts")
OUT.mkdir(parents=True, exist_ok=True)
print(f"home {HOME}\ncharts {OUT}")

# %% [markdown]
# ## 1. A sandbox world and its pool of source records

# %%
summary = generate_world(people=PEOPLE, seed=SEED, home=HOME)
print(summary.describe())
records = to_contract_frame(pl.read_csv(HOME / "sandbox" / "exports" / "source_records.csv", infer_schema=False))
truth = pl.read_csv(HOME / "sandbox" / "truth" / "source_record_person.csv", infer_schema=False)
records.head(5)

# %% [markdown]
# ## 2. Resolve, as the pipeline does
# `resolve_pool` reads `intermediate.int_source_records` and writes `identity.*` (assignments,
# scored pairs, review queue, history, the id map).

# %%
con = connect(HOME / "warehouse.duckdb")
con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.INTERMEDIATE}")
con.register("_records", records.to_arrow())
con.execute(f"CREATE OR REPLACE TABLE {tables.SOURCE_RECORDS} AS SELECT * FROM _records")
con.unregister("_records")
stats = resolve_pool(con)
print(stats.describe())

# %% [markdown]
# ## 3. The model: m and u parameters, and the match weight of every comparison level
# m = how often a level happens between records of the same person, u = between different people;
# the match weight is log2(m / u). Levels with tiny u and large m carry the decision.

# %%
from splink import DuckDBAPI, Linker  # noqa: E402

model = load_model()
print(f"model v{model.model_version}, link threshold {model.threshold_match_probability}")
db_api = DuckDBAPI()
linker = Linker(db_api.register(splink_table(features_for_model(records.head(1000), model)), table_name="sample"),
                model.splink_settings, log_level=logging.WARNING)
linker.visualisations.m_u_parameters_chart().save(str(OUT / "m_u_parameters.html"), inline=True)
linker.visualisations.match_weights_chart().save(str(OUT / "match_weights.html"), inline=True)
print(sorted(p.name for p in OUT.iterdir()))

# %% [markdown]
# ## 4. One person's waterfall
# The person with the most records: each link holding them together, with every comparison's
# weight (the same view as `warmpool identity explain PERSON_ID`).

# %%
biggest = con.execute(f"""SELECT person_id FROM {tables.PERSON_ASSIGNMENTS}
    GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1""").fetchall()[0][0]
explanation = explain_person(con, biggest, model=model)
print(explanation.format_text()[:4000])
print(explanation.write_html(OUT / "waterfall.html"))

# %% [markdown]
# ## 5. Clusters
# Size distribution, the biggest clusters, and the pairs waiting for a reviewer.

# %%
assigned = pl.from_arrow(con.sql(
    f"SELECT source, source_record_id, person_id, cluster_size FROM {tables.PERSON_ASSIGNMENTS}").arrow().read_all())
sizes = assigned.group_by("person_id").len("records").group_by("records").len("persons").sort("records")
print(sizes)
big_people = assigned.filter(pl.col("cluster_size") == assigned["cluster_size"].max()).sort("person_id", "source")
print(big_people.head(20))
print(open_items(con, limit=10))

# %% [markdown]
# ## 6. Pairwise precision and recall against the truth
# Truth is read only here (never by matching). Precision: of the pairs put together, how many are
# one real person; recall: of the real pairs, how many were put together.

# %%
scores = pairwise_scores(assigned, truth)
print(scores.describe())
# where it went wrong: people split apart, and persons holding several real people
joined = assigned.join(truth, on=["source", "source_record_id"])
over_merged = joined.group_by("person_id").agg(pl.col("true_person_id").n_unique().alias("real_people")).filter(
    pl.col("real_people") > 1)
split_apart = joined.group_by("true_person_id").agg(pl.col("person_id").n_unique().alias("persons")).filter(
    pl.col("persons") > 1)
print(f"persons holding more than one real person: {over_merged.height}; "
      f"real people split over several persons: {split_apart.height}")

# %%
con.close()
db_api.duckdb_con.close()
