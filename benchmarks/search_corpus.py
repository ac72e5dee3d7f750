"""The 1M-profile corpus of the search benchmark and its embeddings, cached.

Profiles are the generator's people (``sandbox.world.generate_profiles``: no sources, ATS or files,
which a search benchmark does not need), turned into documents by the same builder the pipeline
uses. Their embeddings take about an hour on both cores, so they are computed once, niced, into an
``EmbeddingStore`` under ``data/bench/`` keyed by the generator version and the model; the store is
keyed by document hash inside, so a changed generator or document builder only adds what changed,
and an interrupted run resumes where it stopped:

    nice -n 19 .venv/bin/python -m benchmarks.search_corpus 1000000
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from sandbox.world import GENERATOR_VERSION, generate_profiles, person_positions, person_truth
from warmpool.search.documents import ProfileDocument, build_document
from warmpool.search.embeddings import MODEL_NAME, EmbeddingStore, EmbedProgress, Encoder

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "data" / "bench"
SEED = 61  # a world of its own (identity uses 11, 21, 41, 51)
CORPUS_SIZE = 1_000_000  # the generator's draws depend on the count: smaller sizes are prefixes of this corpus


def store_dir() -> Path:
    return CACHE / f"search_embeddings_g{GENERATOR_VERSION}_{MODEL_NAME}"


def profiles(people: int, seed: int = SEED) -> list[dict]:
    """``dim_candidates``-like rows (with ``positions``) for the first ``people`` of the corpus."""
    rows = []
    for p in generate_profiles(CORPUS_SIZE, seed)[:people]:
        row = person_truth(p)
        row["person_id"] = p.pid
        row["positions"] = person_positions(p)
        rows.append(row)
    return rows


def documents(rows: list[dict]) -> list[ProfileDocument]:
    return [build_document(r, r["positions"]) for r in rows]


def embed(docs: list[ProfileDocument], log=print) -> dict:
    """Embed what the cache lacks; returns {"embedded": n, "seconds": s}."""
    store = EmbeddingStore(store_dir())
    last = [0.0]

    def progress(p: EmbedProgress) -> None:
        if time.monotonic() - last[0] > 30 or p.done == p.total:
            last[0] = time.monotonic()
            log(f"   embedded {p.done:,}/{p.total:,} ({p.per_second:.0f}/s)")

    started = time.perf_counter()
    n = store.embed_missing([d.doc_hash for d in docs], [d.text for d in docs], Encoder(), progress=progress)
    return {"embedded": n, "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else CORPUS_SIZE
    t0 = time.perf_counter()
    docs = documents(profiles(count))
    print(f"{len(docs):,} documents in {time.perf_counter() - t0:.0f} s", flush=True)
    print(embed(docs, log=lambda s: print(s, flush=True)))
