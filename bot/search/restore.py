"""Diacritic restoration of unaccented queries from the corpus itself (Viterbi over bigrams).

Each stripped syllable may be any accented form seen in the corpus (plus common question words);
the most likely sequence under interpolated bigram/unigram counts is chosen. Only applied when
few syllables of the query carry marks: restoring a partly accented query damages correct words.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable

from bot.text import has_diacritics, strip_diacritics, syllables

# Frequent question and function words that a programme text rarely contains.
QUESTION_PHRASES = (
    "bao nhiêu", "bao giờ", "khi nào", "thế nào", "như thế nào", "là gì", "gì", "nào", "ở đâu",
    "tại sao", "vì sao", "mấy", "có", "không", "những", "của", "được", "cho", "về", "với", "và",
    "người dân", "làm", "ai", "gồm", "hãy", "bạn", "tôi", "mình", "muốn", "biết", "hỏi", "thì",
    "sẽ", "đã", "đang", "phải", "nên", "cần", "ra sao", "nghĩa là", "có phải", "hay", "giúp",
    "hôm nay", "ngày mai", "tuần này", "năm nay", "ở", "mưa", "giá", "tiền", "mua", "bán", "đi",
    "nhà", "đường", "xe", "thành phố", "người", "dân", "thủ đô", "về việc", "những gì", "điều gì",
)  # fmt: skip
MAX_MARKED_SHARE = 0.2
QUESTION_WEIGHT = 3
_LAMBDA = 0.8


class Restorer:
    """Restores diacritics of lower-cased syllable sequences using corpus statistics."""

    def __init__(self, texts: Iterable[str]) -> None:
        unigrams: Counter[str] = Counter()
        bigrams: Counter[tuple[str, str]] = Counter()
        for text in [*texts, *(QUESTION_PHRASES * QUESTION_WEIGHT)]:
            sylls = syllables(text)
            unigrams.update(sylls)
            bigrams.update(itertools.pairwise(sylls))
        forms: defaultdict[str, set[str]] = defaultdict(set)
        for syll in unigrams:
            forms[strip_diacritics(syll)].add(syll)
        self._forms = {k: sorted(v) for k, v in forms.items()}
        self._unigrams = unigrams
        self._bigrams = bigrams
        self._total = sum(unigrams.values()) or 1

    def _logp(self, prev: str | None, cur: str) -> float:
        """Interpolated log P(cur | prev)."""
        uni = (self._unigrams.get(cur, 0) + 0.1) / self._total
        if prev is None or not self._unigrams.get(prev):
            return math.log(uni)
        bi = self._bigrams.get((prev, cur), 0) / self._unigrams[prev]
        return math.log(_LAMBDA * bi + (1 - _LAMBDA) * uni)

    def restore_syllables(self, sylls: list[str]) -> list[str]:
        """Most likely accented sequence (syllables already marked stay as they are)."""
        if not sylls:
            return []
        lattice = [[s] if has_diacritics(s) else self._forms.get(s, [s]) for s in sylls]
        best: dict[str, tuple[float, list[str]]] = {c: (self._logp(None, c), [c]) for c in lattice[0]}
        for options in lattice[1:]:
            step: dict[str, tuple[float, list[str]]] = {}
            for cur in options:
                score, path = max(
                    ((s + self._logp(prev, cur), p) for prev, (s, p) in best.items()), key=lambda x: x[0]
                )
                step[cur] = (score, [*path, cur])
            best = step
        return max(best.values(), key=lambda x: x[0])[1]

    def needs_restoration(self, text: str) -> bool:
        """True when few syllables of the text carry marks (typed without diacritics)."""
        sylls = [s for s in syllables(text) if any(ch.isalpha() for ch in s)]
        if not sylls:
            return False
        marked = sum(1 for s in sylls if has_diacritics(s))
        return marked / len(sylls) <= MAX_MARKED_SHARE

    def restore(self, text: str) -> str:
        """The text with diacritics restored (lower-cased syllables joined by spaces) if needed."""
        if not self.needs_restoration(text):
            return text
        return " ".join(self.restore_syllables(syllables(text)))
