"""A Searcher that hands every call to another one: the base of the fleet's search wrappers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from bot.search.faq import FaqEntry
    from bot.search.models import Answer, BuildReport
    from bot.telegram.deps import Searcher


class SearchWrapper:
    """Forwards the Searcher interface to `inner`; subclasses override what they add to."""

    def __init__(self, inner: Searcher) -> None:
        self.inner = inner

    async def start(self, *, build_if_missing: bool = True) -> None:
        """Start the wrapped service."""
        await self.inner.start(build_if_missing=build_if_missing)

    async def close(self) -> None:
        """Close the wrapped service."""
        await self.inner.close()

    async def ask(self, question: str, top_k: int | None = None) -> Answer:
        """Answer through the wrapped service."""
        return await self.inner.ask(question, top_k)

    async def rebuild(self) -> BuildReport:
        """Rebuild through the wrapped service."""
        return await self.inner.rebuild()

    async def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors from the wrapped service."""
        return await self.inner.embed_queries(texts)

    async def set_faq(self, entries: Sequence[FaqEntry]) -> None:
        """Give the staff answers to the wrapped service."""
        await self.inner.set_faq(entries)


    def set_extra_synonyms(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Give the admins' synonyms to the wrapped service."""
        self.inner.set_extra_synonyms(pairs)
