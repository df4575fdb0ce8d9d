"""Diacritic restoration of unaccented queries from the corpus itself (Viterbi over bigrams).

Each stripped syllable may be any accented form seen in the corpus (plus common question words);
the most likely sequence under interpolated bigram/unigram counts is chosen. Only applied when
few syllables of the query carry marks: restoring a partly accented query damages correct words.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

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
# How much more the words around an ambiguous shorthand must favour another meaning than its usual one
# (in nats of pointwise mutual information at the two boundaries) before that meaning is taken.
USUAL_MEANING_BONUS = 1.0


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
        self._plain_unigrams: Counter[str] = Counter()
        self._plain_bigrams: Counter[tuple[str, str]] = Counter()
        for syll, count in unigrams.items():
            self._plain_unigrams[strip_diacritics(syll)] += count
        for (a, b), count in bigrams.items():
            self._plain_bigrams[strip_diacritics(a), strip_diacritics(b)] += count

    def _logp(self, prev: str | None, cur: str) -> float:
        """Interpolated log P(cur | prev)."""
        uni = (self._unigrams.get(cur, 0) + 0.1) / self._total
        if prev is None or not self._unigrams.get(prev):
            return math.log(uni)
        bi = self._bigrams.get((prev, cur), 0) / self._unigrams[prev]
        return math.log(_LAMBDA * bi + (1 - _LAMBDA) * uni)

    def _association(self, prev: str, cur: str) -> float:
        """Pointwise mutual information of two syllables compared without marks, smoothed: a pair never
        seen (or a syllable the corpus never uses) scores log(1 - λ) < 0."""
        count_prev, count_cur = self._plain_unigrams.get(prev, 0), self._plain_unigrams.get(cur, 0)
        if not count_prev or not count_cur:
            return math.log(1 - _LAMBDA)
        uni = count_cur / self._total
        bi = self._plain_bigrams.get((prev, cur), 0) / count_prev
        return math.log(_LAMBDA * bi + (1 - _LAMBDA) * uni) - math.log(uni)

    def choose(self, before: Sequence[str], meanings: Sequence[str], after: Sequence[str]) -> str:
        """The meaning of an ambiguous shorthand ("kh": không / kế hoạch) that the corpus makes likely
        next to the word before it and the word after it (`after`: what the next token can mean). The
        usual meaning (first) is kept unless another one is clearly better linked to its neighbours; a
        neighbour the corpus never uses says nothing."""
        last = syllables(before[-1]) if before else []
        prev = strip_diacritics(last[-1]) if last else ""
        following = [strip_diacritics(sy[0]) for sy in (syllables(a) for a in after) if sy]
        following = [f for f in following if self._plain_unigrams.get(f)]

        def score(n: int, meaning: str) -> float:
            sylls = [strip_diacritics(s) for s in syllables(meaning)]
            if not sylls:
                return -math.inf
            total = USUAL_MEANING_BONUS if n == 0 else 0.0
            if self._plain_unigrams.get(prev):
                total += self._association(prev, sylls[0])
            if following:
                total += max(self._association(sylls[-1], f) for f in following)
            return total

        return max(enumerate(meanings), key=lambda item: score(*item))[1]

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
