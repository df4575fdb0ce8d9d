"""The notification outbox: every message for a resident is queued here and sent at least once.

A sender claims due rows with a lease (`claim_notifications`), sends them, then deletes them
(`finish_notifications`); rows it could not send now are released for a later try
(`release_notifications`). A sender that dies between claiming and sending loses nothing: its lease
expires and another sender (any bot process) takes the rows. A write that queues with an idempotency
key (`dedupe_key`) queues once however often it is replayed. The outbox holds no chat id: the
resident's sealed address is read at send time, and only residents who consented to notifications
have one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import NotificationAddress, OutboxNotification, Resident, utcnow
from bot.services._base import guarded, insert_ignore, now_utc, table_of

LEASE_SECONDS = 120
RETRY_SECONDS = 30
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Notification:
    """A claimed outbox row: its id, the resident's sealed address (None: nowhere to send) and the text."""

    id: int
    address: str | None
    text: str


def queue_notification(session: Session, resident_id: int, text: str, *, dedupe_key: str | None = None) -> None:
    """Add a message to the outbox within the caller's transaction (once per dedupe key)."""
    now = utcnow()
    if dedupe_key is None:
        session.add(OutboxNotification(resident_id=resident_id, text=text, attempts=0, created_at=now))
        return
    values = {"resident_id": resident_id, "text": text, "attempts": 0, "created_at": now, "dedupe_key": dedupe_key}
    insert_ignore(session, table_of(OutboxNotification), values, ["dedupe_key"])


def queue_notification_text(session: Session, resident_id: int, text: str) -> None:
    """Queue a message for a resident (no dedupe key)."""
    queue_notification(session, resident_id, text)


def reachable(session: Session, resident_id: int) -> bool:
    """Whether the resident left an address for notifications (and was not erased)."""
    stmt = (
        sa.select(col(NotificationAddress.resident_id))
        .join(Resident, col(Resident.id) == col(NotificationAddress.resident_id))
        .where(col(NotificationAddress.resident_id) == resident_id, col(Resident.erased_at).is_(None))
    )
    return session.execute(stmt).first() is not None


@guarded
def claim_notifications(
    *,
    session: Session,
    limit: int = 50,
    ids: Sequence[int] | None = None,
    lease_seconds: float = LEASE_SECONDS,
    now: datetime | None = None,
) -> list[Notification]:
    """Lease the oldest due notifications (or those of `ids`), with their sealed addresses."""
    current = now_utc(now)
    due = sa.or_(col(OutboxNotification.claimed_until).is_(None), col(OutboxNotification.claimed_until) <= current)
    stmt = sa.select(OutboxNotification).where(due).order_by(col(OutboxNotification.id)).limit(limit)
    if ids is not None:
        stmt = stmt.where(col(OutboxNotification.id).in_(list(ids)))
    rows = session.execute(stmt.with_for_update(skip_locked=True)).scalars().all()
    if not rows:
        session.commit()
        return []
    until = current + timedelta(seconds=lease_seconds)
    claimed = [r.id or 0 for r in rows]
    session.execute(
        sa.update(OutboxNotification)
        .where(col(OutboxNotification.id).in_(claimed))
        .values(claimed_until=until, attempts=col(OutboxNotification.attempts) + 1)
    )
    addresses = dict(
        session.execute(
            sa.select(col(NotificationAddress.resident_id), col(NotificationAddress.sealed)).where(
                col(NotificationAddress.resident_id).in_({r.resident_id for r in rows})
            )
        ).all()
    )
    taken = [Notification(r.id or 0, addresses.get(r.resident_id), r.text) for r in rows]
    session.commit()
    return taken


@guarded
def finish_notifications(*, session: Session, ids: Sequence[int]) -> int:
    """Delete notifications that were sent (or can never be: no address, blocked bot); returns how many."""
    if not ids:
        return 0
    result = session.execute(sa.delete(OutboxNotification).where(col(OutboxNotification.id).in_(list(ids))))
    session.commit()
    return int(result.rowcount) if isinstance(result, sa.CursorResult) else 0


@guarded
def release_notifications(
    *, session: Session, ids: Sequence[int], retry_in: float = RETRY_SECONDS, now: datetime | None = None
) -> int:
    """Give claimed notifications back for a later try (network trouble, flood limit); the ones that
    failed MAX_ATTEMPTS times are dropped. Returns how many stay queued."""
    if not ids:
        return 0
    table = OutboxNotification
    session.execute(sa.delete(table).where(col(table.id).in_(list(ids)), col(table.attempts) >= MAX_ATTEMPTS))
    result = session.execute(
        sa.update(table)
        .where(col(table.id).in_(list(ids)))
        .values(claimed_until=now_utc(now) + timedelta(seconds=retry_in))
    )
    session.commit()
    return int(result.rowcount) if isinstance(result, sa.CursorResult) else 0


@guarded
def pending_count(*, session: Session) -> int:
    """How many notifications wait in the outbox."""
    return int(session.execute(sa.select(sa.func.count()).select_from(OutboxNotification)).scalar_one())


def drop_notifications_of(session: Session, resident_id: int) -> int:
    """Delete a resident's queued notifications (erasure); returns how many."""
    result = session.execute(
        sa.delete(OutboxNotification).where(col(OutboxNotification.resident_id) == resident_id)
    )
    return int(result.rowcount) if isinstance(result, sa.CursorResult) else 0
