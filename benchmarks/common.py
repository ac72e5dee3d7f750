"""What every benchmark reports: a figure beside a baseline measured in the same run.

A benchmark module is `benchmarks/bench_<area>.py` with `run(quick: bool) -> list[BenchResult]`.
Machines here are small and noisy, so every figure is paired with a baseline from the same run
and the ratio is what to compare across runs.
"""
from __future__ import annotations

import os
import resource
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "data" / "bench"  # generated worlds kept between runs (git-ignored with data/)


def generator_digest() -> str:
    """Changes whenever the world generator does, so a cached world is never a stale one."""
    import hashlib

    h = hashlib.sha256()
    for name in ("world.py", "vocab.py"):
        h.update((ROOT / "sandbox" / name).read_bytes())
    return h.hexdigest()[:10]


@dataclass
class BenchResult:
    what: str                 # what was measured
    size: str                 # on what size
    figure: float
    unit: str
    baseline_what: str        # the baseline measured in the same run
    baseline_figure: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.figure / self.baseline_figure if self.baseline_figure else float("nan")

    def as_dict(self) -> dict:
        return asdict(self) | {"ratio": self.ratio}


@contextmanager
def stopwatch() -> Iterator[dict]:
    out: dict = {}
    start = time.perf_counter()
    try:
        yield out
    finally:
        out["seconds"] = time.perf_counter() - start


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or its finished children), in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


@contextmanager
def scratch_home(prefix: str) -> Iterator[Path]:
    """A temporary folder for a benchmark's worlds; the environment (WARMPOOL_HOME and friends, which the
    measurements set) is restored and the folder removed afterwards."""
    saved = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield Path(tmp)
    finally:
        os.environ.clear()
        os.environ.update(saved)
