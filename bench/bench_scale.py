"""Throughput of the fleet: replies/s and latency with 1, 2 and 4 workers, and a killed worker's pickup time.

    python bench/bench_scale.py [--workers 1,2,4] [--residents 40] [--messages 5] [--pg-url URL]

Each cell starts, as separate processes, one `citizenbot ingress` (webhook) and N `citizenbot worker`
(--concurrency 4) on a fresh PostgreSQL schema, against the fake Bot API of the tests. R residents
each send M messages as fast as they can: /help, /theodoi and questions in turn (questions run the real
retriever). Latency is from the update entering the fake server to the bot's reply. The last row kills
one of two workers with SIGKILL while updates are in flight and reports how long until every update
it held was answered by the other worker (its heartbeat must go stale first: 20 s, checked every 5 s).
Prints a markdown table with the ratio to 1 worker, and the load average (CPU is shared on this host).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from tests.telegram.fake_bot_api import FakeBotApi  # noqa: E402
from tests.telegram.test_bot import shared_index  # noqa: E402
from tests.telegram.test_bot_flows import free_port  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
QUESTIONS = ["/help", "/theodoi", "Hà Nội có kế hoạch gì cho giao thông công cộng?"]
START = 300.0


class Cell:
    """One ingress and N workers on a fresh schema; stopped and dropped on exit."""

    def __init__(self, fake: FakeBotApi, root: Path, index: Path, pg_url: str, workers: int) -> None:
        self.fake, self.root, self.workers = fake, root, workers
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        env.update(fake.env())
        env.update(
            DATABASE_URL=f"{pg_url}?options=-csearch_path%3D{self.schema}",
            PSEUDONYM_SECRET="bench-secret-0123456789abcdef", WEBHOOK_SECRET_TOKEN="bench-webhook-secret",
            KNOWLEDGE_DIR=str(root / "knowledge"), INDEX_DIR=str(root / "index"), PYTHONPATH=str(REPO),
            OMP_NUM_THREADS="1",
        )
        if not (root / "index").exists():
            shutil.copytree(REPO / "knowledge", root / "knowledge")
            shutil.copytree(index, root / "index")
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """`citizenbot ARGS`, output to root/NAME.log."""
        data = self.root / f"data-{self.schema}-{name}"
        data.mkdir(exist_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args], cwd=self.root, env={**self.env, "DATA_DIR": str(data)},
            stdout=(self.root / f"{self.schema}-{name}.log").open("w"), stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        """A process's output."""
        path = self.root / f"{self.schema}-{name}.log"
        return path.read_text() if path.exists() else ""

    def __enter__(self) -> Cell:
        port = free_port()
        self.start("ingress", "ingress", "--webhook-url", f"http://127.0.0.1:{port}/hook", "--port", str(port))
        self.fake.wait_for_sync("setWebhook", lambda c: c.params["url"].endswith(f":{port}/hook"), timeout=START)
        for i in range(self.workers):
            self.start(f"w{i}", "worker", "--concurrency", "4", "--health-port", "0")
        deadline = time.monotonic() + START
        while not all("handling updates" in self.log(f"w{i}") for i in range(self.workers)):
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start")
            time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


def load(fake: FakeBotApi, users: list[int], messages: int) -> tuple[list[int], float]:
    """Every user sends `messages` updates at once; (update ids, seconds until the last was sent)."""
    began = time.monotonic()
    sent = [fake.send_text(user, QUESTIONS[(user + i) % len(QUESTIONS)]) for i in range(messages) for user in users]
    return sent, time.monotonic() - began


def replies(fake: FakeBotApi, sent: list[int], timeout: float) -> dict[int, float]:
    """Seconds from each update entering the fake server to the first reply in its chat after it."""
    chats: dict[int, list[int]] = {fake.update(u)["message"]["chat"]["id"]: [] for u in sent}
    for update_id in sent:
        chats[fake.update(update_id)["message"]["chat"]["id"]].append(update_id)
    deadline = time.monotonic() + timeout
    while True:
        calls = [c for c in fake.calls("sendMessage") if c.status == 200]
        answered: dict[int, float] = {}
        for chat, updates in chats.items():
            times = sorted(c.time for c in calls if c.chat_id == chat)
            for update_id, at in zip(updates, times, strict=False):  # each chat is answered in order
                answered[update_id] = at - fake.queued_at(update_id)
        if len(answered) == len(sent) or time.monotonic() > deadline:
            return answered
        time.sleep(0.5)


def cell(fake: FakeBotApi, root: Path, index: Path, pg_url: str, workers: int, users: list[int],
         messages: int) -> tuple[float, float, float, int]:
    """(replies/s, p50 s, p95 s, unanswered) for N workers."""
    with Cell(fake, root, index, pg_url, workers):
        sent, _ = load(fake, users, messages)
        answered = replies(fake, sent, 600)
        first = min(fake.queued_at(u) for u in sent)
        elapsed = max((fake.queued_at(u) + t for u, t in answered.items()), default=first) - first + 1e-9
        latencies = sorted(answered.values())
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    return len(answered) / elapsed, statistics.median(latencies), p95, len(sent) - len(answered)


def pickup(fake: FakeBotApi, root: Path, index: Path, pg_url: str, users: list[int]) -> tuple[float, int]:
    """(seconds from SIGKILL until the jobs the killed worker was running were done by the other, how many)."""
    with Cell(fake, root, index, pg_url, 2) as running:
        sent, _ = load(fake, users, 3)
        engine = sa.create_engine(running.env["DATABASE_URL"])
        running_jobs = sa.text(
            "SELECT j.id FROM procrastinate_jobs j WHERE j.status = 'doing' AND j.task_name = 'citizenbot.update' "
            "AND j.worker_id = (SELECT min(id) FROM procrastinate_workers)"
        )
        held: list[int] = []
        deadline = time.monotonic() + 60
        while not held and time.monotonic() < deadline:  # kill w0 (the first registered) while it runs updates
            with engine.connect() as conn:
                held = [int(r[0]) for r in conn.execute(running_jobs)]
            if held:
                running.processes[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        left = held
        while left and time.monotonic() < killed + 180:  # done jobs are deleted
            time.sleep(0.2)
            with engine.connect() as conn:
                left = [int(r[0]) for r in conn.execute(
                    sa.text("SELECT id FROM procrastinate_jobs WHERE id = ANY(:ids)"), {"ids": held})]
        engine.dispose()
        replies(fake, sent, 180)
        return (time.monotonic() - killed if held and not left else float("nan")), len(held)


def main() -> None:
    """Parse arguments, run every cell, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--residents", type=int, default=40)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeBotApi() as fake:
        root = Path(tmp)
        index = shared_index(root / "built")
        print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared)")
        print("| workers | updates | replies/s | ×1 worker | p50 s | p95 s | unanswered |")
        print("|---|---|---|---|---|---|---|")
        base = None
        next_user = 50_000
        for workers in [int(n) for n in args.workers.split(",") if n]:
            users = list(range(next_user, next_user + args.residents))
            next_user += args.residents
            rate, p50, p95, missing = cell(fake, root, index, args.pg_url, workers, users, args.messages)
            base = base or rate
            print(f"| {workers} | {args.residents * args.messages} | {rate:.1f} | {rate / base:.2f} | "
                  f"{p50:.2f} | {p95:.2f} | {missing} |", flush=True)
        users = list(range(next_user, next_user + args.residents))
        seconds, held = pickup(fake, root, index, args.pg_url, users)
        print(f"\nkilled worker (SIGKILL) while running {held} update(s): all handled by the other worker "
              f"{seconds:.1f} s after the kill")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
