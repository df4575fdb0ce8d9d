"""Questions the retriever abstained on, and anonymous ratings of answers, counted by normalised text.

Admins see both: what the documents do not cover, and answers residents found unhelpful. A question's
text is linked to its asker (unanswered_ask) only when they consented to notifications, so that a staff
answer can reach them later; erasure removes those links and the asks they counted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import AnswerRating, FaqLink, UnansweredAsk, UnansweredQuestion, utcnow
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
def record_unanswered(*, session: Session, text: str, pseudonym: str | None = None) -> int:
    """Count one more ask of this question; returns its count.

    The asker (`pseudonym`) is linked to the question only when they consented to notifications;
    otherwise the ask is counted anonymously.
    """
    key, shown = _key_and_text(text)
    now = utcnow()
    table = table_of(UnansweredQuestion)
    values = {"key": key, "text": shown, "count": 1, "first_seen": now, "last_seen": now}
    upsert(session, table, values, ["key"], {"count": table.c.count + 1, "last_seen": now})
    question_id, count = session.execute(sa.select(table.c.id, table.c.count).where(table.c.key == key)).one()
    resident_id = _notifiable_resident(session, pseudonym)
    if resident_id is not None:
        asks = table_of(UnansweredAsk)
        link = {"question_id": question_id, "resident_id": resident_id, "asks": 1, "last_asked": now}
        update = {"asks": asks.c.asks + 1, "last_asked": now}
        upsert(session, asks, link, ["question_id", "resident_id"], update)
    session.commit()
    return int(count)


def _notifiable_resident(session: Session, pseudonym: str | None) -> int | None:
    """The resident's id when they exist, are not erased and consent to notifications."""
    from bot.services.residents import Purpose, find_resident, has_consent

    if pseudonym is None:
        return None
    row = find_resident(session, pseudonym)
    if row is None or row.erased_at is not None:
        return None
    return row.id if has_consent(session=session, pseudonym=pseudonym, purpose=Purpose.NOTIFICATIONS) else None


def forget_asks(session: Session, resident_id: int) -> int:
    """Erasure, in the caller's transaction: unlink the resident's questions and uncount their asks.

    A question nobody else asked disappears (with its FAQ link); anonymous asks of the others stay counted.
    """
    rows = session.execute(
        sa.select(col(UnansweredAsk.question_id), col(UnansweredAsk.asks)).where(
            col(UnansweredAsk.resident_id) == resident_id
        )
    ).all()
    session.execute(sa.delete(UnansweredAsk).where(col(UnansweredAsk.resident_id) == resident_id))
    table = table_of(UnansweredQuestion)
    for question_id, asks in rows:
        session.execute(sa.update(table).where(table.c.id == question_id).values(count=table.c.count - asks))
    asked = [question_id for question_id, _ in rows]
    emptied = list(session.execute(sa.select(table.c.id).where(table.c.id.in_(asked), table.c.count <= 0)).scalars())
    if emptied:
        session.execute(
            sa.delete(FaqLink).where(col(FaqLink.kind) == "unanswered", col(FaqLink.question_id).in_(emptied))
        )
        session.execute(sa.delete(UnansweredAsk).where(col(UnansweredAsk.question_id).in_(emptied)))
        session.execute(sa.delete(table).where(table.c.id.in_(emptied)))
    return len(rows)


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
