"""Audit log: who exported or changed what, when. Never stores erased personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import AuditLog, utcnow
from bot.services._base import guarded

if TYPE_CHECKING:
    from bot.services.roles import Actor


class AuditAction(StrEnum):
    """The actions that are audited."""

    EXPORT = "export"
    ROLE_GRANT = "role_grant"
    ROLE_REVOKE = "role_revoke"
    STATUS_CHANGE = "status_change"
    POLL_CREATE = "poll_create"
    POLL_CLOSE = "poll_close"
    ERASURE = "erasure"
    FAQ_ADD = "faq_add"
    FAQ_REMOVE = "faq_remove"
    SYNONYM_ADD = "synonym_add"
    SYNONYM_REMOVE = "synonym_remove"


@dataclass(frozen=True)
class AuditEntry:
    """One audit row."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


def record_audit(
    *,
    session: Session,
    actor: Actor | str,
    action: AuditAction | str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the session's transaction (the caller commits with its own write)."""
    label = actor if isinstance(actor, str) else actor.label
    session.add(AuditLog(at=utcnow(), actor=label, action=str(action), target=target, details=details or {}))


@guarded
def list_audit(
    *, session: Session, limit: int = 100, action: AuditAction | str | None = None
) -> list[AuditEntry]:
    """The newest audit rows first."""
    stmt = sa.select(AuditLog).order_by(col(AuditLog.id).desc()).limit(limit)
    if action is not None:
        stmt = stmt.where(col(AuditLog.action) == str(action))
    rows = session.execute(stmt).scalars().all()
    return [AuditEntry(r.id or 0, r.at, r.actor, r.action, r.target, dict(r.details)) for r in rows]
