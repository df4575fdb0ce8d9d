"""Parsing what an admin types in the poll wizard: wards, closing time, «Bỏ qua»."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.dates import parse_local_datetime
from bot.services.errors import InvalidInputError

MAX_WARDS, MAX_WARD, MAX_DAYS = 50, 120, 365


def is_skip(text: str) -> bool:
    """The admin typed «Bỏ qua» instead of pressing the button."""
    return " ".join(text.lower().split()) in {"bỏ qua", "bo qua"}


def parse_wards(text: str) -> list[str] | None:
    """Ward names separated by commas, semicolons or lines; None when empty, too many or too long."""
    wards = list(dict.fromkeys(" ".join(part.split()) for part in re.split(r"[,;\n]", text) if part.strip()))
    if not wards or len(wards) > MAX_WARDS or any(len(ward) > MAX_WARD for ward in wards):
        return None
    return wards


def parse_closes(text: str, now: datetime) -> datetime | None:
    """'dd/mm/yyyy hh:mm' (or 'dd/mm/yyyy': 23:59 that day) in Hà Nội time, or a number of days from now."""
    cleaned = " ".join(text.split())
    if cleaned.isdigit():
        days = int(cleaned)
        return now + timedelta(days=days) if 1 <= days <= MAX_DAYS else None
    try:
        return parse_local_datetime(cleaned, end_of_day=True)
    except InvalidInputError:
        return None
