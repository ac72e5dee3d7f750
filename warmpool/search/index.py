"""The search index: a snapshot folder that searches read and a refresh replaces whole.

    <search dir>/index/<snapshot>/
        profiles.parquet     one row per person: display and filter columns, the document and its hash
        positions.parquet    work history (person_id, title, company_name, started_on, ended_on, sources)
        records.parquet      the source records behind each person (bridge_candidate_records)
        jobs.parquet         the ATS jobs (dim_jobs), for talent rediscovery
        segments.parquet     every segment known to the warehouse (segment, segment_version, people);
                             each person's segments are the profiles' ``segments`` column (segment_members)
        lookup_*.parquet     every source record's contract columns and normalised features (search first)
        vectors.npy          the documents' embeddings, row-aligned with profiles.parquet
        vectors.hnsw         the HNSW graph over them (large pools only; see vector_index)
        keyword/             the BM25 index (bm25s)
        manifest.json        when, how many, which model and document version
    <search dir>/index/CURRENT   the name of the snapshot searches use

A refresh writes a new snapshot beside the old one and then replaces ``CURRENT`` in one rename,
so a search never sees half an index; searches never open the warehouse.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from warmpool.search.documents import DOCUMENT_VERSION, ProfileDocument
from warmpool.search.embeddings import MODEL_NAME
from warmpool.search.filters import ProfileTable
from warmpool.search.keyword import KeywordIndex
from warmpool.search.vector_index import HNSW_MIN_ROWS, VectorIndex

CURRENT = "CURRENT"
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


def write_snapshot(index_dir: Path, profiles: pd.DataFrame, documents: list[ProfileDocument], vectors: np.ndarray, *,
                   frames: dict[str, pd.DataFrame] | None = None, also: Callable[[Path], None] | None = None,
                   min_rows_for_graph: int = HNSW_MIN_ROWS) -> dict:
    """Write a snapshot of ``profiles`` (row-aligned with ``documents`` and ``vectors``) and make it current.

    frames: more tables for the snapshot (``positions``, ``records``, ``jobs``, ``segments``), each ``<name>.parquet``;
    also: writes further files into the snapshot folder before it becomes current (the look-up pool).
    """
    if not (len(profiles) == len(documents) == len(vectors)):
        raise ValueError(f"{len(profiles)} profiles, {len(documents)} documents and {len(vectors)} vectors")
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder = index_dir / name
    tmp = index_dir / f".{name}.tmp"
    tmp.mkdir()
    timings = {}
    started = time.perf_counter()
    frame = profiles.reset_index(drop=True).copy()
    frame["document"] = [d.text for d in documents]
    frame["keyword_text"] = [d.keyword_text for d in documents]
    frame["doc_hash"] = [d.doc_hash for d in documents]
    frame.to_parquet(tmp / "profiles.parquet", index=False)
    for frame_name, table in (frames or {}).items():
        table.to_parquet(tmp / f"{frame_name}.parquet", index=False)
    if also is not None:
        also(tmp)
    t = time.perf_counter()
    KeywordIndex.build(frame["keyword_text"].tolist()).save(tmp / "keyword")
    timings["keyword_seconds"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    vector_index = VectorIndex.build(vectors, min_rows_for_graph=min_rows_for_graph)
    vector_index.save(tmp)
    timings["vector_seconds"] = round(time.perf_counter() - t, 2)
    manifest = {"built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "people": len(frame),
                "model": MODEL_NAME, "document_version": DOCUMENT_VERSION,
                "hnsw": vector_index.graph is not None, **timings,
                "seconds": round(time.perf_counter() - started, 2)}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(tmp, folder)
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
