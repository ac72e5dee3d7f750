"""Identity resolution: `warmpool resolve` at 1M records, incremental matching, and accuracy.

Baselines measured in the same run: a naive exact-email dedupe (DuckDB group by the lower-cased,
trimmed address) on the same file for speed; the full resolve for incremental; naive rules (exact
normalised email, or phone + surname) for accuracy.

The 1M-record sandbox world (600k people, ~8 min to generate) is cached under data/bench/.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from benchmarks.common import CACHE, ROOT, BenchResult, generator_digest, stopwatch

WORLD_SEED = 51          # never used for training (11) or threshold tuning (41)
ACCURACY_SEED = 21


def _world(people: int, seed: int) -> tuple[Path, Path]:
    home = CACHE / f"identity_world_{people}_{seed}_{generator_digest()}"
    records = home / "sandbox" / "exports" / "source_records.csv"
    truth = home / "sandbox" / "truth" / "source_record_person.csv"
    if not (records.exists() and truth.exists()):
        from sandbox.world import generate_world

        print(f"   generating sandbox world {people:,} people seed {seed} ...", flush=True)
        generate_world(people=people, seed=seed, home=home)
    return records, truth


def _naive_email_dedupe(path: Path) -> tuple[float, int]:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    n = con.sql(f"""
        SELECT count(DISTINCT coalesce(lower(trim(email)), source || '|' || source_record_id))
        FROM read_csv('{path}', all_varchar = true, header = true)""").fetchall()[0][0]
    con.close()
    return time.perf_counter() - started, n


def run(quick: bool) -> list[BenchResult]:
    from warmpool.identity import (febrl4_records, features_for_model, load_model, match_incremental,
                                   naive_rule_clusters, pairwise_scores, resolve_frame, term_counts)

    people = 30_000 if quick else 600_000
    records_csv, truth_csv = _world(people, WORLD_SEED)
    results: list[BenchResult] = []
    out_csv = CACHE / f"resolved_{people}.csv"

    # --- full resolve in a child process (what a user runs); peak RSS of that child
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    with stopwatch() as full:
        child = subprocess.Popen([str(Path(sys.executable).with_name("warmpool")), "resolve", str(records_csv),
                                  "--output", str(out_csv)], env=env, cwd=ROOT)
        # wait4: the peak of THIS child only (RUSAGE_CHILDREN would also count earlier children).
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, child.args)
    full_rss = usage.ru_maxrss / 1024
    naive_s, naive_persons = _naive_email_dedupe(records_csv)
    resolved = pl.read_csv(out_csv, infer_schema=False)
    truth = pl.read_csv(truth_csv, infer_schema=False)
    size = f"{resolved.height:,} records"
    s_full = pairwise_scores(resolved, truth)
    results += [
        BenchResult("warmpool resolve wall time", size, full["seconds"], "s", "naive exact-email dedupe (DuckDB)",
                    naive_s, f"{resolved['person_id'].n_unique():,} persons vs {naive_persons:,} by exact email; "
                    f"2 cores, load average {os.getloadavg()[0]:.1f} when it ended; target <= 120 s"),
        BenchResult("warmpool resolve peak memory", size, full_rss, "MB", "limit", 8192.0, "peak RSS of the child"),
        BenchResult("pairwise F1 at full size", size, s_full.f1, "", "naive rules F1",
                    pairwise_scores(naive_rule_clusters(pl.read_csv(records_csv, infer_schema=False)), truth,
                                    predicted_col="cluster_id").f1,
                    f"P {s_full.precision:.4f} R {s_full.recall:.4f} (world seed {WORLD_SEED})"),
    ]

    # --- incremental: the last 10k arrivals against the rest, pool features cached beforehand
    records = pl.read_csv(records_csv, infer_schema=False)
    n_new = 1_000 if quick else 10_000
    pool_records, new_records = records.head(records.height - n_new), records.tail(n_new)
    pool = pool_records.select("source", "source_record_id").join(
        resolved.select("source", "source_record_id", "person_id"), on=["source", "source_record_id"],
        how="left", maintain_order="left")
    model = load_model()
    with stopwatch() as feat:
        pool_features = features_for_model(pool_records, model)
        pool_counts = term_counts(pool_features, model)
    del records, pool_records
    with stopwatch() as inc:
        clusters = match_incremental(new_records, pool, model, pool_features=pool_features,
                                     pool_term_counts=pool_counts)
    agree = pairwise_scores(clusters.join(resolved, on=["source", "source_record_id"]), None,
                            predicted_col="cluster_id", truth_col="person_id")
    results.append(BenchResult(
        f"incremental match of {n_new:,} new records", f"pool of {pool.height:,}", inc["seconds"], "s",
        "full warmpool resolve", full["seconds"],
        f"pool features and value counts cached beforehand ({feat['seconds']:.1f} s to build); agreement with the full run: "
        f"pairwise F1 {agree.f1:.5f} (pool ids taken from the full run); target ratio <= 0.10"))
    del pool_features, clusters

    # --- the pipeline's resolve_pool: a full run on the whole file, and an incremental run against the
    # full run on the same records
    results += pool_full(records_csv, truth, full["seconds"])
    results += pool_incremental(records_csv, 20_000 if quick else 200_000, 200 if quick else 2_000)

    # --- accuracy on a held-out sandbox world and on FEBRL4, beside naive rules
    acc_people = 3_000 if quick else 20_000
    acc_records_csv, acc_truth_csv = _world(acc_people, ACCURACY_SEED)
    acc_records = pl.read_csv(acc_records_csv, infer_schema=False)
    acc_truth = pl.read_csv(acc_truth_csv, infer_schema=False)
    s = pairwise_scores(resolve_frame(acc_records, model=model), acc_truth)
    nv = pairwise_scores(naive_rule_clusters(acc_records), acc_truth, predicted_col="cluster_id")
    results.append(BenchResult("pairwise F1, sandbox world never trained on", f"{acc_records.height:,} records",
                               s.f1, "", "naive rules (email, or phone + surname)", nv.f1,
                               f"model P {s.precision:.4f} R {s.recall:.4f}; naive P {nv.precision:.4f} "
                               f"R {nv.recall:.4f}; seed {ACCURACY_SEED}"))
    febrl, febrl_truth = febrl4_records()
    s = pairwise_scores(resolve_frame(febrl), febrl_truth)  # auto: the model adapts to FEBRL's columns
    nv = pairwise_scores(naive_rule_clusters(febrl), febrl_truth, predicted_col="cluster_id")
    results.append(BenchResult("pairwise F1, FEBRL4 without soc_sec_id", "10,000 records", s.f1, "",
                               "naive rules (email, or phone + surname)", nv.f1,
                               f"model P {s.precision:.4f} R {s.recall:.4f}; auto mode (adapted to the input, no FEBRL model); "
                               f"FEBRL has no email/phone so naive rules find nothing"))
    return results


def _pool_warehouse(records: pl.DataFrame):
    """An in-memory warehouse holding ``records`` as the source records, in a scratch home (the feature
    cache lives under the home)."""
    import tempfile

    import duckdb

    from warmpool import config, tables
    from warmpool.warehouse import replace_duckdb_table

    os.environ["WARMPOOL_HOME"] = tempfile.mkdtemp(prefix="warmpool-bench-identity-")
    config._settings_for.cache_clear()
    con = duckdb.connect()
    replace_duckdb_table(con, tables.SOURCE_RECORDS, records)
    return con


def _assignments(con) -> pl.DataFrame:
    """``source, source_record_id, person_id`` of every record, by key."""
    from warmpool import tables

    return pl.from_arrow(con.sql(f"SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS} "
                                 "ORDER BY 1, 2").arrow().read_all())


def pool_full(records_csv: Path, truth: pl.DataFrame, resolve_seconds: float) -> list[BenchResult]:
    """The pipeline's identity step (``resolve_pool``, a first full run) on the whole file, beside
    ``warmpool resolve`` on the same file: both block with the pool's plan, so the pairs and people agree."""
    from warmpool import tables
    from warmpool.identity import pairwise_scores, resolve_pool

    con = _pool_warehouse(pl.read_csv(records_csv, infer_schema=False))
    stats = resolve_pool(con, full=True)
    people = _assignments(con)
    pairs = con.sql(f"SELECT count(*) FROM {tables.RECORD_PAIRS}").fetchall()[0][0]
    con.close()
    s = pairwise_scores(people, truth)
    return [BenchResult(
        "resolve_pool full run (the pipeline's identity step)", f"{people.height:,} records", stats.seconds, "s",
        "warmpool resolve, same file", resolve_seconds,
        f"{stats.persons:,} persons; pairwise F1 {s.f1:.4f} (P {s.precision:.4f} R {s.recall:.4f}); {pairs:,} scored "
        f"pairs stored for review and explain; writes assignments, pairs, queue and id map in the warehouse; "
        f"2 cores, load average {os.getloadavg()[0]:.1f} when it ended")]


def pool_incremental(records_csv: Path, pool_n: int, new_n: int) -> list[BenchResult]:
    """resolve_pool on a warehouse of the first ``pool_n`` records, then ``new_n`` more arrive:
    the incremental run against a full run (``full=True``) of the same final state."""
    from warmpool import tables
    from warmpool.identity import resolve_pool
    from warmpool.warehouse import replace_duckdb_table

    records = pl.read_csv(records_csv, infer_schema=False, n_rows=pool_n + new_n)
    con = _pool_warehouse(records.head(pool_n))
    first = resolve_pool(con)
    replace_duckdb_table(con, tables.SOURCE_RECORDS, records)
    inc = resolve_pool(con)
    inc_ids = _assignments(con)
    full = resolve_pool(con, full=True)
    same = inc_ids.equals(_assignments(con))
    con.close()
    return [BenchResult(
        f"resolve_pool incremental run, {new_n:,} new records", f"pool of {pool_n:,}", inc.seconds, "s",
        "resolve_pool full=True, same records", full.seconds,
        f"{inc.kind}: {inc.note}; full run assigns identical person ids: {same}; "
        f"first full run on the pool {first.seconds:.1f} s (includes normalising and caching features)")]

