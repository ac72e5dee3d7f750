"""Resolve source records to persons with the saved model; keep person ids stable across runs.

Entry points: ``resolve_frame`` (frames), ``resolve_csv`` (the ``warmpool resolve`` CLI contract)
and ``resolve_pool`` (the warehouse: ``SOURCE_RECORDS`` -> ``PERSON_ASSIGNMENTS``). All three run
the same matching code. Splink runs in its own in-memory DuckDB so its scratch tables never land
in the warehouse file.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from warmpool import tables
from warmpool.identity.model import MODEL_PATH, TrainedModel, features_for_splink
from warmpool.identity.normalize import CONTRACT_COLUMNS, KEY_COLUMNS, to_contract_frame
from warmpool.identity.pairs import PAIR_KEYS
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
    kind: str = "resolve"            # pool runs: resolve (full) or resolve_incremental
    new_records: int | None = None   # pool runs: records added / changed / removed since the last run
    changed_records: int | None = None
    removed_records: int | None = None
    note: str | None = None          # pool runs: why this run was full, or what the incremental run did

    @property
    def duplicates_merged(self) -> int:
        return (self.distinct_records if self.distinct_records is not None else self.records) - self.persons

    def describe(self) -> str:
        text = (f"resolved {self.records:,} records into {self.persons:,} persons "
                f"({self.duplicates_merged:,} duplicates merged) in {self.seconds:.1f} s "
                f"[model v{self.model_version}]")
        if self.new_records is not None:
            text += (f" [{self.kind}: {self.new_records:,} new, {self.changed_records:,} changed, "
                     f"{self.removed_records:,} removed]")
        return text + (f" ({self.note})" if self.note else "")


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


def _tf_levels(model: TrainedModel) -> dict[str, float]:
    """``{tf column: u probability of its exact level}`` for every TF-adjusted level of the model."""
    out: dict[str, float] = {}
    for comparison in model.splink_settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            col = level.get("tf_adjustment_column")
            if col and col not in out:
                out[col] = float(level.get("u_probability") or 1e-4)
    return out


def term_counts(features: pl.DataFrame, model: TrainedModel) -> dict[str, pl.DataFrame]:
    """``{column: DataFrame[column, len]}``: how often each value occurs (nulls left out). Counts of
    two batches add up (``add_term_counts``), so a pool's counts can be cached for incremental runs."""
    return {col: features.select(pl.col(col)).drop_nulls().group_by(col).len().with_columns(pl.col("len").cast(pl.Int64))
            for col in _tf_levels(model) if col in features.columns}


def add_term_counts(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    out = {}
    for col in a.keys() | b.keys():
        parts = [t for t in (a.get(col), b.get(col)) if t is not None]
        out[col] = pl.concat(parts, how="vertical_relaxed").group_by(col).agg(pl.col("len").sum())
    return out


def smoothed_term_frequencies(features: pl.DataFrame | None, model: TrainedModel, *,
                              counts: dict[str, pl.DataFrame] | None = None) -> dict[str, pl.DataFrame]:
    """``{column: DataFrame[column, tf_column]}`` for every TF-adjusted level of the model, from
    ``features`` or from ready ``counts`` (``term_counts``)."""
    counts = term_counts(features, model) if counts is None else counts
    out = {}
    for col, prior in _tf_levels(model).items():
        if col not in counts:
            continue
        table = counts[col]
        n = int(table["len"].sum()) if table.height else 0
        out[col] = table.select(
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


# ---------------------------------------------------------------------------------------------
# the warehouse pool: full and incremental runs
#
# An incremental run scores only what a full run would score differently: new and changed records
# against the pool and each other, plus the stored pool pairs whose score may have drifted across
# the threshold. A full run's pool x pool scores depend on the pool's size (the run-size prior,
# ``matching.settings_for_size``) and its term frequencies, so a stored score is stale by at most
# a bound computed from those (``_drift``); pairs stored within ``incremental_rescore_bits`` of the
# threshold are re-scored, and the run falls back to full once the bounds summed since the last
# full run would exceed that margin. Then only the persons the changes can reach are re-clustered,
# with the same ``constrained_clusters`` / ``assign_stable_ids`` a full run uses: the same answer.

DEFAULT_INCREMENTAL_MAX_SHARE = 0.2
DEFAULT_RESCORE_BITS = 2.0
_VALUE_SHIFT_BITS = 0.1    # a value whose own term frequency moved more: its records' pairs are re-scored
_SLACK_BITS = 0.05         # float noise between Splink's SQL and our bound
_POOL_KINDS = ("resolve", "resolve_incremental")


def incremental_settings(settings=None) -> tuple[float, float]:
    """(max share of the pool changed since the last full run, re-score margin in bits)."""
    from warmpool.config import get_settings

    raw = (settings or get_settings()).raw.get("identity", {}) or {}
    share = float(raw.get("incremental_max_share", DEFAULT_INCREMENTAL_MAX_SHARE))
    bits = float(raw.get("incremental_rescore_bits", DEFAULT_RESCORE_BITS))
    if not 0.0 <= share <= 1.0 or bits < 0:
        raise ValueError(f"identity.incremental_max_share must be in [0, 1] and incremental_rescore_bits >= 0, "
                         f"got {share}, {bits}")
    return share, bits


def _frame(con, sql: str, params=None) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params).arrow().read_all())


def _read_source(con) -> tuple[pl.DataFrame, int]:
    """Distinct-key contract rows (first row wins, as ever) with a content hash; and the row count."""
    cols = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in CONTRACT_COLUMNS)
    # md5 in DuckDB: stable across library versions (polars' hash is not); chr(30) marks a NULL
    parts = ", ".join(f'coalesce(CAST("{c}" AS VARCHAR), chr(30))' for c in CONTRACT_COLUMNS)
    raw = _frame(con, f"SELECT {cols}, md5(concat_ws(chr(31), {parts})) AS content_hash FROM {tables.SOURCE_RECORDS}")
    contract = to_contract_frame(raw).with_columns(raw["content_hash"])
    _require_keys(contract, tables.SOURCE_RECORDS, line_offset=1)
    return contract.unique(subset=list(KEY_COLUMNS), keep="first", maintain_order=True), raw.height


def _key(frame: pl.DataFrame, source="source", rid="source_record_id") -> pl.Series:
    return frame[source] + _KEY_SEP + frame[rid]


def _cache_path(full_run_id: str, model: TrainedModel) -> Path:
    from warmpool.config import get_settings

    # one file per full-run lineage: a warehouse's incremental runs rewrite their full run's file
    return get_settings().identity_dir / "feature_cache" / f"{full_run_id}-m{model.model_version}-n{model.normalize_version}.parquet"


def _write_cache(path: Path, features: pl.DataFrame, hashes: pl.DataFrame, *, replaces: Path | None = None) -> None:
    """Features keyed by record key + content hash (row-aligned ``hashes``); written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    features.drop("unique_id").with_columns(hashes["content_hash"]).write_parquet(tmp)
    tmp.replace(path)
    if replaces is not None and replaces != path:
        replaces.unlink(missing_ok=True)


def _last_pool_run(con, kind: str | tuple = _POOL_KINDS):
    kinds = (kind,) if isinstance(kind, str) else kind
    rows = con.execute(f"""SELECT run_id, kind, started_at, records, model_version FROM {tables.RESOLUTION_RUNS}
        WHERE kind IN (SELECT unnest(?::VARCHAR[])) ORDER BY started_at DESC LIMIT 1""", [list(kinds)]).fetchall()
    return rows[0] if rows else None


def _logit_bits(p: float) -> float:
    return math.log2(p / (1.0 - p))


def _drift(prev_f: pl.DataFrame, cur_f: pl.DataFrame, model: TrainedModel) -> tuple[float, dict[str, list]]:
    """How far any stored pool x pool match weight can have moved since the previous run (bits).

    Two things move a pair's weight when only other records change: the run-size prior (the same
    shift for every pair) and the term frequencies of TF-adjusted exact matches (per value). A value
    whose own frequency moved more than ``_VALUE_SHIFT_BITS`` is returned instead (its records' pairs
    get re-scored); every other value's shift counts towards the bound.
    """
    from warmpool.identity.matching import settings_for_size

    def prior(n):
        return float(settings_for_size(model, n)["probability_two_random_records_match"])

    bound = abs(_logit_bits(prior(cur_f.height)) - _logit_bits(prior(prev_f.height)))
    tf_prev, tf_cur = smoothed_term_frequencies(prev_f, model), smoothed_term_frequencies(cur_f, model)
    rescore: dict[str, list] = {}
    for col, now in tf_cur.items():
        before = tf_prev.get(col)
        if before is None:
            continue
        # values held before and now: only those can sit in a stored pair of two kept records
        j = before.join(now, on=col, suffix="_now").with_columns(
            (pl.col(f"tf_{col}_now") / pl.col(f"tf_{col}")).log(2).abs().alias("shift"))
        big = j.filter(pl.col("shift") > _VALUE_SHIFT_BITS)
        rescore[col] = big[col].to_list()
        rest = j.filter(pl.col("shift") <= _VALUE_SHIFT_BITS)["shift"].max()
        bound += float(rest or 0.0)
    return bound, rescore


def _union_find_components(edges: list[tuple[str, str]], seeds: set[str]) -> set[str]:
    """Every node connected to ``seeds`` through ``edges``."""
    adj: dict[str, list[str]] = {}
    for a, b in edges:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    seen, stack = set(seeds), list(seeds)
    while stack:
        for nxt in adj.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def resolve_pool(con, *, model: TrainedModel | None = None, full: bool = False) -> ResolveStats:
    """Resolve the warehouse's source records into ``PERSON_ASSIGNMENTS``, keeping ids stable.

    Incremental when possible (``full=False``): a previous run of the same model exists, no review
    decision was recorded since, and the records added, changed (content hash differs) or removed
    since the last full run are at most ``identity.incremental_max_share`` of that run's pool; then
    only those records are matched against the pool (normalised features of the rest come from a
    parquet cache in ``identity_dir``) and only the persons they can reach are re-clustered.
    Otherwise, or with ``full=True``, the whole pool is scored and clustered. Both give the same
    assignments and write the same tables in one transaction: assignments, scored pairs
    (``RECORD_PAIRS``: replaced, or the re-scored pairs replaced), the review queue, the id changes
    (``PERSON_MERGES``), the run (``RESOLUTION_RUNS``, kind ``resolve`` / ``resolve_incremental``,
    with records new / changed / removed) and ``PERSON_ID_MAP``. Removed records leave the
    assignments. Reviewers' decisions in ``REVIEW_DECISIONS`` are applied: ``link`` pairs always
    share a person, ``separate`` pairs never do (the cluster is cut where its evidence is weakest).
    """
    from warmpool.identity import history

    started = time.perf_counter()
    started_at = history.now_utc()
    model = model or load_model()
    distinct, rows = _read_source(con)
    previous = prev_hashes = None
    if table_exists(con, tables.PERSON_ASSIGNMENTS):
        previous = _frame(con, f"SELECT source, source_record_id, person_id FROM {tables.PERSON_ASSIGNMENTS}")
    if previous is not None and table_exists(con, tables.RECORD_HASHES):
        prev_hashes = _frame(con, f"SELECT source, source_record_id, content_hash FROM {tables.RECORD_HASHES}")
    diff = _diff(distinct, prev_hashes)
    if full:
        reason = "full run requested"
    else:
        result = _try_incremental(con, model, distinct, rows, previous, prev_hashes, diff, started, started_at)
        if isinstance(result, ResolveStats):
            return result
        reason = result
    log.info("identity: full resolve (%s)", reason)
    return _resolve_pool_full(con, model, distinct, rows, previous, diff, started, started_at, reason)


@dataclass
class _Diff:
    new: pl.DataFrame       # keys (+ content_hash) not in the last run
    changed: pl.DataFrame   # keys whose content hash differs
    removed: pl.DataFrame   # keys of the last run no longer in the source

    def counts(self) -> dict:
        return {"new_records": self.new.height, "changed_records": self.changed.height,
                "removed_records": self.removed.height}


def _diff(distinct: pl.DataFrame, prev_hashes: pl.DataFrame | None) -> _Diff | None:
    if prev_hashes is None:
        return None
    k = list(KEY_COLUMNS)
    cur = distinct.select(*k, "content_hash")
    j = cur.join(prev_hashes.rename({"content_hash": "_old"}), on=k, how="left")
    return _Diff(new=j.filter(pl.col("_old").is_null()).select(*k, "content_hash"),
                 changed=j.filter(pl.col("_old").is_not_null() & (pl.col("_old") != pl.col("content_hash"))
                                  ).select(*k, "content_hash"),
                 removed=prev_hashes.join(cur, on=k, how="anti").select(k))


def _resolve_pool_full(con, model, distinct, rows, previous, diff, started, started_at, note) -> ResolveStats:
    from warmpool.identity import history, review
    from warmpool.identity.matching import features_for_model
    from warmpool.identity.pairs import constrained_clusters, model_contradictions, score_pairs

    run_id = history.new_run_id("resolve", started_at)
    contract = distinct.drop("content_hash")
    # One prediction serves clustering, the review queue and explain: score down to the lower of
    # the review band and the link threshold, cluster on the pairs at or above the threshold.
    band = review.review_band()
    threshold = model.threshold_match_probability
    features = features_for_model(contract, model)
    pairs = score_pairs(None, model, min(band[0], threshold), features=features)
    links, separates = review.effective_decisions(con)
    keys = _key(distinct).to_list()
    contradictions = model_contradictions(keys, features, pairs, threshold, model)
    clustering = constrained_clusters(keys, pairs, threshold, links, separates, contradictions)
    _log_guard(clustering)
    if clustering.skipped_links:
        log.warning("%d link decision(s) contradict separate decisions and were not applied",
                    len(clustering.skipped_links))
    out = assign_stable_ids(clustering.clusters, previous)
    out = out.with_columns(pl.len().over("person_id").cast(pl.Int64).alias("cluster_size"))
    changes = history.id_changes(previous, out, review_links=[(a, b) for a, b, how in clustering.held_by
                                                              if how == "review_link"])
    counts = diff.counts() if diff is not None else {}
    previous_cache = None
    if table_exists(con, tables.RESOLUTION_RUNS) and (last := _last_pool_run(con, "resolve")):
        previous_cache = _cache_path(last[0], model)
    schema = tables.PERSON_ASSIGNMENTS.split(".")[0]
    con.register("_warmpool_assignments", out.to_arrow())
    con.register("_warmpool_pairs", pairs.to_arrow())
    con.register("_warmpool_hashes", distinct.select(*KEY_COLUMNS, "content_hash").to_arrow())
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
        con.execute(f"CREATE OR REPLACE TABLE {tables.RECORD_HASHES} AS SELECT * FROM _warmpool_hashes")
        history.record_run(con, run_id=run_id, kind="resolve", started=started_at, records=out.height,
                           persons=out["person_id"].n_unique(), changes=changes, model_version=model.model_version,
                           note=note, **counts)
        history.rebuild_id_map(con)
        review.write_queue(con, pairs, out, band, run_id)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("_warmpool_assignments", "_warmpool_pairs", "_warmpool_hashes"):
            con.unregister(name)
    try:  # the cache only saves time: a failure to write it must not fail the run
        _write_cache(_cache_path(run_id, model), features, distinct, replaces=previous_cache)
    except OSError as exc:
        log.warning("identity feature cache not written: %s", exc)
    return ResolveStats(records=rows, persons=out["person_id"].n_unique(),
                        seconds=time.perf_counter() - started, model_version=model.model_version,
                        distinct_records=distinct.height, merges=changes.merges, splits=changes.splits,
                        kind="resolve", note=note, **counts)


def _try_incremental(con, model, distinct, rows, previous, prev_hashes, diff, started, started_at):
    """ResolveStats of an incremental run, or the reason (text) a full run is needed."""
    from warmpool.identity import history, review

    if previous is None or prev_hashes is None or diff is None:
        return "no previous run with content hashes"
    if not (table_exists(con, tables.RESOLUTION_RUNS) and table_exists(con, tables.RECORD_PAIRS)):
        return "no previous run"
    last, last_full = _last_pool_run(con), _last_pool_run(con, "resolve")
    if last is None or last_full is None:
        return "no previous full run"
    if last[4] != model.model_version:
        return f"model version changed (v{last[4]} -> v{model.model_version})"
    if table_exists(con, tables.REVIEW_DECISIONS) and history.first_row(
            con, f"SELECT 1 FROM {tables.REVIEW_DECISIONS} WHERE decided_at >= ? LIMIT 1", [last[2]]):
        return "review decisions recorded since the last run"
    if previous.height != prev_hashes.height or previous.join(prev_hashes, on=list(KEY_COLUMNS), how="anti").height:
        return "assignments and content hashes disagree"
    counts = diff.counts()
    kind = "resolve_incremental"
    if not any(counts.values()):
        # nothing to match: the assignments stand as they are; only the run is logged
        run_id = history.new_run_id("resolve", started_at)
        persons = previous["person_id"].n_unique()
        con.execute("BEGIN TRANSACTION")
        try:
            history.record_run(con, run_id=run_id, kind=kind, started=started_at, records=previous.height,
                               persons=persons, changes=history.id_changes(None, previous),
                               model_version=model.model_version, drift_bits=0.0, note="no changes", **counts)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        return ResolveStats(records=rows, persons=persons, seconds=time.perf_counter() - started,
                            model_version=model.model_version, distinct_records=distinct.height, kind=kind,
                            note="no changes", **counts)

    max_share, margin = incremental_settings()
    since = con.execute(f"""SELECT coalesce(sum(coalesce(new_records, 0) + coalesce(changed_records, 0)
            + coalesce(removed_records, 0)), 0), coalesce(sum(drift_bits), 0)
        FROM {tables.RESOLUTION_RUNS} WHERE kind = 'resolve_incremental' AND started_at > ?""",
                        [last_full[2]]).fetchall()[0]
    moved = int(since[0]) + sum(counts.values())
    if moved > max_share * max(int(last_full[3]), 1):
        return (f"{moved:,} records added, changed or removed since the last full run: more than "
                f"identity.incremental_max_share {max_share:g} of {int(last_full[3]):,}")
    cache = _cache_path(last_full[0], model)
    if not cache.exists():
        return "feature cache missing"
    return _resolve_pool_incremental(con, model, distinct, rows, previous, prev_hashes, diff, cache,
                                     float(since[1]), margin, started, started_at)


def _resolve_pool_incremental(con, model, distinct, rows, previous, prev_hashes, diff, cache, drift_so_far,
                              margin, started, started_at):
    from warmpool.identity import history, review
    from warmpool.identity.matching import features_for_model
    from warmpool.identity.pairs import constrained_clusters, model_contradictions, score_delta_pairs

    k = list(KEY_COLUMNS)
    threshold = model.threshold_match_probability
    band = review.review_band()
    floor = min(band[0], threshold)
    cached = pl.read_parquet(cache)
    # previous pool's features: the cache must hold every (key, hash) of the last run
    prev_f = prev_hashes.join(cached, on=[*k, "content_hash"], how="inner")
    feature_cols = [c for c in cached.columns if c not in (*k, "content_hash")]
    if prev_f.height != prev_hashes.height:
        return "feature cache does not match the last run"
    gone = pl.concat([diff.changed.select(k), diff.removed])          # their stored pairs are obsolete
    delta_keys = pl.concat([diff.new, diff.changed])                   # matched against the pool
    kept = distinct.select(*k, "content_hash").join(delta_keys.select(k), on=k, how="anti")
    pool_f = kept.join(cached, on=[*k, "content_hash"], how="left", maintain_order="left")
    pool_f = pool_f.with_columns(pl.int_range(0, pool_f.height, dtype=pl.Int64).alias("unique_id"))
    delta_rows = distinct.join(delta_keys.select(k), on=k, how="semi", maintain_order="left")
    delta_f = features_for_model(delta_rows.drop("content_hash"), model).with_columns(
        (pl.col("unique_id") + pool_f.height).alias("unique_id"))
    cols = ["unique_id", *k, *feature_cols]
    pool_f, delta_f = pool_f.select(cols), delta_f.select(cols)
    prev_f = prev_f.select(feature_cols)
    cur_f = pl.concat([pool_f, delta_f], how="vertical_relaxed")

    drift, rare_values = _drift(prev_f, cur_f, model)
    if drift_so_far + drift + _SLACK_BITS > margin:
        return (f"stored scores may have drifted {drift_so_far + drift:.2f} bits since the last full run "
                f"(identity.incremental_rescore_bits {margin:g})")

    run_id = history.new_run_id("resolve", started_at)
    t_bits = _logit_bits(threshold)
    con.register("_warmpool_gone", gone.to_arrow())
    try:
        near = _frame(con, f"""SELECT source_l, source_record_id_l, source_r, source_record_id_r
            FROM {tables.RECORD_PAIRS} p WHERE abs(match_weight - ?) <= ?
              AND NOT EXISTS (SELECT 1 FROM _warmpool_gone g WHERE (g.source, g.source_record_id)
                              IN ((p.source_l, p.source_record_id_l), (p.source_r, p.source_record_id_r)))""",
                      [t_bits, margin])
    finally:
        con.unregister("_warmpool_gone")
    rescore_keys = set(_key(near, "source_l", "source_record_id_l").to_list()) | set(
        _key(near, "source_r", "source_record_id_r").to_list())
    pool_keys = _key(kept)
    rare = pl.lit(False)
    for col, values in rare_values.items():
        if values:
            rare = rare | pl.col(col).is_in(values)
    rare_hit = pool_f.with_columns(pool_keys.alias("_key")).filter(rare)["_key"].to_list()
    rescore_keys |= set(rare_hit)
    is_rescored = pool_keys.is_in(list(rescore_keys))
    rescore_f = pool_f.filter(is_rescored)

    scored = score_delta_pairs(pool_f, delta_f, rescore_f, model, floor)
    kl, kr = _key(scored, "source_l", "source_record_id_l"), _key(scored, "source_r", "source_record_id_r")
    delta_set = set(_key(delta_keys).to_list())
    scored = scored.with_columns(kl.alias("_a"), kr.alias("_b"))
    rescored = scored.filter(~pl.col("_a").is_in(list(delta_set)) & ~pl.col("_b").is_in(list(delta_set)))

    links, separates = review.effective_decisions(con)
    prev_key = previous.with_columns(_key(previous).alias("_key"))
    person_of = dict(zip(prev_key["_key"].to_list(), prev_key["person_id"].to_list()))
    gone_set = set(_key(gone).to_list())

    # --- which persons can change: seeds, then everything linked to them across persons
    seeds: set[str] = {person_of[x] for x in gone_set if x in person_of}
    node = lambda key: ("d:" + key) if key in delta_set else person_of[key]  # noqa: E731
    edges: list[tuple[str, str]] = []
    strong = scored.filter(pl.col("match_probability") >= threshold)
    for a, b in zip(strong["_a"].to_list(), strong["_b"].to_list()):
        edges.append((node(a), node(b)))
    seeds |= {"d:" + x for x in delta_set}
    # re-scored pairs whose side of the threshold moved (or, with separate decisions, whose order may have)
    old_near = _stored_pairs_among(con, rescore_keys)
    old_link = {(a, b) for a, b, p in zip(old_near["_a"].to_list(), old_near["_b"].to_list(),
                                          old_near["match_probability"].to_list()) if p >= threshold}
    new_link = {(a, b) for a, b, p in zip(rescored["_a"].to_list(), rescored["_b"].to_list(),
                                          rescored["match_probability"].to_list()) if p >= threshold}
    # (the guard against chaining makes the order of links matter too, as separate decisions do)
    for a, b in old_link | new_link:
        seeds |= {person_of[a], person_of[b]}
    # stored links between different persons (only where decisions cut a group) and link decisions
    for a, b in _stored_cross_person_links(con, threshold, gone, rescore_keys):
        edges.append((person_of[a], person_of[b]))
    for a, b in links:
        na = ("d:" + a) if a in delta_set else person_of.get(a)
        nb = ("d:" + b) if b in delta_set else person_of.get(b)
        if na and nb:
            edges.append((na, nb))
    for a, b in rescored.filter(pl.col("match_probability") >= threshold).select("_a", "_b").iter_rows():
        if person_of[a] != person_of[b]:
            edges.append((person_of[a], person_of[b]))
    reached = _union_find_components(edges, seeds)
    persons = {x for x in reached if not x.startswith("d:")}

    # --- re-cluster those persons' records with the delta, exactly as a full run would
    prev_sub = previous.filter(pl.col("person_id").is_in(list(persons)))
    sub_keys = pl.concat([prev_sub.select(k).join(gone, on=k, how="anti"), delta_keys.select(k)])
    keys = _key(sub_keys).to_list()
    key_set = set(keys)
    stored = _stored_pairs_among(con, key_set, exclude=gone, exclude_among=rescore_keys)
    needed = [*PAIR_KEYS, "match_probability", "match_weight"]
    sub_pairs = pl.concat([stored.select(needed),
                           scored.filter(pl.col("_a").is_in(keys) & pl.col("_b").is_in(keys)).select(needed)],
                          how="vertical_relaxed")
    sub_f = pl.concat([pool_f, delta_f], how="vertical_relaxed").filter(
        (pl.col("source") + _KEY_SEP + pl.col("source_record_id")).is_in(keys))
    contradictions = model_contradictions(keys, sub_f, sub_pairs, threshold, model)
    clustering = constrained_clusters(keys, sub_pairs, threshold, links, separates, contradictions)
    _log_guard(clustering)
    if clustering.skipped_links:
        log.warning("%d link decision(s) contradict separate decisions and were not applied",
                    len(clustering.skipped_links))
    others = set(previous["person_id"].unique().to_list()) - persons
    out = assign_stable_ids(clustering.clusters, prev_sub, reserved_ids=others)
    out = out.with_columns(pl.len().over("person_id").cast(pl.Int64).alias("cluster_size"))
    changes = history.id_changes(prev_sub, out, review_links=[(a, b) for a, b, how in clustering.held_by
                                                              if how == "review_link"])
    total_persons = len(others) + out["person_id"].n_unique()
    total_records = distinct.height
    note = (f"{len(delta_set):,} records matched against {pool_f.height:,}; {len(rescore_keys):,} pool records' "
            f"pairs re-scored; {len(persons):,} persons re-clustered")
    counts = diff.counts()
    scored_out = scored.drop("_a", "_b")
    rescore_frame = pl.DataFrame({"_key": sorted(rescore_keys)}, schema={"_key": pl.String})
    con.register("_warmpool_assignments", out.to_arrow())
    con.register("_warmpool_drop", pl.concat([prev_sub.select(k), gone]).unique().to_arrow())
    con.register("_warmpool_gone", gone.with_columns(_key(gone).alias("_key")).select("_key").to_arrow())
    con.register("_warmpool_rescore", rescore_frame.to_arrow())
    con.register("_warmpool_pairs", scored_out.to_arrow())
    con.register("_warmpool_hashes", delta_keys.select(*k, "content_hash").to_arrow())
    sep = f"'{_KEY_SEP}'"

    def stale(l_src, l_id, r_src, r_id):
        # a stored pair is replaced when a record of it changed or left, or both records were re-scored
        l, r = f"({l_src} || {sep} || {l_id})", f"({r_src} || {sep} || {r_id})"
        return (f"({l} IN (SELECT _key FROM _warmpool_gone) OR {r} IN (SELECT _key FROM _warmpool_gone) "
                f"OR ({l} IN (SELECT _key FROM _warmpool_rescore) AND {r} IN (SELECT _key FROM _warmpool_rescore)))")
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"""DELETE FROM {tables.PERSON_ASSIGNMENTS} a USING _warmpool_drop d
            WHERE (a.source, a.source_record_id) = (d.source, d.source_record_id)""")
        con.execute(f"""INSERT INTO {tables.PERSON_ASSIGNMENTS}
            SELECT source, source_record_id, person_id, cluster_size, now() FROM _warmpool_assignments""")
        con.execute(f"DELETE FROM {tables.RECORD_PAIRS} WHERE "
                    + stale("source_l", "source_record_id_l", "source_r", "source_record_id_r"))
        con.execute(f"INSERT INTO {tables.RECORD_PAIRS} BY NAME SELECT * FROM _warmpool_pairs")
        review.ensure_tables(con)
        con.execute(f"DELETE FROM {tables.REVIEW_QUEUE} WHERE "
                    + stale("left_source", "left_source_record_id", "right_source", "right_source_record_id"))
        con.execute(f"DELETE FROM {tables.RECORD_HASHES} WHERE (source || {sep} || source_record_id) "
                    "IN (SELECT _key FROM _warmpool_gone)")
        con.execute(f"INSERT INTO {tables.RECORD_HASHES} SELECT * FROM _warmpool_hashes")
        history.record_run(con, run_id=run_id, kind="resolve_incremental", started=started_at,
                           records=total_records, persons=total_persons, changes=changes,
                           model_version=model.model_version, drift_bits=drift, note=note, **counts)
        history.rebuild_id_map(con)
        review.append_queue(con, scored_out, band, run_id)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("_warmpool_assignments", "_warmpool_drop", "_warmpool_gone", "_warmpool_rescore",
                     "_warmpool_pairs", "_warmpool_hashes"):
            con.unregister(name)
    log.info("identity: incremental resolve: %s", note)
    try:
        hashes = pl.concat([kept.select(*k, "content_hash"), delta_rows.select(*k, "content_hash")])
        _write_cache(cache, pl.concat([pool_f, delta_f], how="vertical_relaxed"), hashes)
    except OSError as exc:
        log.warning("identity feature cache not written: %s", exc)
    return ResolveStats(records=rows, persons=total_persons, seconds=time.perf_counter() - started,
                        model_version=model.model_version, distinct_records=total_records,
                        merges=changes.merges, splits=changes.splits, kind="resolve_incremental", note=note,
                        **counts)


def _stored_pairs_among(con, keys: set[str], *, exclude: pl.DataFrame | None = None,
                        exclude_among: set[str] = frozenset()) -> pl.DataFrame:
    """Stored pairs with both records in ``keys`` (minus pairs touching ``exclude`` keys or lying
    wholly inside ``exclude_among``), with ``_a`` / ``_b`` record keys."""
    sep = f"'{_KEY_SEP}'"
    con.register("_warmpool_keys", pl.DataFrame({"_key": sorted(keys)}, schema={"_key": pl.String}).to_arrow())
    try:
        p = _frame(con, f"""SELECT * FROM (SELECT *, source_l || {sep} || source_record_id_l AS _a,
                                   source_r || {sep} || source_record_id_r AS _b FROM {tables.RECORD_PAIRS})
            WHERE _a IN (SELECT _key FROM _warmpool_keys) AND _b IN (SELECT _key FROM _warmpool_keys)""")
    finally:
        con.unregister("_warmpool_keys")
    if exclude is not None and exclude.height:
        ex = _key(exclude).to_list()
        p = p.filter(~pl.col("_a").is_in(ex) & ~pl.col("_b").is_in(ex))
    if exclude_among:
        among = list(exclude_among)
        p = p.filter(~(pl.col("_a").is_in(among) & pl.col("_b").is_in(among)))
    return p


def _log_guard(clustering) -> None:
    if clustering.guarded:
        log.info("identity: %d link(s) refused: they would join records whose evidence contradicts "
                 "(guard against chaining)", len(clustering.guarded))


def _stored_cross_person_links(con, threshold: float, gone: pl.DataFrame, rescored: set[str]) -> list[tuple[str, str]]:
    """Stored linking pairs whose records sit in different persons (decisions or the guard against
    chaining cut them), still valid."""
    sep = f"'{_KEY_SEP}'"
    p = _frame(con, f"""SELECT p.source_l || {sep} || p.source_record_id_l AS _a,
                               p.source_r || {sep} || p.source_record_id_r AS _b
        FROM {tables.RECORD_PAIRS} p
        JOIN {tables.PERSON_ASSIGNMENTS} l ON (l.source, l.source_record_id) = (p.source_l, p.source_record_id_l)
        JOIN {tables.PERSON_ASSIGNMENTS} r ON (r.source, r.source_record_id) = (p.source_r, p.source_record_id_r)
        WHERE p.match_probability >= ? AND l.person_id <> r.person_id""", [threshold])
    ex = set(_key(gone).to_list())
    return [(a, b) for a, b in p.iter_rows()
            if a not in ex and b not in ex and not (a in rescored and b in rescored)]
