"""Prometheus metrics of an ingress or worker process (prometheus-client), served on /metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from bot.scale.wrapping import SearchWrapper

if TYPE_CHECKING:

    from bot.search.models import Answer

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


class MeteredSearch(SearchWrapper):
    """A Searcher that counts answers and abstentions (the bot's handlers stay unaware)."""

    async def ask(self, question: str, top_k: int | None = None) -> Answer:
        """Answer, counting an answer or an abstention."""
        answer = await self.inner.ask(question, top_k)
        answered = answer.staff is not None or (not answer.abstained and bool(answer.passages))
        (ANSWERS if answered else ABSTENTIONS).inc()
        return answer
