"""Write throughput of the civic services: votes/s and feedback inserts/s with N concurrent writers.

    python bench/bench_db.py [--threads 1,4,16] [--modes threads,processes] [--seconds 5]
                             [--backends sqlite,postgresql] [--pg-url URL] [--code DIR]

Each cell runs on a fresh database (a new SQLite file in WAL mode, or a new PostgreSQL schema) migrated
to head, with 2,000 residents who consented. N writers call the real services for a fixed time, each
call on its own session: `cast_vote` (each call a new vote or a change, with its own idempotency key)
and `submit_feedback` (a new ticket each). Every call is a full transaction with its checks (consent,
poll open, scope, idempotency). The writers are N threads of one process (they share one GIL), or N
forked processes with their own engine, as `citizenbot worker` replicas are.

Prints a markdown table with the SQL statements each vote sent (independent of load), the writers' CPU
time per vote (the Python cost: what one core can do at most is 1000 / that), each rate as a
ratio to the backend's first cell (1 writer thread) measured in the same run, and the load average;
bounded by --seconds per cell. `--code DIR` imports bot/ from another checkout, to measure a baseline
(such as the main branch) with the same bench, back to back.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# --code DIR measures another checkout (e.g. the main branch) with this bench, for a baseline in one run.
CODE = Path(sys.argv[sys.argv.index("--code") + 1]).resolve() if "--code" in sys.argv[:-1] else REPO
sys.path.insert(0, str(CODE))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bot.db.engine import make_engine, session_scope, upgrade  # noqa: E402
from bot.db.models import Consent, Resident, utcnow  # noqa: E402
from bot.services import feedback, polls  # noqa: E402
from bot.services.residents import Pseudonymizer  # noqa: E402
from bot.services.roles import Actor, Role  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESIDENTS = 2_000
WARDS = ["Phường Hoàn Kiếm", "Phường Ba Đình", "Phường Láng", "Xã Bát Tràng"]
ADMIN = Actor(label="bench", role=Role.ADMIN)
PSEUDO = Pseudonymizer(b"bench-secret-0123456789abcdef")
WARM_UP = 10  # calls each writer makes before the clock starts


@contextmanager
def fresh_database(backend: str, pg_url: str) -> Iterator[Engine]:
    """A migrated, empty database on the backend; removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            upgrade(engine)
            yield engine
            engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{pg_url}?options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def seed(engine: Engine) -> polls.PollView:
    """Residents with wards and consent to feedback and polls, and one open poll."""
    now = utcnow()
    with session_scope(engine) as session:
        people = [
            Resident(pseudonym=PSEUDO(n), ward=WARDS[n % len(WARDS)], ward_verified=True, created_at=now)
            for n in range(RESIDENTS)
        ]
        session.add_all(people)
        session.flush()
        for purpose in ("feedback", "polls"):
            session.add_all(
                Consent(resident_id=p.id or 0, purpose=purpose, policy_version="bench", granted_at=now)
                for p in people
            )
        session.commit()
        return polls.create_poll(
            session=session, actor=ADMIN, question="Bench?", options=["A", "B", "C", "D"]
        )


def vote_op(engine: Engine, poll: polls.PollView) -> Callable[[int, int], None]:
    """One vote (new or changed) by resident `i`."""

    def op(thread: int, i: int) -> None:
        resident = (thread * 7919 + i) % RESIDENTS
        option = poll.options[i % len(poll.options)].id
        with session_scope(engine) as session:
            polls.cast_vote(
                session=session,
                pseudonym=PSEUDO(resident),
                poll_id=poll.id,
                option_id=option,
                idempotency_key=f"bench:{thread}:{i}",
            )

    return op


def feedback_op(engine: Engine, _: polls.PollView) -> Callable[[int, int], None]:
    """One new feedback."""

    def op(thread: int, i: int) -> None:
        resident = (thread * 7919 + i) % RESIDENTS
        with session_scope(engine) as session:
            feedback.submit_feedback(
                session=session,
                pseudonym=PSEUDO(resident),
                category="giao_thong",
                text=f"Góp ý thử nghiệm số {i} của luồng {thread}: vỉa hè bị lấn chiếm.",
                idempotency_key=f"bench:{thread}:{i}",
            )

    return op


def count_statements(engine: Engine) -> list[None]:
    """A list that grows by one for each SQL statement the engine sends (BEGIN/COMMIT by the driver excluded)."""
    sent: list[None] = []
    event.listen(engine, "before_cursor_execute", lambda *_: sent.append(None))
    return sent


def run(op: Callable[[int, int], None], threads: int, seconds: float) -> tuple[int, float, float]:
    """Call `op` from `threads` threads until the deadline; (operations done, elapsed seconds, CPU seconds
    of this process meanwhile)."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(t: int) -> None:
        start.wait()
        while time.perf_counter() < deadline[0]:
            op(t, counts[t])
            counts[t] += 1

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    began, cpu = time.perf_counter(), time.process_time()
    deadline[0] = began + seconds
    start.wait()
    for thread in pool:
        thread.join()
    return sum(counts), time.perf_counter() - began, time.process_time() - cpu


def run_processes(
    make_op: Callable[[Engine, polls.PollView], Callable[[int, int], None]],
    url: str,
    poll: polls.PollView,
    writers: int,
    seconds: float,
) -> tuple[int, float, float, int]:
    """Call the op from `writers` processes (spawned: fresh interpreters, each with its own engine and one
    connection), as a fleet of workers would; (operations done, elapsed seconds, CPU seconds of the
    writers, statements sent)."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers + 1)
    results = context.Queue()
    pool = [
        context.Process(target=_writer, args=(make_op.__name__, url, poll, t, seconds, start, results))
        for t in range(writers)
    ]
    for process in pool:
        process.start()
    start.wait()
    reports = [results.get() for _ in pool]
    for process in pool:
        process.join()
    done, elapsed = sum(r[0] for r in reports), max(r[1] for r in reports)
    return done, elapsed, sum(r[2] for r in reports), sum(r[3] for r in reports)


def _writer(op_name: str, url: str, poll: polls.PollView, t: int, seconds: float, start: Any, results: Any) -> None:
    """One writer process: warm up (compiled statements, prepared on the server), wait for the others,
    then call the op for `seconds`; put (done, elapsed, CPU seconds, statements) in `results`."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    op = globals()[op_name](engine, poll)
    for i in range(WARM_UP):
        op(1000 + t, i)
    sent = count_statements(engine)
    done = 0
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() < began + seconds:
        op(t, done)
        done += 1
    results.put((done, time.perf_counter() - began, time.process_time() - cpu, len(sent)))
    engine.dispose()


def cell(backend: str, pg_url: str, mode: str, writers: int, seconds: float) -> tuple[float, float, float, float]:
    """One row: (votes/s, statements per vote, client CPU ms per vote, feedback inserts/s), each on a fresh
    database."""
    rates, per_vote, cpu_ms = [], 0.0, 0.0
    for make_op in (vote_op, feedback_op):
        with fresh_database(backend, pg_url) as engine:
            poll = seed(engine)
            if mode == "threads":
                op = make_op(engine, poll)
                for t in range(writers):
                    for i in range(WARM_UP):
                        op(1000 + t, i)
                sent = count_statements(engine)
                done, elapsed, cpu = run(op, writers, seconds)
                statements = len(sent)
            else:
                url = engine.url.render_as_string(hide_password=False)
                engine.dispose()
                done, elapsed, cpu, statements = run_processes(make_op, url, poll, writers, seconds)
            rates.append(done / elapsed)
            if make_op is vote_op:
                per_vote, cpu_ms = statements / max(done, 1), cpu * 1000 / max(done, 1)
    return rates[0], per_vote, cpu_ms, rates[1]


def main() -> None:
    """Parse arguments, run every cell, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", default="1,4,16", help="writer counts, comma-separated")
    parser.add_argument("--modes", default="threads,processes", help="writers as threads of one process, "
                        "and/or as separate processes")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each cell")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--code", default=None, help="(set before the imports) run another checkout's bot/")
    args = parser.parse_args()
    counts = [int(t) for t in args.threads.split(",")]
    modes = args.modes.split(",")
    print(f"code: {CODE}; load average before: {os.getloadavg()}", file=sys.stderr)
    rows = [
        "| backend | writers | as | votes/s | × baseline | statements/vote | client CPU ms/vote "
        "| feedback inserts/s | × baseline |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for backend in args.backends.split(","):
        baseline: tuple[float, float] | None = None  # the first cell of this backend (1 writer thread)
        for mode in modes:
            for writers in counts:
                votes, per_vote, cpu_ms, inserts = cell(backend, args.pg_url, mode, writers, args.seconds)
                baseline = baseline or (votes, inserts)
                rows.append(
                    f"| {backend} | {writers} | {mode} | {votes:.0f} | {votes / baseline[0]:.2f} | {per_vote:.1f} "
                    f"| {cpu_ms:.2f} | {inserts:.0f} | {inserts / baseline[1]:.2f} |"
                )
                print(rows[-1], file=sys.stderr, flush=True)
    print("\n".join(rows))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
