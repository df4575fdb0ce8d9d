"""Roles (admin, officer) held by Telegram user ids, and the Actor passed to privileged services."""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import RoleAssignment, utcnow
from bot.services._base import guarded, insert_ignore, table_of
from bot.services.audit import AuditAction, record_audit
from bot.services.errors import InvalidInputError, PermissionDeniedError


class Role(StrEnum):
    """Staff roles; admin can do everything an officer can."""

    ADMIN = "admin"
    OFFICER = "officer"


ROLE_LABELS = {Role.ADMIN: "quản trị viên", Role.OFFICER: "cán bộ"}


@dataclass(frozen=True)
class Actor:
    """Who performs a privileged action: a label for the audit log and the role they hold."""

    label: str
    role: Role | None

    def require(self, *roles: Role) -> None:
        """Raise PermissionDeniedError unless the actor holds one of `roles` (admin always passes)."""
        if self.role is Role.ADMIN or (self.role is not None and self.role in roles):
            return
        raise PermissionDeniedError()


@dataclass(frozen=True)
class RoleView:
    """A role assignment."""

    telegram_id: int
    role: Role
    granted_by: str
    granted_at: datetime


def cli_actor() -> Actor:
    """The command-line operator: an admin, audited as cli:<OS user>."""
    return Actor(label=f"cli:{getpass.getuser()}", role=Role.ADMIN)


@guarded
def role_of(*, session: Session, telegram_id: int) -> Role | None:
    """The highest role held by a Telegram user, or None."""
    stmt = sa.select(col(RoleAssignment.role)).where(col(RoleAssignment.telegram_id) == telegram_id)
    held = set(session.execute(stmt).scalars())
    if Role.ADMIN.value in held:
        return Role.ADMIN
    return Role.OFFICER if Role.OFFICER.value in held else None


def actor_for(*, session: Session, telegram_id: int) -> Actor:
    """The Actor for a Telegram user (role None for residents)."""
    return Actor(label=f"tg:{telegram_id}", role=role_of(session=session, telegram_id=telegram_id))


@guarded
def bootstrap_roles(*, session: Session, admin_ids: Iterable[int], officer_ids: Iterable[int]) -> int:
    """Seed an EMPTY role table from ADMIN_IDS / OFFICER_IDS; returns how many were added.

    Once any role exists, the database is the only authority: the settings never re-grant a role that
    was revoked (grant and revoke with `citizenbot role` or as an admin).
    """
    if session.execute(sa.select(col(RoleAssignment.id)).limit(1)).first() is not None:
        session.commit()
        return 0
    added = 0
    for role, ids in ((Role.ADMIN, admin_ids), (Role.OFFICER, officer_ids)):
        for telegram_id in dict.fromkeys(ids):
            values = {"telegram_id": telegram_id, "role": role.value, "granted_by": "env", "granted_at": utcnow()}
            insert_ignore(session, table_of(RoleAssignment), values, ["telegram_id", "role"])
            added += 1
    session.commit()
    return added


def _holds(session: Session, telegram_id: int, role: Role) -> bool:
    """Whether the user holds exactly this role."""
    stmt = sa.select(col(RoleAssignment.id)).where(
        col(RoleAssignment.telegram_id) == telegram_id, col(RoleAssignment.role) == role.value
    )
    return session.execute(stmt).first() is not None


def parse_role(value: str) -> Role:
    """A Role from 'admin'/'officer' (InvalidInputError otherwise)."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InvalidInputError(f"Vai trò không hợp lệ: {value!r} (chọn admin hoặc officer).") from None


@guarded
def grant_role(*, session: Session, telegram_id: int, role: Role, actor: Actor) -> bool:
    """Grant a role (admins only); False when already held. Audited."""
    actor.require(Role.ADMIN)
    _check_id(telegram_id)
    if _holds(session, telegram_id, role):
        return False
    session.add(
        RoleAssignment(telegram_id=telegram_id, role=role.value, granted_by=actor.label, granted_at=utcnow())
    )
    record_audit(
        session=session,
        actor=actor,
        action=AuditAction.ROLE_GRANT,
        target=f"tg:{telegram_id}",
        details={"role": role.value},
    )
    session.commit()
    return True


@guarded
def revoke_role(*, session: Session, telegram_id: int, role: Role, actor: Actor) -> bool:
    """Revoke a role (admins only); False when not held; the last admin cannot be removed. Audited."""
    actor.require(Role.ADMIN)
    if role is Role.ADMIN:
        _lock_admins(session)
    if not _holds(session, telegram_id, role):
        return False
    if role is Role.ADMIN and _admin_count(session) <= 1:
        raise InvalidInputError("Không thể thu hồi quyền của quản trị viên cuối cùng.")
    session.execute(
        sa.delete(RoleAssignment).where(
            col(RoleAssignment.telegram_id) == telegram_id, col(RoleAssignment.role) == role.value
        )
    )
    record_audit(
        session=session,
        actor=actor,
        action=AuditAction.ROLE_REVOKE,
        target=f"tg:{telegram_id}",
        details={"role": role.value},
    )
    session.commit()
    return True


def _lock_admins(session: Session) -> None:
    """Lock the admin rows (PostgreSQL), so concurrent revocations are counted one after the other;
    SQLite writers are already serialised by BEGIN IMMEDIATE."""
    session.execute(
        sa.select(col(RoleAssignment.id)).where(col(RoleAssignment.role) == Role.ADMIN.value).with_for_update()
    ).all()


def _admin_count(session: Session) -> int:
    """How many distinct users are admins."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(RoleAssignment)
        .where(col(RoleAssignment.role) == Role.ADMIN.value)
    )
    return int(session.execute(stmt).scalar_one())


def _check_id(telegram_id: int) -> None:
    """Telegram user ids are positive."""
    if telegram_id <= 0:
        raise InvalidInputError("Mã người dùng Telegram phải là số nguyên dương.")


@guarded
def list_roles(*, session: Session) -> list[RoleView]:
    """Every role assignment, by user id."""
    stmt = sa.select(RoleAssignment).order_by(col(RoleAssignment.telegram_id), col(RoleAssignment.role))
    return [
        RoleView(r.telegram_id, Role(r.role), r.granted_by, r.granted_at)
        for r in session.execute(stmt).scalars()
    ]
