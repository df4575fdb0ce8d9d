"""Hybrid retriever: e5 cosine + BM25 on stripped syllables + BM25 on words, passage and clause level.

For each signal a passage scores 0.3 × itself + 0.7 × its best clause; signals are z-scored over
the candidate passages and added. Unaccented queries are first restored from corpus bigrams.
Colloquial wording adds its formal equivalent (synonyms.txt) to the BM25 queries. A question naming
no other city ranks passages of documents about another city (not settings.home_place) lower.
Abstention uses a few documented thresholds over evidence features (see `abstain`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.config import Settings
from bot.search.encoders import Encoder, encoder_name, make_encoder
from bot.search.errors import IndexIncompatibleError
from bot.search.lexical import LexicalIndex, plain_tokens, word_tokens
from bot.search.models import Answer, Passage
from bot.search.names import CITIES, capitalised_runs, dominant_place, name_lexicon, names_in
from bot.search.restore import Restorer
from bot.search.store import StoredIndex, load_index, read_manifest
from bot.search.synonyms import Rule, expansions, load_rules, parse_rules
from bot.text import plain_syllables, validate_question

CITY_NAMES = frozenset(tuple(c.split()) for c in CITIES)
PASSAGE_WEIGHT = 0.3
CLAUSE_WEIGHT = 0.7
MAX_CANDIDATES = 200
NAME_PENALTY = 1.5
AWAY_PENALTY = 0.5  # passage of a document about another city, for a question naming no place
SIGNAL_WEIGHTS = (1.0, 1.0, 1.0)  # e5 cosine, stripped-syllable BM25, word BM25
STOP_SYLLABLES = frozenset(
    [
        "la",
        "gi",
        "bao",
        "nhieu",
        "nao",
        "the",
        "nhu",
        "co",
        "khong",
        "cua",
        "duoc",
        "cho",
        "ve",
        "voi",
        "va",
        "cac",
        "nhung",
        "mot",
        "thi",
        "se",
        "da",
        "dang",
        "o",
        "dau",
        "khi",
        "sao",
        "ai",
        "lam",
        "gom",
        "hay",
        "ban",
        "toi",
        "minh",
        "muon",
        "biet",
        "hoi",
        "nay",
        "do",
        "nhe",
        "a",
        "u",
        "vay",
        "ra",
        "tai",
        "vi",
        "trong",
        "den",
        "tu",
    ]
)


@dataclass(frozen=True)
class Evidence:
    """Features of the top passage used to decide abstention."""

    cosine: float  # best clause cosine
    coverage: float  # idf-weighted share of query content syllables found in the passage
    known: float  # share of query content syllables known to the corpus
    bm25: float  # normalised stripped-syllable BM25 of the best clause
    unknown_name: bool  # a capitalised name in the question that the corpus never mentions
    name_missing: bool  # the question names a place the top passage's document never mentions


def abstain(ev: Evidence) -> bool:
    """Documented thresholds (calibrated on the dev split of bench/eval, checked on its test split)."""
    if ev.unknown_name or ev.name_missing:
        return True
    if ev.known < 0.6:
        return True
    return ev.cosine < 0.80 or (ev.coverage < 0.5 and ev.cosine < 0.86)


class Retriever:
    """Answers questions from a loaded index with one encoder."""

    def __init__(self, stored: StoredIndex, encoder: Encoder, settings: Settings) -> None:
        self.settings = settings
        self.encoder = encoder
        self.chunks = stored.chunks
        self._pv = stored.passage_vectors
        self._cv = stored.clause_vectors
        self._pindex = stored.passage_index
        self._cindex = stored.clause_index
        counts = np.array([len(c.clauses) for c in stored.chunks], dtype=np.int64)
        self._cstart = np.concatenate([[0], np.cumsum(counts)])
        self._owner = np.repeat(np.arange(len(stored.chunks)), counts)
        clause_texts = [c.text[a:b] for c in stored.chunks for a, b in c.clauses]
        self._clause_texts = clause_texts
        self._plain_p = LexicalIndex([plain_tokens(c.text) for c in stored.chunks])
        self._plain_c = LexicalIndex([plain_tokens(t) for t in clause_texts])
        self._words_p = LexicalIndex(stored.words)
        self._words_c = LexicalIndex([w for cw in stored.clause_words for w in cw])
        self._plain_sets = [set(plain_syllables(c.text)) for c in stored.chunks]
        self._restorer = Restorer(c.text for c in stored.chunks)
        self._corpus_plain = " " + " ".join(plain_syllables(" ".join(c.text for c in stored.chunks))) + " "
        self._synonyms = load_rules()
        self._extra_synonyms: list[Rule] = []
        self._names = name_lexicon(c.text for c in stored.chunks)
        doc_text: dict[str, list[str]] = {}
        for chunk in stored.chunks:
            doc_text.setdefault(chunk.source, []).append(chunk.text)
        self._doc_plain = {s: " " + " ".join(plain_syllables(" ".join(t))) + " " for s, t in doc_text.items()}
        self._home = tuple(plain_syllables(settings.home_place))
        away = {s for s, t in doc_text.items() if dominant_place(" ".join(t)) not in (None, self._home)}
        self._away = np.array([c.source in away for c in stored.chunks], dtype=bool)

    @classmethod
    def load(cls, settings: Settings, encoder: Encoder | None = None) -> Retriever:
        """Load the index of settings.index_dir (IndexMissingError / IndexIncompatibleError)."""
        manifest = read_manifest(settings.index_dir)
        expected = encoder.name if encoder is not None else encoder_name(settings)
        if manifest.get("encoder") != expected:
            raise IndexIncompatibleError(
                f"Chỉ mục được xây dựng với bộ mã hóa «{manifest.get('encoder')}», khác cấu hình hiện tại "
                f"«{expected}». Quản trị viên hãy chạy lệnh `citizenbot index build`."
            )
        encoder = encoder or make_encoder(settings)
        if manifest.get("dim") != encoder.dim:
            raise IndexIncompatibleError()
        return cls(load_index(settings.index_dir), encoder, settings)

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        """Validate, search and answer (or abstain) with top_k passages best first."""
        from bot.search.answer import make_answer

        question = validate_question(question)
        k = top_k or self.settings.top_k
        order, scores, best_clause, evidence = self._rank(question)
        passages = [
            Passage(
                text=self.chunks[i].text,
                title=self.chunks[i].title,
                source=self.chunks[i].source,
                score=round(float(scores[n]), 4),
                position=self.chunks[i].position,
            )
            for n, i in enumerate(order[:k])
        ]
        highlight = None
        if len(order):
            a, b = self.chunks[order[0]].clauses[best_clause] if self.chunks[order[0]].clauses else (0, 0)
            highlight = self.chunks[order[0]].text[a:b] or self.chunks[order[0]].text
        return make_answer(question, passages, highlight, evidence is None or abstain(evidence))

    def set_extra_synonyms(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Admins' (everyday, formal) pairs, applied after the shipped rules from the next question."""
        self._extra_synonyms = parse_rules("\n".join(f"{everyday} = {formal}" for everyday, formal in pairs))

    def _candidates(self, qvec: np.ndarray, plain_scores: np.ndarray, word_scores: np.ndarray) -> np.ndarray:
        """Passages worth scoring fully (all of them in small corpora)."""
        n = len(self.chunks)
        if n <= MAX_CANDIDATES:
            return np.arange(n)
        _, dense_p = self._pindex.search(qvec, MAX_CANDIDATES)
        _, dense_c = self._cindex.search(qvec, MAX_CANDIDATES)
        top = lambda s: np.argsort(-s)[:MAX_CANDIDATES]  # noqa: E731
        picked = np.concatenate([dense_p, self._owner[dense_c], top(plain_scores), top(word_scores)])
        return np.unique(picked)

    def _rank(self, question: str) -> tuple[list[int], np.ndarray, int, Evidence | None]:
        """Fused ranking: (passage order, fused scores in that order, best clause of the top, evidence)."""
        restored = self._restorer.restore(question)
        qvec = self.encoder.encode_queries([restored])[0]
        extra = " . ".join(expansions(question, self._synonyms + self._extra_synonyms))
        ptoks, wtoks = plain_tokens(question), word_tokens(restored)
        if extra:
            ptoks, wtoks = ptoks + plain_tokens(extra), wtoks + word_tokens(extra)
        plain_p = self._plain_p.scores(ptoks) / self._plain_p.attainable(ptoks)
        words_p = self._words_p.scores(wtoks) / self._words_p.attainable(wtoks)
        plain_c = self._plain_c.scores(ptoks) / self._plain_c.attainable(ptoks)
        words_c = self._words_c.scores(wtoks) / self._words_c.attainable(wtoks)
        cand = self._candidates(qvec, plain_p, words_p)
        if len(cand) == 0:
            return [], np.empty(0), 0, None
        clause_ids = np.concatenate([np.arange(self._cstart[p], self._cstart[p + 1]) for p in cand])
        dense_c = self._cv[clause_ids] @ qvec if len(clause_ids) else np.empty(0)
        cl_signals = [dense_c, plain_c[clause_ids], words_c[clause_ids]]
        p_signals = [self._pv[cand] @ qvec, plain_p[cand], words_p[cand]]
        local = {int(c): n for n, c in enumerate(clause_ids)}
        fused = np.zeros(len(cand))
        best_raw: list[np.ndarray] = []
        for weight, p_sig, c_sig in zip(SIGNAL_WEIGHTS, p_signals, cl_signals, strict=True):
            best = np.array([self._best(c_sig, local, p) for p in cand])
            best_raw.append(best)
            fused += weight * _z(PASSAGE_WEIGHT * p_sig + CLAUSE_WEIGHT * best)
        names = names_in(question, self._names, plain=self._restorer.needs_restoration(question))
        lacks = np.array([self._lacks(int(p), names) for p in cand], dtype=bool)
        fused -= NAME_PENALTY * lacks
        if not any(n in CITY_NAMES and n != self._home for n in names):
            fused -= AWAY_PENALTY * self._away[cand]
        order_local = np.argsort(-fused, kind="stable")
        top = int(cand[order_local[0]])
        clause_z = _z(cl_signals[0]) + _z(cl_signals[1]) + _z(cl_signals[2])
        span = range(int(self._cstart[top]), int(self._cstart[top + 1]))
        best_clause = int(np.argmax([clause_z[local[c]] for c in span])) if len(span) else 0
        evidence = self._evidence(
            bool(lacks[order_local[0]]),
            question,
            extra,
            top,
            float(best_raw[0][order_local[0]]),
            float(best_raw[1][order_local[0]]),
        )
        return [int(cand[i]) for i in order_local], fused[order_local], best_clause, evidence

    def _best(self, clause_scores: np.ndarray, local: dict[int, int], passage: int) -> float:
        """Best clause score within one passage (0 if it has no clause)."""
        rows = [local[c] for c in range(int(self._cstart[passage]), int(self._cstart[passage + 1]))]
        return float(clause_scores[rows].max()) if rows else 0.0

    def _lacks(self, passage: int, names: list[tuple[str, ...]]) -> bool:
        """True if the passage's document never mentions one of the names."""
        text = self._doc_plain[self.chunks[passage].source]
        return any(f" {' '.join(n)} " not in text for n in names)

    def _evidence(
        self, name_missing: bool, question: str, extra: str, top: int, cosine: float, bm25: float
    ) -> Evidence:
        """Abstention features for the top passage (extra: formal wording of the question's colloquialisms)."""
        content = [
            s for s in plain_syllables(f"{question} {extra}") if s not in STOP_SYLLABLES and not s.isdigit()
        ]
        weights = [self._plain_p.idf(s) for s in content]
        total = sum(weights) or 1.0
        found = self._plain_sets[top]
        coverage = sum(w for s, w in zip(content, weights, strict=True) if s in found) / total
        known = sum(1 for s in content if self._plain_p.known(s)) / (len(content) or 1)
        return Evidence(
            cosine,
            coverage if content else 0.0,
            known if content else 0.0,
            bm25,
            self._unknown_name(question),
            name_missing,
        )

    def _unknown_name(self, question: str) -> bool:
        """True if the question names (capitalised, 2+ syllables) something the corpus never mentions."""
        return any(not self._any_bigram_known(run) for run in capitalised_runs(question))

    def _any_bigram_known(self, run: tuple[str, ...]) -> bool:
        """True if two consecutive syllables of the run occur together in the corpus."""
        return any(f" {a} {b} " in self._corpus_plain for a, b in itertools.pairwise(run))


def _z(values: np.ndarray) -> np.ndarray:
    """z-score (zeros when constant)."""
    std = float(values.std())
    return (values - values.mean()) / std if std > 1e-9 else np.zeros_like(values, dtype=np.float64)
