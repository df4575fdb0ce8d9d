"""Round trips of a vote (the SQL statements cast_vote and withdraw_vote send), and the poll lock they keep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db.engine import session_scope
from bot.services import polls
from bot.services.errors import NotFoundError

from .conftest import ADMIN, NOW, WARD_A, MakeResident

# Per call, on a fresh session. SQLite counts its explicit `BEGIN IMMEDIATE`; PostgreSQL's BEGIN and
# every COMMIT are sent by the driver, not as statements. A first vote, a change and a withdrawal read
# everything in one SELECT, then write (PostgreSQL: the write and its idempotency record in one statement).
EXPECTED = {
    "sqlite": {"vote": 4, "change": 4, "withdraw": 4, "replay": 2, "refused": 2},
    "postgresql": {"vote": 2, "change": 2, "withdraw": 2, "replay": 1, "refused": 1},
}


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """The statements sent on the engine while inside the block."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_vote_takes_few_statements_and_still_counts(engine: Engine, make_resident: MakeResident) -> None:
    with session_scope(engine) as session:
        poll = polls.create_poll(
            session=session,
            actor=ADMIN,
            question="Lát lại vỉa hè phố nào trước?",
            options=["A", "B"],
            wards=[WARD_A],
            now=NOW,
        )
    key = make_resident(1)
    first, second = (o.id for o in poll.options)
    calls: list[tuple[str, Callable[[Session], polls.VoteResult], polls.VoteResult]] = [
        ("vote", lambda s: vote(s, key, poll.id, first, "k1"), polls.VoteResult(poll.id, first, None)),
        ("change", lambda s: vote(s, key, poll.id, second, "k2"), polls.VoteResult(poll.id, second, first)),
        ("replay", lambda s: vote(s, key, poll.id, first, "k1"), polls.VoteResult(poll.id, first, None)),
        (
            "withdraw",
            lambda s: polls.withdraw_vote(
                session=s, pseudonym=key, poll_id=poll.id, idempotency_key="k3", now=NOW
            ),
            polls.VoteResult(poll.id, None, second),
        ),
    ]
    counts = {}
    for name, call, expected in calls:
        with session_scope(engine) as session, counting(engine) as sent:
            assert call(session) == expected
        counts[name] = len(sent)
    with (
        session_scope(engine) as session,
        counting(engine) as sent,
        pytest.raises(NotFoundError, match="Lựa chọn số 10000"),
    ):
        vote(session, key, poll.id, 10_000, "k4")
    counts["refused"] = len(sent)
    assert counts == EXPECTED[engine.dialect.name]
    with session_scope(engine) as session:
        assert polls.my_vote(session=session, pseudonym=key, poll_id=poll.id) is None
        assert session.execute(sa.text("SELECT count(*) FROM idempotency_record")).scalar_one() == 3


def vote(session: Session, key: str, poll_id: int, option_id: int, idempotency_key: str) -> polls.VoteResult:
    """cast_vote at NOW."""
    return polls.cast_vote(
        session=session,
        pseudonym=key,
        poll_id=poll_id,
        option_id=option_id,
        idempotency_key=idempotency_key,
        now=NOW,
    )


def test_a_close_waits_for_a_vote_in_flight(engine: Engine, make_resident: MakeResident) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE): nothing can be in flight")
    with session_scope(engine) as session:
        poll = polls.create_poll(session=session, actor=ADMIN, question="Q?", options=["A", "B"], now=NOW)
    key = make_resident(1)
    checked, release = threading.Event(), threading.Event()
    voter: list[int] = []

    def pause_before_write(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("WITH write") and not checked.is_set():
            voter.append(cursor.connection.info.backend_pid)
            checked.set()
            release.wait(60)

    def close() -> polls.PollView:
        with session_scope(engine) as session:
            return polls.close_poll(session=session, poll_id=poll.id, actor=ADMIN)

    event.listen(engine, "before_cursor_execute", pause_before_write)
    try:
        with ThreadPoolExecutor(2) as pool:
            try:
                voted = pool.submit(
                    in_session, engine, lambda s: vote(s, key, poll.id, poll.options[0].id, "v1")
                )
                assert checked.wait(60)
                closed = pool.submit(close)
                assert wait_for_blocked(engine, voter[0], closed), (
                    "the close did not wait for the vote in flight"
                )
            finally:
                release.set()
            assert voted.result(60) == polls.VoteResult(poll.id, poll.options[0].id, None)
            assert closed.result(60).state is polls.PollState.CLOSED
    finally:  # removed only once no other thread runs statements
        event.remove(engine, "before_cursor_execute", pause_before_write)
    with session_scope(engine) as session:
        assert polls.poll_results(session=session, poll_id=poll.id, actor=ADMIN).total == 1


def in_session(engine: Engine, call: Callable[[Session], polls.VoteResult]) -> polls.VoteResult:
    """`call` in a session of its own."""
    with session_scope(engine) as session:
        return call(session)


def wait_for_blocked(engine: Engine, pid: int, closing: Future[polls.PollView]) -> bool:
    """True once a session waits for backend `pid`'s locks; False if `closing` ended first."""
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    while not closing.done():
        with engine.connect() as conn:
            if conn.execute(query, {"pid": pid}).scalar_one():
                return True
        time.sleep(0.05)
    return False
