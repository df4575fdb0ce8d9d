"""Prometheus metrics of an ingress or worker process (prometheus-client), served on /metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    import numpy as np

    from bot.search.faq import FaqEntry, FaqHit
    from bot.search.models import Answer, BuildReport
    from bot.telegram.deps import Searcher

UPDATES_ENQUEUED = Counter("citizenbot_updates_enqueued_total", "Updates the ingress put in the queue")
UPDATES_REPLAYED = Counter("citizenbot_updates_replayed_total", "Replayed updates the ingress did not enqueue again")
UPDATES_HANDLED = Counter("citizenbot_updates_handled_total", "Updates a worker handled")
UPDATE_SECONDS = Histogram(
    "citizenbot_update_seconds", "Time a worker took to handle one update",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ERRORS = Counter("citizenbot_errors_total", "Errors raised while handling updates or background jobs", ["where"])
ANSWERS = Counter("citizenbot_answers_total", "Questions answered from the documents")
ABSTENTIONS = Counter("citizenbot_abstentions_total", "Questions the documents did not cover (honest 'I don't know')")
QUEUE_DEPTH = Gauge("citizenbot_queue_depth", "Updates waiting in the queue")
OLDEST_WAITING = Gauge("citizenbot_oldest_waiting_seconds", "Age of the oldest update waiting in the queue")
INDEX_GENERATION = Gauge("citizenbot_index_generation", "Index generation this worker answers from")


class MeteredSearch:
    """A Searcher that counts answers and abstentions (the bot's handlers stay unaware)."""

    def __init__(self, inner: Searcher) -> None:
        self.inner = inner

    async def start(self, *, build_if_missing: bool = True) -> None:
        """Start the wrapped service."""
        await self.inner.start(build_if_missing=build_if_missing)

    async def close(self) -> None:
        """Close the wrapped service."""
        await self.inner.close()

    async def ask(self, question: str, top_k: int | None = None) -> Answer:
        """Answer, counting an answer or an abstention."""
        answer = await self.inner.ask(question, top_k)
        (ABSTENTIONS if answer.abstained or not answer.passages else ANSWERS).inc()
        return answer

    async def rebuild(self) -> BuildReport:
        """Rebuild through the wrapped service."""
        return await self.inner.rebuild()

    async def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors from the wrapped service."""
        return await self.inner.embed_queries(texts)

    async def set_faq(self, entries: Sequence[FaqEntry]) -> None:
        """Give the staff answers to the wrapped service."""
        await self.inner.set_faq(entries)

    async def match_faq(self, question: str) -> FaqHit | None:
        """A staff answer matching the question, from the wrapped service."""
        return await self.inner.match_faq(question)

    def set_extra_synonyms(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Give the admins' synonyms to the wrapped service."""
        self.inner.set_extra_synonyms(pairs)
