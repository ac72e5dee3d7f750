"""The search index: a snapshot folder that searches read and a refresh replaces whole.

    <search dir>/index/<snapshot>/
        profiles.parquet     one row per person: display and filter columns, the document and its hash
        positions.parquet    work history (person_id, title, company_name, started_on, ended_on, sources)
        records.parquet      the source records behind each person (bridge_candidate_records)
        jobs.parquet         the ATS jobs (dim_jobs), for talent rediscovery
        segments.parquet     every segment known to the warehouse (segment, segment_version, people);
                             each person's segments are the profiles' ``segments`` column (segment_members)
        places.parquet       every place of the profiles and its coordinates (kept for the next refresh)
        lookup_*.parquet     every source record's contract columns and normalised features (search first)
        vectors.npy          the documents' embeddings, row-aligned with profiles.parquet
        vectors.hnsw         the HNSW graph over them (large pools only; see vector_index)
        keyword/             the BM25 index (bm25s) and the tokens it was built from (keyword.KeywordTokens)
        manifest.json        when, how many, which model and document version
    <search dir>/index/CURRENT   the name of the snapshot searches use

A refresh writes a new snapshot beside the old one (a ``.<snapshot>.tmp`` draft, ``start_snapshot``, that
``write_profiles`` and ``write_snapshot`` finish) and then replaces ``CURRENT`` in one rename, so a search
never sees half an index; searches never open the warehouse.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from warmpool.search.documents import DOCUMENT_VERSION
from warmpool.search.embeddings import MODEL_NAME
from warmpool.search.filters import ProfileTable
from warmpool.search.keyword import KeywordIndex, KeywordTokens
from warmpool.search.vector_index import HNSW_MIN_ROWS, VectorIndex

CURRENT = "CURRENT"
# A snapshot's rows are ordered by job family, then person: a job-family filter (and the skills that go
# with a family) then allows contiguous blocks of rows, which the compressed scan scores in place
# instead of gathering them row by row (vector_index.VectorIndex._coarse_scores).
ROW_ORDER = ("job_family", "person_id")
SNAPSHOTS_KEPT = 2   # the current one and the one before (a search that opened it may still read it)


class IndexNotBuilt(FileNotFoundError):
    """No search index yet (the pipeline builds it after the marts)."""


@dataclass
class SearchIndex:
    folder: Path
    profiles: pd.DataFrame
    table: ProfileTable
    vectors: VectorIndex
    keyword: KeywordIndex
    manifest: dict
    _positions: pd.DataFrame | None = None
    _records: pd.DataFrame | None = None

    @property
    def rows(self) -> int:
        return len(self.profiles)

    @property
    def person_ids(self) -> np.ndarray:
        if "_person_ids" not in self.__dict__:
            self.__dict__["_person_ids"] = self.profiles["person_id"].astype(str).to_numpy()
        return self.__dict__["_person_ids"]

    def row_of(self) -> dict[str, int]:
        if "_row_of" not in self.__dict__:
            self.__dict__["_row_of"] = {pid: i for i, pid in enumerate(self.profiles["person_id"].tolist())}
        return self.__dict__["_row_of"]

    def positions_of(self, person_id: str) -> pd.DataFrame:
        if self._positions is None:
            path = self.folder / "positions.parquet"
            self._positions = pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=["person_id"])
        return self._positions[self._positions["person_id"] == person_id]

    def frame(self, name: str) -> pd.DataFrame:
        """Another table of the snapshot (``jobs``, ...); empty when the snapshot has none."""
        path = self.folder / f"{name}.parquet"
        return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    def records_of(self, person_id: str) -> pd.DataFrame:
        if self._records is None:
            path = self.folder / "records.parquet"
            self._records = pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=["person_id"])
        return self._records[self._records["person_id"] == person_id]

    @classmethod
    def load(cls, index_dir: Path) -> "SearchIndex":
        pointer = Path(index_dir) / CURRENT
        if not pointer.exists():
            raise IndexNotBuilt(f"no search index in {index_dir} yet: run the pipeline (`make demo` or "
                                f"`warmpool run`) or `warmpool search-index refresh`")
        folder = Path(index_dir) / pointer.read_text(encoding="utf-8").strip()
        profiles = pd.read_parquet(folder / "profiles.parquet")
        segments = folder / "segments.parquet"
        known = pd.read_parquet(segments, columns=["segment"])["segment"].tolist() if segments.exists() else []
        return cls(folder=folder, profiles=profiles, table=ProfileTable.from_frame(profiles, known),
                   vectors=VectorIndex.load(folder), keyword=KeywordIndex.load(folder / "keyword"),
                   manifest=json.loads((folder / "manifest.json").read_text(encoding="utf-8")))


def start_snapshot(index_dir: Path) -> Path:
    """A new, not yet current snapshot folder (``.<name>.tmp``) for ``write_snapshot`` to finish: a refresh
    writes the tables it copies straight from the warehouse there first."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    draft = index_dir / f".{name}.tmp"
    draft.mkdir()
    return draft


def write_profiles(draft: Path, profiles: pd.DataFrame, texts: list[str], keyword_texts: list[str],
                   doc_hashes: list[str]) -> None:
    """``profiles.parquet`` of the snapshot ``draft``: the profiles (row-aligned with the documents' texts and
    hashes) with the document columns added; ``profiles`` gains them in place (no copy of the pool)."""
    if not (len(profiles) == len(texts) == len(keyword_texts) == len(doc_hashes)):
        raise ValueError(f"{len(profiles)} profiles and {len(texts)} documents")
    profiles.reset_index(drop=True, inplace=True)
    profiles["document"] = texts
    profiles["keyword_text"] = keyword_texts
    profiles["doc_hash"] = doc_hashes
    profiles.to_parquet(Path(draft) / "profiles.parquet", index=False)


def write_snapshot(draft: Path, keyword_texts: list[str] | KeywordTokens, vectors: np.ndarray, *,
                   frames: dict[str, pd.DataFrame] | None = None, min_rows_for_graph: int = HNSW_MIN_ROWS) -> dict:
    """Finish the snapshot ``draft`` (``start_snapshot``, its ``profiles.parquet`` written by ``write_profiles``)
    with the BM25 index of ``keyword_texts`` (or of their tokens) and the vector index of ``vectors`` (both
    row-aligned with the profiles), and make it current.

    frames: more tables for the snapshot (``jobs``, ``segments``, ...), each ``<name>.parquet``; the tables
    already in the draft (copied from the warehouse) stay as they are.
    """
    if len(keyword_texts) != len(vectors):
        raise ValueError(f"{len(keyword_texts)} documents and {len(vectors)} vectors")
    draft = Path(draft)
    index_dir = draft.parent
    name = draft.name.removeprefix(".").removesuffix(".tmp")
    folder = index_dir / name
    timings = {}
    started = time.perf_counter()
    for frame_name, table in (frames or {}).items():
        table.to_parquet(draft / f"{frame_name}.parquet", index=False)
    t = time.perf_counter()
    KeywordIndex.build(keyword_texts).save(draft / "keyword")
    timings["keyword_seconds"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    vector_index = VectorIndex.build(vectors, min_rows_for_graph=min_rows_for_graph)
    vector_index.save(draft)
    timings["vector_seconds"] = round(time.perf_counter() - t, 2)
    manifest = {"built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "people": len(vectors),
                "model": MODEL_NAME, "document_version": DOCUMENT_VERSION,
                "hnsw": vector_index.graph is not None, **timings,
                "seconds": round(time.perf_counter() - started, 2)}
    (draft / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(draft, folder)
    pointer_tmp = index_dir / f".{CURRENT}.tmp"
    pointer_tmp.write_text(name, encoding="utf-8")
    os.replace(pointer_tmp, index_dir / CURRENT)
    for old in sorted(p for p in index_dir.iterdir() if p.is_dir() and not p.name.startswith("."))[:-SNAPSHOTS_KEPT]:
        shutil.rmtree(old, ignore_errors=True)
    return manifest


def drop_older_snapshots(index_dir: Path) -> int:
    """Delete every snapshot but the current one; returns how many (an erasure: the one kept for
    searches still reading it holds the erased person)."""
    index_dir = Path(index_dir)
    current = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    old = [p for p in index_dir.iterdir() if p.is_dir() and p.name != current]
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
    return len(old)
