"""A resident's whole question against the encoder's own embedding time, on an idle and on a busy host.

    python bench/bench_query_speed.py [--repeats 3] [--entries 50] [--burners 2] [--out FILE]

Builds the index of knowledge/ once, then, for each encoder set-up, starts a fresh process (OpenMP reads
its settings once) that loads the index and N staff answers (FAQ) and times, question by question over
the residents' evaluation questions (their wording only; nothing is scored):
- the encoder alone: one `encode_queries([question])` call, in the calling thread;
- the whole query as the bot runs it: `SearchService.ask` (normalisation, staff answers, both lexical
  indexes, fusion, calibrated abstention, the hop to a worker thread and back).
Set-ups: OMP_WAIT_POLICY=PASSIVE with 2 threads (the bot's default); libgomp's own spinning wait
(GOMP_SPINCOUNT=300000, its default spin count) with 2 threads; the same with 1 thread. Each runs on the
host as it is, then beside N CPU-bound processes started here.
The set-ups take turns (A B C A B C ...) for --repeats cycles, so a change in the host's load between
turns falls on every set-up alike; the percentiles pool the turns.
Prints a markdown table (p50/p95 ms, whole query ÷ encoder, and each set-up ÷ the old default on the same
load) and the load average; writes JSON to --out (bench/results/ is not tracked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
QUESTIONS = REPO / "bench" / "eval" / "residents.jsonl"
RESULTS = REPO / "bench" / "results" / "bench_query_speed.json"
SETUPS: dict[str, dict[str, str]] = {
    "OMP_WAIT_POLICY=PASSIVE, 2 threads (default)": {},
    "spinning (GOMP_SPINCOUNT=300000), 2 threads": {"GOMP_SPINCOUNT": "300000"},
    "spinning, 1 thread": {"GOMP_SPINCOUNT": "300000", "EMBEDDING_THREADS": "1"},
}
BASELINE = "OMP_WAIT_POLICY=PASSIVE, 2 threads (default)"
STAFF_QUESTIONS = [  # everyday questions an admin might answer (not from an evaluation set)
    "Thư viện quận mở cửa mấy giờ?",
    "Làm căn cước công dân ở đâu?",
    "Vé tháng xe buýt giá bao nhiêu?",
    "Cây đổ trước nhà thì báo cho ai?",
    "Tiêm phòng cho trẻ ở đâu miễn phí?",
    "Học phí trường công năm nay bao nhiêu?",
    "Nhà tôi bị mất nước sinh hoạt thì gọi số nào?",
    "Quán karaoke hát to sau 22 giờ thì báo ai?",
]


def questions() -> list[str]:
    """The residents' evaluation questions (wording only)."""
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def stats(values: list[float]) -> dict[str, float]:
    """p50 and p95 in ms."""
    array = np.asarray(values, dtype=np.float64)
    return {"p50": float(np.percentile(array, 50)), "p95": float(np.percentile(array, 95))}


async def child(index_dir: Path, entries: int) -> dict[str, Any]:
    """Time the encoder alone and the whole query in this process (its set-up comes from the environment)."""
    from bot.config import Settings
    from bot.search.faq import FaqEntry
    from bot.search.service import SearchService

    settings = Settings(knowledge_dir=REPO / "knowledge", index_dir=index_dir, _env_file=None)
    service = SearchService(settings)
    await service.start(build_if_missing=False)
    now = datetime.now(UTC)
    staff = [f"{STAFF_QUESTIONS[n % len(STAFF_QUESTIONS)]} (số {n})" for n in range(entries)]
    await service.set_faq([FaqEntry(n, q, "…", None, now) for n, q in enumerate(staff)])
    asked = questions()
    for question in asked[:20]:  # warm-up: calibration, off-topic vectors, caches
        await service.ask(question)
    encoder = service._encoder  # the shared encoder the answers use
    assert encoder is not None
    encode_ms: list[float] = []
    ask_ms: list[float] = []
    for question in asked:
        start = time.perf_counter()
        encoder.encode_queries([question])
        encode_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        await service.ask(question)
        ask_ms.append((time.perf_counter() - start) * 1000)
    await service.close()
    return {
        "encode_ms": encode_ms,
        "ask_ms": ask_ms,
    }


def run_setup(name: str, index_dir: Path, entries: int) -> dict[str, Any]:
    """One turn of a set-up, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(SETUPS[name])
    args = [sys.executable, __file__, "--child", str(index_dir), "--entries", str(entries)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def take_turns(index_dir: Path, entries: int, repeats: int) -> dict[str, dict[str, Any]]:
    """Every set-up, in turns, pooled: percentiles over all its questions, mean load of its turns."""
    turns: dict[str, list[dict[str, Any]]] = {name: [] for name in SETUPS}
    for _ in range(repeats):
        for name in SETUPS:
            turns[name].append(run_setup(name, index_dir, entries))
    pooled: dict[str, dict[str, Any]] = {}
    for name, runs in turns.items():
        encode = [ms for run in runs for ms in run["encode_ms"]]
        ask = [ms for run in runs for ms in run["ask_ms"]]
        pooled[name] = {
            "encoder": stats(encode),
            "ask": stats(ask),
            "ask_over_encoder_p50": float(np.median(ask) / np.median(encode)),
            "load_after": float(np.mean([run["load"] for run in runs])),
            "questions": len(ask),
        }
    return pooled


def markdown(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One row per load and set-up."""
    lines = [
        "| host | set-up | encoder p50 / p95 ms | whole query p50 / p95 ms | whole ÷ encoder (p50) "
        "| whole query p50 ÷ default | load (1 min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for load, rows in results.items():
        before = rows[BASELINE]["ask"]["p50"]
        for name, row in rows.items():
            lines.append(
                f"| {load} | {name} | {row['encoder']['p50']:.1f} / {row['encoder']['p95']:.1f} "
                f"| {row['ask']['p50']:.1f} / {row['ask']['p95']:.1f} | {row['ask_over_encoder_p50']:.2f} "
                f"| {row['ask']['p50'] / before:.2f} | {row['load_after']:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the index, run every set-up idle and beside the burners, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=3, help="turns of each set-up per load (default 3)")
    parser.add_argument("--entries", type=int, default=50, help="staff answers loaded (default 50)")
    parser.add_argument("--burners", type=int, default=2, help="CPU-bound processes for the busy host")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.entries))))
        return 0

    from bot.config import Settings
    from bot.search.index import build_index

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        build_index(Settings(knowledge_dir=REPO / "knowledge", index_dir=index_dir, _env_file=None))
        results: dict[str, dict[str, dict[str, Any]]] = {}
        load_before = os.getloadavg()[0]
        results["as it is"] = take_turns(index_dir, args.entries, args.repeats)
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burners)]
        try:
            time.sleep(2)
            label = f"{args.burners} CPU burners"
            results[label] = take_turns(index_dir, args.entries, args.repeats)
        finally:
            for burner in burners:
                burner.kill()
    print(markdown(results))
    print(f"\nload average before the first set-up: {load_before:.2f}; {os.cpu_count()} CPUs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
