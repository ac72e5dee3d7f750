"""Vectorised helpers over polars Series that the domain's `*_many` functions share.

A rule written as a plain Python function (a name, a URL, an email address) is applied to a column
of a million values by running it once per *distinct* value and joining the answers back: recruiting
data repeats the same names, cities and dates a lot, and the values a vectorised fast path already
recognised never reach Python at all.
"""
from __future__ import annotations

from typing import Any, Callable

import polars as pl


def per_distinct(values: pl.Series, fn: Callable[[Any], Any], dtype: pl.DataType,
                 where: pl.Series | None = None) -> pl.Series:
    """``fn`` of each value, computed once per distinct non-null value (only where ``where`` is
    true, when given); null elsewhere. The result is aligned with ``values`` and keeps its name."""
    todo = values if where is None else values.filter(where)
    keys = todo.drop_nulls().unique()
    mapping = pl.DataFrame({"key": keys, "value": pl.Series([fn(k) for k in keys.to_list()], dtype=dtype)})
    looked_up = values.rename("key").to_frame().join(mapping, on="key", how="left", maintain_order="left")["value"]
    if where is not None:
        looked_up = pl.select(pl.when(where).then(looked_up)).to_series()
    return looked_up.rename(values.name)
