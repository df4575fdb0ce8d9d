"""Vote latency while an officer's report runs: idle, then during an XLSX export of N feedback rows.

    python bench/bench_report_load.py [--rows 100000] [--voters 8] [--think 0.05] [--backend sqlite]
                                      [--idle-seconds 20] [--with-write-lock] [--with-cli-export]

One database (SQLite file by default, the bot's default) is seeded with N feedback rows
(bench_export.seed) and 2,000 consenting residents with an open poll (bench_db.seed). Then, in the
same run and process, `--voters` threads each cast votes through the real service (`cast_vote`, one
session per vote, as the bot's `call` does) with `--think` seconds between votes:

1. idle: for `--idle-seconds`;
2. during a report: while `export_feedback` (XLSX + PNG) runs in a worker thread of the same
   process, the way the bot runs /baocao: in a read-only session;
3. with `--with-write-lock`, also the old behaviour for comparison: the export in an ordinary
   (BEGIN IMMEDIATE) session, so every vote waits for it, up to the 30 s busy timeout;
4. with `--with-cli-export`, `citizenbot export` in another process: the same read-only export
   without sharing the voters' interpreter (GIL), which separates CPU sharing from locking.

Prints a markdown table: votes, failures ("database unavailable"), p50/p95/max latency, the ratio of
p95 to the idle p95 of the same run, the export's wall time, and the load average around each phase.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_db import PSEUDO, RESIDENTS, fresh_database  # noqa: E402
from bench_db import seed as seed_voters  # noqa: E402
from bench_export import seed as seed_feedback  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bot.db.engine import session_scope  # noqa: E402
from bot.services import polls  # noqa: E402
from bot.services.errors import DatabaseUnavailableError  # noqa: E402
from bot.services.roles import cli_actor  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Phase:
    """Latencies (s) and failures of the votes cast during one phase."""

    name: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    export_seconds: float | None = None
    load: tuple[float, float] = (0.0, 0.0)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def quantile(self, q: float) -> float:
        """The q-quantile of the latencies, in ms."""
        if len(self.latencies) < 2:
            return 1000 * (self.latencies[0] if self.latencies else 0.0)
        return 1000 * statistics.quantiles(self.latencies, n=100, method="inclusive")[round(q * 100) - 1]


def voter(
    engine: Engine, poll: polls.PollView, phase: Phase, n: int, stop: threading.Event, think: float
) -> None:
    """Cast (or change) votes until `stop`, recording each vote's latency."""
    i = 0
    while not stop.is_set():
        resident = (n * 7919 + i) % RESIDENTS
        began = time.perf_counter()
        try:
            with session_scope(engine) as session:
                polls.cast_vote(
                    session=session,
                    pseudonym=PSEUDO(resident),
                    poll_id=poll.id,
                    option_id=poll.options[i % len(poll.options)].id,
                    idempotency_key=f"{phase.name}:{n}:{i}",
                )
        except DatabaseUnavailableError:
            with phase.lock:
                phase.failures += 1
        else:
            with phase.lock:
                phase.latencies.append(time.perf_counter() - began)
        i += 1
        stop.wait(think)


def run_phase(
    engine: Engine, poll: polls.PollView, phase: Phase, args: argparse.Namespace, work: Callable[[], None]
) -> Phase:
    """Run the voters while `work` runs (in this thread), then stop them."""
    stop = threading.Event()
    threads = [
        threading.Thread(target=voter, args=(engine, poll, phase, n, stop, args.think))
        for n in range(args.voters)
    ]
    before = os.getloadavg()[0]
    for thread in threads:
        thread.start()
    try:
        work()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    phase.load = (before, os.getloadavg()[0])
    return phase


def export_work(engine: Engine, folder: Path, phase: Phase, read_only: bool) -> Callable[[], None]:
    """An XLSX export (the bot's /baocao), timed into `phase`."""
    from bot.services.exports import export_feedback

    def work() -> None:
        began = time.perf_counter()
        with session_scope(engine, read_only=read_only) as session:
            export_feedback(
                session=session, out=folder / f"report-{read_only}.xlsx", fmt="xlsx", actor=cli_actor()
            )
        phase.export_seconds = time.perf_counter() - began

    return work


def export_process_work(url: str, folder: Path, phase: Phase) -> Callable[[], None]:
    """`citizenbot export` (XLSX) in another process, as an officer on the command line: no shared GIL."""

    def work() -> None:
        env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(REPO)}
        cmd = [
            sys.executable,
            "-m",
            "bot.cli",
            "export",
            "--format",
            "xlsx",
            "--out",
            str(folder / "cli.xlsx"),
        ]
        began = time.perf_counter()
        subprocess.run(cmd, cwd=folder, env=env, check=True, capture_output=True, timeout=1800)
        phase.export_seconds = time.perf_counter() - began

    return work


def row(phase: Phase, idle: Phase) -> str:
    """One markdown table line."""
    ratio = phase.quantile(0.95) / idle.quantile(0.95) if idle.latencies else float("nan")
    export = f"{phase.export_seconds:.1f}" if phase.export_seconds is not None else "—"
    return (
        f"| {phase.name} | {len(phase.latencies) + phase.failures} | {phase.failures} | "
        f"{phase.quantile(0.5):.0f} | {phase.quantile(0.95):.0f} | {1000 * max(phase.latencies, default=0):.0f} | "
        f"{ratio:.1f} | {export} | {phase.load[0]:.1f} → {phase.load[1]:.1f} |"
    )


def main() -> None:
    """Seed, run the phases, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--voters", type=int, default=8)
    parser.add_argument("--think", type=float, default=0.05, help="seconds between a voter's votes")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default=os.environ.get("TEST_POSTGRES_URL", PG_URL))
    parser.add_argument(
        "--with-write-lock", action="store_true", help="also run the export in a write session"
    )
    parser.add_argument(
        "--with-cli-export", action="store_true", help="also run `citizenbot export` in another process"
    )
    args = parser.parse_args()
    with fresh_database(args.backend, args.pg_url) as engine, tempfile.TemporaryDirectory() as tmp:
        url = engine.url.render_as_string(hide_password=False)
        seconds = seed_feedback(url, args.rows)
        poll = seed_voters(engine)
        print(f"seeded {args.rows:,} feedback rows in {seconds:.0f} s", file=sys.stderr, flush=True)
        folder = Path(tmp)
        idle = run_phase(engine, poll, Phase("idle"), args, lambda: time.sleep(args.idle_seconds))
        print(row(idle, idle), file=sys.stderr, flush=True)
        phases = [idle]
        modes = [("during /baocao (read-only session)", True)]
        if args.with_write_lock:
            modes.append(("during /baocao (write session, as before)", False))
        for name, read_only in modes:
            phase = Phase(name)
            run_phase(engine, poll, phase, args, export_work(engine, folder, phase, read_only))
            phases.append(phase)
            print(row(phase, idle), file=sys.stderr, flush=True)
        if args.with_cli_export:
            phase = Phase("during `citizenbot export` (another process, read-only)")
            run_phase(engine, poll, phase, args, export_process_work(url, folder, phase))
            phases.append(phase)
            print(row(phase, idle), file=sys.stderr, flush=True)
    print(
        f"{args.backend}, {args.rows:,} feedback rows, {args.voters} voters, {args.think * 1000:.0f} ms between votes\n"
    )
    print(
        "| phase | votes | failed | p50 ms | p95 ms | max ms | p95 ÷ idle p95 | export s | load avg (1 min) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(row(p, idle) for p in phases))


if __name__ == "__main__":
    main()
