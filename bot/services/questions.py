"""Questions the retriever abstained on, counted by normalised text, for admins to see what is missing."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from bot.db.models import UnansweredQuestion, utcnow
from bot.services._base import guarded, table_of, upsert
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


@guarded
def record_unanswered(*, session: Session, text: str) -> int:
    """Count one more ask of this question; returns its count."""
    key = question_key(text)
    if not key:
        raise InvalidInputError("Câu hỏi trống.")
    shown = " ".join(unicodedata.normalize("NFC", text).split())[:MAX_TEXT]
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
