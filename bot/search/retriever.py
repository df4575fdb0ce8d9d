"""Hybrid retriever: e5 cosine + BM25 on stripped syllables + BM25 on words, passage and clause level.

For each signal a passage scores 0.3 × itself + 0.7 × its best clause; signals are z-scored over
the candidate passages and added. A question is first prepared (chat.py:
shorthand, repeated letters, Telex leftovers, language, the asking part of a long message); small talk
and questions about the bot stop there (intents.py), or once embedded, when they are closer to the
shipped examples of such messages than to the documents (examples.py). Unaccented queries are restored
from corpus bigrams. Everyday wording adds its formal equivalent (synonyms.txt plus admin pairs) to the BM25
queries. A question naming no other city ranks passages of documents about another city (not
settings.home_place) lower. Abstention is a calibrated decision over evidence features, fitted for each
index (calibration.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.config import Settings
from bot.search.calibration import Calibration, Evidence, fit_calibration, generic_out_of_scope
from bot.search.chat import ChatQuestion, prepare, unmet_answer
from bot.search.encoders import Encoder, encoder_name, make_encoder
from bot.search.errors import IndexIncompatibleError
from bot.search.examples import FITTED_FOR, ExampleIntents, example_texts, load_examples
from bot.search.faq import FaqIndex
from bot.search.intents import detect_intent
from bot.search.lexical import LexicalIndex, plain_tokens, word_tokens
from bot.search.models import Answer, Passage
from bot.search.names import CITIES, canonical_place, capitalised_runs, dominant_place, name_lexicon, names_in
from bot.search.restore import Restorer
from bot.search.store import StoredIndex, load_index, read_manifest
from bot.search.synonyms import expansions, load_rules, rules_from_pairs
from bot.text import plain_syllables, syllables, validate_question

CITY_NAMES = frozenset(tuple(c.split()) for c in CITIES)
PASSAGE_WEIGHT = 0.3
CLAUSE_WEIGHT = 0.7
MAX_CANDIDATES = 200
NAME_PENALTY = 1.5
# A passage of a document about another city or province, for a question naming no other place: the bot
# answers from documents about its home place (or about no place), so such passages go last.
AWAY_PENALTY = 100.0
SIGNAL_WEIGHTS = (1.0, 1.0, 1.0)  # e5 cosine, stripped-syllable BM25, word BM25
SAME_TEXT = 0.9999  # cosine of a text with itself (embedded in another batch)
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
class Query:
    """A question made ready for both sides of the search."""

    chat: ChatQuestion
    dense: str  # text to embed (the asking part first for a long message)
    plain: list[str]  # stripped-syllable BM25 tokens
    words: list[str]  # word BM25 tokens
    extra: str  # formal wording of the question's everyday phrases
    accented: str  # the question with marks (restored when typed without)


class Retriever:
    """Answers questions from a loaded index with one encoder."""

    def __init__(
        self,
        stored: StoredIndex,
        encoder: Encoder,
        settings: Settings,
        calibration: Calibration | None = None,
    ) -> None:
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
        self._wording: tuple[str, ...] = ()
        self._corpus_plain = " " + " ".join(plain_syllables(" ".join(c.text for c in stored.chunks))) + " "
        self._starter_rules = load_rules()
        self._gloss = load_rules("english_vi.txt")
        self._synonyms = list(self._starter_rules)
        self._names = name_lexicon(c.text for c in stored.chunks)
        doc_text: dict[str, list[str]] = {}
        for chunk in stored.chunks:
            doc_text.setdefault(chunk.source, []).append(chunk.text)
        self._doc_plain = {s: " " + " ".join(plain_syllables(" ".join(t))) + " " for s, t in doc_text.items()}
        # "Thành phố Hà Nội" or "TP. Đà Nẵng" is the place recognised in it; an unknown place is taken as typed.
        self._home = dominant_place(settings.home_place) or tuple(plain_syllables(settings.home_place))
        away = {s for s, t in doc_text.items() if dominant_place(" ".join(t)) not in (None, self._home)}
        self._away = np.array([c.source in away for c in stored.chunks], dtype=bool)
        self._off_topic: np.ndarray | None = None
        self._examples: ExampleIntents | None = None
        stored_cal = stored.manifest.get("calibration")
        self.calibration = calibration or (Calibration.from_dict(stored_cal) if stored_cal else None)

    def _off_topic_vectors(self) -> np.ndarray:
        """Embeddings of the shipped generic out-of-scope questions (computed once, on first use)."""
        if self._off_topic is None:
            vietnamese, english = generic_out_of_scope()
            self._off_topic = self.encoder.encode_queries([*vietnamese, *english])
        return self._off_topic

    def _example_intents(self) -> ExampleIntents | None:
        """The small-talk / bot-help examples embedded (once, on first use); None with an encoder they were
        not fitted for (examples.py)."""
        if self.encoder.name != FITTED_FOR:
            return None
        if self._examples is None:
            examples = load_examples()
            vectors = self.encoder.encode_queries(example_texts(examples))
            self._examples = ExampleIntents(examples, vectors, self._off_topic_vectors())
        return self._examples

    def warm(self) -> Retriever:
        """Do now what the first question would otherwise wait for: the abstention fit when the index has
        none, the generic off-topic questions and the small-talk examples embedded (a few seconds)."""
        if self.calibration is None:
            self.calibrate()
        self._off_topic_vectors()
        self._example_intents()
        return self

    def set_extra_synonyms(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Admin-added (everyday, formal) pairs, used beside the starter list from the next question on."""
        self._synonyms = [*self._starter_rules, *rules_from_pairs(pairs)]

    def set_wording(self, texts: Sequence[str]) -> None:
        """Accented questions written by people (staff answers' questions and the residents' wordings they
        answer) that diacritic restoration learns from besides the documents: a question typed without
        marks can then be restored to everyday words the documents never use."""
        if tuple(texts) != self._wording:
            self._wording = tuple(texts)
            self._restorer = Restorer([*(c.text for c in self.chunks), *self._wording])

    def calibrate(self, prior: dict[str, object] | None = None) -> Calibration:
        """Fit the abstention decision for this index (synthetic questions, see calibration.py) and use it."""
        home = [t for t, owner in zip(self._clause_texts, self._owner, strict=True) if not self._away[owner]]
        self.calibration = fit_calibration(home, self.evidence_many, self._starter_rules, prior=prior)
        return self.calibration

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
        return self.ask_many([question], top_k)[0]

    def ask_many(
        self, questions: Sequence[str], top_k: int | None = None, faq: FaqIndex | None = None
    ) -> list[Answer]:
        """Answer several questions with one encoder call (InvalidQuestionError on the first bad one).

        With `faq`, a question that matches a staff answer closely gets it (Answer.staff), matched with the
        same query vector as the documents: a staff answer costs no second encoder call.
        """
        from bot.search.answer import make_answer, small_talk_answer, staff_answer

        if self.calibration is None:
            self.calibrate()
        assert self.calibration is not None
        k = top_k or self.settings.top_k
        valid = [validate_question(q) for q in questions]
        chats = [prepare(q, self._restorer.choose) for q in valid]
        intents = [detect_intent(c) for c in chats]
        todo = [n for n, intent in enumerate(intents) if intent is None]
        queries = {n: self._query(chats[n]) for n in todo}
        vectors = self.encoder.encode_queries([queries[n].dense for n in todo]) if todo else None
        answers: list[Answer] = []
        for n, question in enumerate(valid):
            intent = intents[n]
            if intent is not None or vectors is None:
                answers.append(small_talk_answer(question, intent or "", chats[n].language))
                continue
            vector = vectors[todo.index(n)]
            staff = faq.match(question, vector) if faq is not None and len(faq) else None
            if staff is not None:
                answers.append(staff_answer(question, staff, chats[n].language))
                continue
            order, scores, best_clause, evidence = self._rank(queries[n], vector)
            examples = self._example_intents()
            told = examples.intent(vector, evidence.cosine) if examples and evidence else None
            if told is not None:
                answers.append(small_talk_answer(question, told, chats[n].language))
                continue
            passages = [
                Passage(
                    text=self.chunks[i].text,
                    title=self.chunks[i].title,
                    source=self.chunks[i].source,
                    score=round(float(scores[m]), 4),
                    position=self.chunks[i].position,
                )
                for m, i in enumerate(order[:k])
            ]
            highlight = None
            if len(order):
                top = self.chunks[order[0]]
                a, b = top.clauses[best_clause] if top.clauses else (0, 0)
                highlight = top.text[a:b] or top.text
            abstained = evidence is None or self.calibration.abstain(evidence)
            answers.append(make_answer(question, passages, highlight, abstained, language=chats[n].language))
        return answers

    def evidence_many(self, questions: Sequence[str]) -> list[Evidence]:
        """Abstention evidence of each question's top passage (questions must be valid)."""
        chats = [prepare(validate_question(q), self._restorer.choose) for q in questions]
        queries = [self._query(c) for c in chats]
        vectors = self.encoder.encode_queries([q.dense for q in queries])
        out: list[Evidence] = []
        for query, vector in zip(queries, vectors, strict=True):
            evidence = self._rank(query, vector)[3]
            out.append(
                evidence or Evidence(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, query.chat.language == "en", False, False)
            )
        return out

    def _query(self, chat: ChatQuestion) -> Query:
        """Dense text and lexical tokens of a prepared question (restored, focus weighted, synonyms added)."""
        if chat.language == "en":
            gloss = " ".join(expansions(chat.text, self._gloss))
            return Query(
                chat, f"{chat.text} {gloss}", plain_tokens(gloss), word_tokens(gloss), gloss, chat.text
            )
        restore = self._restorer.restore_syllables
        text = " ".join(restore(syllables(chat.text))) if chat.unaccented else chat.text
        focus = " ".join(restore(syllables(chat.focus))) if chat.unaccented else chat.focus
        story = chat.focus != chat.text
        extra = " . ".join(expansions(chat.text, self._synonyms, accented=text if chat.unaccented else None))
        dense = f"{focus} {text}" if story else text
        ptoks = plain_tokens(chat.text) + (plain_tokens(chat.focus) if story else [])
        wtoks = word_tokens(text) + (word_tokens(focus) if story else [])
        if extra:
            ptoks, wtoks = ptoks + plain_tokens(extra), wtoks + word_tokens(extra)
        return Query(chat, dense, ptoks, wtoks, extra, text)

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

    def _rank(self, query: Query, qvec: np.ndarray) -> tuple[list[int], np.ndarray, int, Evidence | None]:
        """Fused ranking: (passage order, fused scores in that order, best clause of the top, evidence)."""
        ptoks, wtoks = query.plain, query.words
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
        chat = query.chat
        english = chat.language == "en"
        names = [] if english else names_in(chat.text, self._names, plain=chat.unaccented)
        lacks = np.array([self._lacks(int(p), names) for p in cand], dtype=bool)
        fused -= NAME_PENALTY * lacks
        if not self._names_other_place(chat, names):
            fused -= AWAY_PENALTY * self._away[cand]
        order_local = np.argsort(-fused, kind="stable")
        top = int(cand[order_local[0]])
        clause_z = _z(cl_signals[0]) + _z(cl_signals[1]) + _z(cl_signals[2])
        span = range(int(self._cstart[top]), int(self._cstart[top + 1]))
        best_clause = int(np.argmax([clause_z[local[c]] for c in span])) if len(span) else 0
        cosine = float(best_raw[0][order_local[0]])
        spread = float(dense_c.std()) if len(dense_c) else 0.0
        dense_z = (cosine - float(dense_c.mean())) / spread if spread > 1e-9 else 0.0
        clause_text = self._clause_texts[span[best_clause]] if len(span) else self.chunks[top].text
        generic = self._off_topic_vectors() @ qvec
        generic[generic > SAME_TEXT] = -1.0  # a generic question itself is judged against the others
        evidence = self._evidence(
            query,
            top,
            clause_text,
            cosine=cosine,
            dense_z=dense_z,
            bm25=float(best_raw[1][order_local[0]]),
            name_missing=bool(lacks[order_local[0]]),
            off_topic=float(generic.max()) - cosine,
        )
        return [int(cand[i]) for i in order_local], fused[order_local], best_clause, evidence

    def _names_other_place(self, chat: ChatQuestion, names: list[tuple[str, ...]]) -> bool:
        """True if the question's asking part is about a city or province other than the home place."""
        if any(n in CITY_NAMES and canonical_place(n) != self._home for n in names):
            return True
        place = dominant_place(chat.focus)
        return place is not None and place != self._home

    def _best(self, clause_scores: np.ndarray, local: dict[int, int], passage: int) -> float:
        """Best clause score within one passage (0 if it has no clause)."""
        rows = [local[c] for c in range(int(self._cstart[passage]), int(self._cstart[passage + 1]))]
        return float(clause_scores[rows].max()) if rows else 0.0

    def _lacks(self, passage: int, names: list[tuple[str, ...]]) -> bool:
        """True if the passage's document never mentions one of the names."""
        text = self._doc_plain[self.chunks[passage].source]
        return any(f" {' '.join(n)} " not in text for n in names)

    def _evidence(
        self,
        query: Query,
        top: int,
        clause_text: str,
        *,
        cosine: float,
        dense_z: float,
        bm25: float,
        name_missing: bool,
        off_topic: float,
    ) -> Evidence:
        """Abstention features for the top passage and its best clause (after normalisation and synonyms)."""
        english = query.chat.language == "en"
        content = self._content(query)
        known = sum(1 for s in content if self._plain_p.known(s)) / (len(content) or 1)
        return Evidence(
            cosine=cosine,
            dense_z=dense_z,
            coverage=self._coverage(content, self._plain_sets[top]),
            known=known if content else 0.0,
            bm25=bm25,
            unmet_number=float(unmet_answer(query.chat.focus, clause_text, self.chunks[top].text)),
            english=english,
            unknown_name=not english and self._unknown_name(query.chat.focus),
            name_missing=name_missing,
            away=bool(self._away[top]),
            off_topic=off_topic,
            clause_coverage=self._coverage(content, set(plain_syllables(clause_text))),
        )

    def _content(self, query: Query) -> list[str]:
        """The question's content syllables (stripped) with its formal wording, function words left out."""
        asked = query.extra if query.chat.language == "en" else f"{query.chat.text} {query.extra}"
        return [s for s in plain_syllables(asked) if s not in STOP_SYLLABLES and not s.isdigit()]

    def _coverage(self, content: list[str], found: set[str]) -> float:
        """idf-weighted share of the question's content syllables found in a text's syllables."""
        if not content:
            return 0.0
        weights = [self._plain_p.idf(s) for s in content]
        return sum(w for s, w in zip(content, weights, strict=True) if s in found) / (sum(weights) or 1.0)

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
