"""CSV export: UTF-8 with BOM, fixed columns, cells a spreadsheet could run as a formula neutralised."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from bot.services.exports.files import atomic, clean_text
from bot.services.exports.queries import FeedbackRow

CSV_COLUMNS = (
    "ticket",
    "created_at",
    "category",
    "ward",
    "status",
    "status_label",
    "text",
    "latitude",
    "longitude",
    "has_photo",
    "resident",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """Neutralise text a spreadsheet would run as a formula."""
    value = clean_text(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_csv(rows: Iterable[FeedbackRow], out: Path) -> int:
    """Write rows as CSV (UTF-8 with BOM, fixed columns) to `out`; return the row count."""
    count = 0
    with atomic(out) as tmp, tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(_record(row))
            count += 1
    return count


def _record(row: FeedbackRow) -> tuple[str, ...]:
    """One CSV line in `CSV_COLUMNS` order."""
    return (
        row.ticket,
        row.created_at.isoformat(timespec="seconds"),
        row.category,
        csv_safe(row.ward),
        row.status,
        row.status_label,
        csv_safe(row.text),
        "" if row.latitude is None else f"{row.latitude:.6f}",
        "" if row.longitude is None else f"{row.longitude:.6f}",
        "1" if row.has_photo else "0",
        row.resident,
    )
