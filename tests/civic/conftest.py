"""Fixtures of the civic tests: a migrated database on each backend, sessions, residents with consent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db.engine import make_engine, session_scope, upgrade
from bot.services import residents
from bot.services.addresses import AddressBook
from bot.services.residents import Pseudonymizer, Purpose
from bot.services.roles import Actor, Role

POLICY = "2026-01"
ADMIN = Actor(label="cli:test", role=Role.ADMIN)
OFFICER = Actor(label="tg:900", role=Role.OFFICER)
RESIDENT_ACTOR = Actor(label="tg:901", role=None)
WARD_A = "Phường Hoàn Kiếm"
WARD_B = "Phường Ba Đình"
NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A database migrated to head."""
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated database."""
    with session_scope(engine) as s:
        yield s


SECRET = b"test-secret-0123456789abcdef"


@pytest.fixture
def pseudo() -> Pseudonymizer:
    """A pseudonymizer with a fixed test secret."""
    return Pseudonymizer(SECRET)


@pytest.fixture
def book() -> AddressBook:
    """The address sealer of the same test secret."""
    return AddressBook(SECRET)


MakeResident = Callable[..., str]


@pytest.fixture
def make_resident(session: Session, pseudo: Pseudonymizer, book: AddressBook) -> MakeResident:
    """Create a resident with a ward and consents (the notifications consent leaves the sealed chat id,
    = the Telegram id); returns the pseudonym."""

    def make(
        telegram_id: int, *, ward: str | None = WARD_A, purposes: tuple[Purpose, ...] = tuple(Purpose)
    ) -> str:
        key = pseudo(telegram_id)
        residents.ensure_resident(session=session, pseudonym=key)
        if ward is not None:
            residents.set_ward(session=session, pseudonym=key, ward=ward)
        for purpose in purposes:
            address = book.seal(telegram_id) if purpose is Purpose.NOTIFICATIONS else None
            residents.grant_consent(
                session=session, pseudonym=key, purpose=purpose, policy_version=POLICY, address=address
            )
        return key

    return make
