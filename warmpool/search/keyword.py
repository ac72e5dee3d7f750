"""Keyword relevance: BM25 (the ``bm25s`` package, sparse matrices) over titles, skills and resume text.

Tokens keep what recruiters type for skills: ``c++``, ``c#``, ``node.js`` stay whole and one-letter
skills (``r``, ``c``) are kept; ``ci/cd`` is ``ci`` and ``cd``. A few English stop words are dropped.
Filtering happens inside the scoring (a weight mask of the rows the filters allow), so the top k
are the best k among the allowed rows, never fewer because of a filter.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from warmpool.search.ranking import top_k

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#.]*[a-z0-9+#]|[a-z0-9]")
STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it of on or our the this to was we were will with you "
    "your who years year experience professional skills previously".split())
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


class KeywordIndex:
    def __init__(self, bm25):
        self._bm25 = bm25
        self._vocab = bm25.vocab_dict

    @classmethod
    def build(cls, keyword_texts: Sequence[str]) -> "KeywordIndex":
        import bm25s  # third-party, imported where used: only index building and search need it

        bm25 = bm25s.BM25(k1=K1, b=B)
        corpus = [tokenize(t) or ["\u2205"] for t in keyword_texts]  # an empty document still takes its row
        bm25.index(corpus, show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder))

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
