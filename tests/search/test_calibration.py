"""The calibrated abstention: a logistic fit that separates, a stored form that round-trips, hard rules."""

from __future__ import annotations

import dataclasses

import numpy as np

from bot.search.calibration import (
    FEATURES,
    Calibration,
    Evidence,
    fit_logistic,
    generic_out_of_scope,
    synthetic_questions,
)
from bot.text import plain_syllables

STRONG = Evidence(0.92, 5.0, 0.9, 1.0, 0.3, 0.0, False, False, False, clause_coverage=0.9)
WEAK = Evidence(0.80, 1.0, 0.1, 0.6, 0.02, 1.0, False, False, False, clause_coverage=0.1)


def _calibration() -> Calibration:
    n = len(FEATURES)
    return Calibration([0.85, 3.0, 0.5, 0.9, 0.1, 0.2, 0.5], [0.03, 1.0, 0.3, 0.1, 0.1, 0.4, 0.3], [1.0] * n,
                       0.0, 0.5, 0.03, "test", 10, 10)  # fmt: skip


def test_logistic_regression_separates_two_clouds() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(1.0, 0.5, (50, 2)), rng.normal(-1.0, 0.5, (50, 2))])
    y = np.array([1.0] * 50 + [0.0] * 50)
    weights, bias = fit_logistic(x, y)
    predicted = (x @ weights + bias) > 0
    assert (predicted == (y > 0)).mean() > 0.95


def test_strong_evidence_is_answered_and_weak_evidence_abstains() -> None:
    cal = _calibration()
    assert not cal.abstain(STRONG)
    assert cal.abstain(WEAK)


def test_unknown_names_other_places_and_off_topic_english_abstain_whatever_the_scores() -> None:
    cal = _calibration()
    for flag in ("unknown_name", "name_missing", "away"):
        assert cal.abstain(dataclasses.replace(STRONG, **{flag: True})), flag
    # English: answered unless nearer a generic off-topic question than the best clause, by the margin.
    assert cal.abstain(dataclasses.replace(STRONG, english=True, off_topic=0.08))
    assert not cal.abstain(dataclasses.replace(STRONG, english=True, off_topic=-0.02))


def test_the_stored_form_round_trips_and_rejects_other_features() -> None:
    cal = _calibration()
    assert Calibration.from_dict(cal.to_dict()) == cal
    assert Calibration.from_dict({**cal.to_dict(), "features": ["cosine"]}) is None


def test_synthetic_questions_come_from_the_clauses_and_are_reproducible() -> None:
    clauses = [
        f"Thành phố phát triển hệ thống đường sắt đô thị số {n} kết nối các khu vực" for n in range(30)
    ]
    first = synthetic_questions(clauses, n=10)
    assert first == synthetic_questions(clauses, n=10)
    assert len(first) == 10
    vocabulary = set(plain_syllables(" ".join(clauses)))
    assert all(len(set(plain_syllables(q)) & vocabulary) >= 2 for q in first)


def test_the_generic_out_of_scope_list_has_both_languages() -> None:
    vietnamese, english = generic_out_of_scope()
    assert len(vietnamese) >= 50 and len(english) >= 10
