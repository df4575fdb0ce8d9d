"""Correctness under concurrency: 1,000 residents voting at once; concurrent replays stored once."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.db.engine import session_scope
from bot.db.models import Consent, Resident, Vote, utcnow
from bot.services import polls, residents
from bot.services.residents import Pseudonymizer, Purpose

from .conftest import ADMIN, POLICY

RESIDENTS = 1000
WORKERS = 16
WARDS = ["Phường Hoàn Kiếm", "Phường Ba Đình", "Phường Láng", "Xã Bát Tràng"]


def add_residents(engine: Engine, pseudo: Pseudonymizer) -> None:
    """Residents with a ward and consent to polls, inserted in one transaction (setup, not under test)."""
    now = utcnow()
    with session_scope(engine) as session:
        people = [
            Resident(
                pseudonym=pseudo(10_000 + n), ward=WARDS[n % len(WARDS)], ward_verified=True, created_at=now
            )
            for n in range(RESIDENTS)
        ]
        session.add_all(people)
        session.flush()
        session.add_all(
            Consent(resident_id=p.id or 0, purpose="polls", policy_version=POLICY, granted_at=now)
            for p in people
        )
        session.commit()


def resident_session(
    engine: Engine, pseudo: Pseudonymizer, poll: polls.PollView, n: int
) -> tuple[int | None, str]:
    """One resident: vote, maybe change, maybe withdraw (and maybe vote again)."""
    rng = random.Random(n)
    key, ward = pseudo(10_000 + n), WARDS[n % len(WARDS)]
    options = [o.id for o in poll.options]
    with session_scope(engine) as session:
        first = rng.choice(options)
        polls.cast_vote(
            session=session, pseudonym=key, poll_id=poll.id, option_id=first, idempotency_key=f"{n}:1"
        )
        choice: int | None = first
        if rng.random() < 0.5:
            second = rng.choice(options)
            choice = second
            polls.cast_vote(
                session=session, pseudonym=key, poll_id=poll.id, option_id=second, idempotency_key=f"{n}:2"
            )
        if rng.random() < 0.2:
            polls.withdraw_vote(session=session, pseudonym=key, poll_id=poll.id, idempotency_key=f"{n}:3")
            choice = None
            if rng.random() < 0.3:
                again = rng.choice(options)
                choice = again
                polls.cast_vote(
                    session=session,
                    pseudonym=key,
                    poll_id=poll.id,
                    option_id=again,
                    idempotency_key=f"{n}:4",
                )
    return choice, ward


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_thousand_concurrent_voters_end_with_their_last_choice(engine: Engine, pseudo: Pseudonymizer) -> None:
    with session_scope(engine) as session:
        poll = polls.create_poll(
            session=session,
            actor=ADMIN,
            question="Chọn tên cho công viên mới?",
            options=["Thống Nhất 2", "Bình Minh", "Sông Hồng", "Xanh"],
        )
    add_residents(engine, pseudo)
    with ThreadPoolExecutor(WORKERS) as pool:
        finals = list(pool.map(lambda n: resident_session(engine, pseudo, poll, n), range(RESIDENTS)))
    expected = Counter(choice for choice, _ in finals if choice is not None)
    expected_by_ward = Counter((ward, choice) for choice, ward in finals if choice is not None)
    with session_scope(engine) as session:
        results = polls.poll_results(session=session, poll_id=poll.id, actor=ADMIN)
    assert {o.option_id: o.count for o in results.by_option} == {o.id: expected[o.id] for o in poll.options}
    assert results.total == sum(expected.values())
    assert {(w.ward, o): c for w in results.by_ward for o, c in w.counts.items() if c} == dict(
        expected_by_ward
    )
    assert 0 < results.total < RESIDENTS


def test_one_resident_voting_from_many_threads_keeps_one_vote(engine: Engine, pseudo: Pseudonymizer) -> None:
    key = pseudo(1)
    with session_scope(engine) as session:
        poll = polls.create_poll(session=session, actor=ADMIN, question="Q?", options=["A", "B", "C"])
        residents.grant_consent(session=session, pseudonym=key, purpose=Purpose.POLLS, policy_version=POLICY)
    start = threading.Barrier(8)

    def work(i: int) -> int | None:
        start.wait()
        with session_scope(engine) as session:
            option = poll.options[i % 3].id
            return polls.cast_vote(
                session=session, pseudonym=key, poll_id=poll.id, option_id=option, idempotency_key=f"k{i}"
            ).option_id

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    with session_scope(engine) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Vote)).scalar_one() == 1
        assert polls.poll_results(session=session, poll_id=poll.id, actor=ADMIN).total == 1


def test_same_vote_key_submitted_concurrently_is_applied_once(engine: Engine, pseudo: Pseudonymizer) -> None:
    key = pseudo(2)
    with session_scope(engine) as session:
        poll = polls.create_poll(session=session, actor=ADMIN, question="Q?", options=["A", "B"])
        residents.grant_consent(session=session, pseudonym=key, purpose=Purpose.POLLS, policy_version=POLICY)
        polls.cast_vote(
            session=session,
            pseudonym=key,
            poll_id=poll.id,
            option_id=poll.options[0].id,
            idempotency_key="tg:update:1",
        )
    start = threading.Barrier(8)

    def work(_: int) -> polls.VoteResult:
        start.wait()
        with session_scope(engine) as session:
            return polls.cast_vote(
                session=session,
                pseudonym=key,
                poll_id=poll.id,
                option_id=poll.options[1].id,
                idempotency_key="tg:update:2",
            )

    with ThreadPoolExecutor(8) as pool:
        outcomes = set(pool.map(work, range(8)))
    assert outcomes == {polls.VoteResult(poll.id, poll.options[1].id, poll.options[0].id)}
