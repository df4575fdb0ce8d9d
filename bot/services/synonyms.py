"""Admins' everyday ↔ formal wording pairs, used by the search beside the shipped synonyms.txt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import SynonymRule, utcnow
from bot.services._base import guarded
from bot.services.audit import AuditAction, record_audit
from bot.services.errors import InvalidInputError, NotFoundError
from bot.services.roles import Actor, Role
from bot.text import plain_syllables

MAX_PHRASE = 200
RESERVED = ("=", "|", "#")  # separators of the synonyms.txt table format


@dataclass(frozen=True)
class SynonymView:
    """One admin rule: residents' everyday wording and the documents' formal wording."""

    id: int
    everyday: str
    formal: str
    created_by: str
    created_at: datetime


def _phrase(text: str, what: str) -> str:
    """A clean phrase, or InvalidInputError (blank, too long, table separators, no letters)."""
    value = " ".join(text.split())
    if not value:
        raise InvalidInputError(f"{what} không được để trống.")
    if len(value) > MAX_PHRASE:
        raise InvalidInputError(f"{what} quá dài (tối đa {MAX_PHRASE} ký tự).")
    if any(mark in value for mark in RESERVED):
        raise InvalidInputError(f"{what} không được chứa các ký tự = | #.")
    if not plain_syllables(value):
        raise InvalidInputError(f"{what} phải có chữ.")
    return value


def _view(row: SynonymRule) -> SynonymView:
    """The frozen view of a row."""
    return SynonymView(row.id or 0, row.everyday, row.formal, row.created_by, row.created_at)


@guarded
def add_synonym(*, session: Session, actor: Actor, everyday: str, formal: str) -> SynonymView:
    """Add a rule «everyday = formal» (InvalidInputError when it exists or both sides are the same)."""
    actor.require(Role.ADMIN)
    everyday, formal = _phrase(everyday, "Cách nói thường ngày").lower(), _phrase(formal, "Cách nói trong văn bản")
    if plain_syllables(everyday) == plain_syllables(formal):
        raise InvalidInputError("Hai cách nói giống nhau, không cần thêm.")
    existing = session.execute(
        sa.select(SynonymRule).where(col(SynonymRule.everyday) == everyday, col(SynonymRule.formal) == formal)
    ).scalar_one_or_none()
    if existing is not None:
        raise InvalidInputError(f"Đã có từ đồng nghĩa này (số {existing.id}).")
    row = SynonymRule(everyday=everyday, formal=formal, created_by=actor.label, created_at=utcnow())
    session.add(row)
    session.flush()
    record_audit(
        session=session, actor=actor, action=AuditAction.SYNONYM_ADD, target=f"synonym:{row.id}",
        details={"everyday": everyday, "formal": formal},
    )
    session.commit()
    return _view(row)


@guarded
def list_synonyms(*, session: Session) -> list[SynonymView]:
    """Every admin rule, oldest first."""
    rows = session.execute(sa.select(SynonymRule).order_by(col(SynonymRule.id))).scalars().all()
    return [_view(row) for row in rows]


@guarded
def remove_synonym(*, session: Session, actor: Actor, rule_id: int) -> SynonymView:
    """Delete a rule (NotFoundError when there is none with this number)."""
    actor.require(Role.ADMIN)
    row = session.get(SynonymRule, rule_id)
    if row is None:
        raise NotFoundError(f"Không có từ đồng nghĩa số {rule_id}.")
    view = _view(row)
    session.delete(row)
    record_audit(session=session, actor=actor, action=AuditAction.SYNONYM_REMOVE, target=f"synonym:{rule_id}")
    session.commit()
    return view
