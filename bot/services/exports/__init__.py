"""Officer exports: feedback as XLSX (with native charts and a PNG beside it) or CSV, streamed.

Public API (the bot's `/baocao` command and `citizenbot export` call this, from a worker thread)::

    export_feedback(
        *, session: Session, out: Path, fmt: Literal["xlsx", "csv"] = "xlsx",
        date_from: date | None = None, date_to: date | None = None,
        category: str | None = None, ward: str | None = None, status: str | None = None,
        actor: Actor,
    ) -> ExportResult

- Pass a read-only session (`session_scope(engine, read_only=True)`, `call_as(..., read_only=True)`):
  the long read never takes SQLite's write lock, so residents keep voting during an export. The one
  write, the audit entry, follows in its own short write transaction (`write_transaction`).
- `actor` must hold the officer or admin role (`PermissionDeniedError` otherwise); `cli_actor()`
  on the command line, `actor_for(session=..., telegram_id=...)` in the bot.
- Dates are Hà Nội dates (bot.dates), both ends inclusive. `category` is a label or code (diacritics
  optional: "giao thong" works), `status` a code (`moi`, `tiep_nhan`, ...), `ward` is resolved like a
  resident's ward at submission ("p. hoàn kiếm" → "Phường Hoàn Kiếm"). Bad input raises an
  `InvalidInputError` (`.message` is Vietnamese) before anything is written.
- XLSX (xlsx.py): sheet "Góp ý", sheet "Tổng hợp" (counts by status, category, ward × category, three
  native charts), one sheet per poll (votes by option and by ward; the ward filter applies; ward ×
  option cells of 1–4 votes suppressed, bot.services.disclosure), and a PNG chart of the summary.
- CSV (csv.py): UTF-8 with BOM, fixed columns `CSV_COLUMNS`, formula-like cells neutralised.
- Pseudonymous: no chat ids, Telegram ids or names; the CSV carries `resident`, a truncated pseudonym.
- Bounded memory: rows are streamed in chunks (queries.py); counts come from SQL GROUP BY.
- Files are written to a temporary name and renamed, so a failed export leaves no partial file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from sqlmodel import Session

from bot.dates import parse_local_date, to_local
from bot.db.engine import write_transaction
from bot.services._base import guarded
from bot.services.audit import AuditAction, record_audit
from bot.services.charts import render_summary_png
from bot.services.exports.csv import CSV_COLUMNS, write_csv
from bot.services.exports.files import chart_path_for, check_writable, clean_text
from bot.services.exports.filters import ExportError, describe_filters, filters_dict, resolve_filters
from bot.services.exports.queries import (
    CHUNK_SIZE,
    ERASED_TEXT,
    FeedbackRow,
    PollReport,
    Summary,
    iter_feedback,
    poll_reports,
    summarize,
)
from bot.services.exports.xlsx import FEEDBACK_HEADERS, FEEDBACK_SHEET, SUMMARY_SHEET, write_xlsx
from bot.services.feedback import FeedbackFilter
from bot.services.roles import Actor, Role
from bot.text import fold

Format = Literal["xlsx", "csv"]
FORMATS: tuple[Format, ...] = ("xlsx", "csv")

__all__ = [
    "CSV_COLUMNS",
    "ERASED_TEXT",
    "FEEDBACK_HEADERS",
    "FEEDBACK_SHEET",
    "FORMATS",
    "SUMMARY_SHEET",
    "ExportError",
    "ExportResult",
    "FeedbackRow",
    "Format",
    "PollReport",
    "Summary",
    "chart_path_for",
    "clean_text",
    "describe_filters",
    "export_feedback",
    "fold",
    "iter_feedback",
    "parse_local_date",
    "poll_reports",
    "resolve_filters",
    "summarize",
    "to_local",
    "write_csv",
    "write_xlsx",
]


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: files (main file first) and counts."""

    fmt: Format
    path: Path
    rows: int
    chart_path: Path | None = None
    polls: int = 0
    filters: FeedbackFilter = field(default_factory=FeedbackFilter)

    @property
    def paths(self) -> list[Path]:
        """Every file written, the main file first."""
        return [self.path] + ([self.chart_path] if self.chart_path else [])


def _write_files(
    session: Session, out: Path, fmt: Format, filters: FeedbackFilter, chunk_size: int
) -> ExportResult:
    """Read (only) and write the export files."""
    rows = iter_feedback(session, filters, chunk_size=chunk_size)
    if fmt == "csv":
        return ExportResult(fmt=fmt, path=out, rows=write_csv(rows, out), filters=filters)
    summary = summarize(session, filters)
    polls = poll_reports(session, filters)
    described = describe_filters(filters)
    count, n_polls = write_xlsx(rows, out, summary=summary, polls=polls, described=described)
    chart = render_summary_png(
        chart_path_for(out),
        title=f"Tổng hợp góp ý ({described})",
        by_category=summary.by_category(),
        by_ward=summary.by_ward(),
        by_status=summary.status_counts(),
    )
    return ExportResult(fmt=fmt, path=out, rows=count, chart_path=chart, polls=n_polls, filters=filters)


@guarded
def export_feedback(
    *,
    session: Session,
    out: Path,
    fmt: Format = "xlsx",
    date_from: date | None = None,
    date_to: date | None = None,
    category: str | None = None,
    ward: str | None = None,
    status: str | None = None,
    actor: Actor,
    chunk_size: int = CHUNK_SIZE,
) -> ExportResult:
    """Export filtered feedback (and poll results, XLSX) to `out`, then log it in the audit log."""
    actor.require(Role.OFFICER)
    if fmt not in FORMATS:
        raise ExportError(f"Định dạng '{fmt}' không hỗ trợ; dùng xlsx hoặc csv.")
    out = Path(out)
    check_writable(out)
    filters = resolve_filters(
        session, date_from=date_from, date_to=date_to, category=category, ward=ward, status=status
    )
    result = _write_files(session, out, fmt, filters, chunk_size)
    details: dict[str, Any] = {
        "format": fmt,
        "filters": filters_dict(filters),
        "rows": result.rows,
        "polls": result.polls,
    }
    with write_transaction(session):
        record_audit(
            session=session, actor=actor, action=AuditAction.EXPORT, target=f"feedback.{fmt}", details=details
        )
    return result
