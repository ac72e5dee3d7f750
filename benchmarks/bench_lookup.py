"""Search first: one look-up ("is this person already in the pool?") against a 1M-record pool.

A look-up scores one record against the pool with the identity model. The pool is planned once per
search snapshot (``plan_pool``: its blocking plan, key columns and value counts) and each look-up then
gives Splink only the pool records sharing a key with the looked-up one. Baseline in the same run:
the same pairs scored as an incremental run scores new records (``score_delta_pairs``: the plan made
on pool + the record, every pool record given to Splink), which is what every look-up did before.

Queries: records held out of the pool whose person has other records in it (a sourcer about to buy
someone already there). Uses the identity benchmark's cached world (1,009,890 records, seed 51).
"""
from __future__ import annotations

import statistics
import time

import polars as pl

from benchmarks.bench_identity import WORLD_SEED, _world
from benchmarks.common import BenchResult, stopwatch

QUERIES = 20
BASELINE_QUERIES = 5  # the baseline takes seconds a query at 1M: fewer of them


def run(quick: bool) -> list[BenchResult]:
    from warmpool.identity import features_for_model, load_model, plan_pool, score_against_pool
    from warmpool.identity.scoring import score_delta_pairs
    from warmpool.search.lookup import POSSIBLE_FLOOR

    records_csv, truth_csv = _world(30_000 if quick else 600_000, WORLD_SEED)
    records = pl.read_csv(records_csv, infer_schema=False)
    truth = pl.read_csv(truth_csv, infer_schema=False)
    people = records.join(truth, on=["source", "source_record_id"]).with_columns(
        pl.len().over("true_person_id").alias("_records"))
    # one record each of QUERIES people with several records, spread over the file
    queries = people.filter(pl.col("_records") > 1).unique("true_person_id", keep="first", maintain_order=True)
    queries = queries.gather_every(max(queries.height // QUERIES, 1)).head(QUERIES)
    pool_records = records.join(queries.select("source", "source_record_id"), on=["source", "source_record_id"],
                                how="anti")
    model = load_model()
    with stopwatch() as feat:
        pool_f = features_for_model(pool_records, model)
    with stopwatch() as prep:
        planned = plan_pool(pool_f, model)
    true_person = dict(zip(zip(truth["source"], truth["source_record_id"]), truth["true_person_id"]))

    planned_s, baseline_s, found, same = [], [], 0, 0
    for i, query in enumerate(queries.drop("true_person_id", "_records").iter_slices(1)):
        started = time.perf_counter()
        got = score_against_pool(query, planned, model, min_probability=POSSIBLE_FLOOR)
        planned_s.append(time.perf_counter() - started)
        want = truth.filter(pl.col("source_record_id") == query["source_record_id"][0],
                            pl.col("source") == query["source"][0])["true_person_id"][0]
        if got.height:
            best = got.sort("match_probability", descending=True).row(0, named=True)
            other = (best["source_r"], best["source_record_id_r"]) if best["source_l"] == query["source"][0] and \
                best["source_record_id_l"] == query["source_record_id"][0] else (best["source_l"], best["source_record_id_l"])
            found += true_person.get(other) == want
        if i < BASELINE_QUERIES:
            new_f = features_for_model(query, model).with_columns(pl.col("unique_id") + pool_f.height)
            cols = [c for c in pool_f.columns if c in new_f.columns]
            started = time.perf_counter()
            expected = score_delta_pairs(pool_f.select(cols), new_f.select(cols), pool_f.clear(), model, POSSIBLE_FLOOR)
            baseline_s.append(time.perf_counter() - started)
            keys = ["source_l", "source_record_id_l", "source_r", "source_record_id_r"]
            same += got.select(keys).sort(keys).equals(expected.select(keys).sort(keys))
    size = f"pool of {pool_f.height:,} records"
    memory_mb = planned.features.estimated_size("mb")
    return [
        BenchResult("search-first look-up, median of one query against the planned pool", size,
                    statistics.median(planned_s), "s", "the same query planning pool + query and scoring the whole pool",
                    statistics.median(baseline_s),
                    f"{len(planned_s)} queries (baseline: the first {len(baseline_s)}; the same pairs on {same} of them); "
                    f"the top match is the true person for {found} of {len(planned_s)}; slowest planned query "
                    f"{max(planned_s):.2f} s"),
        BenchResult("preparing the pool for look-ups once per search snapshot (plan_pool)", size, prep["seconds"], "s",
                    "normalising the pool's features (features_for_model)", feat["seconds"],
                    f"the planned pool holds {memory_mb:,.0f} MB (features and key columns) in the process that answers "
                    f"look-ups; the search refresh writes the features, a page or service plans them on its first look-up"),
    ]
