"""The limits hold for the bot as a whole: two workers (two engines sharing only PostgreSQL) count together."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine, upgrade
from bot.scale.limits import SharedFloodGate, SharedRateLimiter
from bot.services.residents import Pseudonymizer

pytestmark = pytest.mark.postgres
PSEUDO = Pseudonymizer(b"limits-secret-0123456789abcdef")


@pytest.fixture
def engines(postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one migrated database: what two worker processes share."""
    first, second = make_engine(postgres_url), make_engine(postgres_url)
    upgrade(first)
    try:
        yield first, second
    finally:
        first.dispose()
        second.dispose()


def test_a_resident_flooding_two_workers_is_limited_once_for_both(engines: tuple[Engine, Engine]) -> None:
    gates = [SharedFloodGate(5, 60.0, engine=engine, pseudonymize=PSEUDO) for engine in engines]
    verdicts = [gates[i % 2].check(101, 0.0) for i in range(8)]  # a resident's updates land on both workers
    assert verdicts == [True] * 5 + [False, None, None]  # warned once, on whichever worker saw the 6th
    assert gates[1].check(102, 0.0) is True  # another resident is not limited


async def test_two_workers_together_send_no_faster_than_the_bots_rate(engines: tuple[Engine, Engine]) -> None:
    rate = 20.0
    limiters = [SharedRateLimiter(engine, rate) for engine in engines]
    sent: list[float] = []

    async def send(**_: object) -> bool:
        """What the Bot API call would do: record when it went out."""
        sent.append(time.monotonic())
        return True

    began = time.monotonic()
    await asyncio.gather(
        *(limiters[i % 2].process_request(send, (), {}, "sendMessage", {}, None) for i in range(60))
    )
    # The bucket holds one second of messages (20); the other 40 wait for tokens at 20/s: ≥ 2 s in all,
    # whereas two separate per-process buckets of 20/s would have sent all 60 within about one second.
    assert len(sent) == 60
    assert sent[-1] - began >= 1.8
    for start in sent:  # no one-second window has more than the burst plus one second of rate
        assert sum(start <= t < start + 1.0 for t in sent) <= 2 * rate + 2
    calls = [limiters[0].process_request(send, (), {}, "getMe", {}, None) for _ in range(30)]
    before = time.monotonic()
    await asyncio.gather(*calls)
    assert time.monotonic() - before < 1.0  # only messages count against the budget
