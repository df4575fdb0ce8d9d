"""Roles: bootstrap from settings, grant/revoke by admins only, audit trail."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.db.engine import session_scope
from bot.db.models import AuditLog
from bot.services import roles
from bot.services.audit import AuditAction, list_audit, record_audit
from bot.services.errors import InvalidInputError, PermissionDeniedError
from bot.services.roles import Role

from .conftest import ADMIN, OFFICER


def test_bootstrap_from_settings_is_idempotent(session: Session) -> None:
    assert roles.bootstrap_roles(session=session, admin_ids=[1], officer_ids=[2, 3]) == 3
    assert roles.bootstrap_roles(session=session, admin_ids=[1], officer_ids=[2, 3]) == 0
    assert roles.role_of(session=session, telegram_id=1) is Role.ADMIN
    assert roles.role_of(session=session, telegram_id=2) is Role.OFFICER
    assert roles.role_of(session=session, telegram_id=4) is None
    assert [(r.telegram_id, r.role, r.granted_by) for r in roles.list_roles(session=session)] == [
        (1, Role.ADMIN, "env"),
        (2, Role.OFFICER, "env"),
        (3, Role.OFFICER, "env"),
    ]


def test_settings_only_seed_an_empty_role_table(session: Session) -> None:
    """Once roles exist, the database decides: a revoked env admin is not re-granted at the next start."""
    roles.bootstrap_roles(session=session, admin_ids=[1, 5], officer_ids=[])
    assert roles.revoke_role(session=session, telegram_id=5, role=Role.ADMIN, actor=ADMIN)
    assert roles.bootstrap_roles(session=session, admin_ids=[1, 5, 6], officer_ids=[7]) == 0
    assert roles.role_of(session=session, telegram_id=5) is None
    assert roles.role_of(session=session, telegram_id=6) is None


def test_concurrent_revocations_never_remove_the_last_admin(engine: Engine) -> None:
    """Two admins revoke each other at the same moment: exactly one revocation succeeds."""
    with session_scope(engine) as session:
        for telegram_id in (21, 22):
            roles.grant_role(session=session, telegram_id=telegram_id, role=Role.ADMIN, actor=ADMIN)
    barrier = threading.Barrier(2)

    def revoke(pair: tuple[int, int]) -> bool:
        me, other = pair
        with session_scope(engine) as session:
            actor = roles.actor_for(session=session, telegram_id=me)
            session.commit()
            barrier.wait()
            try:
                return roles.revoke_role(session=session, telegram_id=other, role=Role.ADMIN, actor=actor)
            except (InvalidInputError, PermissionDeniedError):
                return False

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(revoke, [(21, 22), (22, 21)]))
    with session_scope(engine) as session:
        admins = [r.telegram_id for r in roles.list_roles(session=session) if r.role is Role.ADMIN]
    assert sorted(outcomes) == [False, True] and len(admins) == 1


def test_admin_grants_and_revokes_with_audit(session: Session) -> None:
    assert roles.grant_role(session=session, telegram_id=10, role=Role.OFFICER, actor=ADMIN)
    assert not roles.grant_role(session=session, telegram_id=10, role=Role.OFFICER, actor=ADMIN)
    actor = roles.actor_for(session=session, telegram_id=10)
    assert actor == roles.Actor(label="tg:10", role=Role.OFFICER)
    assert roles.revoke_role(session=session, telegram_id=10, role=Role.OFFICER, actor=ADMIN)
    assert not roles.revoke_role(session=session, telegram_id=10, role=Role.OFFICER, actor=ADMIN)
    assert roles.role_of(session=session, telegram_id=10) is None
    entries = list_audit(session=session)
    assert [(e.action, e.target, e.details["role"], e.actor) for e in entries] == [
        ("role_revoke", "tg:10", "officer", ADMIN.label),
        ("role_grant", "tg:10", "officer", ADMIN.label),
    ]


def test_admin_outranks_officer(session: Session) -> None:
    roles.grant_role(session=session, telegram_id=20, role=Role.OFFICER, actor=ADMIN)
    roles.grant_role(session=session, telegram_id=20, role=Role.ADMIN, actor=ADMIN)
    assert roles.role_of(session=session, telegram_id=20) is Role.ADMIN


def test_only_admins_manage_roles(session: Session) -> None:
    with pytest.raises(PermissionDeniedError):
        roles.grant_role(session=session, telegram_id=30, role=Role.ADMIN, actor=OFFICER)
    assert roles.list_roles(session=session) == []
    assert session.execute(sa.select(AuditLog)).first() is None


def test_last_admin_cannot_be_revoked(session: Session) -> None:
    roles.bootstrap_roles(session=session, admin_ids=[1], officer_ids=[])
    with pytest.raises(InvalidInputError, match="cuối cùng"):
        roles.revoke_role(session=session, telegram_id=1, role=Role.ADMIN, actor=ADMIN)
    roles.grant_role(session=session, telegram_id=2, role=Role.ADMIN, actor=ADMIN)
    assert roles.revoke_role(session=session, telegram_id=1, role=Role.ADMIN, actor=ADMIN)


def test_bad_role_or_id_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInputError):
        roles.parse_role("superuser")
    with pytest.raises(InvalidInputError):
        roles.grant_role(session=session, telegram_id=-5, role=Role.OFFICER, actor=ADMIN)


def test_record_audit_joins_the_callers_transaction(session: Session) -> None:
    record_audit(
        session=session, actor=OFFICER, action=AuditAction.EXPORT, target="xlsx", details={"rows": 3}
    )
    session.rollback()
    assert list_audit(session=session) == []
    record_audit(session=session, actor="cli:alice", action=AuditAction.EXPORT, details={"rows": 3})
    session.commit()
    [entry] = list_audit(session=session, action=AuditAction.EXPORT)
    assert (entry.actor, entry.action, entry.details) == ("cli:alice", "export", {"rows": 3})
    assert (
        session.execute(sa.select(col(AuditLog.at)).where(col(AuditLog.id) == entry.id)).scalar_one()
        == entry.at
    )
