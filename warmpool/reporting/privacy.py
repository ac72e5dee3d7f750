"""Small-cell suppression: in a breakdown by person attributes, a count of fewer than `minimum` people
is hidden (set to null), so an aggregate page cannot single anyone out."""
from __future__ import annotations

import pandas as pd


def suppress_small_counts(frame: pd.DataFrame, columns: list[str], minimum: int) -> tuple[pd.DataFrame, int]:
    """The frame with counts in `columns` below `minimum` (but above 0) set to null, and how many were."""
    out = frame.copy()
    hidden = 0
    for column in columns:
        values = pd.to_numeric(out[column], errors="coerce")
        small = (values > 0) & (values < minimum)
        hidden += int(small.sum())
        out[column] = values.astype("Float64").mask(small)
    return out, hidden
