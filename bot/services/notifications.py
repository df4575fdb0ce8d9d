"""Messages for residents, and the outbox the bot drains for changes made outside it (e.g. the CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import OutboxNotification, Resident, utcnow
from bot.services._base import guarded


@dataclass(frozen=True)
class Notification:
    """A message the transport should send to a resident's chat."""

    chat_id: int
    text: str


def queue_notification(session: Session, resident_id: int, notification: Notification) -> None:
    """Add a notification to the outbox within the caller's transaction."""
    session.add(
        OutboxNotification(
            resident_id=resident_id, chat_id=notification.chat_id, text=notification.text, created_at=utcnow()
        )
    )


def queue_notification_text(session: Session, resident_id: int, text: str) -> None:
    """Queue `text` for a resident within the caller's transaction (nothing when no chat is on file)."""
    chat_id = session.execute(sa.select(col(Resident.chat_id)).where(col(Resident.id) == resident_id)).scalar()
    if chat_id is not None:
        queue_notification(session, resident_id, Notification(chat_id, text))


@guarded
def take_pending_notifications(*, session: Session, limit: int = 50) -> list[Notification]:
    """Remove and return the oldest queued notifications; a sender whose delivery fails puts them back
    with `requeue_notifications` (so a network failure loses nothing)."""
    stmt = (
        sa.select(OutboxNotification)
        .order_by(col(OutboxNotification.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(stmt).scalars().all()
    taken = [Notification(r.chat_id, r.text) for r in rows]
    if rows:
        ids = [r.id for r in rows]
        session.execute(sa.delete(OutboxNotification).where(col(OutboxNotification.id).in_(ids)))
    session.commit()
    return taken


def drop_notifications_of(session: Session, resident_id: int) -> int:
    """Delete a resident's queued notifications (erasure); returns how many."""
    result = session.execute(
        sa.delete(OutboxNotification).where(col(OutboxNotification.resident_id) == resident_id)
    )
    return int(result.rowcount) if isinstance(result, sa.CursorResult) else 0


@guarded
def requeue_notifications(*, session: Session, notifications: Sequence[Notification]) -> int:
    """Put taken notifications back in the outbox (failed delivery); returns how many.

    A notification whose chat no longer belongs to a resident (erased meanwhile) is dropped, not queued.
    """
    queued = 0
    for notification in notifications:
        resident_id = session.execute(
            sa.select(col(Resident.id))
            .where(col(Resident.chat_id) == notification.chat_id, col(Resident.erased_at).is_(None))
            .order_by(col(Resident.id))
            .limit(1)
        ).scalar_one_or_none()
        if resident_id is not None:
            queue_notification(session, resident_id, notification)
            queued += 1
    session.commit()
    return queued
