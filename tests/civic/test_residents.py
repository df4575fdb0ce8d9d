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
from bot.services.addresses import AddressBook
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


def _secret_of(folder: str) -> str:
    """In a separate process: the pseudonym of 42 under the secret of `folder` (created if missing)."""
    return load_pseudonymizer(Settings(data_dir=Path(folder), _env_file=None))(42)


def test_processes_starting_at_once_share_one_whole_secret(tmp_path: Path) -> None:
    """Eight processes create the secret at the same time: none reads a half-written file."""
    import multiprocessing

    folder = str(tmp_path / "shared")
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        pseudonyms = pool.map(_secret_of, [folder] * 8)
    assert len(set(pseudonyms)) == 1
    assert len((tmp_path / "shared" / "pseudonym.secret").read_text()) == 64
    assert [p.name for p in (tmp_path / "shared").iterdir()] == ["pseudonym.secret"]


def test_addresses_are_sealed_and_open_only_with_the_same_secret() -> None:
    book, other = AddressBook(b"k" * 32), AddressBook(b"j" * 32)
    sealed = book.seal(987654321)
    assert "987654321" not in sealed and sealed != book.seal(987654321)  # randomised
    assert book.open(sealed) == 987654321
    assert other.open(sealed) is None and book.open("not-a-token") is None and book.open(None) is None
    assert book.key(1, 2) == book.key(1, 2) != book.key(2, 1) and "1" * 3 not in book.key(111, 111)


def test_forget_removes_drafts_conversation_steps_and_address(
    session: Session, make_resident: MakeResident, book: AddressBook
) -> None:
    from bot.db.models import ConversationState, NotificationAddress, UserDraft
    from bot.services import conversations

    key = make_resident(5)
    conversations.save_draft(session=session, owner=key, data={"gopy": {"text": "Nháp: rác ở ngõ 5"}})
    conversations.save_step(session=session, name="gopy", key=book.key(5, 5), owner=key, state=3, address=book.seal(5))
    residents.forget(session=session, pseudonym=key)
    for model in (UserDraft, ConversationState, NotificationAddress):
        assert session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one() == 0


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


def test_ensure_resident_is_idempotent_and_updates_language(session: Session, pseudo: Pseudonymizer) -> None:
    key = pseudo(77)
    first = residents.ensure_resident(session=session, pseudonym=key)
    again = residents.ensure_resident(session=session, pseudonym=key, language="en")
    assert first.id == again.id and again.language == "en"
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
    assert (row.ward, row.ward_input, row.language) == (None, None, None)
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
    info = residents.ensure_resident(session=session, pseudonym=key)
    assert info.ward is None and not residents.has_consent(session=session, pseudonym=key, purpose="feedback")
