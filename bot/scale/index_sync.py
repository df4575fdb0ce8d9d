"""The search index across replicas: built once, by one worker, into the shared INDEX_DIR; followed by all.

Documents and the built index live on a store every replica mounts (KNOWLEDGE_DIR and INDEX_DIR on a
shared volume). A rebuild (an upload or /capnhat on any replica) runs on the worker that handled it,
under a PostgreSQL advisory lock, and then increments the index generation in the database. Every
worker polls the generation and loads the new index when it changes: the retriever is swapped in one
assignment, so an answer never mixes two generations and questions keep being answered meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.scale import store
from bot.scale.wrapping import SearchWrapper

if TYPE_CHECKING:

    from bot.search.models import BuildReport
    from bot.search.service import SearchService

log = logging.getLogger(__name__)
GENERATION_KEY = "index_generation"
BUILD_LOCK = 7_406_118_004  # PostgreSQL advisory lock key held while the shared index is built
T = TypeVar("T")


def read_generation(engine: Engine) -> int:
    """The index generation the fleet should serve (0 before the first rebuild)."""
    value = store.get_setting(engine, GENERATION_KEY)
    return int(value) if value else 0


def bump_generation(engine: Engine) -> int:
    """Increment the generation atomically; return the new one."""
    with engine.begin() as connection:
        return int(
            connection.execute(
                sa.text(
                    "INSERT INTO cluster_setting (key, value, updated_at) VALUES (:k, '1', :t) "
                    "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(cluster_setting.value AS INTEGER) + 1 AS VARCHAR), "
                    "updated_at = excluded.updated_at RETURNING value"
                ),
                {"k": GENERATION_KEY, "t": store.utcnow()},
            ).scalar_one()
        )


class FleetSearch(SearchWrapper):
    """A Searcher for one worker of a fleet: one build at a time across the fleet; follows newer generations."""

    def __init__(self, inner: SearchService, engine: Engine, *, index_present: Callable[[], bool]) -> None:
        super().__init__(inner)
        self.engine = engine
        self.index_present = index_present
        self.generation = 0

    async def start(self, *, build_if_missing: bool = True) -> None:
        """Load the shared index (the first worker on an empty store builds it, the others wait)."""
        self.generation = await asyncio.to_thread(read_generation, self.engine)
        if self.index_present():
            await self.inner.start(build_if_missing=build_if_missing)
            return
        await self._locked(lambda: self.inner.start(build_if_missing=build_if_missing))

    async def rebuild(self) -> BuildReport:
        """Build once for the fleet (advisory lock), then announce the new generation."""
        report = await self._locked(self.inner.rebuild)
        self.generation = await asyncio.to_thread(bump_generation, self.engine)
        log.info("index generation %d built here", self.generation)
        return report

    async def follow(self) -> bool:
        """Load the index again when the fleet moved to a newer generation; True when it did."""
        current = await asyncio.to_thread(read_generation, self.engine)
        if current <= self.generation:
            return False
        await self.inner.start(build_if_missing=False)
        self.generation = current
        log.info("now answering from index generation %d", current)
        return True

    async def _locked(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` while holding the fleet's build lock (a session lock on a dedicated connection)."""
        connection = await asyncio.to_thread(self.engine.connect)
        try:
            await asyncio.to_thread(_execute, connection, "SELECT pg_advisory_lock(:k)")
            try:
                return await work()
            finally:
                await asyncio.to_thread(_execute, connection, "SELECT pg_advisory_unlock(:k)")
        finally:
            await asyncio.to_thread(connection.close)


def _execute(connection: Any, sql: str) -> None:
    """Run one lock statement and commit (worker thread)."""
    connection.execute(sa.text(sql), {"k": BUILD_LOCK})
    connection.commit()
