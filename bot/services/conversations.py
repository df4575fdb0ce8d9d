"""Where residents are in multi-step flows (/gopy, /taokhaosat) and their drafts, shared by every process.

Keys are pseudonymous: a conversation is keyed by an HMAC of its chat and user ids and owned by the
user's pseudonym (so erasure finds it); the chat id needed to say "this flow ended" is kept sealed.
A step older than the inactivity timeout is over: whoever deletes it first (the periodic sweep, or
the resident's next update) tells the resident, so they are told once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import ConversationState, UserDraft
from bot.services._base import guarded, now_utc, table_of, upsert


@dataclass(frozen=True)
class EndedFlow:
    """A flow ended for inactivity: its name, owner and the sealed chat to tell."""

    name: str
    owner: str
    address: str | None


@dataclass(frozen=True)
class FlowSteps:
    """The live steps of one conversation key, by flow name, and the flows whose step has expired."""

    states: dict[str, Any]
    expired: tuple[str, ...]


@guarded
def load_steps(
    *, session: Session, key: str, names: Sequence[str], timeout: float, now: datetime | None = None
) -> FlowSteps:
    """The current step of each flow for this key (a read: works in a read-only session)."""
    cutoff = now_utc(now) - timedelta(seconds=timeout)
    rows = session.execute(
        sa.select(ConversationState).where(
            col(ConversationState.key) == key, col(ConversationState.name).in_(list(names))
        )
    ).scalars().all()
    session.commit()
    live = {r.name: r.state for r in rows if r.updated_at > cutoff}
    return FlowSteps(live, tuple(r.name for r in rows if r.name not in live))


@guarded
def end_expired(
    *, session: Session, key: str, names: Sequence[str], timeout: float, now: datetime | None = None
) -> list[EndedFlow]:
    """End this key's steps older than the timeout; returns those this call ended (so they are told once)."""
    cutoff = now_utc(now) - timedelta(seconds=timeout)
    rows = session.execute(
        sa.select(ConversationState).where(
            col(ConversationState.key) == key,
            col(ConversationState.name).in_(list(names)),
            col(ConversationState.updated_at) <= cutoff,
        )
    ).scalars().all()
    ended = [e for e in (_end(session, r) for r in rows) if e is not None]
    session.commit()
    return ended


def _end(session: Session, row: ConversationState) -> EndedFlow | None:
    """Delete an expired step and its draft; None when another process ended it first."""
    result = session.execute(
        sa.delete(ConversationState).where(
            col(ConversationState.name) == row.name,
            col(ConversationState.key) == row.key,
            col(ConversationState.updated_at) == row.updated_at,
        )
    )
    if not (isinstance(result, sa.CursorResult) and result.rowcount):
        return None
    _drop_draft_key(session, row.owner, row.name)
    return EndedFlow(row.name, row.owner, row.address)


def _drop_draft_key(session: Session, owner: str, name: str) -> None:
    """Remove one flow's draft from the owner's drafts."""
    draft = session.get(UserDraft, owner)
    if draft is None or name not in draft.data:
        return
    data = {k: v for k, v in draft.data.items() if k != name}
    if data:
        draft.data = data
    else:
        session.delete(draft)


@guarded
def save_step(
    *, session: Session, name: str, key: str, owner: str, state: Any, address: str | None, now: datetime | None = None
) -> None:
    """Record the flow's new step (None ends the flow)."""
    if state is None:
        session.execute(
            sa.delete(ConversationState).where(col(ConversationState.name) == name, col(ConversationState.key) == key)
        )
    else:
        stamp = now_utc(now)
        values = {"name": name, "key": key, "owner": owner, "state": state, "address": address, "updated_at": stamp}
        upsert(session, table_of(ConversationState), values, ["name", "key"], {"state": state, "address": address, "updated_at": stamp})
    session.commit()


@guarded
def expire_steps(*, session: Session, timeout: float, limit: int = 100, now: datetime | None = None) -> list[EndedFlow]:
    """End every step idle for longer than `timeout` seconds; returns those this call ended."""
    cutoff = now_utc(now) - timedelta(seconds=timeout)
    rows = session.execute(
        sa.select(ConversationState)
        .where(col(ConversationState.updated_at) <= cutoff)
        .order_by(col(ConversationState.updated_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).scalars().all()
    ended = [e for e in (_end(session, r) for r in rows) if e is not None]
    session.commit()
    return ended


@guarded
def load_draft(*, session: Session, owner: str) -> dict[str, Any]:
    """The owner's drafts (empty when none)."""
    row = session.get(UserDraft, owner)
    return dict(row.data) if row is not None else {}


@guarded
def save_draft(*, session: Session, owner: str, data: dict[str, Any], now: datetime | None = None) -> None:
    """Store the owner's drafts; an empty dict deletes them."""
    if not data:
        session.execute(sa.delete(UserDraft).where(col(UserDraft.owner) == owner))
    else:
        stamp = now_utc(now)
        values = {"owner": owner, "data": data, "updated_at": stamp}
        upsert(session, table_of(UserDraft), values, ["owner"], {"data": data, "updated_at": stamp})
    session.commit()
