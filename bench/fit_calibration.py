"""Fit the shipped abstention prior (bot/search/calibration_prior.json) on the residents' DEV split and training set.

    python bench/fit_calibration.py [--l2 3] [--max-wrong 0.03] [--train PATH|''] [--dry-run]

The training questions (bench/eval/residents_train.jsonl, written blind by another writer, never reported)
are fitted on beside the dev split unless --train ''.

Indexes knowledge/ plus bench/eval/distractors/ into a temporary directory (its calibration standardises
the features from synthetic questions, as every index build does), computes the evidence features of the
dev split's answerable and out-of-scope questions (English and those a hard rule already settles left
out), fits the logistic regression and picks the highest threshold that keeps wrongly abstained dev
questions at or under --max-wrong. Only split == "dev" is read; report figures on the test split with
bench/eval_retrieval.py --split test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
TRAIN = REPO / "bench" / "eval" / "residents_train.jsonl"
sys.path.insert(0, str(REPO / "bench"))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    import eval_retrieval as ev

    from bot.config import Settings
    from bot.search.calibration import FEATURES, OFF_TOPIC_MARGIN, PRIOR
    from bot.search.index import build_index
    from bot.search.retriever import Retriever

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2", type=float, default=3.0, help="L2 penalty (default 3)")
    parser.add_argument("--max-wrong", type=float, default=0.03, help="wrongly abstained dev share allowed")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the prior")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for the estimate")
    parser.add_argument(
        "--train", default=str(TRAIN), help="training questions fitted on beside dev ('' for dev only)"
    )
    args = parser.parse_args(argv)
    pool = [q for q in ev.load_questions(ev.RESIDENTS) if q.split == "dev"]
    if args.train:
        pool += [q for q in ev.load_questions(Path(args.train)) if q.split == "train"]
    questions = [q for q in pool if q.expected in ("answer", "abstain") and q.kind != "english"]
    with tempfile.TemporaryDirectory(prefix="citizenbot-fit-") as tmp:
        knowledge = ev.prepare_knowledge(Path(tmp) / "knowledge", True)
        settings = Settings(knowledge_dir=knowledge, index_dir=Path(tmp) / "index")
        build_index(settings, prior={})
        retriever = Retriever.load(settings)
        cal = retriever.calibration
        assert cal is not None
        evidence = retriever.evidence_many([q.question for q in questions])
    rows = [(q, e) for q, e in zip(questions, evidence, strict=True)
            if not (e.unknown_name or e.name_missing or e.away or e.off_topic > OFF_TOPIC_MARGIN)]  # fmt: skip
    x = np.stack([(e.vector() - np.asarray(cal.mean)) / np.asarray(cal.scale) for _, e in rows])
    y = np.array([1.0 if q.in_scope else 0.0 for q, _ in rows])
    weights, bias, threshold = fit_rows(x, y, args.l2, args.max_wrong)
    p = 1.0 / (1.0 + np.exp(-(x @ weights + bias)))
    caught = int(((p < threshold) & (y == 0)).sum())
    print(f"rows {len(rows)} ({int(y.sum())} answerable, {int(len(y) - y.sum())} out of scope)")
    print("weights", dict(zip(FEATURES, np.round(weights, 3).tolist(), strict=True)), "bias", round(bias, 3))
    print(f"threshold {threshold:.3f}: wrongly abstained {int(((p < threshold) & (y == 1)).sum())}, "
          f"out of scope caught {caught} of {int(len(y) - y.sum())} (fitted on: optimistic)")  # fmt: skip
    wrong_cv, caught_cv = cross_validate(x, y, args.l2, args.max_wrong, args.folds)
    print(f"{args.folds}-fold cross-validation (less optimistic): wrongly abstained {wrong_cv} of "
          f"{int(y.sum())}, out of scope caught {caught_cv} of {int(len(y) - y.sum())}")  # fmt: skip
    prior = {
        "features": list(FEATURES),
        "weights": weights.tolist(),
        "bias": bias,
        "threshold": threshold,
        "l2": args.l2,
        "fitted_on": "dev split of bench/eval/residents.jsonl"
        + (f" and {Path(args.train).name}" if args.train else ""),
    }
    if not args.dry_run:
        target = REPO / "bot" / "search" / PRIOR
        target.write_text(json.dumps(prior, indent=2) + "\n", encoding="utf-8")
        print(f"written: {target}")
    return 0


def fit_rows(x: np.ndarray, y: np.ndarray, l2: float, max_wrong: float) -> tuple[np.ndarray, float, float]:
    """Weights, bias, and the highest threshold keeping wrongly abstained rows at or under max_wrong."""
    from bot.search.calibration import fit_logistic

    weights, bias = fit_logistic(x, y, l2=l2)
    p = 1.0 / (1.0 + np.exp(-(x @ weights + bias)))
    allowed = int(max_wrong * y.sum())
    threshold = float(np.sort(p[y == 1])[allowed]) if y.sum() else 0.5
    return weights, bias, threshold


def cross_validate(x: np.ndarray, y: np.ndarray, l2: float, max_wrong: float, folds: int) -> tuple[int, int]:
    """k-fold estimate (fixed shuffle): (answerable rows wrongly abstained, out-of-scope rows caught)."""
    order = np.random.default_rng(0).permutation(len(y))
    wrong = caught = 0
    for k in range(folds):
        held = order[k::folds]
        kept = np.setdiff1d(order, held)
        weights, bias, threshold = fit_rows(x[kept], y[kept], l2, max_wrong)
        p = 1.0 / (1.0 + np.exp(-(x[held] @ weights + bias)))
        wrong += int(((p < threshold) & (y[held] == 1)).sum())
        caught += int(((p < threshold) & (y[held] == 0)).sum())
    return wrong, caught


if __name__ == "__main__":
    sys.exit(main())
