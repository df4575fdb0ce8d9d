"""Question latency while a large document is re-indexed, side by side with the idle figures.

    python bench/bench_reindex.py [--kb 400] [--residents 10] [--think 1.0] [--idle 30]
                                  [--modes whole-lock,interleaved,child]

One process answers residents (concurrent `ask` calls in worker threads, as SearchService.ask does)
over an index of knowledge/. A ~400 kB Vietnamese document, built from the corpus's own sentences
shuffled, is then added and the index rebuilt, once per mode, from the same starting index:
- `whole-lock`: build in a thread of the answering process, encoder lock held across the whole
  embedding loop (the behaviour before issue 8; the baseline);
- `interleaved`: build in a thread, LockedEncoder embedding a few passages per lock turn;
- `child`: SearchService.rebuild, i.e. the build in a separate, lower-priority process.
Prints p50/p95/max latency, questions slower than 30 s, build time and the load average per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.config import Settings  # noqa: E402
from bot.search.service import LockedEncoder  # noqa: E402

QUESTIONS = REPO / "bench" / "eval" / "questions.jsonl"
SLOW_SECONDS = 30.0
BIG_NAME = "tong-hop-lon.txt"
Ask = Callable[[str], Awaitable[object]]


class WholeLockEncoder(LockedEncoder):
    """The pre-issue-8 behaviour: one lock hold for the whole embedding loop."""

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed every passage under one lock hold."""
        with self._lock:
            return self._inner.encode_passages(texts)


def big_document(kb: int, seed: int = 8) -> str:
    """About `kb` kB of UTF-8 Vietnamese text: the corpus's sentences, shuffled, in paragraphs."""
    from bot.search.loaders import load_documents
    from bot.text import sentences

    documents, _ = load_documents(REPO / "knowledge")
    pool = [s for d in documents for s in sentences(d.text) if len(s) > 30]
    rng = random.Random(seed)
    lines = ["Tổng hợp các nội dung về phát triển Thủ đô Hà Nội"]
    size = len(lines[0].encode())
    while size < kb * 1000:
        paragraph = " ".join(rng.sample(pool, 5))
        lines.append(paragraph)
        size += len(paragraph.encode()) + 1
    return "\n".join(lines)


def load_questions() -> list[str]:
    """The evaluation questions (accented and unaccented)."""
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row["question"] for row in rows]


async def residents(ask: Ask, questions: list[str], n: int, think: float, stop: asyncio.Event) -> list[float]:
    """n residents asking in turn (think seconds between questions) until stop; latencies in s."""
    latencies: list[float] = []

    async def one(k: int) -> None:
        rng = random.Random(k)
        await asyncio.sleep(rng.random() * think)
        while not stop.is_set():
            started = time.perf_counter()
            await ask(rng.choice(questions))
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(think * (0.5 + rng.random()))

    await asyncio.gather(*(one(k) for k in range(n)))
    return latencies


def summary(name: str, latencies: list[float], build_s: float | None, load: tuple[float, float]) -> dict[str, object]:
    """One row of figures."""
    ms = np.asarray(latencies) * 1000
    return {
        "phase": name,
        "questions": len(latencies),
        "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
        "p95_ms": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
        "max_ms": round(float(ms.max()), 1) if len(ms) else None,
        "over_30s": int((ms > SLOW_SECONDS * 1000).sum()),
        "build_s": round(build_s, 1) if build_s is not None else None,
        "load_1m_start_end": f"{load[0]:.2f} → {load[1]:.2f}",
    }


async def measure(
    name: str, ask: Ask, questions: list[str], args: argparse.Namespace, work: Callable[[], Awaitable[object]] | None
) -> dict[str, object]:
    """Residents ask while `work` runs (or for args.idle seconds when there is none)."""
    stop = asyncio.Event()
    load_start = os.getloadavg()[0]
    crowd = asyncio.create_task(residents(ask, questions, args.residents, args.think, stop))
    started = time.perf_counter()
    if work is None:
        await asyncio.sleep(args.idle)
        build_s = None
    else:
        await work()
        build_s = time.perf_counter() - started
    stop.set()
    latencies = await crowd
    row = summary(name, latencies, build_s, (load_start, os.getloadavg()[0]))
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


async def run_mode(mode: str, base: Path, text: str, questions: list[str], args: argparse.Namespace) -> list[dict[str, object]]:
    """Idle figures, then figures during the rebuild, for one mode, from a copy of the base index."""
    from bot.search.encoders import make_encoder
    from bot.search.index import build_index
    from bot.search.retriever import Retriever
    from bot.search.service import SearchService

    root = Path(tempfile.mkdtemp(prefix=f"reindex-{mode}-"))
    shutil.copytree(base / "knowledge", root / "knowledge")
    shutil.copytree(base / "index", root / "index")
    settings = Settings(knowledge_dir=root / "knowledge", index_dir=root / "index", data_dir=root / "data", _env_file=None)
    rows: list[dict[str, object]] = []
    try:
        if mode == "child":
            service = SearchService(settings)
            await service.start(build_if_missing=False)
            ask: Ask = service.ask
            rows.append(await measure(f"{mode}: idle", ask, questions, args, None))
            (settings.knowledge_dir / BIG_NAME).write_text(text, encoding="utf-8")
            rows.append(await measure(f"{mode}: during re-index", ask, questions, args, service.rebuild))
            await service.close()
        else:
            cls = WholeLockEncoder if mode == "whole-lock" else LockedEncoder
            encoder = cls(make_encoder(settings))
            retriever = Retriever.load(settings, encoder)

            async def ask_thread(question: str) -> object:
                return await asyncio.to_thread(retriever.ask, question, None)

            async def rebuild() -> object:
                return await asyncio.to_thread(build_index, settings, encoder=encoder)

            rows.append(await measure(f"{mode}: idle", ask_thread, questions, args, None))
            (settings.knowledge_dir / BIG_NAME).write_text(text, encoding="utf-8")
            rows.append(await measure(f"{mode}: during re-index", ask_thread, questions, args, rebuild))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


async def main() -> None:
    """Parse arguments, build the base index once, run each mode, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", type=int, default=400, help="size of the generated document in kB")
    parser.add_argument("--residents", type=int, default=10)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a resident's questions")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle measurement per mode")
    parser.add_argument("--modes", default="whole-lock,interleaved,child")
    args = parser.parse_args()
    from bot.search.index import build_index
    from bot.search.loaders import load_document

    text = big_document(args.kb)
    base = Path(tempfile.mkdtemp(prefix="reindex-base-"))
    shutil.copytree(REPO / "knowledge", base / "knowledge")
    settings = Settings(knowledge_dir=base / "knowledge", index_dir=base / "index", _env_file=None)
    build_index(settings)
    (base / BIG_NAME).write_text(text, encoding="utf-8")
    document = load_document(base / BIG_NAME)
    from bot.search.chunker import chunk_document

    chunks = chunk_document(document, settings.chunk_size, settings.chunk_overlap)
    print(
        f"document: {len(text.encode()) / 1000:.0f} kB, {len(chunks)} passages, "
        f"{sum(len(c.clauses) for c in chunks)} clauses; {args.residents} residents, think {args.think} s; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    rows: list[dict[str, object]] = []
    try:
        for mode in args.modes.split(","):
            rows.extend(await run_mode(mode.strip(), base, text, load_questions(), args))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print_table(rows)


def print_table(rows: list[dict[str, object]]) -> None:
    """The figures as a markdown table, with each re-index phase as a ratio of its mode's idle phase."""
    idle = {str(r["phase"]).split(":")[0]: r for r in rows if str(r["phase"]).endswith("idle")}
    print("\n| phase | questions | p50 ms | p95 ms | max ms | > 30 s | p50 / p95 ÷ idle | build s | load avg (1 min) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        base = idle.get(str(r["phase"]).split(":")[0])
        ratio = ""
        if base is not None and base is not r and base["p50_ms"] and base["p95_ms"]:
            p50 = float(str(r["p50_ms"])) / float(str(base["p50_ms"]))
            p95 = float(str(r["p95_ms"])) / float(str(base["p95_ms"]))
            ratio = f"{p50:.1f}× / {p95:.1f}×"
        print(
            f"| {r['phase']} | {r['questions']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | "
            f"{r['over_30s']} | {ratio} | {r['build_s'] or ''} | {r['load_1m_start_end']} |"
        )

if __name__ == "__main__":
    asyncio.run(main())
