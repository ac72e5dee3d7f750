"""Keyword relevance: BM25 (the ``bm25s`` package, sparse matrices) over titles, skills and resume text.

Tokens keep what recruiters type for skills: ``c++``, ``c#``, ``node.js`` stay whole and one-letter
skills (``r``, ``c``) are kept; ``ci/cd`` is ``ci`` and ``cd``. A few English stop words are dropped.
Filtering happens inside the scoring (a weight mask of the rows the filters allow), so the top k
are the best k among the allowed rows, never fewer because of a filter.

The index is built from ``KeywordTokens`` (every document's tokens as ids into a sorted vocabulary),
which a snapshot keeps beside the index: the next refresh tokenizes only the documents whose keyword
text changed. BM25's scores of every (document, term) pair are computed in one pass over the arrays
(``bm25s`` builds them a document at a time in Python, ~10x slower) with bm25s's own formulas, so
the index is the one ``bm25s.BM25.index`` builds; a snapshot's index is saved and read by bm25s.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from warmpool.search.ranking import top_k

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#.]*[a-z0-9+#]|[a-z0-9]")
STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it of on or our the this to was we were will with you "
    "your who years year experience professional skills previously".split())
# Bump when ``tokenize`` changes beyond its pattern and stop words (which ``_TOKENIZER`` covers): tokens kept
# with an index are then not reused by the next refresh.
TOKENIZER_VERSION = 1
_TOKENIZER = f"v{TOKENIZER_VERSION}\x00{_TOKEN.pattern}\x00{' '.join(sorted(STOP_WORDS))}"
# Parameters of BM25 (Lucene's variant, the package's default): k1 = term-frequency saturation, b = length
# normalisation. Profiles are short and of similar length, so the standard values fit.
K1, B = 1.5, 0.75


def tokenize(text: str | None) -> list[str]:
    if not text:
        return []
    out = []
    for tok in _TOKEN.findall(text.lower()):
        tok = tok.rstrip(".")
        if tok and tok not in STOP_WORDS:
            out.append(tok)
    return out


EMPTY_DOCUMENT = "\u2205"   # the token of a document without any: it still takes its row
_TOKEN_FILES = ("tokens.vocab.json", "tokens.ids.npy", "tokens.indptr.npy")


@dataclass(frozen=True)
class KeywordTokens:
    """Every document's tokens as ids into ``vocab`` (sorted, each token used by some document): document
    i's are ``ids[indptr[i]:indptr[i + 1]]``, in the order they occur."""
    vocab: list[str]
    ids: np.ndarray      # int32
    indptr: np.ndarray   # int64, one more than there are documents

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def of(cls, keyword_texts: Sequence[str], previous: "KeywordTokens | None" = None,
           previous_rows: np.ndarray | None = None) -> "KeywordTokens":
        """The tokens of ``keyword_texts``; with ``previous_rows`` (per text: the row of ``previous`` with
        the same text, -1 for none) a text found there keeps its tokens and only the others are tokenized.
        Equal to tokenizing every text."""
        n = len(keyword_texts)
        reuse = previous is not None and previous_rows is not None
        rows = np.asarray(previous_rows, dtype=np.int64) if reuse else np.full(n, -1, dtype=np.int64)
        fresh_at = np.flatnonzero(rows < 0)
        fresh = [tokenize(keyword_texts[i]) or [EMPTY_DOCUMENT] for i in fresh_at]
        kept_at = np.flatnonzero(rows >= 0)
        lengths = np.zeros(n, dtype=np.int64)
        lengths[fresh_at] = [len(t) for t in fresh]
        kept_ids = np.zeros(0, dtype=np.int32)
        if len(kept_at):
            starts, ends = previous.indptr[rows[kept_at]], previous.indptr[rows[kept_at] + 1]
            lengths[kept_at] = ends - starts
            kept_ids = previous.ids[_ranges(starts, ends - starts)]
        # the vocabulary of what is kept and what is new, sorted; ids of the previous one remapped into it
        used_before = np.unique(kept_ids)
        kept_vocab = {previous.vocab[i] for i in used_before.tolist()} if len(kept_at) else set()
        vocab = sorted(kept_vocab | {t for tokens in fresh for t in tokens})
        id_of = {t: i for i, t in enumerate(vocab)}
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        ids = np.empty(indptr[-1], dtype=np.int32)
        if len(kept_at):
            remap = np.zeros(len(previous.vocab), dtype=np.int32)
            remap[used_before] = [id_of[previous.vocab[i]] for i in used_before.tolist()]
            ids[_ranges(indptr[kept_at], lengths[kept_at])] = remap[kept_ids]
        if fresh:
            at = _ranges(indptr[fresh_at], lengths[fresh_at])
            ids[at] = np.fromiter((id_of[t] for tokens in fresh for t in tokens), dtype=np.int32, count=len(at))
        return cls(vocab, ids, indptr)

    def save(self, folder: Path) -> None:
        vocab, ids, indptr = (Path(folder) / name for name in _TOKEN_FILES)
        vocab.write_text(json.dumps({"tokenizer": _TOKENIZER, "vocab": self.vocab}), encoding="utf-8")
        np.save(ids, self.ids)
        np.save(indptr, self.indptr)

    @classmethod
    def load(cls, folder: Path) -> "KeywordTokens | None":
        """The tokens saved in ``folder``; None when it has none (an index built before they were kept) or
        they came from another tokenizer."""
        vocab, ids, indptr = (Path(folder) / name for name in _TOKEN_FILES)
        if not all(p.exists() for p in (vocab, ids, indptr)):
            return None
        saved = json.loads(vocab.read_text(encoding="utf-8"))
        if saved.get("tokenizer") != _TOKENIZER:
            return None
        return cls(saved["vocab"], np.load(ids), np.load(indptr))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] .. starts[i] + lengths[i] - 1`` of every i, concatenated."""
    total = int(lengths.sum())
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(np.asarray(starts, dtype=np.int64), lengths) + offsets


def bm25_scores(tokens: KeywordTokens, k1: float = K1, b: float = B) -> dict:
    """The BM25 score of every (document, term) pair as bm25s keeps them (a CSC matrix: per term, the
    documents holding it, ascending), with bm25s's Lucene formulas and rounding: idf = log(1 + (N - df
    + 0.5) / (df + 0.5)) stored as float32, the term-frequency part tf / (k1 * (1 - b + b * len / avg
    len) + tf) in float64, their product stored as float32."""
    n, n_terms = len(tokens), len(tokens.vocab)
    doc_len = np.diff(tokens.indptr)
    avg_doc_len = doc_len.mean() if n else 0.0
    doc = np.repeat(np.arange(n, dtype=np.int64), doc_len)
    pairs, tf = np.unique(tokens.ids.astype(np.int64) * max(n, 1) + doc, return_counts=True)  # term-major
    term, doc = np.divmod(pairs, max(n, 1))
    df = np.bincount(term, minlength=n_terms)
    idf = np.array([math.log(1 + (n - d + 0.5) / (d + 0.5)) for d in df.tolist()], dtype=np.float32)
    tfc = tf / (k1 * ((1 - b) + b * doc_len[doc] / avg_doc_len) + tf)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return {"data": (idf[term] * tfc).astype(np.float32), "indices": doc.astype(np.int32), "indptr": indptr,
            "num_docs": n}


def _bm25(tokens: KeywordTokens):
    import bm25s  # third-party, imported where used: only index building and search need it
    from bm25s.tokenization import Tokenized

    class TokenIdsBM25(bm25s.BM25):
        # bm25s's documented hook for building the index another way (see bm25_scores)
        def build_index_from_ids(self, unique_token_ids, corpus_token_ids, **_):
            self.nonoccurrence_array = None   # as bm25s sets it for Lucene's BM25
            return bm25_scores(corpus_token_ids, self.k1, self.b)

    bm25 = TokenIdsBM25(k1=K1, b=B)
    bm25.index(Tokenized(ids=tokens, vocab={t: i for i, t in enumerate(tokens.vocab)}), show_progress=False)
    return bm25


class KeywordIndex:
    def __init__(self, bm25, tokens: KeywordTokens | None = None):
        self._bm25 = bm25
        self._vocab = bm25.vocab_dict
        self.tokens = tokens   # what it was built from (kept with a snapshot); None when loaded

    @classmethod
    def build(cls, keyword_texts: Sequence[str] | KeywordTokens) -> "KeywordIndex":
        tokens = keyword_texts if isinstance(keyword_texts, KeywordTokens) else KeywordTokens.of(keyword_texts)
        return cls(_bm25(tokens), tokens)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder))
        if self.tokens is not None:
            self.tokens.save(folder)

    @classmethod
    def load(cls, folder: Path) -> "KeywordIndex":
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=False))

    def known_terms(self, query: str) -> list[str]:
        """The query's tokens that occur in some document (the others cannot match)."""
        return [t for t in dict.fromkeys(tokenize(query)) if t in self._vocab]

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every row for ``query`` (0 where the mask disallows the row)."""
        terms = self.known_terms(query)
        if not terms:
            return np.zeros(self._bm25.scores["num_docs"], dtype=np.float32)
        weight = None if mask is None else mask.astype(np.float32)
        return self._bm25.get_scores(terms, weight_mask=weight)

    def top(self, query: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the best ``k`` rows with a positive score, best first."""
        s = self.scores(query, mask)
        hits = np.flatnonzero(s > 0)  # rows with no query term (or refused by the mask) are not matches
        order = hits[top_k(s[hits], k)]
        return order, s[order]
