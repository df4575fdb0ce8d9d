"""Questions the retriever abstained on, and anonymous ratings of answers, counted by normalised text.

Admins see both: what the documents do not cover, and answers residents found unhelpful.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from bot.db.models import AnswerRating, UnansweredQuestion, utcnow
from bot.services._base import check_key, commit_once, guarded, replayed, table_of, upsert
from bot.services.errors import InvalidInputError

MAX_KEY, MAX_TEXT = 500, 1000


@dataclass(frozen=True)
class UnansweredView:
    """A question and how often it was asked."""

    text: str
    count: int
    first_seen: datetime
    last_seen: datetime


def question_key(text: str) -> str:
    """NFC, lowercase, punctuation dropped, single spaces: 'Giá vàng hôm nay?' == 'giá vàng  hôm nay'."""
    lowered = unicodedata.normalize("NFC", text).lower()
    return " ".join(re.sub(r"[^\w\s]", " ", lowered).split())[:MAX_KEY]


@dataclass(frozen=True)
class RatingView:
    """How residents rated the answers to a question (no resident is recorded)."""

    text: str
    helpful: int
    not_helpful: int
    last_seen: datetime


def _key_and_text(text: str) -> tuple[str, str]:
    """The normalised key and the text as shown; InvalidInputError when blank."""
    key = question_key(text)
    if not key:
        raise InvalidInputError("Câu hỏi trống.")
    return key, " ".join(unicodedata.normalize("NFC", text).split())[:MAX_TEXT]


@guarded
def record_unanswered(*, session: Session, text: str) -> int:
    """Count one more ask of this question; returns its count."""
    key, shown = _key_and_text(text)
    now = utcnow()
    table = table_of(UnansweredQuestion)
    values = {"key": key, "text": shown, "count": 1, "first_seen": now, "last_seen": now}
    upsert(session, table, values, ["key"], {"count": table.c.count + 1, "last_seen": now})
    count = session.execute(sa.select(table.c.count).where(table.c.key == key)).scalar_one()
    session.commit()
    return int(count)


@guarded
def top_unanswered(*, session: Session, limit: int = 20) -> list[UnansweredView]:
    """The most asked unanswered questions first."""
    table = table_of(UnansweredQuestion)
    stmt = (
        sa.select(table.c.text, table.c.count, table.c.first_seen, table.c.last_seen)
        .order_by(table.c.count.desc(), table.c.last_seen.desc())
        .limit(limit)
    )
    return [UnansweredView(text, count, first, last) for text, count, first, last in session.execute(stmt)]


@guarded
def record_rating(*, session: Session, text: str, helpful: bool, idempotency_key: str | None) -> RatingView:
    """Count one rating of the answer to `text`; a replayed key (same button press) counts once."""
    check_key(idempotency_key)
    key, shown = _key_and_text(text)
    table = table_of(AnswerRating)
    if replayed(session, idempotency_key, "rating") is None:
        now = utcnow()
        column = "helpful" if helpful else "not_helpful"
        values = {"key": key, "text": shown, "helpful": 0, "not_helpful": 0, "first_seen": now, "last_seen": now}
        values[column] = 1
        upsert(session, table, values, ["key"], {column: table.c[column] + 1, "last_seen": now})
        commit_once(session, idempotency_key, "rating", {"key": key})
    row = session.execute(
        sa.select(table.c.text, table.c.helpful, table.c.not_helpful, table.c.last_seen).where(table.c.key == key)
    ).one()
    return RatingView(row[0], row[1], row[2], row[3])


@guarded
def top_unhelpful(*, session: Session, limit: int = 20) -> list[RatingView]:
    """Questions whose answers residents rated not helpful, most 'not helpful' first."""
    table = table_of(AnswerRating)
    stmt = (
        sa.select(table.c.text, table.c.helpful, table.c.not_helpful, table.c.last_seen)
        .where(table.c.not_helpful > 0)
        .order_by(table.c.not_helpful.desc(), table.c.last_seen.desc())
        .limit(limit)
    )
    return [RatingView(text, up, down, last) for text, up, down, last in session.execute(stmt)]
