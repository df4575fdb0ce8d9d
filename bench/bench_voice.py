"""Voice benchmark: real-time factor and memory of viet-asr, and typed questions while residents speak.

    python bench/bench_voice.py [--lengths 5,15,30,60] [--speakers 5] [--speech 30] [--typists 4]

1. Speech model, each length in a fresh child process: a clip of the test recordings repeated to
   N seconds (OGG/Opus) goes through the bot's own path (decode, silence check, viet-asr,
   numbers). Prints the model load time, wall and CPU time, the real-time factor (wall ÷ audio
   seconds; CPU ÷ audio seconds) and the peak RSS, with the RSS added per second of audio.
2. The real bot (`python -m bot.cli run`, a separate process, as deployed) against the fake Bot API
   of the tests: `--typists` residents ask typed questions one after another (0.5 s think time),
   first alone (idle p95), then while `--speakers` residents send a `--speech`-second voice
   message each, all at once. The ratio of the two p95s is the figure that matters: the pool
   (VOICE_WORKERS, default 1) keeps one core for typed questions. Latency is from the moment an
   update is queued at the fake server to the bot's first reply to that chat.
The load average is printed: the development machine is shared, so absolute times are rough.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_telegram import FIRST_USER, ask, bot_env, bot_process, load_questions  # noqa: E402

from tests.telegram.fake_bot_api import Call, FakeBotApi  # noqa: E402

RESULTS = REPO / "bench" / "results" / "bench_voice.json"
HEARD = "🎙 Bạn hỏi: "
LISTENING = "🎙 Mình đang nghe"


# --- 1. the speech model, one length per child process -----------------------------------------


def _rss_mb() -> float:
    """Current resident set size of this process, MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(seconds: float) -> None:
    """`--child N`: transcribe an N-second recording once, print one JSON line of figures."""
    import numpy as np

    from bot.voice.model import VietAsrModel
    from bot.voice.service import VoiceService
    from tests.voice.clips import QUESTION, long_speech, opus

    data = opus(long_speech(QUESTION, seconds))
    service = VoiceService(VietAsrModel(), max_seconds=seconds + 1)
    before = _rss_mb()
    started = time.perf_counter()
    service.model.transcribe(np.asarray(long_speech(QUESTION, 1.0) * 32767, dtype=np.int16))
    load = time.perf_counter() - started  # includes a 1 s warm-up transcription
    loaded = _rss_mb()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    transcript = service.transcribe_now(data)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    service.close()
    figures = {
        "seconds": round(transcript.seconds, 2),
        "load_s": round(load, 2),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "rss_before_mb": round(before, 1),
        "rss_loaded_mb": round(loaded, 1),
        "rss_peak_mb": round(peak, 1),
        "words": len(transcript.raw.split()),
    }
    print(json.dumps(figures))


def bench_model(lengths: Sequence[float]) -> list[dict[str, Any]]:
    """Each length in its own process, so each peak RSS is that length's alone."""
    rows = []
    for seconds in lengths:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(seconds)], capture_output=True, text=True, check=True
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    return rows


def model_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of the model figures."""
    lines = [
        "| audio s | load s | wall s | CPU s | RTF (wall) | RTF (CPU) | RSS loaded MB | peak MB | MB per audio s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        extra = (r["rss_peak_mb"] - r["rss_loaded_mb"]) / r["seconds"]
        lines.append(
            f"| {r['seconds']:.0f} | {r['load_s']:.1f} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
            f"{r['wall_s'] / r['seconds']:.3f} | {r['cpu_s'] / r['seconds']:.3f} | {r['rss_loaded_mb']:.0f} | "
            f"{r['rss_peak_mb']:.0f} | {extra:.2f} |"
        )
    return "\n".join(lines)


# --- 2. typed questions next to voice messages, through the real bot ------------------------------


async def typist(fake: FakeBotApi, user: int, questions: Sequence[str], until: asyncio.Event,
                 count: int, limit: float) -> list[float | None]:
    """Ask questions one after another (0.5 s think time): `count` of them, or until `until` is set."""
    rng = random.Random(user)
    latencies: list[float | None] = []
    while (count and len(latencies) < count) or (not count and not until.is_set()):
        await asyncio.sleep(rng.uniform(0.25, 0.75))
        latencies.append(await ask(fake, user, questions[len(latencies) % len(questions)], limit))
    return latencies


async def speaker(fake: FakeBotApi, user: int, data: bytes, seconds: int, limit: float) -> float | None:
    """Send a voice message; the latency (ms) until the transcript is shown, None when lost."""
    mark = fake.last_index()
    update_id = fake.send_voice(user, duration=seconds, data=data)

    def heard(call: Call) -> bool:
        return call.status == 200 and call.chat_id == user and call.index > mark and call.text.startswith(HEARD)

    try:
        call = await fake.wait_for("sendMessage", heard, timeout=limit)
    except TimeoutError:
        return None
    return (call.time - fake.queued_at(update_id)) * 1000


def p(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank), nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def _bot_phases(fake: FakeBotApi, args: argparse.Namespace, questions: Sequence[str]) -> dict[str, Any]:
    """Warm up (first question, first voice message: the lazy model load), idle, then under voice load."""
    from tests.voice.clips import QUESTION, long_speech, opus

    if await ask(fake, FIRST_USER - 1, questions[0], args.timeout) is None:
        raise SystemExit("the bot did not answer a warm-up question")
    first_voice = await speaker(fake, FIRST_USER - 2, QUESTION.read_bytes(), 5, args.timeout * 4)
    never = asyncio.Event()
    idle = await asyncio.gather(
        *(typist(fake, FIRST_USER + t, questions, never, args.idle_questions, args.timeout)
          for t in range(args.typists))
    )
    speech = opus(long_speech(QUESTION, args.speech))
    done = asyncio.Event()
    typing = [
        asyncio.ensure_future(typist(fake, FIRST_USER + 100 + t, questions, done, 0, args.timeout))
        for t in range(args.typists)
    ]
    started = time.monotonic()
    voices = await asyncio.gather(
        *(speaker(fake, FIRST_USER + 200 + s, speech, args.speech, args.timeout * 20) for s in range(args.speakers))
    )
    voice_wall = time.monotonic() - started
    done.set()
    busy = await asyncio.gather(*typing)
    flat = lambda runs: [x for run in runs for x in run if x is not None]  # noqa: E731
    return {
        "first_voice_ms": first_voice,
        "idle_ms": flat(idle),
        "busy_ms": flat(busy),
        "lost": sum(x is None for run in [*idle, *busy] for x in run),
        "voice_ms": [v for v in voices if v is not None],
        "voice_lost": sum(v is None for v in voices),
        "voice_wall_s": voice_wall,
    }


def bench_bot(args: argparse.Namespace) -> dict[str, Any]:
    """The real bot as a separate process, a fresh database, the index built (or reused)."""
    questions = [q for q in load_questions() if "vàng" not in q][:40]
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        workdir = Path(tmp)
        (workdir / "data").mkdir()
        env = bot_env(workdir, argparse.Namespace(index_dir=args.index_dir, max_rate=None))
        env.update({"VOICE_WORKERS": str(args.workers), "VOICE_PER_RESIDENT": "1000", "VOICE_QUEUE": "32"})
        command = [sys.executable, "-m", "bot.cli", "run"]
        with FakeBotApi() as fake, bot_process(fake, command, env, args.ready_timeout):
            return asyncio.run(_bot_phases(fake, args, questions))


def bot_table(figures: dict[str, Any], args: argparse.Namespace) -> str:
    """Markdown table of the typed-question latencies, idle and next to voice messages."""
    idle, busy, voice = figures["idle_ms"], figures["busy_ms"], figures["voice_ms"]
    ratio = p(busy, 95) / p(idle, 95) if idle and busy else float("nan")
    lines = [
        "| typed questions | n | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        f"| idle | {len(idle)} | {p(idle, 50):.0f} | {p(idle, 95):.0f} | {max(idle, default=0):.0f} |",
        f"| while {args.speakers} residents send {args.speech} s voice messages | {len(busy)} | "
        f"{p(busy, 50):.0f} | {p(busy, 95):.0f} | {max(busy, default=0):.0f} |",
        "",
        f"- typed p95 under voice load ÷ idle p95: **{ratio:.2f}**; lost typed replies: {figures['lost']}",
        f"- first voice message (model loads lazily): transcript after {figures['first_voice_ms'] or 0:.0f} ms",
        f"- {args.speakers} voice messages of {args.speech} s at once, VOICE_WORKERS={args.workers}: transcripts "
        f"after {p(voice, 50) / 1000:.1f} s (median), {max(voice, default=0) / 1000:.1f} s (last); "
        f"lost {figures['voice_lost']}",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="5,15,30,60", help="audio lengths for the model table, s")
    parser.add_argument("--speakers", type=int, default=5, help="residents sending a voice message at once")
    parser.add_argument("--speech", type=int, default=30, help="length of their voice messages, s")
    parser.add_argument("--typists", type=int, default=4, help="residents typing questions meanwhile")
    parser.add_argument("--idle-questions", type=int, default=10, help="questions per typist, idle phase")
    parser.add_argument("--workers", type=int, default=1, help="VOICE_WORKERS of the bot")
    parser.add_argument("--timeout", type=float, default=30.0, help="a typed reply later than this is lost, s")
    parser.add_argument("--ready-timeout", type=float, default=300.0, help="bot start-up limit (index build), s")
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse a built index (default: build one)")
    parser.add_argument("--skip-model", action="store_true", help="only the bot part")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run both parts and print the tables with the load average."""
    args = parse_args(argv)
    if args.child is not None:
        child(args.child)
        return 0
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    load_before = os.getloadavg()
    rows = [] if args.skip_model else bench_model([float(x) for x in args.lengths.split(",")])
    figures = bench_bot(args)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    cpu = f"{os.cpu_count()} CPUs, {platform.machine()}"
    if rows:
        print(f"## viet-asr {', '.join(str(r['seconds']) for r in rows)} s of speech ({cpu})\n")
        print(model_table(rows))
        print()
    print(f"## Typed questions next to voice messages (the bot as a separate process; {cpu})\n")
    print(bot_table(figures, args))
    print(f"\nload average before: {', '.join(f'{x:.1f}' for x in load_before)}; after: {load} (1, 5, 15 min)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {k: v for k, v in figures.items() if not isinstance(v, list)}
    summary |= {f"{k}_p95": p(v, 95) for k, v in figures.items() if isinstance(v, list)}
    summary["idle_p50"] = statistics.median(figures["idle_ms"]) if figures["idle_ms"] else None
    args.out.write_text(json.dumps({"model": rows, "bot": summary, "loadavg": load}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
