"""BM25 (bm25s) over two token views: diacritic-stripped syllables (+ bigrams) and underthesea words."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from bot.text import plain_syllables, words


def plain_tokens(text: str) -> list[str]:
    """Diacritic-stripped syllables plus syllable bigrams ("ha", "noi", "ha_noi")."""
    sylls = plain_syllables(text)
    return sylls + [f"{a}_{b}" for a, b in itertools.pairwise(sylls)]


def word_tokens(text: str) -> list[str]:
    """underthesea words, lower-cased, with marks."""
    return words(text)


class LexicalIndex:
    """BM25 over pre-tokenised documents, with idf and a per-query attainable maximum."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        import logging

        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.size = len(documents)
        self._bm25 = bm25s.BM25()
        self._bm25.index([list(d) or [""] for d in documents], show_progress=False)
        df: Counter[str] = Counter()
        for doc in documents:
            df.update(set(doc))
        self._df = df

    def idf(self, token: str) -> float:
        """Lucene idf; an unknown token gets the maximum idf."""
        df = self._df.get(token, 0)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def known(self, token: str) -> bool:
        """True if the token occurs in some document."""
        return token in self._df

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document (0 where nothing matches)."""
        tokens = [t for t in query if t in self._df]
        if not tokens or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def attainable(self, query: Sequence[str]) -> float:
        """Score of a document of average length holding each query token once (normaliser)."""
        return sum(self.idf(t) for t in query) or 1.0
