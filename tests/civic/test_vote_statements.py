"""Round trips of a vote: the SQL statements cast_vote and withdraw_vote send (a regression here costs votes/s)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
