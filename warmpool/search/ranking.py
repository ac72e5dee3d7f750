"""The best k of many scores, fast: shared by the vector and keyword rankings.

``np.argpartition`` costs ~11 ms on a million scores at 1M-profile scale (measured on 2 cores), more
than the scoring itself. A strided sample's quantile gives a threshold that keeps a few times k
scores; only those are partitioned. Should the threshold keep fewer than k (a skewed order), the
full partition answers, so the result is always the exact top k.
"""
from __future__ import annotations

import numpy as np

SAMPLE_ABOVE = 20_000   # below this many scores a plain partition is already cheap
SAMPLE_STRIDE = 16      # every 16th score estimates the threshold
SAMPLE_MARGIN = 3       # keep about 3x k above the threshold


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``scores``, largest first (ties: lower position first)."""
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = None  # positions, ascending, that surely hold the top k
    if n > SAMPLE_ABOVE and k * SAMPLE_STRIDE * SAMPLE_MARGIN < n:
        sample = scores[::SAMPLE_STRIDE]
        rank = min(len(sample) - 1, SAMPLE_MARGIN * k // SAMPLE_STRIDE + 1)
        threshold = np.partition(sample, len(sample) - 1 - rank)[len(sample) - 1 - rank]
        above = np.flatnonzero(scores >= threshold)
        if len(above) >= k:
            candidates = above
    values = scores if candidates is None else scores[candidates]
    kth = values[np.argpartition(-values, k - 1)[k - 1]]
    # everything above the k-th score, then the earliest of those tied with it: the same k every run
    above, tied = np.flatnonzero(values > kth), np.flatnonzero(values == kth)
    chosen = np.concatenate([above, tied[: k - len(above)]])
    best = chosen if candidates is None else candidates[chosen]
    order = np.lexsort((best, -scores[best]))
    return best[order].astype(np.int64)
