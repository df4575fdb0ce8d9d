"""Limits shared by every worker through PostgreSQL: the per-resident flood limit and Telegram's send rate."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from telegram.error import BadRequest, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram.deps import FloodGate

log = logging.getLogger(__name__)
NOW = "extract(epoch FROM clock_timestamp())"  # the database's clock: the same for every host
LIMITED_PREFIXES = ("send", "edit", "copy", "forward")  # messages count against the 30/s budget
HARMLESS = {  # what a late or second delivery of an update meets: the effect is already there, or moot
    "answerCallbackQuery": "query is too old",
    "editMessageText": "message is not modified",
    "editMessageReplyMarkup": "message is not modified",
    "editMessageCaption": "message is not modified",
}

FLOOD_SQL = sa.text(
    f"INSERT INTO flood_counter (pseudonym, window_start, hits) VALUES (:p, {NOW}, 1) "
    "ON CONFLICT (pseudonym) DO UPDATE SET "
    f"window_start = CASE WHEN flood_counter.window_start <= {NOW} - :w THEN {NOW} "
    "ELSE flood_counter.window_start END, "
    f"hits = CASE WHEN flood_counter.window_start <= {NOW} - :w THEN 1 ELSE flood_counter.hits + 1 END "
    "RETURNING hits"
)
BUDGET_SQL = sa.text(
    f"INSERT INTO send_budget (name, tokens, updated) VALUES (:n, :cap - 1, {NOW}) "
    "ON CONFLICT (name) DO UPDATE SET "
    f"tokens = LEAST(:cap, send_budget.tokens + GREATEST(0, {NOW} - send_budget.updated) * :rate) - 1, "
    f"updated = GREATEST(send_budget.updated, {NOW}) "
    "RETURNING tokens"
)


class SharedFloodGate(FloodGate):
    """FloodGate's interface, counted in one SQL upsert per update on a row keyed by the pseudonym.

    A fixed window per resident (the database's clock, so hosts agree). When the database cannot be
    reached the update is let through: questions are still answered during an outage.
    """

    def __init__(self, limit: int, window: float, *, engine: Engine, pseudonymize: Callable[[int], str]) -> None:
        super().__init__(limit, window)
        self.engine = engine
        self.pseudonymize = pseudonymize

    def check(self, user_id: int, now: float) -> bool | None:
        """True: within the limit; False: just over it (warn once); None: over it, already warned."""
        try:
            with self.engine.begin() as connection:
                hits = int(connection.execute(FLOOD_SQL, {"p": self.pseudonymize(user_id), "w": self.window}).scalar_one())
        except sa.exc.SQLAlchemyError as exc:
            log.warning("flood limit not checked (database): %s", exc.__class__.__name__)
            return True
        if hits <= self.limit:
            return True
        return False if hits == self.limit + 1 else None

    async def check_async(self, user_id: int, now: float) -> bool | None:
        """`check` in a worker thread: its SQL round trip never blocks the event loop."""
        return await asyncio.to_thread(self.check, user_id, now)


def prune_flood(engine: Engine, window: float) -> None:
    """Forget residents whose window ended."""
    with engine.begin() as connection:
        connection.execute(sa.text(f"DELETE FROM flood_counter WHERE window_start < {NOW} - :w"), {"w": window})


class SharedRateLimiter(BaseRateLimiter[None]):
    """Telegram's overall send rate for the whole bot: a token bucket in one SQL statement, shared by all workers.

    Each message reserves a token (the balance may go negative) and waits until its token is due, so
    the fleet together never exceeds `rate` messages/s. A flood-wait (RetryAfter) is waited out and
    retried. An update handled late or a second time (its worker died) must not abort half-way: a
    callback query too old to answer, or an edit that is already in place, counts as done.
    """

    def __init__(self, engine: Engine, rate: float, *, max_retries: int = 3, name: str = "telegram") -> None:
        self.engine = engine
        self.rate = rate
        self.max_retries = max_retries
        self.name = name

    async def initialize(self) -> None:
        """Nothing to open: the engine is shared."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def _reserve(self) -> float:
        """Take one token; the seconds to wait for it (0 when available now)."""
        try:
            with self.engine.begin() as connection:
                tokens = float(
                    connection.execute(BUDGET_SQL, {"n": self.name, "cap": self.rate, "rate": self.rate}).scalar_one()
                )
        except sa.exc.SQLAlchemyError as exc:
            log.warning("send budget not read (database), sending: %s", exc.__class__.__name__)
            return 0.0
        return max(0.0, -tokens / self.rate)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for the fleet's budget, then call; retry after a flood-wait."""
        for attempt in range(self.max_retries + 1):
            if endpoint.startswith(LIMITED_PREFIXES):
                delay = await asyncio.to_thread(self._reserve)
                if delay:
                    await asyncio.sleep(delay)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.max_retries:
                    raise
                await asyncio.sleep(exc.retry_after if isinstance(exc.retry_after, int | float) else
                                    exc.retry_after.total_seconds())
            except BadRequest as exc:
                if endpoint in HARMLESS and HARMLESS[endpoint] in exc.message.lower():
                    log.info("%s: %s; handling goes on", endpoint, exc.message)
                    return True
                raise
        raise AssertionError("unreachable")
