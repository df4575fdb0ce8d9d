"""Feedback (góp ý): tickets, categories, the status workflow with history, and notifications."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import Feedback, FeedbackStatusChange, Resident, TicketCounter, utcnow
from bot.services._base import LOCAL_TZ, check_key, commit_once, guarded, insert_ignore, replayed, table_of
from bot.services.audit import AuditAction, record_audit
from bot.services.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from bot.services.notifications import Notification, queue_notification
from bot.services.residents import Purpose, require_consent
from bot.services.roles import Actor, Role
from bot.services.wards import normalize_ward

MAX_TEXT = 4000
MAX_COMMENT = 1000
TICKET_PREFIX = "GY"


class Category(StrEnum):
    """The fixed feedback categories (codes used in commands and exports)."""

    MOI_TRUONG = "moi_truong"
    GIAO_THONG = "giao_thong"
    QUY_HOACH_XAY_DUNG = "quy_hoach_xay_dung"
    GIAO_DUC = "giao_duc"
    Y_TE = "y_te"
    VAN_HOA = "van_hoa"
    CHUYEN_DOI_SO = "chuyen_doi_so"
    AN_NINH_TRAT_TU = "an_ninh_trat_tu"
    KHAC = "khac"

    @property
    def label(self) -> str:
        """The Vietnamese label."""
        return CATEGORY_LABELS[self]


CATEGORY_LABELS: dict[Category, str] = {
    Category.MOI_TRUONG: "Môi trường",
    Category.GIAO_THONG: "Giao thông",
    Category.QUY_HOACH_XAY_DUNG: "Quy hoạch - xây dựng",
    Category.GIAO_DUC: "Giáo dục",
    Category.Y_TE: "Y tế",
    Category.VAN_HOA: "Văn hóa",
    Category.CHUYEN_DOI_SO: "Chuyển đổi số",
    Category.AN_NINH_TRAT_TU: "An ninh trật tự",
    Category.KHAC: "Khác",
}


class Status(StrEnum):
    """Feedback workflow: moi → tiep_nhan → dang_xu_ly → da_xu_ly, or tu_choi."""

    MOI = "moi"
    TIEP_NHAN = "tiep_nhan"
    DANG_XU_LY = "dang_xu_ly"
    DA_XU_LY = "da_xu_ly"
    TU_CHOI = "tu_choi"

    @property
    def label(self) -> str:
        """The Vietnamese label."""
        return STATUS_LABELS[self]


STATUS_LABELS: dict[Status, str] = {
    Status.MOI: "Mới",
    Status.TIEP_NHAN: "Đã tiếp nhận",
    Status.DANG_XU_LY: "Đang xử lý",
    Status.DA_XU_LY: "Đã xử lý",
    Status.TU_CHOI: "Từ chối",
}

# Forward only; any open state may be refused; da_xu_ly and tu_choi are final.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.MOI: frozenset({Status.TIEP_NHAN, Status.TU_CHOI}),
    Status.TIEP_NHAN: frozenset({Status.DANG_XU_LY, Status.DA_XU_LY, Status.TU_CHOI}),
    Status.DANG_XU_LY: frozenset({Status.DA_XU_LY, Status.TU_CHOI}),
    Status.DA_XU_LY: frozenset(),
    Status.TU_CHOI: frozenset(),
}


def _fold(text: str) -> str:
    """Lowercase, no diacritics, single spaces (for matching labels typed loosely)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("đ", "d"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.replace("-", " ").replace("_", " ").split())


def parse_category(value: str | Category) -> Category:
    """A Category from its code or Vietnamese label (with or without diacritics)."""
    wanted = _fold(str(value))
    for category in Category:
        if wanted in (_fold(category.value), _fold(category.label)):
            return category
    codes = ", ".join(c.value for c in Category)
    raise InvalidInputError(f"Lĩnh vực không hợp lệ: {value!r}. Chọn một trong: {codes}.")


def parse_status(value: str | Status) -> Status:
    """A Status from its code or Vietnamese label."""
    wanted = _fold(str(value))
    for status in Status:
        if wanted in (_fold(status.value), _fold(status.label)):
            return status
    codes = ", ".join(s.value for s in Status)
    raise InvalidInputError(f"Trạng thái không hợp lệ: {value!r}. Chọn một trong: {codes}.")


@dataclass(frozen=True)
class FeedbackView:
    """A feedback as shown to residents and officers (text None once erased)."""

    id: int
    ticket: str
    category: Category
    ward: str | None
    text: str | None
    photo_file_id: str | None
    latitude: float | None
    longitude: float | None
    status: Status
    created_at: datetime
    updated_at: datetime
    erased: bool


@dataclass(frozen=True)
class StatusEntry:
    """One step of the status history."""

    old_status: Status | None
    new_status: Status
    comment: str | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class StatusChangeResult:
    """The feedback after a status change, and the notification to send (None: nobody to tell)."""

    feedback: FeedbackView
    notification: Notification | None


@dataclass(frozen=True)
class FeedbackFilter:
    """Officer filters; dates are local (Asia/Ho_Chi_Minh) calendar days, both ends inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    category: Category | None = None
    ward: str | None = None
    status: Status | None = None


def _view(row: Feedback) -> FeedbackView:
    """A detached view of a feedback row."""
    return FeedbackView(
        row.id or 0,
        row.ticket,
        Category(row.category),
        row.ward,
        row.text,
        row.photo_file_id,
        row.latitude,
        row.longitude,
        Status(row.status),
        row.created_at,
        row.updated_at,
        row.erased_at is not None,
    )


def format_ticket(year: int, seq: int) -> str:
    """GY-YYYY-NNNNNN."""
    return f"{TICKET_PREFIX}-{year}-{seq:06d}"


def _next_seq(session: Session, year: int) -> int:
    """The next ticket number of the year: row-locked counter, safe under concurrency on both backends."""
    insert_ignore(session, table_of(TicketCounter), {"year": year, "last_seq": 0}, ["year"])
    counter = table_of(TicketCounter)
    stmt = (
        sa.update(counter)
        .where(counter.c.year == year)
        .values(last_seq=counter.c.last_seq + 1)
        .returning(counter.c.last_seq)
    )
    return int(session.execute(stmt).scalar_one())


def _clean_text(text: str | None, *, attachment: bool) -> str | None:
    """NFC, trimmed, at most 4,000 characters; may be empty (None) only beside a photo or a location."""
    cleaned = unicodedata.normalize("NFC", text or "").strip()
    if not cleaned:
        if attachment:
            return None
        raise InvalidInputError("Nội dung góp ý không được để trống (hãy gõ nội dung, hoặc gửi ảnh hay vị trí).")
    if len(cleaned) > MAX_TEXT:
        count = f"{len(cleaned):,}".replace(",", ".")
        raise InvalidInputError(f"Nội dung góp ý dài tối đa 4.000 ký tự (bạn đã nhập {count}).")
    return cleaned


def _check_location(latitude: float | None, longitude: float | None) -> None:
    """Both or neither, within range."""
    if (latitude is None) != (longitude is None):
        raise InvalidInputError("Vị trí cần có cả vĩ độ và kinh độ.")
    if (
        latitude is not None
        and longitude is not None
        and not (-90 <= latitude <= 90 and -180 <= longitude <= 180)
    ):
        raise InvalidInputError("Tọa độ vị trí không hợp lệ.")


def _check_photo(photo_file_id: str | None) -> None:
    """A Telegram file id is short and non-blank."""
    if photo_file_id is not None and (not photo_file_id.strip() or len(photo_file_id) > 200):
        raise InvalidInputError("Mã ảnh đính kèm không hợp lệ.")


@dataclass(frozen=True)
class _Draft:
    """Validated feedback fields."""

    category: Category
    text: str | None
    ward: str | None


def _validate(
    category: str | Category,
    text: str | None,
    ward: str | None,
    photo: str | None,
    latitude: float | None,
    longitude: float | None,
) -> _Draft:
    """Every input rule, before anything is written."""
    parsed = parse_category(category)
    _check_location(latitude, longitude)
    _check_photo(photo)
    cleaned = _clean_text(text, attachment=photo is not None or latitude is not None)
    return _Draft(parsed, cleaned, normalize_ward(ward).ward if ward is not None else None)


@guarded
def submit_feedback(
    *,
    session: Session,
    pseudonym: str,
    category: str | Category,
    text: str | None,
    idempotency_key: str | None,
    ward: str | None = None,
    photo_file_id: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> FeedbackView:
    """Store a feedback (needs FEEDBACK consent); replay-safe.

    The ward is the one given, else the resident's saved ward, else unknown (None). The text may be
    empty (None) when a photo or a location says it all.
    """
    check_key(idempotency_key)
    draft = _validate(category, text, ward, photo_file_id, latitude, longitude)
    earlier = replayed(session, idempotency_key, "feedback")
    if earlier is not None:
        return _by_id(session, int(earlier["feedback_id"]))
    resident = require_consent(session, pseudonym, Purpose.FEEDBACK)
    where = draft.ward or resident.ward or None
    now = utcnow()
    year = now.astimezone(LOCAL_TZ).year
    seq = _next_seq(session, year)
    row = Feedback(
        ticket=format_ticket(year, seq),
        year=year,
        seq=seq,
        resident_id=resident.id or 0,
        category=draft.category.value,
        ward=where,
        text=draft.text,
        photo_file_id=photo_file_id,
        latitude=latitude,
        longitude=longitude,
        status=Status.MOI.value,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    session.add(
        FeedbackStatusChange(
            feedback_id=row.id or 0,
            old_status=None,
            new_status=Status.MOI.value,
            actor="resident",
            created_at=now,
        )
    )
    result = commit_once(session, idempotency_key, "feedback", {"feedback_id": row.id})
    return _by_id(session, int(result["feedback_id"]))


def _by_id(session: Session, feedback_id: int) -> FeedbackView:
    """The feedback with this id."""
    row = session.get(Feedback, feedback_id)
    if row is None:
        raise NotFoundError("Không tìm thấy góp ý.")
    return _view(row)


def _by_ticket(session: Session, ticket: str) -> Feedback:
    """The feedback row with this ticket (case-insensitive), or NotFoundError."""
    wanted = ticket.strip().upper()
    row = session.execute(sa.select(Feedback).where(col(Feedback.ticket) == wanted)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"Không tìm thấy góp ý mã {ticket.strip()}.")
    return row


@guarded
def get_feedback(*, session: Session, ticket: str) -> FeedbackView:
    """A feedback by ticket number."""
    return _view(_by_ticket(session, ticket))


@guarded
def feedback_of_resident(*, session: Session, pseudonym: str, ticket: str) -> FeedbackView:
    """A resident's own feedback by ticket (NotFoundError for someone else's)."""
    row = _by_ticket(session, ticket)
    owner = session.get(Resident, row.resident_id)
    if owner is None or owner.pseudonym != pseudonym:
        raise NotFoundError(f"Không tìm thấy góp ý mã {ticket.strip()} của bạn.")
    return _view(row)


@guarded
def my_feedback(*, session: Session, pseudonym: str, limit: int = 10) -> list[FeedbackView]:
    """The resident's newest feedback first."""
    stmt = (
        sa.select(Feedback)
        .join(Resident, col(Resident.id) == col(Feedback.resident_id))
        .where(col(Resident.pseudonym) == pseudonym)
        .order_by(col(Feedback.id).desc())
        .limit(limit)
    )
    return [_view(r) for r in session.execute(stmt).scalars()]


def local_day_start(day: date) -> datetime:
    """Midnight of a local (Hà Nội) calendar day, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def feedback_query(filters: FeedbackFilter) -> sa.Select[Any]:
    """SELECT of Feedback rows matching the filters, oldest first (exports stream this)."""
    stmt = sa.select(Feedback).order_by(col(Feedback.created_at), col(Feedback.id))
    if filters.date_from is not None:
        stmt = stmt.where(col(Feedback.created_at) >= local_day_start(filters.date_from))
    if filters.date_to is not None:
        stmt = stmt.where(col(Feedback.created_at) < local_day_start(filters.date_to + timedelta(days=1)))
    if filters.category is not None:
        stmt = stmt.where(col(Feedback.category) == filters.category.value)
    if filters.ward is not None:
        stmt = stmt.where(col(Feedback.ward) == filters.ward)
    if filters.status is not None:
        stmt = stmt.where(col(Feedback.status) == filters.status.value)
    return stmt


def check_filter(filters: FeedbackFilter) -> None:
    """Refuse a date range that ends before it starts."""
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise InvalidInputError("Ngày kết thúc phải sau hoặc bằng ngày bắt đầu.")


@guarded
def list_feedback(
    *, session: Session, filters: FeedbackFilter | None = None, limit: int | None = None
) -> list[FeedbackView]:
    """Feedback matching officer filters, oldest first."""
    filters = filters or FeedbackFilter()
    check_filter(filters)
    stmt = feedback_query(filters)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_view(r) for r in session.execute(stmt).scalars()]


def notification_text(ticket: str, status: Status, comment: str | None) -> str:
    """The Vietnamese message telling a resident their feedback moved on."""
    text = f"Góp ý {ticket} của bạn đã chuyển sang trạng thái: {status.label}."
    if comment:
        text += f"\nGhi chú của cán bộ: {comment}"
    return text


def _notification(
    session: Session, row: Feedback, status: Status, comment: str | None
) -> Notification | None:
    """Tell the author (feedback consent covers updates on their own feedback) unless erased/no chat."""
    owner = session.get(Resident, row.resident_id)
    if owner is None or owner.erased_at is not None or owner.chat_id is None:
        return None
    return Notification(owner.chat_id, notification_text(row.ticket, status, comment))


def _clean_comment(comment: str | None) -> str | None:
    """Trimmed comment, at most 1,000 characters, None when blank."""
    if comment is None or not comment.strip():
        return None
    cleaned = unicodedata.normalize("NFC", comment).strip()
    if len(cleaned) > MAX_COMMENT:
        raise InvalidInputError("Ghi chú dài tối đa 1.000 ký tự.")
    return cleaned


@guarded
def change_status(
    *,
    session: Session,
    ticket: str,
    status: str | Status,
    actor: Actor,
    comment: str | None = None,
    idempotency_key: str | None = None,
    queue: bool = False,
) -> StatusChangeResult:
    """Move a feedback along the workflow (officers/admins), log history and audit, return the notification.

    The caller sends the returned notification; with `queue=True` (callers that cannot send, e.g. the CLI)
    it is put in the outbox instead, in the same transaction, for the bot to send
    (notifications.take_pending_notifications).
    """
    actor.require(Role.OFFICER)
    check_key(idempotency_key)
    new = parse_status(status)
    note = _clean_comment(comment)
    earlier = replayed(session, idempotency_key, "status")
    if earlier is not None:
        row = _by_ticket(session, str(earlier["ticket"]))
        return StatusChangeResult(
            _view(row), _notification(session, row, Status(earlier["status"]), earlier["comment"])
        )
    row = _by_ticket(session, ticket)
    session.refresh(row, with_for_update=True)
    old = Status(row.status)
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(s.value for s in sorted(TRANSITIONS[old])) or "không có (trạng thái cuối)"
        raise InvalidTransitionError(
            f"Không thể chuyển góp ý {row.ticket} từ '{old.value}' sang '{new.value}'. Được phép: {allowed}."
        )
    now = utcnow()
    row.status, row.updated_at = new.value, now
    session.add(
        FeedbackStatusChange(
            feedback_id=row.id or 0,
            old_status=old.value,
            new_status=new.value,
            comment=note,
            actor=actor.label,
            created_at=now,
        )
    )
    notification = _notification(session, row, new, note)
    if queue and notification is not None:
        queue_notification(session, row.resident_id, notification)
    record_audit(
        session=session,
        actor=actor,
        action=AuditAction.STATUS_CHANGE,
        target=row.ticket,
        details={"from": old.value, "to": new.value},
    )
    result = commit_once(
        session, idempotency_key, "status", {"ticket": row.ticket, "status": new.value, "comment": note}
    )
    row = _by_ticket(session, str(result["ticket"]))
    return StatusChangeResult(
        _view(row), _notification(session, row, Status(result["status"]), result["comment"])
    )


@guarded
def status_history(*, session: Session, ticket: str) -> list[StatusEntry]:
    """Every status step of a feedback, oldest first."""
    row = _by_ticket(session, ticket)
    stmt = (
        sa.select(FeedbackStatusChange)
        .where(col(FeedbackStatusChange.feedback_id) == row.id)
        .order_by(col(FeedbackStatusChange.id))
    )
    return [
        StatusEntry(
            Status(c.old_status) if c.old_status else None,
            Status(c.new_status),
            c.comment,
            c.actor,
            c.created_at,
        )
        for c in session.execute(stmt).scalars()
    ]


def categories() -> Sequence[Category]:
    """The categories in display order."""
    return list(Category)
