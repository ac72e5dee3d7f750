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

The sends run under a daily limit of 50,000 mails (`campaigns.daily_limit`, set as a deployment sets it:
a copy of the configuration whose warmpool.yaml says so, named by `WARMPOOL_CONFIG`). Uncapped, the first
run would send ~319k mails at the loopback server's ~60-100/s, about an hour of the run; capped, it sends
50,000 and leaves the rest planned. The rows say the limit, the mails sent and deferred, the send rate
measured over the `campaign_sends` step, and what an uncapped first run's sends would take at that rate,
derived (mails / rate), not measured. Quick mode scales the limit with the world (100 for 2,000 people),
so it defers too.

Needs ~11 GB of memory for generating the world once (cached under data/bench/) and ~15 GB of disk.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import sqlite3
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.bench_e2e import measure
from benchmarks.common import BenchResult, scratch_home
from warmpool.campaigns.ledger import iso
from warmpool.config import CONFIG_DIR
from warmpool.search.embeddings import DIMENSIONS, Encoder

PEOPLE = 1_000_000
QUICK_PEOPLE = 2_000
RATE_SAMPLE = 2_000
LABEL = " [encoder stand-in]"
DAILY_LIMIT = 50_000
QUICK_DAILY_LIMIT = 100  # the same share of the quick world as 50,000 of 1M: quick mode defers as well


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


def configure_daily_limit(workdir: Path, limit: int) -> None:
    """The run's configuration: a copy of the configuration folder whose warmpool.yaml sets
    campaigns.daily_limit, named by WARMPOOL_CONFIG (scratch_home restores the environment)."""
    folder = workdir / "config"
    shutil.copytree(CONFIG_DIR, folder)
    path = folder / "warmpool.yaml"
    text, n = re.subn(r"(?m)^(\s+daily_limit:)\s*\d+", rf"\g<1> {limit}", path.read_text())
    if n != 1:
        raise RuntimeError(f"{CONFIG_DIR / 'warmpool.yaml'} has no campaigns.daily_limit line to set")
    path.write_text(text)
    os.environ["WARMPOOL_CONFIG"] = str(path)


def send_totals(reports: dict) -> Counter:
    """planned, sent and deferred_by_daily_limit summed over a run's send reports (campaign_sends'
    metadata; a sequence's steps and an A/B test's variants are send reports of their own)."""
    totals: Counter = Counter()

    def walk(node) -> None:
        if isinstance(node, dict) and "content_version" in node:
            totals.update({k: int(node.get(k) or 0) for k in ("planned", "sent", "deferred_by_daily_limit")})
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(reports)
    return totals


def smtp_seconds(ledger_path: Path, before: float) -> float:
    """From the first mail marked submitted to the last accepted, of the mails submitted before `before`
    (time.time()): the sending alone, without the step's planning of the audience."""
    with contextlib.closing(sqlite3.connect(ledger_path)) as con:
        first, last = con.execute("select min(submitted_at), max(finished_at) from sends where state = 'accepted' "
                                  "and submitted_at < ?", (iso(dt.datetime.fromtimestamp(before, dt.timezone.utc)),)
                                  ).fetchone()
    if not first:
        return 0.0
    parse = lambda t: dt.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731 (iso()'s format)
    return (parse(last) - parse(first)).total_seconds()


def daily_limit_rows(limit: int, size: str, seconds: dict, smtp_s: float) -> list[BenchResult]:
    full, daily = send_totals(seconds["full_send_reports"]), send_totals(seconds["daily_send_reports"])
    sent, deferred = full["sent"], full["deferred_by_daily_limit"]
    mails = sent + deferred  # what the first run would have sent without the limit
    step = seconds["full_sends"]
    rate = sent / step if step else 0.0
    smtp_rate = sent / smtp_s if smtp_s else 0.0
    return [
        BenchResult(f"campaign sends with a daily limit of {limit:,}: mails sent by the first run", size, sent,
                    "mails", "the first run's mails without the limit (sent + deferred by the daily limit)", mails,
                    note=f"campaigns.daily_limit {limit:,} (a copy of warmpool.yaml named by WARMPOOL_CONFIG); "
                         f"deferred_by_daily_limit {deferred:,}, left planned for later days; the daily run right "
                         f"after (the same UTC day unless midnight fell between) sent {daily['sent']:,} and "
                         f"deferred {daily['deferred_by_daily_limit']:,}"),
        BenchResult("campaign sends: send rate over the campaign_sends step (first run, capped)", size, rate,
                    "mails/s", "the rate over the SMTP part alone (first mail submitted to last accepted, ledger)",
                    smtp_rate,
                    note=f"{sent:,} mails in the step's {step:.0f} s, which also plans and checks the whole "
                         f"audience ({full['planned']:,} ledger rows); the SMTP part {smtp_s:.0f} s"),
        BenchResult("campaign sends without the limit, DERIVED (mails / measured rate), not measured", size,
                    mails / rate if rate else float("nan"), "s",
                    "the capped first run's campaign_sends step (measured)", step,
                    note=f"derived: {mails:,} mails / {rate:.1f} mails/s (the step's rate); at the SMTP part's "
                         f"rate alone {mails / smtp_rate if smtp_rate else float('nan'):.0f} s"),
    ]


def run(quick: bool) -> list[BenchResult]:
    people = QUICK_PEOPLE if quick else PEOPLE
    limit = QUICK_DAILY_LIMIT if quick else DAILY_LIMIT
    sample: list[str] = []
    calls: list[tuple[float, int]] = []
    with scratch_home("bench-e2e-1m-") as tmp:
        configure_daily_limit(tmp, limit)
        with stand_in_encoder(sample, calls):
            out, seconds = measure(people, tmp, LABEL)
        smtp_s = smtp_seconds(tmp / f"e2e-{people}" / "campaigns" / "ledger.sqlite", seconds["daily_started"])
    rate = minilm_rate(sample)
    size = f"{people:,} people"
    for row in daily_limit_rows(limit, size, seconds, smtp_s):
        row.what += LABEL  # the stand-in encoder ran in this run too
        out.append(row)
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
