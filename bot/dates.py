"""Dates and times typed by officers and admins, and shown to residents: always Hà Nội time.

Whatever the server's time zone, a date typed as 31/12/2026 means that day in Asia/Ho_Chi_Minh, and
a stored moment (UTC; naive values from SQLite are UTC) is shown in Hà Nội time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.services.errors import InvalidInputError

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")
TIME_FORMATS = ("%H:%M", "%Hh%M", "%Hh")
DATE_HELP = "2026-03-31 hoặc 31/03/2026"
DATETIME_HELP = "31/12/2026 17:00 hoặc 2026-12-31T17:00"


class DateInputError(InvalidInputError):
    """A date or time the user typed could not be read; `message` is Vietnamese."""


def _strptime_any(text: str, patterns: tuple[str, ...]) -> datetime | None:
    """`text` read with the first of `patterns` that fits, or None."""
    for pattern in patterns:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def _parse_day(text: str) -> date | None:
    """A calendar day in one of DATE_FORMATS, or None."""
    parsed = _strptime_any(text, DATE_FORMATS)
    return parsed.date() if parsed else None


def _parse_clock(text: str) -> time | None:
    """A wall-clock time in one of TIME_FORMATS, or None."""
    parsed = _strptime_any(text, TIME_FORMATS)
    return parsed.time() if parsed else None


def parse_local_date(text: str) -> date:
    """A Hà Nội calendar day: 2026-03-31, 31/03/2026 (also 31-03-2026, 31.03.2026) or an ISO datetime."""
    value = " ".join(text.split())
    day = _parse_day(value)
    if day is not None:
        return day
    try:
        return to_local(local_moment(datetime.fromisoformat(value))).date()
    except ValueError:
        raise DateInputError(
            f"Thời gian không hợp lệ: '{text}'. Ngày nhập dạng {DATE_HELP} (giờ Hà Nội)."
        ) from None


def parse_local_datetime(text: str, *, end_of_day: bool = False) -> datetime:
    """A Hà Nội moment, as aware UTC: 'dd/mm/yyyy hh:mm', ISO, or a bare date (midnight or 23:59)."""
    value = " ".join(text.split())
    day_part, _, clock_part = value.replace("T", " ", 1).partition(" ")
    day = _parse_day(day_part)
    clock = _parse_clock(clock_part) if clock_part else (time(23, 59) if end_of_day else time.min)
    if day is not None and clock is not None:
        return datetime.combine(day, clock, tzinfo=LOCAL_TZ).astimezone(UTC)
    try:
        return local_moment(datetime.fromisoformat(value)).astimezone(UTC)
    except ValueError:
        raise DateInputError(
            f"Thời gian không hợp lệ: '{text}'; nhập dạng {DATETIME_HELP} (giờ Hà Nội)."
        ) from None


def local_moment(moment: datetime) -> datetime:
    """An aware moment; a naive one is read as Hà Nội wall-clock time (what a person typed)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TZ)


def to_local(moment: datetime) -> datetime:
    """Hà Nội local time of a stored moment (naive values are UTC, as the database keeps them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ)


def format_local(moment: datetime | None, pattern: str = "%d/%m/%Y %H:%M", *, missing: str = "—") -> str:
    """A stored moment shown in Hà Nội time (`missing` for None)."""
    return missing if moment is None else to_local(moment).strftime(pattern)


def local_today(now: datetime | None = None) -> date:
    """Today's date in Hà Nội (not the server's)."""
    return to_local(now or datetime.now(UTC)).date()


def local_day_start(day: date) -> datetime:
    """Midnight starting a Hà Nội calendar day, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def local_day_end(day: date) -> datetime:
    """Midnight ending a Hà Nội calendar day (exclusive bound), as an aware datetime."""
    return local_day_start(day + timedelta(days=1))
