"""Residents: pseudonyms and their secret, wards, consent with proof, erasure."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlmodel import Session, col

from bot.config import Settings
from bot.db.models import AuditLog, Consent, Feedback, Resident
from bot.services import feedback, residents
from bot.services.errors import InvalidInputError
from bot.services.residents import Pseudonymizer, Purpose, load_pseudonymizer
from bot.services.wards import normalize_ward

from .conftest import ADMIN, POLICY, WARD_A, MakeResident


def test_pseudonym_is_stable_secret_dependent_and_hides_the_id() -> None:
    one, other = Pseudonymizer(b"k" * 32), Pseudonymizer(b"j" * 32)
    assert one(123456789) == one(123456789)
    assert one(123456789) != one(123456780) and one(123456789) != other(123456789)
    assert len(one(1)) == 64 and "123456789" not in one(123456789)


def test_secret_is_generated_once_with_private_permissions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_pseudonymizer(settings)(42)
    secret_file = tmp_path / "data" / "pseudonym.secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert load_pseudonymizer(Settings(data_dir=tmp_path / "data"))(42) == first


def test_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, pseudonym_secret=SecretStr("a-configured-secret-value"))
    assert load_pseudonymizer(settings)(42) == Pseudonymizer(b"a-configured-secret-value")(42)
    assert not (tmp_path / "pseudonym.secret").exists()


@pytest.mark.parametrize(
    ("typed", "ward", "verified"),
    [
        ("Phường Hoàn Kiếm", WARD_A, True),
        ("hoan kiem", WARD_A, True),
        ("Phường Phúc Xá, Quận Ba Đình, Thành phố Hà Nội", "Phường Hồng Hà", True),
        ("Phuc Xa, Ba Dinh", "Phường Hồng Hà", True),
        ("Bát Tràng, Gia Lâm", "Xã Bát Tràng", True),
        ("Tổ 5 khu tập thể", "Tổ 5 khu tập thể", False),
    ],
)
def test_ward_input_is_normalised_or_flagged(typed: str, ward: str, verified: bool) -> None:
    result = normalize_ward(typed)
    assert (result.ward, result.verified, result.typed) == (ward, verified, typed)


def test_set_ward_stores_the_current_unit(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(1, ward=None)
    residents.set_ward(session=session, pseudonym=key, ward="Phường Phúc Xá, Quận Ba Đình")
    info = residents.get_resident(session=session, pseudonym=key)
    assert info is not None and (info.ward, info.ward_verified) == ("Phường Hồng Hà", True)
    residents.set_ward(session=session, pseudonym=key, ward="Xóm Chùa")
    info = residents.get_resident(session=session, pseudonym=key)
    assert info is not None and (info.ward, info.ward_verified) == ("Xóm Chùa", False)
    with pytest.raises(InvalidInputError):
        residents.set_ward(session=session, pseudonym=key, ward="  ,  ")


def test_ensure_resident_is_idempotent_and_updates_chat(session: Session, pseudo: Pseudonymizer) -> None:
    key = pseudo(77)
    first = residents.ensure_resident(session=session, pseudonym=key, chat_id=77)
    again = residents.ensure_resident(session=session, pseudonym=key, chat_id=78, language="en")
    assert first.id == again.id and (again.chat_id, again.language) == (78, "en")
    assert session.execute(sa.select(sa.func.count()).select_from(Resident)).scalar_one() == 1
    with pytest.raises(InvalidInputError):
        residents.ensure_resident(session=session, pseudonym=key, language="fr")
    with pytest.raises(InvalidInputError):
        residents.ensure_resident(session=session, pseudonym="123")


def test_consent_keeps_proof_and_history(session: Session, pseudo: Pseudonymizer) -> None:
    key = pseudo(5)
    assert not residents.has_consent(session=session, pseudonym=key, purpose="polls")
    granted = residents.grant_consent(session=session, pseudonym=key, purpose="polls", policy_version=POLICY)
    assert (
        granted.purpose is Purpose.POLLS and granted.policy_version == POLICY and granted.withdrawn_at is None
    )
    same = residents.grant_consent(session=session, pseudonym=key, purpose="polls", policy_version=POLICY)
    assert same.granted_at == granted.granted_at
    residents.grant_consent(session=session, pseudonym=key, purpose="polls", policy_version="2027-01")
    assert residents.withdraw_consent(session=session, pseudonym=key, purpose="polls")
    assert not residents.withdraw_consent(session=session, pseudonym=key, purpose="polls")
    history = residents.list_consents(session=session, pseudonym=key)
    assert [(c.policy_version, c.withdrawn_at is not None) for c in history] == [
        (POLICY, True),
        ("2027-01", True),
    ]
    assert not residents.has_consent(session=session, pseudonym=key, purpose="polls")
    with pytest.raises(InvalidInputError):
        residents.grant_consent(session=session, pseudonym=key, purpose="marketing", policy_version=POLICY)


def test_forget_erases_personal_data_and_is_audited(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(987654321)
    item = feedback.submit_feedback(
        session=session,
        pseudonym=key,
        category="y_te",
        text="Trạm y tế đóng cửa sớm",
        photo_file_id="AgAC-photo",
        latitude=21.0,
        longitude=105.8,
        idempotency_key="k1",
    )
    report = residents.forget(session=session, pseudonym=key, actor=ADMIN)
    assert (report.found, report.feedback_erased, report.consents_withdrawn) == (True, 1, 3)
    assert residents.get_resident(session=session, pseudonym=key) is None
    row = session.execute(sa.select(Resident)).scalar_one()
    assert (row.chat_id, row.ward, row.ward_input, row.language) == (None, None, None, None)
    assert row.erased_at is not None and row.pseudonym != key
    kept = session.execute(sa.select(Feedback)).scalar_one()
    assert (kept.text, kept.photo_file_id, kept.latitude, kept.longitude) == (None, None, None, None)
    assert (kept.ticket, kept.category, kept.ward, kept.status) == (item.ticket, "y_te", WARD_A, "moi")
    assert session.execute(sa.select(Consent).where(col(Consent.withdrawn_at).is_(None))).first() is None
    audit = session.execute(sa.select(AuditLog).where(col(AuditLog.action) == "erasure")).scalar_one()
    dumped = f"{audit.target} {audit.details}"
    assert (
        audit.actor == ADMIN.label
        and key not in dumped
        and "987654321" not in dumped
        and "Trạm" not in dumped
    )
    assert not residents.forget(session=session, pseudonym=key).found


def test_a_forgotten_resident_starts_afresh(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(3)
    residents.forget(session=session, pseudonym=key)
    info = residents.ensure_resident(session=session, pseudonym=key, chat_id=3)
    assert info.ward is None and not residents.has_consent(session=session, pseudonym=key, purpose="feedback")
