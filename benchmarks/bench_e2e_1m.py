"""The whole pipeline end to end on a 1M-people world: `bench_e2e`'s full run, 1% change and daily run,
with one stand-in, said in every row: the MiniLM encoder.

Why a stand-in: embedding a million profiles with MiniLM takes ~95 min on this machine's 2 cores
(`bench_search`, "refresh after a 1% change", baseline), longer than every other stage together, and it
is the one stage whose cost is already known to be linear (a fixed rate per document). So the profile
index gets vectors from a hashing encoder (scikit-learn's HashingVectorizer over the same documents,
384 dimensions, unit length: deterministic and cheap, so the same documents give the same vectors and
the embedding cache behaves as in production), and everything else runs as it does in `make demo`:
services, ingestion, identity, dbt, the search index (BM25, compressed codes, the HNSW graph built on the
stand-in vectors), saved searches, exports, activation.

MiniLM's own time is measured in the same run on a sample of the run's documents (the first
`RATE_SAMPLE` the index asked for, the model loaded and warmed first) and reported as its own row: the
rate and what the full run's embedding would take at it.

Needs ~11 GB of memory for generating the world once (cached under data/bench/) and ~15 GB of disk.
"""
from __future__ import annotations

import contextlib
import time

import numpy as np

from benchmarks.bench_e2e import measure
from benchmarks.common import BenchResult, scratch_home
from warmpool.search.embeddings import DIMENSIONS, Encoder

PEOPLE = 1_000_000
QUICK_PEOPLE = 2_000
RATE_SAMPLE = 2_000
LABEL = " [encoder stand-in]"


@contextlib.contextmanager
def stand_in_encoder(sample: list[str], calls: list[tuple[float, int]]):
    """`Encoder.encode` replaced by a hashing encoder for the duration; the first RATE_SAMPLE texts it is
    asked for are kept in `sample`, and each call's (time, number of texts) in `calls` (the job runs in
    this process, so the patch reaches the asset)."""
    # scikit-learn comes with sentence-transformers; imported here, only when a benchmark asks
    from sklearn.feature_extraction.text import HashingVectorizer

    hashing = HashingVectorizer(n_features=DIMENSIONS, alternate_sign=True, norm="l2", dtype=np.float32)
    real = Encoder.encode

    def encode(self, texts):
        texts = list(texts)
        calls.append((time.time(), len(texts)))
        sample.extend(texts[:max(0, RATE_SAMPLE - len(sample))])
        vectors = hashing.transform(texts).toarray().astype(np.float32)
        empty = ~vectors.any(axis=1)
        vectors[empty, 0] = 1.0   # a document with no token still gets a unit vector
        return vectors

    Encoder.encode = encode
    try:
        yield
    finally:
        Encoder.encode = real


def minilm_rate(texts: list[str]) -> float:
    """Documents per second of the real encoder on `texts`, the model loaded and warmed first."""
    encoder = Encoder()
    encoder.encode(texts[:32])
    started = time.perf_counter()
    encoder.encode(texts)
    return len(texts) / (time.perf_counter() - started)


def run(quick: bool) -> list[BenchResult]:
    people = QUICK_PEOPLE if quick else PEOPLE
    sample: list[str] = []
    calls: list[tuple[float, int]] = []
    with scratch_home("bench-e2e-1m-") as tmp:
        with stand_in_encoder(sample, calls):
            out, seconds = measure(people, tmp, LABEL)
    rate = minilm_rate(sample)
    size = f"{people:,} people"
    full_texts = sum(n for at, n in calls if at < seconds["daily_started"])
    daily_texts = sum(n for at, n in calls if at >= seconds["daily_started"])
    minilm_full, minilm_daily = full_texts / rate, daily_texts / rate
    out.append(BenchResult(
        "search embedding with MiniLM (rate on the run's documents)", size, minilm_full, "s",
        "the full run without its search embedding stage", seconds["full"] - seconds["full_embedding"],
        note=f"{rate:.0f} documents/s on {len(sample):,} of the run's documents (bfloat16 where native), so "
             f"{minilm_full / 60:.0f} min for the full run's {full_texts:,} documents (the stand-in took "
             f"{seconds['full_embedding']:.0f} s of its stage) and {minilm_daily:.0f} s for the daily run's "
             f"{daily_texts:,}; with MiniLM the full run would take about "
             f"{(seconds['full'] - seconds['full_embedding'] + minilm_full) / 60:.0f} min"))
    return out
