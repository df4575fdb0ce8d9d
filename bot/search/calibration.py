"""Calibrated abstention: a logistic regression over evidence features, fitted for each index.

What it is fitted on (no evaluation data is needed at run time): at every `citizenbot index build` (and
`citizenbot index calibrate`), in-scope questions are drawn from the corpus's own clauses (a window of
words, some dropped, a question frame added, a third typed without marks) and out-of-scope ones come from
a shipped generic list (oos_generic.txt). Both go through the retriever; the features of the top passage
train a small L2-regularised logistic regression (numpy, Newton steps) with balanced classes. The
threshold keeps TARGET_RECALL of the synthetic in-scope questions answered. English questions have little
lexical evidence (only their glossed words): they are answered unless they sit closer to a generic
out-of-scope question than to the best clause by more than the English margin, the smallest such lead of
the English generic questions themselves, each measured against the others (leave one out). Features are relative to the corpus (a question's best clause against all clauses, coverage by
the corpus's own idf), so the fit follows the corpus and the encoder; the result lives in the index
manifest. The evaluation question set only checks the fit (bench/eval_retrieval.py).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.search.errors import SearchError
from bot.text import strip_diacritics

if TYPE_CHECKING:
    from pathlib import Path

    from bot.config import Settings
    from bot.search.encoders import Encoder
    from bot.search.store import StoredIndex

FEATURES = ("cosine", "dense_z", "coverage", "known", "bm25", "unmet_number", "clause_coverage")
PRIOR = "calibration_prior.json"
# A question closer (e5 cosine) to one of the generic out-of-scope questions than to the best clause by
# more than this is off topic (dev split: no answerable question above 0.045; weather, exchange rates,
# bus timetables above 0.06).
OFF_TOPIC_MARGIN = 0.05
SAMPLE_CLAUSES = 160
DROP = 0.4
TARGET_RECALL = 0.97
L2 = 1.0
PREFIXES = ("", "", "cho hỏi", "mình muốn biết", "xin hỏi", "thành phố có", "cho mình hỏi về")
SUFFIXES = ("", "?", " là gì?", " thế nào?", " không?", " ra sao?", " khi nào?")


@dataclass(frozen=True)
class Evidence:
    """What speaks for answering from the top passage."""

    cosine: float  # best clause cosine
    dense_z: float  # that cosine as a z-score among the cosines of all candidate clauses
    coverage: float  # idf-weighted share of query content syllables found in the passage
    known: float  # share of query content syllables known to the corpus
    bm25: float  # normalised stripped-syllable BM25 of the best clause
    unmet_number: float  # 1 when the question asks a number or a date and the best clause holds no digit
    english: bool  # asked in English (no lexical evidence)
    unknown_name: bool  # a capitalised name in the question that the corpus never mentions
    name_missing: bool  # the question names a place the top passage's document never mentions
    away: bool = False  # the top passage's document is about another city or province
    off_topic: float = -1.0  # cosine to the nearest generic out-of-scope question minus the best clause's
    clause_coverage: float = 0.0  # like coverage, in the best clause only (a detail it lacks is not there)

    def vector(self) -> np.ndarray:
        """The continuous features, in FEATURES order."""
        return np.array([getattr(self, f) for f in FEATURES], dtype=np.float64)


@dataclass(frozen=True)
class Calibration:
    """A fitted decision: standardisation, weights, bias, threshold; English: a dense z threshold."""

    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    threshold: float
    english_margin: float
    fitted_on: str
    in_scope: int
    out_of_scope: int
    off_topic_margin: float = OFF_TOPIC_MARGIN

    def probability(self, ev: Evidence) -> float:
        """P(the question is answered by the top passage)."""
        x = (ev.vector() - np.asarray(self.mean)) / np.asarray(self.scale)
        return float(1.0 / (1.0 + np.exp(-(x @ np.asarray(self.weights) + self.bias))))

    def abstain(self, ev: Evidence) -> bool:
        """True when the evidence does not support an answer."""
        if ev.unknown_name or ev.name_missing or ev.away or ev.off_topic > self.off_topic_margin:
            return True
        if ev.english:
            return ev.off_topic > self.english_margin
        return self.probability(ev) < self.threshold

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (for the index manifest)."""
        return {"features": list(FEATURES), **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Calibration | None:
        """The stored calibration, or None if it was fitted on other features."""
        if data.get("features") != list(FEATURES):
            return None
        fields = {k: v for k, v in data.items() if k != "features"}
        try:
            return cls(**fields)  # type: ignore[arg-type]
        except TypeError:  # stored by another version
            return None


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 25) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression with balanced class weights (Newton's method)."""
    n, d = x.shape
    pos = max(float(y.sum()), 1.0)
    neg = max(float(n - y.sum()), 1.0)
    sample = np.where(y > 0, n / (2 * pos), n / (2 * neg))
    a = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        grad = a.T @ (sample * (p - y)) + reg * w
        hess = (a * (sample * p * (1 - p))[:, None]).T @ a + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w[:-1], float(w[-1])


def generic_out_of_scope() -> tuple[list[str], list[str]]:
    """The shipped generic out-of-scope questions: (Vietnamese, English)."""
    text = resources.files("bot.search").joinpath("oos_generic.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    english = [line.removeprefix("en:").strip() for line in lines if line.startswith("en:")]
    return [line for line in lines if not line.startswith("en:")], english


def synthetic_questions(
    clauses: Sequence[str],
    rules: Sequence[tuple[tuple[str, ...], str]] = (),
    n: int = SAMPLE_CLAUSES,
    seed: int = 0,
) -> list[str]:
    """In-scope questions drawn from the corpus's clauses, loosened the way residents ask.

    A window of 5-12 words, each dropped with probability DROP; formal phrases swapped for an everyday
    one of the synonym list (reversed); a question frame; a third typed without marks.
    """
    rng = random.Random(seed)
    everyday: dict[str, list[str]] = {}
    for casual_words, formal in rules:
        everyday.setdefault(formal.lower(), []).append(" ".join(casual_words))
    usable = [c for c in clauses if len(c.split()) >= 8]
    picked = rng.sample(usable, min(n, len(usable)))
    out: list[str] = []
    for clause in picked:
        words = [w.strip(".,;:()\"'“”") for w in clause.split()]
        words = [w for w in words if w]
        size = rng.randint(5, 12)
        start = rng.randint(0, max(len(words) - size, 0))
        window = [w for w in words[start : start + size] if rng.random() > DROP] or words[:size]
        text = " ".join(window)
        for formal, casual in everyday.items():
            if formal in text.lower() and rng.random() < 0.7:
                at = text.lower().index(formal)
                text = text[:at] + rng.choice(casual) + text[at + len(formal) :]
        text = f"{rng.choice(PREFIXES)} {text}{rng.choice(SUFFIXES)}".strip()
        out.append(strip_diacritics(text).lower() if rng.random() < 0.35 else text)
    return out


def load_prior() -> dict[str, Any]:
    """The shipped weights, bias and threshold (fitted on the dev split by bench/fit_calibration.py)."""
    path = resources.files("bot.search").joinpath(PRIOR)
    if not path.is_file():
        return {}
    prior: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return prior if prior.get("features") == list(FEATURES) else {}


def fit_calibration(
    clauses: Sequence[str],
    evidence_of: Callable[[Sequence[str]], list[Evidence]],
    rules: Sequence[tuple[tuple[str, ...], str]] = (),
    *,
    seed: int = 0,
    prior: dict[str, Any] | None = None,
) -> Calibration:
    """Fit the decision for an index from synthetic in-scope questions (the home documents' clauses)
    and the generic out-of-scope list: their features set the standardisation (where this corpus and
    encoder put the evidence); the weights come from the shipped prior, or are fitted on them without one."""
    inside = synthetic_questions(clauses, rules, seed=seed)
    outside, english = generic_out_of_scope()
    evs = evidence_of([*inside, *outside])
    usable = [(e, label) for e, label in zip(evs, [1] * len(inside) + [0] * len(outside), strict=True)
              if not (e.unknown_name or e.name_missing or e.away or e.english or e.off_topic > OFF_TOPIC_MARGIN)]  # fmt: skip
    x = np.stack([e.vector() for e, _ in usable]) if usable else np.zeros((1, len(FEATURES)))
    y = np.array([label for _, label in usable], dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    # Each generic question's off-topic lead is measured against the others (the retriever leaves a
    # question's own copy out), so this is the lead a new English off-topic question can be expected to have.
    leads = [e.off_topic for e in evidence_of(english)]
    english_margin = float(min([OFF_TOPIC_MARGIN, *leads]))
    prior = load_prior() if prior is None else prior
    counts = {"in_scope": int(y.sum()), "out_of_scope": int(len(y) - y.sum())}
    if prior:
        return Calibration(
            mean.tolist(), scale.tolist(), [float(w) for w in prior["weights"]], float(prior["bias"]),
            float(prior["threshold"]), english_margin, f"prior: {prior.get('fitted_on')}", **counts,
        )  # fmt: skip
    if len(set(y.tolist())) < 2:  # a corpus too small to draw both kinds of question from
        return Calibration(
            mean.tolist(), scale.tolist(), [0.0] * len(FEATURES), 0.0, 0.0, english_margin, "none", **counts
        )
    weights, bias = fit_logistic((x - mean) / scale, y)
    cal = Calibration(
        mean.tolist(), scale.tolist(), weights.tolist(), bias, 0.5, english_margin, "synthetic", **counts
    )
    probs = np.array([cal.probability(e) for e, label in usable if label == 1])
    threshold = float(min(0.5, np.quantile(probs, 1 - TARGET_RECALL))) if len(probs) else 0.5
    return Calibration(**{**asdict(cal), "threshold": threshold})


def calibrate_stored(
    stored: StoredIndex,
    encoder: Encoder,
    settings: Settings,
    prior: dict[str, Any] | None = None,
    index_dir: Path | None = None,
) -> dict[str, object]:
    """The calibration of an index being built, ready for its manifest (prior {}: fit without one).

    The current index's calibration is kept when the documents, the encoder and the prior are the same.
    """
    from bot.search.retriever import Retriever
    from bot.search.store import read_manifest

    try:
        old = read_manifest(index_dir or settings.index_dir)
    except SearchError:
        old = {}
    stored_cal = Calibration.from_dict(old.get("calibration") or {})
    prior = load_prior() if prior is None else prior
    same = (
        stored_cal is not None
        and old.get("encoder") == stored.manifest.get("encoder")
        and old.get("documents") == stored.manifest.get("documents")
        and stored_cal.weights == [float(w) for w in prior.get("weights", stored_cal.weights)]
        and stored_cal.fitted_on.startswith("prior" if prior else "synthetic")
    )
    if same:
        return old["calibration"]
    return Retriever(stored, encoder, settings).calibrate(prior).to_dict()


def recalibrate_index(settings: Settings, encoder: Encoder | None = None) -> Calibration:
    """Refit the calibration of settings.index_dir and rewrite its manifest (atomically)."""
    from bot.search.retriever import Retriever
    from bot.search.store import MANIFEST

    retriever = Retriever.load(settings, encoder)
    calibration = retriever.calibrate()
    path = settings.index_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["calibration"] = calibration.to_dict()
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return calibration
