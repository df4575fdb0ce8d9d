"""Residents (pseudonymous), their ward, consent per purpose, and erasure."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.config import Settings
from bot.db.models import (
    Consent,
    ConversationState,
    Feedback,
    NotificationAddress,
    Resident,
    UserDraft,
    Vote,
    utcnow,
)
from bot.services._base import guarded, insert_ignore, table_of, upsert
from bot.services.addresses import AddressBook
from bot.services.audit import AuditAction, record_audit
from bot.services.errors import ConsentRequiredError, InvalidInputError, NotFoundError
from bot.services.notifications import drop_notifications_of
from bot.services.questions import forget_asks
from bot.services.roles import Actor
from bot.services.wards import WardResult, normalize_ward

log = logging.getLogger(__name__)
SECRET_FILE = "pseudonym.secret"
LANGUAGES = ("vi", "en")


class Purpose(StrEnum):
    """What a consent covers."""

    FEEDBACK = "feedback"
    POLLS = "polls"
    NOTIFICATIONS = "notifications"


PURPOSE_LABELS = {
    Purpose.FEEDBACK: "gửi và xử lý góp ý",
    Purpose.POLLS: "tham gia khảo sát ý kiến",
    Purpose.NOTIFICATIONS: "nhận thông báo (khảo sát mới, tin tức)",
}


class Pseudonymizer:
    """HMAC-SHA256 of the Telegram user id with a secret: the only resident key stored."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("pseudonym secret must be at least 16 bytes")
        self._secret = secret

    def __call__(self, telegram_id: int) -> str:
        """The 64-hex-character pseudonym of a Telegram user id."""
        return hmac.new(self._secret, str(int(telegram_id)).encode(), hashlib.sha256).hexdigest()


def load_secret(settings: Settings) -> bytes:
    """PSEUDONYM_SECRET, or the secret generated once into data_dir/pseudonym.secret (mode 0600)."""
    if settings.pseudonym_secret is not None:
        return settings.pseudonym_secret.get_secret_value().encode()
    return _secret_file(settings.data_dir / SECRET_FILE)


def load_pseudonymizer(settings: Settings) -> Pseudonymizer:
    """The pseudonymizer of this deployment's secret."""
    return Pseudonymizer(load_secret(settings))


def load_address_book(settings: Settings) -> AddressBook:
    """The sealer of notification addresses, keyed from the same secret."""
    return AddressBook(load_secret(settings))


def _secret_file(path: Path) -> bytes:
    """Read the secret file, creating it when missing: written whole to a temporary file, then linked
    into place (atomic, fails if another process won), so no process ever reads a half-written secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    secret = path.read_bytes().strip()
    if len(secret) < 16:
        raise ValueError(f"{path}: the pseudonym secret is shorter than 16 bytes")
    return secret


@dataclass(frozen=True)
class ResidentInfo:
    """What the bot may know about a resident."""

    id: int
    pseudonym: str
    language: str | None
    ward: str | None
    ward_verified: bool


@dataclass(frozen=True)
class ConsentInfo:
    """One consent grant."""

    purpose: Purpose
    policy_version: str
    granted_at: datetime
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class ErasureReport:
    """What `forget` did."""

    found: bool
    feedback_erased: int = 0
    votes_kept: int = 0
    consents_withdrawn: int = 0


def _info(row: Resident) -> ResidentInfo:
    """A detached view of a resident row."""
    return ResidentInfo(row.id or 0, row.pseudonym, row.language, row.ward, row.ward_verified)


def find_resident(session: Session, pseudonym: str) -> Resident | None:
    """The resident row for a pseudonym (None when unknown)."""
    return session.execute(
        sa.select(Resident).where(col(Resident.pseudonym) == pseudonym)
    ).scalar_one_or_none()


def _require(session: Session, pseudonym: str) -> Resident:
    """The resident row, or NotFoundError."""
    row = find_resident(session, pseudonym)
    if row is None:
        raise NotFoundError("Chưa có thông tin của bạn. Hãy gõ /start để bắt đầu.")
    return row


def _upsert_resident(session: Session, pseudonym: str, language: str | None) -> Resident:
    """Create the resident if missing (race-safe) and refresh the language."""
    if len(pseudonym) != 64:
        raise InvalidInputError("Mã định danh ẩn danh không hợp lệ.")
    if language is not None and language not in LANGUAGES:
        raise InvalidInputError(f"Ngôn ngữ không hỗ trợ: {language}.")
    values = {
        "pseudonym": pseudonym,
        "language": language or "vi",
        "ward_verified": False,
        "created_at": utcnow(),
    }
    insert_ignore(session, table_of(Resident), values, ["pseudonym"])
    row = _require(session, pseudonym)
    if language is not None:
        row.language = language
    return row


@guarded
def ensure_resident(*, session: Session, pseudonym: str, language: str | None = None) -> ResidentInfo:
    """Create or update a resident (pseudonym and language only)."""
    row = _upsert_resident(session, pseudonym, language)
    session.commit()
    return _info(row)


@guarded
def get_resident(*, session: Session, pseudonym: str) -> ResidentInfo | None:
    """The resident, or None."""
    row = find_resident(session, pseudonym)
    return None if row is None else _info(row)


@guarded
def set_ward(*, session: Session, pseudonym: str, ward: str) -> WardResult:
    """Store the resident's ward (old addresses converted; unknown kept as typed and flagged)."""
    result = normalize_ward(ward)
    row = _upsert_resident(session, pseudonym, None)
    # The raw input may hold a street address: kept only when it could not be recognised.
    row.ward, row.ward_verified = result.ward, result.verified
    row.ward_input = None if result.verified else result.typed
    session.commit()
    return result


def _active(session: Session, resident_id: int, purpose: Purpose) -> Consent | None:
    """The active (not withdrawn) consent for a purpose."""
    stmt = sa.select(Consent).where(
        col(Consent.resident_id) == resident_id,
        col(Consent.purpose) == purpose.value,
        col(Consent.withdrawn_at).is_(None),
    )
    return session.execute(stmt.order_by(col(Consent.id).desc())).scalars().first()


def _consent_info(row: Consent) -> ConsentInfo:
    """A detached view of a consent row."""
    return ConsentInfo(Purpose(row.purpose), row.policy_version, row.granted_at, row.withdrawn_at)


def parse_purpose(value: str | Purpose) -> Purpose:
    """A Purpose from its code (InvalidInputError otherwise)."""
    try:
        return Purpose(value)
    except ValueError:
        raise InvalidInputError(f"Mục đích không hợp lệ: {value}.") from None


@guarded
def grant_consent(
    *,
    session: Session,
    pseudonym: str,
    purpose: Purpose | str,
    policy_version: str,
    address: str | None = None,
) -> ConsentInfo:
    """Record consent (proof: policy version and time); a grant under an older policy is superseded.

    `address` is the resident's sealed chat id (AddressBook.seal): kept only with the notifications
    consent, in its own table.
    """
    purpose = parse_purpose(purpose)
    if not policy_version or len(policy_version) > 20:
        raise InvalidInputError("Phiên bản chính sách không hợp lệ.")
    row = _upsert_resident(session, pseudonym, None)
    if purpose is Purpose.NOTIFICATIONS and address is not None:
        _store_address(session, row.id or 0, address)
    current = _active(session, row.id or 0, purpose)
    if current is not None and current.policy_version == policy_version:
        session.commit()
        return _consent_info(current)
    if current is not None:
        current.withdrawn_at = utcnow()
    consent = Consent(
        resident_id=row.id or 0, purpose=purpose.value, policy_version=policy_version, granted_at=utcnow()
    )
    session.add(consent)
    session.commit()
    return _consent_info(consent)


def _store_address(session: Session, resident_id: int, address: str) -> None:
    """Insert or replace the resident's sealed notification address."""
    if not address or len(address) > 400:
        raise InvalidInputError("Địa chỉ nhận thông báo không hợp lệ.")
    now = utcnow()
    values = {"resident_id": resident_id, "sealed": address, "updated_at": now}
    upsert(session, table_of(NotificationAddress), values, ["resident_id"], {"sealed": address, "updated_at": now})


def _drop_address(session: Session, resident_id: int) -> None:
    """Forget where the resident is reached."""
    session.execute(sa.delete(NotificationAddress).where(col(NotificationAddress.resident_id) == resident_id))


@guarded
def refresh_address(*, session: Session, pseudonym: str, address: str) -> bool:
    """Store the sealed address of a resident who consented to notifications; False (nothing stored) otherwise."""
    row = find_resident(session, pseudonym)
    if row is None or row.erased_at is not None or _active(session, row.id or 0, Purpose.NOTIFICATIONS) is None:
        return False
    _store_address(session, row.id or 0, address)
    session.commit()
    return True


def sealed_address(session: Session, resident_id: int) -> str | None:
    """The resident's sealed notification address, if they consented and gave one."""
    return session.execute(
        sa.select(col(NotificationAddress.sealed)).where(col(NotificationAddress.resident_id) == resident_id)
    ).scalar_one_or_none()


@guarded
def withdraw_consent(*, session: Session, pseudonym: str, purpose: Purpose | str) -> bool:
    """Withdraw consent for a purpose; False when there was none. Stored data stays until erasure,
    except the notification address, which goes with the notifications consent."""
    purpose = parse_purpose(purpose)
    row = find_resident(session, pseudonym)
    current = None if row is None else _active(session, row.id or 0, purpose)
    if current is None:
        return False
    current.withdrawn_at = utcnow()
    if purpose is Purpose.NOTIFICATIONS:
        _drop_address(session, row.id or 0)  # type: ignore[union-attr]
    session.commit()
    return True


@guarded
def has_consent(*, session: Session, pseudonym: str, purpose: Purpose | str) -> bool:
    """Whether the resident has an active consent for the purpose."""
    row = find_resident(session, pseudonym)
    return row is not None and _active(session, row.id or 0, parse_purpose(purpose)) is not None


@guarded
def list_consents(*, session: Session, pseudonym: str) -> list[ConsentInfo]:
    """Every consent grant of the resident (history included), oldest first."""
    row = find_resident(session, pseudonym)
    if row is None:
        return []
    stmt = sa.select(Consent).where(col(Consent.resident_id) == row.id).order_by(col(Consent.id))
    return [_consent_info(c) for c in session.execute(stmt).scalars()]


def require_consent(session: Session, pseudonym: str, purpose: Purpose) -> Resident:
    """The resident row if they consented to `purpose`, else ConsentRequiredError."""
    row = find_resident(session, pseudonym)
    if row is None or row.erased_at is not None or _active(session, row.id or 0, purpose) is None:
        raise consent_required(purpose)
    return row


def consent_required(purpose: Purpose) -> ConsentRequiredError:
    """The error of a resident without an active consent for `purpose`."""
    return ConsentRequiredError(purpose.value, f"Bạn cần đồng ý cho phép {PURPOSE_LABELS[purpose]} trước.")


def may_process(purpose: Purpose) -> sa.ColumnElement[bool]:
    """SQL: the `resident` row of the enclosing query is not erased and has an active consent for `purpose`
    (false when the row is missing): `require_consent` as one expression, for a query that reads more."""
    active = sa.exists().where(
        col(Consent.resident_id) == col(Resident.id),
        col(Consent.purpose) == purpose.value,
        col(Consent.withdrawn_at).is_(None),
    )
    return sa.and_(col(Resident.id).is_not(None), col(Resident.erased_at).is_(None), active)


def _rowcount(session: Session, statement: sa.Update) -> int:
    """Execute an UPDATE and return how many rows it changed."""
    result = session.execute(statement)
    return int(result.rowcount) if isinstance(result, sa.CursorResult) else 0


@guarded
def forget(*, session: Session, pseudonym: str, actor: Actor | str = "resident") -> ErasureReport:
    """Erase a resident: feedback text/photo/location, ward, notification address, queued notifications,
    drafts and conversation state; consents withdrawn; votes kept on an anonymised resident.

    The resident row stays with a random pseudonym, so poll totals (by option and by ward) stay
    correct and the person can no longer be linked to them; feedback tickets keep category, ward and
    status for statistics. The audit entry records counts only.
    """
    _drop_flow_state(session, pseudonym)
    row = find_resident(session, pseudonym)
    if row is None:
        session.commit()
        return ErasureReport(found=False)
    now = utcnow()
    erased = _rowcount(
        session,
        sa.update(Feedback)
        .where(col(Feedback.resident_id) == row.id)
        .values(text=None, photo_file_id=None, latitude=None, longitude=None, erased_at=now, updated_at=now),
    )
    withdrawn = _rowcount(
        session,
        sa.update(Consent)
        .where(col(Consent.resident_id) == row.id, col(Consent.withdrawn_at).is_(None))
        .values(withdrawn_at=now),
    )
    votes = session.execute(sa.select(sa.func.count()).where(col(Vote.resident_id) == row.id)).scalar_one()
    drop_notifications_of(session, row.id or 0)
    _drop_address(session, row.id or 0)
    forget_asks(session, row.id or 0)
    row.pseudonym = f"erased:{uuid.uuid4().hex}"[:64]
    row.language = row.ward = row.ward_input = None
    row.ward_verified, row.erased_at = False, now
    report = ErasureReport(True, int(erased), int(votes), int(withdrawn))
    record_audit(
        session=session,
        actor=actor,
        action=AuditAction.ERASURE,
        target=f"resident:{row.id}",
        details={
            "feedback_erased": report.feedback_erased,
            "votes_kept": report.votes_kept,
            "consents_withdrawn": report.consents_withdrawn,
        },
    )
    session.commit()
    _scrub_sqlite(session)
    return report


def _drop_flow_state(session: Session, pseudonym: str) -> None:
    """Delete the drafts and conversation steps kept under this pseudonym."""
    session.execute(sa.delete(UserDraft).where(col(UserDraft.owner) == pseudonym))
    session.execute(sa.delete(ConversationState).where(col(ConversationState.owner) == pseudonym))


def _scrub_sqlite(session: Session) -> None:
    """SQLite keeps old page images in its write-ahead log: checkpoint and truncate it, so erased text
    leaves the files on disk (deleted content itself is zeroed by PRAGMA secure_delete)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or not isinstance(bind, sa.Engine):
        return
    raw = bind.raw_connection()
    try:  # best effort: a busy reader only delays the truncation to the next checkpoint
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        log.info("write-ahead log not truncated after an erasure: %s", exc)
    finally:
        raw.close()
