"""Pairwise precision / recall / F1 of a clustering against the truth.

Computed from pair *counts* per cluster (n choose 2), never by enumerating pairs, so a 1M-record
benchmark costs one group-by: true positives are the pairs inside each (predicted, true) cell.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class PairwiseScores:
    precision: float
    recall: float
    f1: float
    true_positive_pairs: int
    predicted_pairs: int
    true_pairs: int
    records: int

    def describe(self) -> str:
        return (f"pairwise precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}  "
                f"({self.true_positive_pairs:,} of {self.predicted_pairs:,} predicted pairs correct; "
                f"{self.true_pairs:,} true pairs; {self.records:,} records)")


def _pairs(counts: pl.Expr) -> pl.Expr:
    return (counts * (counts - 1) // 2).sum()


def pairwise_scores(predicted, truth=None, *, predicted_col: str = "person_id", truth_col: str = "true_person_id",
                    on: tuple[str, ...] = ("source", "source_record_id")) -> PairwiseScores:
    """Scores of ``predicted`` cluster labels against ``truth`` labels.

    Either one frame holding both label columns, or two frames joined on ``on`` (inner: records
    missing from either side are not scored). Accepts pandas or polars.
    """
    pred = predicted if isinstance(predicted, pl.DataFrame) else pl.from_pandas(predicted)
    if truth is not None:
        tru = truth if isinstance(truth, pl.DataFrame) else pl.from_pandas(truth)
        keys = list(on)
        pred = pred.select(*keys, predicted_col).with_columns(pl.col(k).cast(pl.String) for k in keys)
        tru = tru.select(*keys, truth_col).with_columns(pl.col(k).cast(pl.String) for k in keys)
        df = pred.join(tru, on=keys, how="inner")
    else:
        df = pred
    df = df.select(pl.col(predicted_col).alias("p"), pl.col(truth_col).alias("t"))
    tp = df.group_by("p", "t").len().select(_pairs(pl.col("len"))).item() or 0
    pp = df.group_by("p").len().select(_pairs(pl.col("len"))).item() or 0
    tt = df.group_by("t").len().select(_pairs(pl.col("len"))).item() or 0
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScores(precision, recall, f1, int(tp), int(pp), int(tt), df.height)
