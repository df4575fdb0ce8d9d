"""The officer's export filters: checked, and mapped to stored values (ward identity as at submission)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import Feedback, Vote
from bot.services.errors import InvalidInputError
from bot.services.feedback import FeedbackFilter, check_filter, parse_category, parse_status
from bot.services.wards import normalize_ward
from bot.text import fold


class ExportError(InvalidInputError):
    """Bad export input (dates, category, status, path); `message` is for the officer."""


def describe_filters(filters: FeedbackFilter) -> str:
    """Vietnamese one-line description of the filters, for titles."""
    parts = [
        f"từ {filters.date_from:%d/%m/%Y}" if filters.date_from else "",
        f"đến {filters.date_to:%d/%m/%Y}" if filters.date_to else "",
        f"lĩnh vực: {filters.category.label}" if filters.category else "",
        f"phường/xã: {filters.ward}" if filters.ward else "",
        f"trạng thái: {filters.status.label}" if filters.status else "",
    ]
    return ", ".join(p for p in parts if p) or "toàn bộ thời gian"


def filters_dict(filters: FeedbackFilter) -> dict[str, str | None]:
    """JSON-ready filters for the audit log."""
    return {
        "date_from": filters.date_from.isoformat() if filters.date_from else None,
        "date_to": filters.date_to.isoformat() if filters.date_to else None,
        "category": filters.category.value if filters.category else None,
        "ward": filters.ward,
        "status": filters.status.value if filters.status else None,
    }


def resolve_ward(session: Session, typed: str) -> str:
    """The stored ward for what the officer typed: normalize_ward, as when residents submit.

    A ward normalize_ward does not recognise is stored as the resident typed it, so it is matched
    against the stored spellings with diacritics and case folded ('so 5 thon 2' → 'Số 5 thôn 2').
    """
    result = normalize_ward(typed)
    if result.verified:
        return result.ward
    wanted = fold(result.ward)
    stored: sa.CompoundSelect[tuple[str]] = sa.union(
        sa.select(col(Feedback.ward)).where(col(Feedback.ward).is_not(None)),
        sa.select(col(Vote.ward)).where(col(Vote.ward).is_not(None)),
    )
    found = sorted(w for w in session.execute(stored).scalars() if fold(w) == wanted)
    return found[0] if found else result.ward


def resolve_filters(
    session: Session,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    category: str | None = None,
    ward: str | None = None,
    status: str | None = None,
) -> FeedbackFilter:
    """Check the officer's filters and map them to stored values; InvalidInputError when bad."""
    filters = FeedbackFilter(
        date_from=date_from,
        date_to=date_to,
        category=parse_category(category) if category and category.strip() else None,
        ward=resolve_ward(session, ward) if ward and ward.strip() else None,
        status=parse_status(status) if status and status.strip() else None,
    )
    check_filter(filters)
    return filters
