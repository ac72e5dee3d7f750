"""Matching features: the normalised columns a model reads, as Splink is given them, and how common
each value is (term frequencies).

``features_for_model`` is ``normalize.normalize_records`` plus the optional columns a model
compares (empty when the input lacks them). Term frequencies are smoothed toward the model's own
average so a tiny batch does not make a shared value worthless (``smoothed_term_frequencies``);
their raw counts add up across batches, so a pool's counts can be cached (``term_counts``).
"""
from __future__ import annotations

import polars as pl
import pyarrow as pa

from warmpool.identity.normalize import normalize_records

# features that exist only when the input has them: the optional columns (date of birth, address,
# postcode, middle name) and several emails / phones in one record
OPTIONAL_FEATURES = ("dob_norm", "address_norm", "postcode_norm", "middle_name_norm", "email_list", "phone_list")
_LIST_FEATURES = ("email_list", "phone_list")
# record keys are not compared: Splink is not given them
_NOT_COMPARED = ("source", "source_record_id")


def model_optional_features(model) -> tuple[str, ...]:
    """The optional features (dob_norm, ...) a model's comparisons read."""
    text = str(model.splink_settings.get("comparisons", ""))
    return tuple(c for c in OPTIONAL_FEATURES if c in text)


def features_for_model(records, model) -> pl.DataFrame:
    """Normalised features (``unique_id`` = row position) with every column ``model`` reads."""
    return with_model_columns(normalize_records(records), model)


def with_model_columns(features: pl.DataFrame, model) -> pl.DataFrame:
    """``features`` plus every optional feature ``model`` compares that the input lacks (all null)."""
    missing = [c for c in model_optional_features(model) if c not in features.columns]
    return features.with_columns(
        pl.lit(None, dtype=pl.List(pl.String) if c in _LIST_FEATURES else pl.String).alias(c) for c in missing)


def splink_columns(columns) -> list[str]:
    """Of a features frame's ``columns``, those Splink is given: all but the record keys (a blocking
    plan's key columns, ``blocking.with_block_keys``, stay)."""
    return [c for c in columns if c not in _NOT_COMPARED]


def splink_table(features: pl.DataFrame) -> pa.Table:
    """Features as Splink's DuckDB backend takes them (Arrow, fastest to register), record keys dropped."""
    return features.select(splink_columns(features.columns)).to_arrow()


# A batch's own value frequencies are only trusted in proportion to its size: in a 3-record CSV
# where two records share an email, the raw frequency (2/3) would make an exact email match worth
# nothing. Each term frequency is shrunk toward the model's average u for that exact-match level,
# with the weight of TF_PRIOR_RECORDS pseudo-records (about a small pool). Large pools are barely
# affected; tiny batches score like the average value.
TF_PRIOR_RECORDS = 20_000


def tf_levels(model) -> dict[str, float]:
    """``{tf column: u probability of its exact level}`` for every TF-adjusted level of the model."""
    out: dict[str, float] = {}
    for comparison in model.splink_settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            col = level.get("tf_adjustment_column")
            if col and col not in out:
                out[col] = float(level.get("u_probability") or 1e-4)
    return out


def term_counts(features: pl.DataFrame, model) -> dict[str, pl.DataFrame]:
    """``{column: DataFrame[column, len]}``: how often each value occurs (nulls left out). Counts of
    two batches add up (``add_term_counts``), so a pool's counts can be cached for incremental runs."""
    return {col: features.select(pl.col(col)).drop_nulls().group_by(col).len().with_columns(pl.col("len").cast(pl.Int64))
            for col in tf_levels(model) if col in features.columns}


def add_term_counts(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    out = {}
    for col in a.keys() | b.keys():
        parts = [t for t in (a.get(col), b.get(col)) if t is not None]
        out[col] = pl.concat(parts, how="vertical_relaxed").group_by(col).agg(pl.col("len").sum())
    return out


def smoothed_term_frequencies(features: pl.DataFrame | None, model, *,
                              counts: dict[str, pl.DataFrame] | None = None,
                              totals: dict[str, int] | None = None) -> dict[str, pl.DataFrame]:
    """``{column: DataFrame[column, tf_column]}`` for every TF-adjusted level of the model, from
    ``features`` or from ready ``counts`` (``term_counts``). ``totals``: how many values each column's
    counts add up to, when ``counts`` holds only the values a prediction reads (a look-up)."""
    counts = term_counts(features, model) if counts is None else counts
    out = {}
    for col, prior in tf_levels(model).items():
        if col not in counts:
            continue
        table = counts[col]
        n = totals[col] if totals is not None else int(table["len"].sum()) if table.height else 0
        out[col] = table.select(
            pl.col(col), ((pl.col("len") + TF_PRIOR_RECORDS * prior) / (n + TF_PRIOR_RECORDS)).alias(f"tf_{col}"))
    return out
