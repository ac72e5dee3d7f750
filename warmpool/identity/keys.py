"""Record keys: how identity names one source record, and a pair of records.

A record key is ``source + KEY_SEP + source_record_id``. The unit separator cannot occur in a
CSV-borne id, so ("a", "b|c") and ("a|b", "c") stay two records. A pair is stored with the smaller
key on the left, so (a, b) and (b, a) are one pair. People see keys as ``SOURCE:SOURCE_RECORD_ID``.
"""
from __future__ import annotations

import polars as pl

KEY_SEP = "\x1f"


def record_key(source: str, source_record_id: str) -> str:
    return f"{source}{KEY_SEP}{source_record_id}"


def split_key(key: str) -> tuple[str, str]:
    source, _, rid = key.partition(KEY_SEP)
    return source, rid


def show_key(key: str) -> str:
    """``source:source_record_id``, as the CLI and the review queue print a record."""
    return ":".join(split_key(key))


def ordered_pair(a: str, b: str) -> tuple[str, str]:
    """Pairs are stored with the smaller record key on the left, so (a, b) and (b, a) are one pair."""
    return (a, b) if a <= b else (b, a)


def record_keys(frame: pl.DataFrame, source: str = "source", source_record_id: str = "source_record_id") -> pl.Series:
    """The record key of every row of ``frame``."""
    return frame[source] + KEY_SEP + frame[source_record_id]


def record_key_expr(source: str = "source", source_record_id: str = "source_record_id") -> pl.Expr:
    """The record key as a polars expression over two columns."""
    return pl.col(source) + KEY_SEP + pl.col(source_record_id)


def sql_record_key(source: str, source_record_id: str) -> str:
    """The record key as a SQL expression over two columns."""
    return f"{source} || '{KEY_SEP}' || {source_record_id}"
