"""Resolve source records to persons with the saved model; keep person ids stable across runs.

Entry points: ``resolve_frame`` (frames), ``resolve_csv`` (the ``warmpool resolve`` CLI contract)
and ``resolve_pool`` (the warehouse: ``SOURCE_RECORDS`` -> ``PERSON_ASSIGNMENTS``). All three run
the same matching code. Splink runs in its own in-memory DuckDB so its scratch tables never land
in the warehouse file.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from warmpool import tables
from warmpool.identity.model import MODEL_PATH, TrainedModel, features_for_splink
from warmpool.identity.normalize import CONTRACT_COLUMNS, KEY_COLUMNS, to_contract_frame
from warmpool.warehouse import table_exists

log = logging.getLogger(__name__)
_KEY_SEP = "\x1f"  # unit separator: cannot occur in a CSV-borne id, so (a, "b|c") != ("a|b", c)


class ResolveInputError(ValueError):
    """The input cannot be resolved (missing key field); the message names file, row and field."""


@dataclass(frozen=True)
class ResolveStats:
    records: int
    persons: int
    seconds: float
    model_version: int
    distinct_records: int | None = None
    merges: int = 0   # people whose ids were retired into another this run (pool runs only)
    splits: int = 0   # people who lost records to a new or other person this run

    @property
    def duplicates_merged(self) -> int:
        return (self.distinct_records if self.distinct_records is not None else self.records) - self.persons

    def describe(self) -> str:
        return (f"resolved {self.records:,} records into {self.persons:,} persons "
                f"({self.duplicates_merged:,} duplicates merged) in {self.seconds:.1f} s "
                f"[model v{self.model_version}]")


_MODEL_CACHE: dict[str, TrainedModel] = {}


def load_model(path: Path | str = MODEL_PATH) -> TrainedModel:
    """The saved model (cached per path: loading is cheap but resolve may run many times)."""
    key = str(path)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = TrainedModel.load(path)
    return _MODEL_CACHE[key]


def _require_keys(df: pl.DataFrame, where: str, *, line_offset: int = 2) -> None:
    """Raise naming the first row/field with an empty key (row = line in the file, header is 1)."""
    for col in KEY_COLUMNS:
        bad = df.select(pl.col(col).is_null().arg_true().head(1)).to_series()
        if bad.len():
            row = int(bad[0])
            raise ResolveInputError(
                f"{where}: row {row + 1} (line {row + line_offset}) has an empty required field '{col}'")


# ---------------------------------------------------------------------------------------------
# clustering

def cluster_records(records, model: TrainedModel | None = None) -> pl.DataFrame:
    """``source, source_record_id, cluster_id`` for distinct-key records (no id stability here).

    Scoring and clustering live in ``matching`` so the incremental path runs the same code.
    """
    from warmpool.identity.matching import cluster_features, features_for_model

    model = model or load_model()
    if records.height < 2:  # Splink needs at least one possible pair
        return records.select(*KEY_COLUMNS, pl.int_range(0, records.height).cast(pl.String).alias("cluster_id"))
    return cluster_features(features_for_model(records, model), model)


# A batch's own value frequencies are only trusted in proportion to its size: in a 3-record CSV
# where two records share an email, the raw frequency (2/3) would make an exact email match worth
# nothing. Each term frequency is shrunk toward the model's average u for that exact-match level,
# with the weight of TF_PRIOR_RECORDS pseudo-records (about a small pool). Large pools are barely
# affected; tiny batches score like the average value.
TF_PRIOR_RECORDS = 20_000


def smoothed_term_frequencies(features: pl.DataFrame, model: TrainedModel) -> dict[str, pl.DataFrame]:
    """``{column: DataFrame[column, tf_column]}`` for every TF-adjusted level of the model."""
    out = {}
    for comparison in model.splink_settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            col = level.get("tf_adjustment_column")
            if not col or col in out or col not in features.columns:
                continue
            prior = float(level.get("u_probability") or 1e-4)
            values = features.select(pl.col(col)).drop_nulls()
            n = values.height
            out[col] = values.group_by(col).len().select(
                pl.col(col), ((pl.col("len") + TF_PRIOR_RECORDS * prior) / (n + TF_PRIOR_RECORDS)).alias(f"tf_{col}"))
    return out


# ---------------------------------------------------------------------------------------------
# stable ids

def fresh_person_id(key: str, salt: int = 0) -> str:
    """``p_`` + 16 hex of sha1 over the cluster's minimum record key (deterministic)."""
    data = key if salt == 0 else f"{key}#{salt}"
    return "p_" + hashlib.sha1(data.encode("utf-8")).hexdigest()[:16]


def assign_stable_ids(clusters, previous=None, *, reserved_ids=()) -> pl.DataFrame:
    """Person ids for ``clusters`` (source, source_record_id, cluster_id) that survive re-runs.

    Rules (``history.id_changes`` records what they did as merge / split rows):
    - a cluster holding records of a previous person keeps that person's id; if it holds several,
      the previous person with most records overall wins, then the smallest id;
    - a previous id goes to one cluster only: the one holding most of its records, then the one
      with the smallest minimum key; the other parts of a split get fresh ids;
    - otherwise the id is derived from the cluster's minimum (source, source_record_id) key, salted
      if that would reuse any id already seen (a retired id never comes back for someone else) or
      any of ``reserved_ids`` (persons outside ``clusters``, when only some persons are re-clustered).
      An id retired in an earlier run can come back only for a cluster holding the very record it
      was derived from: that is the same person's records reappearing (e.g. a bridge removed).
    Returns ``source, source_record_id, person_id``.
    """
    c = clusters if isinstance(clusters, pl.DataFrame) else pl.from_pandas(clusters)
    c = c.select(*KEY_COLUMNS, pl.col("cluster_id").cast(pl.String)).with_columns(
        (pl.col("source") + _KEY_SEP + pl.col("source_record_id")).alias("_key"))
    min_key = c.group_by("cluster_id").agg(pl.col("_key").min().alias("min_key"))
    assigned: dict[str, str] = {}
    used: set[str] = set(reserved_ids)

    if previous is not None:
        prev = previous if isinstance(previous, pl.DataFrame) else pl.from_pandas(previous)
        prev = prev.select(*KEY_COLUMNS, pl.col("person_id").cast(pl.String))
        used.update(prev["person_id"].unique().to_list())
        prev_size = prev.group_by("person_id").len("prev_size")
        claims = (
            c.join(prev, on=list(KEY_COLUMNS), how="inner")
            .group_by("cluster_id", "person_id").len("held")
            .join(prev_size, on="person_id").join(min_key, on="cluster_id")
            .sort(["prev_size", "person_id", "held", "min_key"], descending=[True, False, True, False])
        )
        taken: set[str] = set()
        for cluster_id, person_id in claims.select("cluster_id", "person_id").iter_rows():
            if cluster_id not in assigned and person_id not in taken:
                assigned[cluster_id] = person_id
                taken.add(person_id)

    ids = []
    for cluster_id, key in min_key.sort("min_key").iter_rows():
        pid = assigned.get(cluster_id)
        if pid is None:
            salt = 0
            pid = fresh_person_id(key)
            while pid in used:
                salt += 1
                pid = fresh_person_id(key, salt)
        used.add(pid)
        ids.append((cluster_id, pid))
    id_map = pl.DataFrame(ids, schema={"cluster_id": pl.String, "person_id": pl.String}, orient="row")
    return c.join(id_map, on="cluster_id", how="left", maintain_order="left").select(*KEY_COLUMNS, "person_id")


# ---------------------------------------------------------------------------------------------
# entry points

def _resolve(contract: pl.DataFrame, previous, model: TrainedModel) -> tuple[pl.DataFrame, int]:
    """Person ids for every row of ``contract`` (duplicate keys resolve once, first row's values)."""
    distinct = contract.unique(subset=list(KEY_COLUMNS), keep="first", maintain_order=True)
    clusters = cluster_records(distinct, model)
    ids = assign_stable_ids(clusters, previous)
    ids = ids.with_columns(pl.len().over("person_id").cast(pl.Int64).alias("cluster_size"))
    out = contract.select(KEY_COLUMNS).join(ids, on=list(KEY_COLUMNS), how="left", maintain_order="left")
    return out, distinct.height


def resolve_frame(records, previous=None, *, model: TrainedModel | None = None):
    """``source, source_record_id, person_id, cluster_size`` for every row of ``records``.

    ``records``: pandas or polars, resolve-contract columns (missing optional columns = empty).
    ``previous``: an earlier assignment (source, source_record_id, person_id) whose ids are kept.
    Returns the same frame type as ``records``, rows in input order.
    """
    is_pandas = not isinstance(records, pl.DataFrame)
    contract = to_contract_frame(records)
    _require_keys(contract, "records", line_offset=1)
    out, _ = _resolve(contract, previous, model or load_model())
    return out.to_pandas() if is_pandas else out


def read_contract_csv(path: Path | str) -> pl.DataFrame:
    """Any candidate export CSV, all text; extra columns dropped, absent optional ones empty."""
    path = Path(path)
    try:
        df = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True)
    except pl.exceptions.NoDataError:
        df = pl.DataFrame(schema={c: pl.String for c in CONTRACT_COLUMNS})
    df = df.rename({c: c.strip().lower() for c in df.columns})
    for col in KEY_COLUMNS:
        if col not in df.columns:
            raise ResolveInputError(f"{path}: required column '{col}' is missing (header: {', '.join(df.columns)})")
    contract = to_contract_frame(df)
    _require_keys(contract, str(path))
    return contract


def resolve_csv(input_path: Path | str, output_path: Path | str, *, model_path: Path | str = MODEL_PATH) -> ResolveStats:
    """The ``warmpool resolve IN.csv --output OUT.csv`` contract: one OUT row per IN row, same order."""
    started = time.perf_counter()
    model = load_model(model_path)
    contract = read_contract_csv(input_path)
    out, distinct = _resolve(contract, None, model)
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    out.write_csv(output_path)
    return ResolveStats(records=out.height, persons=out["person_id"].n_unique(),
                        seconds=time.perf_counter() - started, model_version=model.model_version,
                        distinct_records=distinct)


def resolve_pool(con, *, model: TrainedModel | None = None) -> ResolveStats:
    """Resolve the warehouse's source records; replace ``PERSON_ASSIGNMENTS`` keeping ids stable.

    One transaction writes the assignments, this run's scored pairs (``RECORD_PAIRS``), the review
    queue, the id changes (``PERSON_MERGES``), the run (``RESOLUTION_RUNS``) and ``PERSON_ID_MAP``.
    Reviewers' decisions in ``REVIEW_DECISIONS`` are applied: ``link`` pairs always share a person,
    ``separate`` pairs never do (the cluster is cut where its evidence is weakest).
    """
    from warmpool.identity import history, review
    from warmpool.identity.pairs import constrained_clusters, score_pairs

    started = time.perf_counter()
    started_at = history.now_utc()
    run_id = history.new_run_id("resolve", started_at)
    model = model or load_model()
    cols = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in CONTRACT_COLUMNS)
    records = pl.from_arrow(con.sql(f"SELECT {cols} FROM {tables.SOURCE_RECORDS}").arrow().read_all())
    schema, name = tables.PERSON_ASSIGNMENTS.split(".")
    previous = None
    if table_exists(con, tables.PERSON_ASSIGNMENTS):
        previous = pl.from_arrow(con.sql(
            f"SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS}").arrow().read_all())
    contract = to_contract_frame(records)
    _require_keys(contract, tables.SOURCE_RECORDS, line_offset=1)
    distinct = contract.unique(subset=list(KEY_COLUMNS), keep="first", maintain_order=True)

    # One prediction serves clustering, the review queue and explain: score down to the lower of
    # the review band and the link threshold, cluster on the pairs at or above the threshold.
    band = review.review_band()
    threshold = model.threshold_match_probability
    pairs = score_pairs(distinct, model, min(band[0], threshold))
    links, separates = review.effective_decisions(con)
    keys = (distinct["source"] + _KEY_SEP + distinct["source_record_id"]).to_list()
    clustering = constrained_clusters(keys, pairs, threshold, links, separates)
    if clustering.skipped_links:
        log.warning("%d link decision(s) contradict separate decisions and were not applied",
                    len(clustering.skipped_links))
    out = assign_stable_ids(clustering.clusters, previous)
    out = out.with_columns(pl.len().over("person_id").cast(pl.Int64).alias("cluster_size"))
    changes = history.id_changes(previous, out, review_links=[(a, b) for a, b, how in clustering.held_by
                                                              if how == "review_link"])
    con.register("_warmpool_assignments", out.to_arrow())
    con.register("_warmpool_pairs", pairs.to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(f"""CREATE TABLE IF NOT EXISTS {tables.PERSON_ASSIGNMENTS} (
            source VARCHAR NOT NULL, source_record_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL,
            cluster_size BIGINT NOT NULL, resolved_at TIMESTAMPTZ NOT NULL)""")
        con.execute(f"DELETE FROM {tables.PERSON_ASSIGNMENTS}")
        con.execute(f"""INSERT INTO {tables.PERSON_ASSIGNMENTS}
            SELECT source, source_record_id, person_id, cluster_size, now() FROM _warmpool_assignments""")
        # the pairs' evidence columns follow the model's comparisons, so the table is replaced
        con.execute(f"CREATE OR REPLACE TABLE {tables.RECORD_PAIRS} AS SELECT * FROM _warmpool_pairs")
        history.record_run(con, run_id=run_id, kind="resolve", started=started_at, records=out.height,
                           persons=out["person_id"].n_unique(), changes=changes, model_version=model.model_version)
        history.rebuild_id_map(con)
        review.write_queue(con, pairs, out, band, run_id)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_warmpool_assignments")
        con.unregister("_warmpool_pairs")
    return ResolveStats(records=records.height, persons=out["person_id"].n_unique(),
                        seconds=time.perf_counter() - started, model_version=model.model_version,
                        distinct_records=distinct.height, merges=changes.merges, splits=changes.splits)
