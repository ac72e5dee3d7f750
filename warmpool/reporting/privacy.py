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


def suppress_with_complements(frame: pd.DataFrame, value: str, row: str | list[str], column: str | list[str],
                              minimum: int) -> tuple[pd.DataFrame, int, int]:
    """A table of counts (one line per `row` x `column` cell, `value` null where already withheld; `row`
    and `column` may be lists of keys, e.g. [year, job family, answer] for one table per year and job
    family) with
    every count under `minimum` hidden, then complementary cells hidden too: a row or column with
    exactly one hidden cell would give it away by subtraction from a total shown or known elsewhere
    (the same applicants counted by another breakdown, say), so its smallest visible count is hidden
    with it, repeated until no row or column has a lone hidden cell. Returns the frame, how many cells
    were hidden as small (or already withheld) and how many as complements."""
    out = frame.copy()
    values = pd.to_numeric(out[value], errors="coerce").astype("Float64")
    small = values.isna() | ((values > 0) & (values < minimum))
    hidden = small.copy()
    complements = 0
    changed = True
    while changed:
        changed = False
        for key in (row, column):
            for _, members in out.groupby(key, sort=False, dropna=False).groups.items():
                lone = hidden.loc[members]
                if int(lone.sum()) != 1:
                    continue
                visible = values.loc[members][~lone]
                if visible.empty:
                    continue
                # the smallest count above zero (a zero hidden with it would give the lone cell away)
                candidates = visible[visible > 0]
                pick = (candidates if not candidates.empty else visible).astype(float).idxmin()
                hidden.loc[pick] = True
                complements += 1
                changed = True
    out[value] = values.mask(hidden)
    return out, int(small.sum()), complements
