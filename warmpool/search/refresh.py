"""Refreshing the search index from the marts: documents -> embeddings (only new or changed) -> snapshot.

``read_pool`` reads what a document is built from (``dim_candidates``, ``dim_candidate_work_history``,
``dim_candidate_resumes``), what a result shows (``bridge_candidate_records``) and what a filter needs
beyond the profile (each person's segments, ``segment_members``) from the warehouse;
``refresh_index`` builds every person's document, embeds the documents whose hash the embedding
store lacks (resumable, with progress), and writes a new index snapshot. Called by the Dagster asset
``search/profile_index`` after the marts, and by ``warmpool search-index refresh``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from warmpool import tables
from warmpool.config import Settings
from warmpool.search.documents import build_documents
from warmpool.search.embeddings import EmbeddingStore, EmbedProgress, Encoder
from warmpool.search.geo import city_coordinates
from warmpool.search.index import CURRENT, drop_older_snapshots, write_snapshot
from warmpool.search.lookup import write_lookup_pool
from warmpool.search.vector_index import HNSW_MIN_ROWS
from warmpool.warehouse import table_exists

COMPACT_WHEN_STALE = 0.25   # rewrite the embedding store once a quarter of its vectors are no longer used


@dataclass(frozen=True)
class RefreshReport:
    people: int
    embedded: int            # documents embedded in this refresh (new or changed)
    reused: int              # documents whose embedding was already stored
    embed_seconds: float
    index_seconds: float
    dropped: int = 0         # stale vectors removed from the store

    def describe(self) -> str:
        return (f"search index: {self.people:,} people; embedded {self.embedded:,} new or changed documents in "
                f"{self.embed_seconds:.1f} s, reused {self.reused:,}; index written in {self.index_seconds:.1f} s")


@dataclass
class Pool:
    profiles: pd.DataFrame     # dim_candidates + application history (furthest stage, last archive reason, job ids)
    positions: pd.DataFrame
    resumes: pd.DataFrame
    records: pd.DataFrame
    jobs: pd.DataFrame
    lookup_records: pd.DataFrame   # every source record's contract columns + person_id
    segments: pd.DataFrame         # segment, segment_version, people: every segment known to the warehouse


def _frame(con, table: str, columns: str = "*", order: str = "") -> pd.DataFrame | None:
    if not table_exists(con, table):
        return None
    return con.execute(f"select {columns} from {table} {order}").df()


def read_pool(con) -> Pool:
    """The marts a document and a result need (work history and resumes are optional marts)."""
    profiles = _frame(con, tables.DIM_CANDIDATES, order="order by person_id")
    if profiles is None:
        raise FileNotFoundError(f"{tables.DIM_CANDIDATES} does not exist yet: build the marts first")
    positions = _frame(con, tables.DIM_CANDIDATE_WORK_HISTORY,
                       "person_id, title, company_name, started_on, ended_on, sources",
                       "order by person_id, coalesce(ended_on, date '9999-12-31') desc, started_on desc nulls last")
    resumes = _frame(con, tables.DIM_CANDIDATE_RESUMES, order="order by person_id, received_at desc")
    records = _frame(con, tables.BRIDGE_CANDIDATE_RECORDS,
                     "person_id, source, source_record_id, source_family, first_name, last_name, email, city, "
                     "country, current_title, current_company, first_seen_at, updated_at, times_purchased")
    history = _frame(con, tables.FCT_APPLICATIONS, _HISTORY_SQL, "group by person_id")
    if history is not None:
        profiles = profiles.merge(history, on="person_id", how="left")
    # segment membership as dbt computed it (never re-derived here): one ';'-separated column per person
    memberships = _frame(con, tables.SEGMENT_MEMBERS, "person_id, string_agg(segment, ';' order by segment) as segments",
                         "group by person_id")
    if memberships is not None:
        profiles = profiles.merge(memberships, on="person_id", how="left")
    segments = _segments(con)
    jobs = _frame(con, tables.DIM_JOBS, order="order by job_id")
    lookup_records = None
    if table_exists(con, tables.SOURCE_RECORDS) and table_exists(con, tables.PERSON_ASSIGNMENTS):
        lookup_records = con.execute(
            f"select r.*, a.person_id from {tables.SOURCE_RECORDS} as r join {tables.PERSON_ASSIGNMENTS} as a "
            f"using (source, source_record_id) order by r.source, r.source_record_id").df()
    empty = pd.DataFrame(columns=["person_id"])
    return Pool(profiles, positions if positions is not None else empty, resumes if resumes is not None else empty,
                records if records is not None else empty, jobs if jobs is not None else pd.DataFrame(),
                lookup_records if lookup_records is not None else empty,
                segments if segments is not None else pd.DataFrame(columns=["segment", "segment_version", "people"]))


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


def _grouped(frame: pd.DataFrame, value) -> dict[str, list]:
    if frame.empty:
        return {}
    out: dict[str, list] = {}
    for row in frame.to_dict("records"):
        out.setdefault(str(row["person_id"]), []).append(value(row))
    return out


def with_coordinates(profiles: pd.DataFrame) -> pd.DataFrame:
    """Adds latitude / longitude where the city is known (radius filters); unknown places stay empty."""
    places = profiles[["city", "country"]].drop_duplicates()
    looked_up = {(c, k): city_coordinates(c, k) for c, k in places.itertuples(index=False)}
    coords = [looked_up[(c, k)] for c, k in profiles[["city", "country"]].itertuples(index=False)]
    return profiles.assign(latitude=[c[0] if c else None for c in coords],
                           longitude=[c[1] if c else None for c in coords])


def refresh_index(con, settings: Settings, **kwargs) -> RefreshReport:
    """Rebuild the search index from the warehouse (``con`` may be read-only)."""
    return refresh_from_pool(read_pool(con), settings, **kwargs)


def refresh_from_pool(pool: Pool, settings: Settings, *, encoder: Encoder | None = None,
                      progress: Callable[[EmbedProgress], None] | None = None,
                      min_rows_for_graph: int = HNSW_MIN_ROWS) -> RefreshReport:
    """Documents -> embeddings of the new or changed ones -> a new snapshot (no warehouse needed)."""
    profiles = with_coordinates(pool.profiles)
    documents = build_documents(
        profiles.to_dict("records"),
        _grouped(pool.positions, lambda r: r),
        _grouped(pool.resumes, lambda r: r.get("resume_text")),
    )
    hashes = [d.doc_hash for d in documents]
    store = EmbeddingStore(settings.embeddings_dir)
    t = time.perf_counter()
    embedded = store.embed_missing(hashes, [d.text for d in documents], encoder or Encoder(), progress=progress)
    embed_seconds = time.perf_counter() - t
    vectors = store.vectors_for(hashes)
    t = time.perf_counter()
    write_snapshot(settings.search_index_dir, profiles, documents, vectors,
                   frames={"positions": pool.positions, "records": pool.records, "jobs": pool.jobs,
                           "segments": pool.segments},
                   also=lambda folder: write_lookup_pool(folder, pool.lookup_records),
                   min_rows_for_graph=min_rows_for_graph)
    index_seconds = time.perf_counter() - t
    dropped = 0
    if len(store) and (len(store) - len(set(hashes))) / len(store) > COMPACT_WHEN_STALE:
        dropped = store.compact(hashes)
    return RefreshReport(people=len(documents), embedded=embedded, reused=len(set(hashes)) - embedded,
                         embed_seconds=embed_seconds, index_seconds=index_seconds, dropped=dropped)


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
    refresh_from_pool(read_pool(con), settings)
    dropped_snapshots = drop_older_snapshots(settings.search_index_dir)
    hashes = pd.read_parquet(_current_snapshot(settings) / "profiles.parquet", columns=["doc_hash"])["doc_hash"]
    dropped_vectors = EmbeddingStore(settings.embeddings_dir).compact(hashes.tolist())
    return {"profiles": profiles, "older_snapshots": dropped_snapshots, "embeddings": dropped_vectors}
