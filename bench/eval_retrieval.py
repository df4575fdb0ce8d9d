"""Evaluate retrieval on a Vietnamese question set through the `citizenbot` command line.

Builds a temporary knowledge directory (knowledge/ plus the distractor documents of bench/eval/,
unless --no-distractors), builds an index into a temporary directory with `citizenbot index build`,
sends every question through one `citizenbot ask --json -` process, and prints markdown tables:
hit@1, hit@3 and MRR by kind and split (retrieval, counted even when the answer abstained), the same
for answers that did not abstain ("answered"), abstention precision/recall on out-of-scope questions,
the in-scope wrong-abstention rate, and the misses.

With the residents' set (bench/eval/residents.jsonl, field `expect`), it prints one table by kind for
the chosen split: hit@1, hit@3, answered@1 (not abstained, right passage first), wrongly abstained,
and out-of-scope handled (abstained / small talk / bot help, as expected); misses of that split only.

    python bench/eval_retrieval.py [--no-distractors] [--json OUT] [--check]
    python bench/eval_retrieval.py --questions bench/eval/residents.jsonl --split dev

Exit status: 0, or 1 with --check when a target of the issue is not met; the engine's own status
when it crashes.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EVAL_DIR = REPO / "bench" / "eval"
QUESTIONS = EVAL_DIR / "questions.jsonl"
RESIDENTS = EVAL_DIR / "residents.jsonl"
DISTRACTORS = EVAL_DIR / "distractors"
KNOWLEDGE = REPO / "knowledge"

IN_SCOPE_KINDS = ("accented", "plain", "paraphrase")
KINDS = (*IN_SCOPE_KINDS, "oos")
SPLITS = ("dev", "test", "all")
# The targets: per kind (hit@1, hit@3); share of out-of-scope abstained; in-scope wrongly abstained.
HIT_TARGETS = {"accented": (0.85, 0.95), "plain": (0.85, 0.95)}
OOS_RECALL_TARGET = 0.90
WRONG_ABSTENTION_TARGET = 0.05
# Tone marks only (grave, acute, hook, tilde, dot below): dropping them makes the comparison blind to
# tone placement (hoà / hòa) while keeping â, ă, ê, ô, ơ, ư, đ.
_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


@dataclass(frozen=True)
class Question:
    """One line of questions.jsonl."""

    id: str
    question: str
    kind: str
    gold_source: str | None
    gold_quote: str | None
    twin_of: str | None
    split: str
    expect: str = ""  # answer | abstain | chitchat | bot_help (residents' set); derived from kind if empty

    @property
    def expected(self) -> str:
        """What the engine should do with the question."""
        return self.expect or ("abstain" if self.kind == "oos" else "answer")

    @property
    def in_scope(self) -> bool:
        """True unless the documents do not answer it."""
        return self.expected == "answer"


@dataclass(frozen=True)
class Outcome:
    """What the engine did with one question."""

    question: Question
    abstained: bool
    rank: int | None  # 1-based rank of the first passage holding the gold quote, None if absent
    first_source: str
    first_text: str
    intent: str | None = None

    @property
    def handled(self) -> bool:
        """An out-of-scope question treated as expected (abstained, small talk or bot help)."""
        expected = self.question.expected
        if expected == "chitchat":
            return self.intent is not None and not self.intent.startswith("help")
        if expected == "bot_help":
            return self.intent is not None and self.intent.startswith("help")
        return self.abstained and self.intent is None

    @property
    def answered(self) -> bool:
        """An in-scope question answered (not abstained) with the gold passage first."""
        return not self.abstained and self.rank == 1


def match_key(text: str) -> str:
    """NFC, lower case, tone marks dropped, whitespace collapsed: the form quotes are compared in."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    kept = "".join(ch for ch in decomposed if ch not in _TONE_MARKS)
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", kept)).strip()


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """Read the question set (one JSON object per line)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Question(**{"twin_of": None, **row}) for row in rows]


def source_names(knowledge: Path) -> dict[str, set[str]]:
    """For each file name, the names a passage may carry as its source (file name, manifest title)."""
    names: dict[str, set[str]] = {}
    manifest = knowledge / "manifest.json"
    documents = (
        json.loads(manifest.read_text(encoding="utf-8")).get("documents", {}) if manifest.exists() else {}
    )
    for name, meta in documents.items():
        names[name] = {name, *(str(meta[key]) for key in ("title", "source") if meta.get(key))}
    return names


def same_source(passage: dict[str, Any], gold: str, aliases: dict[str, set[str]]) -> bool:
    """Does the passage come from the gold document (by file name, path or manifest title)?"""
    known = {match_key(name) for name in aliases.get(gold, {gold})}
    source = str(passage.get("source", ""))
    return (
        match_key(source) in known
        or Path(source).name == gold
        or match_key(str(passage.get("title", ""))) in known
    )


def gold_rank(
    question: Question, passages: Sequence[dict[str, Any]], aliases: dict[str, set[str]]
) -> int | None:
    """1-based rank of the first passage that holds the gold quote and comes from the gold source."""
    if question.gold_quote is None or question.gold_source is None:
        return None
    quote = match_key(question.gold_quote)
    for rank, passage in enumerate(passages, start=1):
        if quote in match_key(str(passage.get("text", ""))) and same_source(
            passage, question.gold_source, aliases
        ):
            return rank
    return None


def judge(
    questions: Sequence[Question], replies: Sequence[dict[str, Any]], aliases: dict[str, set[str]]
) -> list[Outcome]:
    """Pair each question with the engine's reply."""
    outcomes = []
    for question, reply in zip(questions, replies, strict=True):
        passages = reply.get("passages") or []
        first = passages[0] if passages else {}
        outcomes.append(
            Outcome(
                question=question,
                abstained=bool(reply.get("abstained")),
                rank=gold_rank(question, passages, aliases),
                first_source=str(first.get("source", "")),
                first_text=str(first.get("text", "")),
                intent=reply.get("intent"),
            )
        )
    return outcomes


def _ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, None when there is nothing to divide."""
    return numerator / denominator if denominator else None


def _mrr(ranks: Sequence[int | None]) -> float | None:
    """Mean reciprocal rank (0 for a question whose gold passage is not returned)."""
    reciprocal = [1.0 / rank if rank else 0.0 for rank in ranks]
    return sum(reciprocal) / len(reciprocal) if reciprocal else None


def retrieval_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """hit@1, hit@3, MRR (retrieval, abstention ignored) and the same for non-abstained answers."""
    n = len(outcomes)
    ranks = [o.rank for o in outcomes]
    kept = [o.rank if not o.abstained else None for o in outcomes]
    return {
        "n": n,
        "hit@1": _ratio(sum(r == 1 for r in ranks), n),
        "hit@3": _ratio(sum(r is not None and r <= 3 for r in ranks), n),
        "mrr": _mrr(ranks),
        "answered@1": _ratio(sum(r == 1 for r in kept), n),
        "answered@3": _ratio(sum(r is not None and r <= 3 for r in kept), n),
        "answered_mrr": _mrr(kept),
    }


def abstention_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Out-of-scope detection: precision and recall of abstaining, and wrong abstentions in scope."""
    oos = [o for o in outcomes if not o.question.in_scope]
    inside = [o for o in outcomes if o.question.in_scope]
    caught = sum(o.abstained for o in oos)
    wrong = sum(o.abstained for o in inside)
    return {
        "oos": len(oos),
        "in_scope": len(inside),
        "precision": _ratio(caught, caught + wrong),
        "recall": _ratio(caught, len(oos)),
        "wrong_abstention_rate": _ratio(wrong, len(inside)),
    }


def in_split(outcomes: Iterable[Outcome], split: str) -> list[Outcome]:
    """Outcomes of one split ("all" keeps everything)."""
    return [o for o in outcomes if split == "all" or o.question.split == split]


def compute_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """All metrics, by split and kind."""
    metrics: dict[str, Any] = {}
    for split in SPLITS:
        chosen = in_split(outcomes, split)
        by_kind = {
            kind: retrieval_metrics([o for o in chosen if o.question.kind == kind]) for kind in IN_SCOPE_KINDS
        }
        by_kind["in-scope"] = retrieval_metrics([o for o in chosen if o.question.in_scope])
        metrics[split] = {"retrieval": by_kind, "abstention": abstention_metrics(chosen)}
    return metrics


def target_failures(metrics: dict[str, Any], split: str = "all") -> list[str]:
    """The issue's targets missed on one split (the full set by default), as readable lines (empty when
    all are met)."""
    full = metrics[split]
    failures = []
    for kind, (hit1, hit3) in HIT_TARGETS.items():
        got = full["retrieval"].get(kind)
        if not got or got["hit@1"] is None:  # a question file without this kind (e.g. a held-out set)
            continue
        if got["hit@1"] < hit1:
            failures.append(f"{kind}: hit@1 {got['hit@1']:.3f} < {hit1}")
        if got["hit@3"] < hit3:
            failures.append(f"{kind}: hit@3 {got['hit@3']:.3f} < {hit3}")
    abst = full["abstention"]
    if abst["recall"] is not None and abst["recall"] < OOS_RECALL_TARGET:
        failures.append(f"out-of-scope abstained {abst['recall']:.3f} < {OOS_RECALL_TARGET}")
    if (abst["wrong_abstention_rate"] or 0) > WRONG_ABSTENTION_TARGET:
        failures.append(
            f"in-scope wrongly abstained {abst['wrong_abstention_rate']:.3f} > {WRONG_ABSTENTION_TARGET}"
        )
    return failures


def _fmt(value: float | None) -> str:
    """A ratio with two decimals, or a dash."""
    return "–" if value is None else f"{value:.2f}"


def retrieval_table(metrics: dict[str, Any]) -> str:
    """Markdown table of retrieval and answered metrics by split and kind."""
    lines = [
        "| split | kind | n | hit@1 | hit@3 | MRR | answered@1 | answered@3 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for split in SPLITS:
        for kind, row in metrics[split]["retrieval"].items():
            lines.append(
                f"| {split} | {kind} | {row['n']} | {_fmt(row['hit@1'])} | {_fmt(row['hit@3'])} | "
                f"{_fmt(row['mrr'])} | {_fmt(row['answered@1'])} | {_fmt(row['answered@3'])} |"
            )
    return "\n".join(lines)


def abstention_table(metrics: dict[str, Any]) -> str:
    """Markdown table of out-of-scope detection by split."""
    lines = [
        "| split | out-of-scope | in-scope | abstention precision | out-of-scope recall | in-scope wrongly abstained |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for split in SPLITS:
        row = metrics[split]["abstention"]
        lines.append(
            f"| {split} | {row['oos']} | {row['in_scope']} | {_fmt(row['precision'])} | "
            f"{_fmt(row['recall'])} | {_fmt(row['wrong_abstention_rate'])} |"
        )
    return "\n".join(lines)


def kind_metrics(outcomes: Sequence[Outcome], split: str) -> dict[str, dict[str, Any]]:
    """By kind, on one split: hit@1, hit@3, answered@1, wrongly abstained (answerable) or handled."""
    chosen = in_split(outcomes, split)
    kinds = list(dict.fromkeys(o.question.kind for o in chosen))
    out: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        rows = [o for o in chosen if o.question.kind == kind]
        n = len(rows)
        if rows[0].question.in_scope:
            out[kind] = {
                "n": n,
                "expect": "answer",
                "hit@1": _ratio(sum(o.rank == 1 for o in rows), n),
                "hit@3": _ratio(sum(o.rank is not None and o.rank <= 3 for o in rows), n),
                "answered@1": _ratio(sum(o.answered for o in rows), n),
                "wrongly_abstained": _ratio(sum(o.abstained for o in rows), n),
            }
        else:
            out[kind] = {
                "n": n,
                "expect": rows[0].question.expected,
                "handled": _ratio(sum(o.handled for o in rows), n),
            }
    inside = [o for o in chosen if o.question.in_scope and o.question.kind != "english"]
    if inside:
        out["all Vietnamese answerable"] = {
            "n": len(inside),
            "expect": "answer",
            "hit@1": _ratio(sum(o.rank == 1 for o in inside), len(inside)),
            "hit@3": _ratio(sum(o.rank is not None and o.rank <= 3 for o in inside), len(inside)),
            "answered@1": _ratio(sum(o.answered for o in inside), len(inside)),
            "wrongly_abstained": _ratio(sum(o.abstained for o in inside), len(inside)),
        }
    outside = [o for o in chosen if not o.question.in_scope]
    if outside:
        out["all out of scope"] = {
            "n": len(outside),
            "expect": "not answer",
            "handled": _ratio(sum(o.handled for o in outside), len(outside)),
        }
    return out


def kind_table(metrics: dict[str, dict[str, Any]], split: str) -> str:
    """Markdown table of kind_metrics."""
    lines = [
        f"| kind ({split}) | n | hit@1 | hit@3 | answered@1 | wrongly abstained | out of scope handled |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, row in metrics.items():
        if row["expect"] == "answer":
            lines.append(
                f"| {kind} | {row['n']} | {_fmt(row['hit@1'])} | {_fmt(row['hit@3'])} | "
                f"{_fmt(row['answered@1'])} | {_fmt(row['wrongly_abstained'])} | |"
            )
        else:
            lines.append(f"| {kind} ({row['expect']}) | {row['n']} | | | | | {_fmt(row['handled'])} |")
    return "\n".join(lines)


def _short(text: str, width: int = 90) -> str:
    """One line, at most `width` characters."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def misses_report(outcomes: Sequence[Outcome]) -> str:
    """The questions that went wrong, with what came first instead."""
    lines = []
    for o in outcomes:
        q = o.question
        if q.in_scope and (o.rank != 1 or o.abstained):
            why = "abstained" if o.abstained else "miss"
            rank = f"rank {o.rank}" if o.rank else "not in top-k"
            lines.append(f"- [{q.id} {q.kind} {q.split}] {why}, {rank}: {q.question}")
            lines.append(f"    expected ({q.gold_source}): {q.gold_quote}")
            lines.append(f"    first ({o.first_source}): {_short(o.first_text)}")
        elif not q.in_scope and not o.handled:
            got = f"intent {o.intent}" if o.intent else ("abstained" if o.abstained else "answered")
            lines.append(f"- [{q.id} {q.kind} {q.split}] expected {q.expected}, got {got}: {q.question}")
            lines.append(f"    first ({o.first_source}): {_short(o.first_text)}")
    return "\n".join(lines) if lines else "(none)"


def prepare_knowledge(target: Path, with_distractors: bool) -> Path:
    """Copy knowledge/ (and the distractors) into `target`; return it."""
    target.mkdir(parents=True, exist_ok=True)
    sources = [KNOWLEDGE, DISTRACTORS] if with_distractors else [KNOWLEDGE]
    for folder in sources:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                shutil.copy2(path, target / path.name)
    return target


class EngineError(RuntimeError):
    """The `citizenbot` command failed or broke its output contract."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def run_cli(args: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `citizenbot ARGS` with this interpreter; EngineError (with its output) if it fails."""
    command = [sys.executable, "-m", "bot.cli", *args]
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        tail = (done.stdout[-2000:] + done.stderr[-4000:]).strip()
        raise EngineError(
            f"`citizenbot {' '.join(args)}` exited with {done.returncode}:\n{tail}", done.returncode
        )
    return done


def ask_all(questions: Sequence[Question], index: Path, top_k: int) -> list[dict[str, Any]]:
    """All questions through one `citizenbot ask --json -` process, replies in order."""
    stdin = "".join(q.question + "\n" for q in questions)
    done = run_cli(["ask", "--json", "-", "--index", str(index), "--top-k", str(top_k)], stdin=stdin)
    replies = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(replies) != len(questions):
        raise EngineError(f"expected {len(questions)} replies from `citizenbot ask`, got {len(replies)}")
    return replies


def evaluate(
    with_distractors: bool = True, top_k: int = 5, questions_path: Path = QUESTIONS, split: str = "all"
) -> dict[str, Any]:
    """Build a throw-away index, ask the questions of `split` ("all": every question), return metrics,
    timings and per-question outcomes."""
    questions = [q for q in load_questions(questions_path) if split == "all" or q.split == split]
    with tempfile.TemporaryDirectory(prefix="citizenbot-eval-") as tmp:
        knowledge = prepare_knowledge(Path(tmp) / "knowledge", with_distractors)
        index = Path(tmp) / "index"
        started = time.perf_counter()
        run_cli(["index", "build", "--knowledge", str(knowledge), "--index", str(index)])
        built = time.perf_counter()
        replies = ask_all(questions, index, top_k)
        asked = time.perf_counter()
        outcomes = judge(questions, replies, source_names(knowledge))
    return {
        "distractors": with_distractors,
        "top_k": top_k,
        "seconds": {"build": round(built - started, 2), "ask": round(asked - built, 2)},
        "metrics": compute_metrics(outcomes),
        "outcomes": outcomes,
    }


def _outcome_record(o: Outcome) -> dict[str, Any]:
    """A JSON-friendly row for one question."""
    return {
        "id": o.question.id,
        "kind": o.question.kind,
        "split": o.question.split,
        "abstained": o.abstained,
        "intent": o.intent,
        "rank": o.rank,
        "first_source": o.first_source,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-distractors", action="store_true", help="index knowledge/ only")
    parser.add_argument("--top-k", type=int, default=5, help="passages per question (default 5)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="question set (JSON lines)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write metrics and outcomes to OUT")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target of the issue is not met")
    parser.add_argument(
        "--split", choices=(*SPLITS, "train"), help="by-kind table and misses of this split only"
    )
    args = parser.parse_args(argv)

    try:
        # Only the chosen split's questions are asked: a dev run never computes (or prints) test figures.
        result = evaluate(not args.no_distractors, args.top_k, args.questions, args.split or "all")
    except EngineError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    metrics, outcomes = result["metrics"], result["outcomes"]
    corpus = "knowledge/ + distractors" if result["distractors"] else "knowledge/ only"
    print(
        f"## Retrieval ({corpus}; build {result['seconds']['build']} s, "
        f"{len(outcomes)} questions in {result['seconds']['ask']} s)\n"
    )
    if args.split:
        by_kind = kind_metrics(outcomes, args.split)
        result["by_kind"] = {args.split: by_kind}
        print(kind_table(by_kind, args.split), "\n")
        print(f"## Misses ({args.split})\n")
        print(misses_report(in_split(outcomes, args.split)), "\n")
    else:
        print(retrieval_table(metrics), "\n")
        print("## Abstention\n")
        print(abstention_table(metrics), "\n")
        print("## Misses\n")
        print(misses_report(outcomes), "\n")
    if args.split == "train":  # questions to tune on: no target is judged on them
        failures: list[str] = []
        print("Targets: not judged on training questions")
    else:
        failures = target_failures(metrics, args.split or "all")
        verdict = "all met" if not failures else "NOT met: " + "; ".join(failures)
        print(f"Targets ({args.split or 'all'}): {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {key: value for key, value in result.items() if key != "outcomes"}
        payload["targets_missed"] = failures
        payload["questions"] = [_outcome_record(o) for o in outcomes]
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    return 1 if args.check and failures else 0


if __name__ == "__main__":
    sys.exit(main())
