"""Search first: before a vendor credit is spent, is this person already in the pool?

A sourcer gives what the vendor shows (a name, an email, a phone, a profile URL, maybe a city or
an employer). That becomes one candidate record and is scored against every source record of the
pool with the saved identity model (``warmpool.identity.score_against_pool``): the same
normalisation (nicknames, accents, gmail dots and plus tags, any phone format, profile slugs) and
the same match weights as identity resolution, not exact matching. The answer names the people it
may be, their records, and how sure: ``in_pool`` at or above the model's match threshold,
``possible`` down to ``POSSIBLE_FLOOR``, else ``not_found``.

The pool's records and their normalised features are part of the search index snapshot
(``lookup_records.parquet``, ``lookup_features.parquet``), so a look-up never opens the warehouse.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import polars as pl

from warmpool.identity import PlannedPool, TrainedModel, features_for_model, load_model, plan_pool, score_against_pool
from warmpool.identity.normalize import KEY_COLUMNS

POSSIBLE_FLOOR = 0.5
LOOKUP_SOURCE = "lookup"
LOOKUP_RECORDS = "lookup_records.parquet"
LOOKUP_FEATURES = "lookup_features.parquet"
_SHOWN = ["source", "source_record_id", "person_id", "first_name", "last_name", "email"]  # what an answer shows


class NothingToLookUp(ValueError):
    """Nothing to look up (no name, email, phone or profile URL given)."""


@dataclass(frozen=True)
class LookupQuery:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    profile_url: str | None = None
    city: str | None = None
    country: str | None = None
    company: str | None = None

    def record(self) -> dict:
        if not any((self.name, self.email, self.phone, self.profile_url)):
            raise NothingToLookUp("give at least a name, an email, a phone or a profile URL")
        first, _, last = (self.name or "").strip().rpartition(" ")
        if not first:  # one word: a surname alone says little, treat it as the last name
            first, last = None, last or None
        return {"source": LOOKUP_SOURCE, "source_record_id": "1", "first_name": first, "last_name": last,
                "email": self.email, "phone": self.phone, "linkedin_url": self.profile_url, "city": self.city,
                "country": self.country, "current_company": self.company}

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class LookupMatch:
    person_id: str
    probability: float
    records: list[dict] = field(default_factory=list)   # source, source_record_id, probability, name, email


@dataclass(frozen=True)
class LookupAnswer:
    query: LookupQuery
    verdict: str                  # in_pool | possible | not_found
    threshold: float
    matches: list[LookupMatch]

    @property
    def person_ids(self) -> list[str]:
        return [m.person_id for m in self.matches]

    def as_dict(self) -> dict:
        return {"query": self.query.as_dict(), "verdict": self.verdict, "threshold": self.threshold,
                "matches": [{"person_id": m.person_id, "probability": round(m.probability, 4), "records": m.records}
                            for m in self.matches]}

    def describe(self) -> str:
        if not self.matches:
            return "not in the pool: no record comes close (buying this profile adds a new person)"
        head = {"in_pool": "ALREADY IN THE POOL", "possible": "possibly in the pool (check before buying)",
                "not_found": "not in the pool"}[self.verdict]
        lines = [head]
        for m in self.matches:
            lines.append(f"  {m.person_id}  {m.probability:.1%} sure")
            for r in m.records:
                lines.append(f"    {r['source']}:{r['source_record_id']}  {r.get('name') or ''}  {r.get('email') or ''}"
                             f"  ({r['probability']:.1%})")
        return "\n".join(lines)


def pool_features(records: pl.DataFrame, model=None, known: pl.DataFrame | None = None) -> pl.DataFrame:
    """Normalised features of the pool's records (cached in the index snapshot). ``known``: features
    already normalised (identity's feature cache: keys, ``content_hash``, features); a record with the
    same key and content hash takes its row as it is, so a daily refresh normalises only the records
    that are new or changed since identity last ran."""
    model = model or load_model()
    records = records.drop("person_id", strict=False)
    if known is None or "content_hash" not in records.columns:
        return features_for_model(records.drop("content_hash", strict=False), model)
    keys = [*KEY_COLUMNS, "content_hash"]
    columns = [c for c in known.columns if c not in keys]
    reused = records.select(keys).join(known, on=keys, how="inner", maintain_order="left")
    fresh = features_for_model(records.join(reused.select(keys), on=keys, how="anti", maintain_order="left")
                               .drop("content_hash"), model)
    if set(fresh.columns) != {"unique_id", *KEY_COLUMNS, *columns}:  # not the features this model reads
        return features_for_model(records.drop("content_hash"), model)
    out = pl.concat([reused.select(*KEY_COLUMNS, *columns), fresh.select(*KEY_COLUMNS, *columns)], how="vertical_relaxed")
    return out.select(pl.int_range(0, out.height, dtype=pl.Int64).alias("unique_id"), pl.all())


def write_lookup_features(folder: Path, known: pl.DataFrame | None = None) -> None:
    """``lookup_features.parquet`` beside ``lookup_records.parquet`` (contract columns, all text, + person_id
    and content hash of every source record in the pool, written there from the warehouse); ``known``:
    features already normalised (``pool_features``)."""
    records = pl.read_parquet(folder / LOOKUP_RECORDS).cast(pl.String)  # the resolve contract is text
    pool_features(records, known=known).write_parquet(folder / LOOKUP_FEATURES)


_PLANNED: dict[tuple, PlannedPool | None] = {}  # the last snapshot's planned pool (one entry)


def planned_pool(folder: Path, model: TrainedModel) -> PlannedPool | None:
    """The pool of the snapshot ``folder`` planned for look-ups (None when it holds no record), kept
    while the snapshot file and the model stay the same: a long-lived page or service plans a
    1M-record pool once, not on every look-up."""
    path = folder / LOOKUP_FEATURES
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, id(model))
    if key not in _PLANNED:
        features = pl.read_parquet(path)
        _PLANNED.clear()  # one pool in memory at a time
        _PLANNED[key] = plan_pool(features, model) if features.height else None
    return _PLANNED[key]


def lookup(query: LookupQuery, folder: Path, *, limit: int = 5) -> LookupAnswer:
    record = query.record()  # nothing to look up: say so before reading the pool
    model = load_model()
    threshold = float(model.threshold_match_probability)
    pool = planned_pool(folder, model)
    if pool is None:
        return LookupAnswer(query, "not_found", threshold, [])
    pairs = score_against_pool(pd.DataFrame([record]), pool, model, min_probability=POSSIBLE_FLOOR)
    if pairs.height == 0:
        return LookupAnswer(query, "not_found", threshold, [])
    # the pool record is the side that is not the look-up
    hits = pairs.select(
        pl.when(pl.col("source_l") == LOOKUP_SOURCE).then(pl.col("source_r")).otherwise(pl.col("source_l")).alias("source"),
        pl.when(pl.col("source_l") == LOOKUP_SOURCE).then(pl.col("source_record_id_r"))
        .otherwise(pl.col("source_record_id_l")).alias("source_record_id"),
        "match_probability")
    # only the hit records' rows are read from the snapshot's records
    records = pl.scan_parquet(folder / LOOKUP_RECORDS).select(_SHOWN).filter(
        pl.col("source_record_id").cast(pl.String).is_in(hits["source_record_id"].implode())).with_columns(
        pl.col("source", "source_record_id").cast(pl.String)).join(
        hits.lazy(), on=["source", "source_record_id"], how="inner").collect()
    hits = records.to_pandas()
    matches = []
    for person_id, group in hits.groupby("person_id"):
        group = group.sort_values("match_probability", ascending=False)
        matches.append(LookupMatch(
            person_id=str(person_id), probability=float(group["match_probability"].iloc[0]),
            records=[{"source": r.source, "source_record_id": r.source_record_id,
                      "probability": float(r.match_probability),
                      "name": " ".join(x for x in (r.first_name, r.last_name) if isinstance(x, str)),
                      "email": r.email if isinstance(r.email, str) else None}
                     for r in group.itertuples()]))
    matches.sort(key=lambda m: (-m.probability, m.person_id))
    matches = matches[:limit]
    verdict = "in_pool" if matches and matches[0].probability >= threshold else "possible" if matches else "not_found"
    return LookupAnswer(query, verdict, threshold, matches)
