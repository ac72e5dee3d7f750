"""Refreshing the search index from the marts: documents -> embeddings (only new or changed) -> snapshot.

``read_pool`` reads what a document is built from (``dim_candidates``, ``dim_candidate_work_history``,
``dim_candidate_resumes``), what a result shows (``bridge_candidate_records``) and what a filter needs
beyond the profile (each person's segments, ``segment_members``) from the warehouse, the per-record
tables straight into a new snapshot draft (docs/search.md, "Memory of a refresh");
``refresh_index`` builds the documents, embeds the documents whose hash the embedding store lacks
(resumable, with progress), and finishes the snapshot. Called by the Dagster asset
``search/profile_index`` after the marts, and by ``warmpool search-index refresh``.

A refresh follows the change: from the current snapshot it takes the document of every person whose
document inputs (profile columns, work history, resumes: ``document_inputs``) hash the same, the BM25
tokens of every unchanged keyword text, and the coordinates of every place it already looked up; it
builds, tokenizes and looks up only the rest. What it writes equals a rebuild from nothing
(``reuse=False``), which ``tests/test_search.py`` checks after updates, new people and erasures.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import duckdb
import numpy as np
import pandas as pd
import polars as pl

from warmpool import tables
from warmpool.config import Settings
from warmpool.identity import load_model
from warmpool.identity.store import IdentityStore, content_hash_sql
from warmpool.search.documents import DOCUMENT_COLUMNS, DOCUMENT_VERSION, build_documents
from warmpool.search.embeddings import MODEL_NAME, EmbeddingStore, EmbedProgress, Encoder
from warmpool.search.geo import city_coordinates, places_source
from warmpool.search.index import CURRENT, ROW_ORDER, drop_older_snapshots, start_snapshot, write_profiles, write_snapshot
from warmpool.search.keyword import KeywordTokens
from warmpool.search.lookup import LOOKUP_RECORDS, write_lookup_features
from warmpool.search.vector_index import HNSW_MIN_ROWS
from warmpool.warehouse import frame_of, query_to_parquet, table_exists

COMPACT_WHEN_STALE = 0.25   # rewrite the embedding store once a quarter of its vectors are no longer used


@dataclass(frozen=True)
class RefreshReport:
    people: int
    embedded: int            # documents embedded in this refresh (new or changed)
    reused: int              # documents whose embedding was already stored
    embed_seconds: float
    index_seconds: float
    dropped: int = 0         # stale vectors removed from the store
    documents_built: int = 0  # documents built from the marts; the others were taken from the last snapshot

    def describe(self) -> str:
        return (f"search index: {self.people:,} people, {self.documents_built:,} documents built (new or changed "
                f"inputs); embedded {self.embedded:,} new or changed documents in {self.embed_seconds:.1f} s, reused "
                f"{self.reused:,}; index written in {self.index_seconds:.1f} s")


@dataclass
class Pool:
    """What a refresh reads from the warehouse. The per-record tables a snapshot only stores (the source
    records behind each person, the look-up pool, the work history) go from the warehouse straight into
    the snapshot draft ``folder`` as parquet and are never held in memory; ``refresh_from_pool`` consumes
    the pool (its frames are released once written)."""
    folder: Path                   # the snapshot draft (index.start_snapshot): records, lookup_records, positions
    profiles: pd.DataFrame | None  # dim_candidates + application history (furthest stage, last archive reason, job ids)
    positions: pl.DataFrame        # person_id, title, company_name: the work history a document reads, newest first
    resumes: pl.DataFrame          # person_id, resume_text, newest first
    jobs: pd.DataFrame
    segments: pd.DataFrame         # segment, segment_version, people: every segment known to the warehouse
    known_features: pl.DataFrame | None = None  # identity's normalised features of the records (its feature cache)


def _frame(con, table: str, columns: str = "*", order: str = "") -> pd.DataFrame | None:
    if not table_exists(con, table):
        return None
    return con.execute(f"select {columns} from {table} {order}").df()


# the work history as the snapshot stores it (dates as timestamps, as pandas has always written them), newest
# first; positions with the same dates in the order of their id, so a person's document is the same in every
# refresh (an order left to the sort made it change, and be embedded again, without any change to the person)
_POSITIONS_SQL = (f"select person_id, title, company_name, cast(started_on as timestamp) as started_on, "
                  f"cast(ended_on as timestamp) as ended_on, sources from {tables.DIM_CANDIDATE_WORK_HISTORY} "
                  f"order by person_id, coalesce(ended_on, date '9999-12-31') desc, started_on desc nulls last, "
                  f"position_id")
_RECORDS_SQL = (f"select person_id, source, source_record_id, source_family, first_name, last_name, email, city, "
                f"country, current_title, current_company, first_seen_at, updated_at, times_purchased "
                f"from {tables.BRIDGE_CANDIDATE_RECORDS}")
# every source record's resolve-contract columns (all text) + its person, for the search-first look-up
_LOOKUP_RECORDS_SQL = (f"select r.*, a.person_id, {content_hash_sql('r')} as content_hash from {tables.SOURCE_RECORDS} "
                       f"as r join {tables.PERSON_ASSIGNMENTS} as a using (source, source_record_id) "
                       f"order by r.source, r.source_record_id")


def read_pool(con, settings: Settings) -> Pool:
    """The marts a document and a result need (work history and resumes are optional marts), the per-record
    tables written into a new snapshot draft under ``settings.search_index_dir``."""
    profiles = _frame(con, tables.DIM_CANDIDATES, order=f"order by {', '.join(ROW_ORDER)}")  # nulls last: both engines
    if profiles is None:
        raise FileNotFoundError(f"{tables.DIM_CANDIDATES} does not exist yet: build the marts first")
    _join_columns(profiles, _frame(con, tables.FCT_APPLICATIONS, _HISTORY_SQL, "group by person_id"))
    # segment membership as dbt computed it (never re-derived here): one ';'-separated column per person
    _join_columns(profiles, _frame(con, tables.SEGMENT_MEMBERS,
                                   "person_id, string_agg(segment, ';' order by segment) as segments",
                                   "group by person_id"))
    segments = _segments(con)
    jobs = _frame(con, tables.DIM_JOBS, order="order by job_id")
    folder = start_snapshot(settings.search_index_dir)
    try:
        positions = pl.DataFrame(schema={"person_id": pl.String, "title": pl.String, "company_name": pl.String})
        if table_exists(con, tables.DIM_CANDIDATE_WORK_HISTORY):
            query_to_parquet(con, _POSITIONS_SQL, folder / "positions.parquet")
            positions = pl.read_parquet(folder / "positions.parquet", columns=list(positions.columns))
        resumes = pl.DataFrame(schema={"person_id": pl.String, "resume_text": pl.String})
        if table_exists(con, tables.DIM_CANDIDATE_RESUMES):
            resumes = frame_of(con, f"select person_id, resume_text from {tables.DIM_CANDIDATE_RESUMES} "
                                    f"order by person_id, received_at desc, source, source_record_id")
        if table_exists(con, tables.BRIDGE_CANDIDATE_RECORDS):
            query_to_parquet(con, _RECORDS_SQL, folder / "records.parquet")
        if table_exists(con, tables.SOURCE_RECORDS) and table_exists(con, tables.PERSON_ASSIGNMENTS):
            query_to_parquet(con, _LOOKUP_RECORDS_SQL, folder / LOOKUP_RECORDS)
        else:
            pl.DataFrame(schema={"person_id": pl.String}).write_parquet(folder / LOOKUP_RECORDS)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Pool(folder, profiles, positions, resumes, jobs if jobs is not None else pd.DataFrame(),
                segments if segments is not None else pd.DataFrame(columns=["segment", "segment_version", "people"]),
                _identity_features(con))


def _identity_features(con) -> pl.DataFrame | None:
    """Identity's feature cache, so the look-up normalises only records new or changed since identity
    ran. On DuckDB only (the identity store reads through DuckDB's connection): on PostgreSQL every
    record is normalised, as before."""
    if not isinstance(con, duckdb.DuckDBPyConnection) or not table_exists(con, tables.RESOLUTION_RUNS):
        return None
    return IdentityStore(con).current_features(load_model())


def _join_columns(profiles: pd.DataFrame, per_person: pd.DataFrame | None) -> None:
    """``profiles`` left-joined with ``per_person`` (one row per person_id), in place, a column at a time:
    the same columns and types as a merge, without the copy of every profile a merge makes."""
    if per_person is None:
        return
    per_person = per_person.set_index("person_id")
    for column in per_person.columns:
        profiles[column] = per_person[column].reindex(profiles["person_id"]).set_axis(profiles.index)


def _segments(con) -> pd.DataFrame | None:
    """Every segment with its version and member count: the ones stored by the last run (members or
    not) and any in ``segment_members``."""
    if not table_exists(con, tables.SEGMENT_MEMBERS):
        return None
    members = (f"select segment, max(segment_version) as segment_version, count(*) as people "
               f"from {tables.SEGMENT_MEMBERS} group by segment")
    if not table_exists(con, tables.SEGMENT_DEFINITIONS):
        return con.execute(f"{members} order by segment").df()
    return con.execute(f"""
        select coalesce(m.segment, d.segment) as segment, coalesce(m.segment_version, d.version) as segment_version,
               coalesce(m.people, 0) as people
        from ({members}) as m full join {tables.SEGMENT_DEFINITIONS} as d on m.segment = d.segment
        order by 1""").df()


# What talent rediscovery weighs (fct_applications per person): how far they got, why they were
# archived last, and the jobs they are already in (not proposed for those again). SQL both warehouse
# engines run (DuckDB, PostgreSQL).
_HISTORY_SQL = """person_id,
    max(furthest_stage_rank) as furthest_stage_rank,
    (array_agg(furthest_stage order by furthest_stage_rank desc nulls last)
        filter (where furthest_stage is not null))[1] as furthest_stage,
    (array_agg(rejection_reason order by coalesce(rejected_at, applied_at) desc nulls last)
        filter (where rejected_at is not null and rejection_reason is not null))[1] as last_archive_reason,
    (array_agg(rejection_reason_type order by coalesce(rejected_at, applied_at) desc nulls last)
        filter (where rejected_at is not null and rejection_reason_type is not null))[1] as last_archive_reason_type,
    array_agg(distinct job_id order by job_id) filter (where job_id is not null) as applied_job_ids"""


DOCUMENT_CHUNK = 20_000   # profiles turned into documents at a time: their row dicts are what a chunk holds
_PREVIOUS_COLUMNS = ["person_id", "document_inputs", "document", "keyword_text", "doc_hash"]
_PLACE_COLUMNS = ["city", "country", "latitude", "longitude", "looked_up_by"]


@dataclass
class _Documents:
    """Every person's document as three columns (no object per person), row-aligned with the profiles."""
    texts: list[str]
    keyword_texts: list[str]
    hashes: list[str]
    built: int = 0                              # how many were built (the others came from the last snapshot)
    token_rows: np.ndarray | None = None        # per row: the last snapshot's row with the same keyword text, or -1


@dataclass
class _Previous:
    """What the current snapshot holds that the next refresh reuses (``_previous``)."""
    profiles: pl.DataFrame | None   # _PREVIOUS_COLUMNS, in the snapshot's row order (let go once used)
    tokens: KeywordTokens | None    # its BM25 tokens, row-aligned with ``profiles``
    places: pd.DataFrame | None     # the places it looked up the way this refresh would (with_coordinates)


def _previous(settings: Settings) -> _Previous | None:
    """The current snapshot's documents, places and tokens, when it was built from documents of this kind
    (same document version and model) by a refresh that keeps their inputs' hash; else None. A snapshot
    that cannot be read (a folder deleted by hand) is not reused: the refresh builds everything again."""
    if not (settings.search_index_dir / CURRENT).exists():
        return None
    folder = _current_snapshot(settings)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("document_version") != DOCUMENT_VERSION or manifest.get("model") != MODEL_NAME:
            return None
        if not set(_PREVIOUS_COLUMNS) <= set(pl.read_parquet_schema(folder / "profiles.parquet")):
            return None
        places = pd.read_parquet(folder / "places.parquet") if (folder / "places.parquet").exists() else None
        return _Previous(pl.read_parquet(folder / "profiles.parquet", columns=_PREVIOUS_COLUMNS),
                         KeywordTokens.load(folder / "keyword"),
                         None if places is None else places[places["looked_up_by"] == places_source()])
    except (OSError, ValueError, pl.exceptions.PolarsError):
        return None


def document_inputs(profiles: pd.DataFrame, positions: pl.DataFrame, resumes: pl.DataFrame) -> np.ndarray:
    """Per profile (row-aligned), a 64-bit hash of everything its document is built from: the profile's
    ``DOCUMENT_COLUMNS``, its positions and its resumes, in order. Equal hashes, equal documents (for one
    ``DOCUMENT_VERSION``). Polars hashes every row at once (seeded, so equal in every process; a polars
    release that hashes otherwise only makes one refresh rebuild every document)."""
    read = [c for c in DOCUMENT_COLUMNS if c in profiles.columns]
    people = pl.from_pandas(profiles[read].astype({"person_id": str}))
    for name, frame in (("positions", positions), ("resumes", resumes)):
        rows = frame.select("person_id", pl.struct(pl.exclude("person_id")).hash(seed=0).alias(name))
        people = people.join(rows.group_by("person_id", maintain_order=True).agg(name),  # in order, per person
                             on="person_id", how="left", maintain_order="left")
    inputs = pl.struct(pl.struct(read).hash(seed=0), pl.col("positions").hash(seed=0), pl.col("resumes").hash(seed=0))
    return people.select(inputs.hash(seed=0)).to_series().to_numpy()


def _grouped(frame: pl.DataFrame, value) -> dict[str, list]:
    out: dict[str, list] = {}
    for row in frame.iter_rows(named=True):
        out.setdefault(str(row["person_id"]), []).append(value(row))
    return out


def _build(profiles: pd.DataFrame, positions: pl.DataFrame, resumes: pl.DataFrame) -> _Documents:
    """``build_documents`` a chunk of profiles at a time, each with only its people's positions and resumes."""
    out = _Documents([], [], [])
    read = [c for c in DOCUMENT_COLUMNS if c in profiles.columns]
    for start in range(0, len(profiles), DOCUMENT_CHUNK):
        chunk = profiles.iloc[start:start + DOCUMENT_CHUNK][read]
        ids = pl.Series(chunk["person_id"].astype(str).tolist(), dtype=pl.String).implode()
        documents = build_documents(
            chunk.to_dict("records"),
            _grouped(positions.filter(pl.col("person_id").is_in(ids)), lambda r: r),
            _grouped(resumes.filter(pl.col("person_id").is_in(ids)), lambda r: r["resume_text"]))
        out.texts += [d.text for d in documents]
        out.keyword_texts += [d.keyword_text for d in documents]
        out.hashes += [d.doc_hash for d in documents]
    out.built = len(profiles)
    return out


def _documents(profiles: pd.DataFrame, positions: pl.DataFrame, resumes: pl.DataFrame,
               previous: _Previous | None) -> _Documents:
    """Every profile's document: taken from ``previous`` where the person's document inputs hash the same,
    built for the others. ``profiles`` gains its ``document_inputs`` column."""
    profiles["document_inputs"] = document_inputs(profiles, positions, resumes)
    if previous is None:
        return _build(profiles, positions, resumes)
    before = previous.profiles.with_row_index("row")
    now = pl.DataFrame({"person_id": profiles["person_id"].astype(str).to_numpy(),
                        "document_inputs": profiles["document_inputs"].to_numpy()})
    same = (now.join(before.select("person_id", "document_inputs", "row"), on=["person_id", "document_inputs"],
                     how="left", maintain_order="left")["row"].cast(pl.Int64).fill_null(-1).to_numpy())
    changed = np.flatnonzero(same < 0)
    ids = pl.Series(profiles["person_id"].iloc[changed].astype(str).tolist(), dtype=pl.String).implode()
    built = _build(profiles.iloc[changed], positions.filter(pl.col("person_id").is_in(ids)),
                   resumes.filter(pl.col("person_id").is_in(ids)))
    columns = {}
    for name, fresh in (("document", built.texts), ("keyword_text", built.keyword_texts), ("doc_hash", built.hashes)):
        column = np.empty(len(profiles), dtype=object)
        kept = same >= 0
        column[kept] = previous.profiles[name].to_numpy()[same[kept]]
        column[changed] = fresh
        columns[name] = column.tolist()
    out = _Documents(columns["document"], columns["keyword_text"], columns["doc_hash"], built=built.built)
    if previous.tokens is not None:  # the last snapshot's row of each keyword text, for its tokens
        texts = before.select("keyword_text", "row").unique("keyword_text", keep="first", maintain_order=True)
        out.token_rows = (pl.DataFrame({"keyword_text": out.keyword_texts})
                          .join(texts, on="keyword_text", how="left", maintain_order="left")["row"]
                          .cast(pl.Int64).fill_null(-1).to_numpy())
    return out


def with_coordinates(profiles: pd.DataFrame, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """Adds latitude / longitude (in place) where the city is known (radius filters); unknown places stay
    empty. Returns the places (city, country, latitude, longitude, looked_up_by), one row each.
    known: places already looked up (such a frame, the last snapshot's); only the others are looked up."""
    places = profiles[["city", "country"]].drop_duplicates()
    looked_up = {} if known is None else {
        (c, k): None if pd.isna(lat) else (lat, lon)  # looked up, not found
        for c, k, lat, lon in known[["city", "country", "latitude", "longitude"]].itertuples(index=False)}
    looked_up = {(c, k): looked_up[(c, k)] if (c, k) in looked_up else city_coordinates(c, k)
                 for c, k in places.itertuples(index=False)}
    coords = [looked_up[(c, k)] for c, k in profiles[["city", "country"]].itertuples(index=False)]
    profiles["latitude"] = [c[0] if c else None for c in coords]
    profiles["longitude"] = [c[1] if c else None for c in coords]
    return pd.DataFrame({"city": [c for c, _ in looked_up], "country": [k for _, k in looked_up],
                         "latitude": [v[0] if v else None for v in looked_up.values()],
                         "longitude": [v[1] if v else None for v in looked_up.values()],
                         "looked_up_by": places_source()}, columns=_PLACE_COLUMNS)


def refresh_index(con, settings: Settings, **kwargs) -> RefreshReport:
    """Rebuild the search index from the warehouse (``con`` may be read-only)."""
    return refresh_from_pool(read_pool(con, settings), settings, **kwargs)


def refresh_from_pool(pool: Pool, settings: Settings, *, encoder: Encoder | None = None,
                      progress: Callable[[EmbedProgress], None] | None = None,
                      min_rows_for_graph: int = HNSW_MIN_ROWS, reuse: bool = True) -> RefreshReport:
    """Documents -> embeddings of the new or changed ones -> the snapshot ``pool.folder`` made current (no
    warehouse needed). What is written is let go: the BM25 and HNSW builds run beside the vectors and the
    keyword texts only. reuse: take what the current snapshot holds for unchanged people (False: build
    every document, token and place again; the snapshot is the same)."""
    try:
        return _refresh(pool, settings, encoder, progress, min_rows_for_graph, _previous(settings) if reuse else None)
    except BaseException:
        shutil.rmtree(pool.folder, ignore_errors=True)
        raise


def _refresh(pool: Pool, settings: Settings, encoder: Encoder | None,
             progress: Callable[[EmbedProgress], None] | None, min_rows_for_graph: int,
             previous: _Previous | None) -> RefreshReport:
    # first, while this process holds the least: the look-up's features (their normalisation forks workers)
    write_lookup_features(pool.folder, pool.known_features)
    pool.known_features = None
    profiles, pool.profiles = pool.profiles, None
    places = with_coordinates(profiles, None if previous is None else previous.places)
    documents = _documents(profiles, pool.positions, pool.resumes, previous)
    if previous is not None:
        previous.profiles = None
    pool.positions = pool.positions.clear()
    pool.resumes = pool.resumes.clear()
    hashes = documents.hashes
    store = EmbeddingStore(settings.embeddings_dir)
    t = time.perf_counter()
    embedded = store.embed_missing(hashes, documents.texts, encoder or Encoder(), progress=progress)
    embed_seconds = time.perf_counter() - t
    vectors = store.vectors_for(hashes)
    stored = len(store)
    del store
    t = time.perf_counter()
    write_profiles(pool.folder, profiles, documents.texts, documents.keyword_texts, hashes)
    del profiles
    documents.texts = []
    tokens = KeywordTokens.of(documents.keyword_texts, None if previous is None else previous.tokens,
                              documents.token_rows)
    del previous
    write_snapshot(pool.folder, tokens, vectors, frames={"jobs": pool.jobs, "segments": pool.segments,
                                                         "places": places}, min_rows_for_graph=min_rows_for_graph)
    index_seconds = time.perf_counter() - t
    people, distinct = len(hashes), len(set(hashes))
    built = documents.built
    del vectors, documents
    dropped = 0
    if stored and (stored - distinct) / stored > COMPACT_WHEN_STALE:
        dropped = EmbeddingStore(settings.embeddings_dir).compact(hashes)
    return RefreshReport(people=people, embedded=embedded, reused=distinct - embedded,
                         embed_seconds=embed_seconds, index_seconds=index_seconds, dropped=dropped,
                         documents_built=built)


def _current_snapshot(settings: Settings) -> Path:
    index_dir = settings.search_index_dir
    return index_dir / (index_dir / CURRENT).read_text(encoding="utf-8").strip()


def refresh_after_erasure(con, settings: Settings, person_ids: Iterable[str]) -> dict[str, int]:
    """After an erasure (the person's rows already gone from the marts ``con`` reads): when the
    index holds one of ``person_ids``, rebuild it without them, delete every older snapshot (they
    still hold the person) and drop the embeddings no current profile uses. Nothing when no index
    was ever built or it does not hold them. Added by the privacy piece (issue 16)."""
    ids = {str(p) for p in person_ids}
    if not ids or not (settings.search_index_dir / CURRENT).exists():
        return {}
    held = pd.read_parquet(_current_snapshot(settings) / "profiles.parquet", columns=["person_id"])["person_id"]
    profiles = int(held.astype(str).isin(ids).sum())
    if not profiles:
        return {}
    refresh_from_pool(read_pool(con, settings), settings)
    dropped_snapshots = drop_older_snapshots(settings.search_index_dir)
    hashes = pd.read_parquet(_current_snapshot(settings) / "profiles.parquet", columns=["doc_hash"])["doc_hash"]
    dropped_vectors = EmbeddingStore(settings.embeddings_dir).compact(hashes.tolist())
    return {"profiles": profiles, "older_snapshots": dropped_snapshots, "embeddings": dropped_vectors}
