"""Plain data objects of the search layer (no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.search.faq import FaqHit


@dataclass(frozen=True)
class Document:
    """A loaded source document: normalised text plus its metadata."""

    source: str
    title: str
    text: str
    content_hash: str


@dataclass(frozen=True)
class Chunk:
    """A passage of a document as stored in the index."""

    text: str
    title: str
    source: str
    position: int
    clauses: tuple[tuple[int, int], ...] = field(default=())  # (start, end) character spans in text


@dataclass(frozen=True)
class Passage:
    """A retrieved passage with its fused score."""

    text: str
    title: str
    source: str
    score: float
    position: int


@dataclass(frozen=True)
class Answer:
    """The reply to a question: an extractive answer or an abstention, with passages best first."""

    question: str
    abstained: bool
    answer: str
    passages: list[Passage]
    highlight: str | None = None  # the answering sentence, an exact substring of passages[0].text
    language: str = "vi"  # the question's language ("vi" or "en"); replies stay in Vietnamese
    intent: str | None = None  # small talk or a question about the bot (intents.py): no passage is given
    staff: FaqHit | None = None  # a staff answer (FAQ) matched the question: it is the reply, not the passages


@dataclass(frozen=True)
class BuildReport:
    """Summary of an index build."""

    documents: int
    passages: int
    seconds: float
    skipped: list[tuple[str, str]]
    reused: int
    embedded: int = 0
