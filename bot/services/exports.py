"""Officer exports: feedback as XLSX (with native charts and a PNG beside it) or CSV, streamed.

Public API (the bot's `/baocao` command and `citizenbot export` call this, from a worker thread)::

    export_feedback(
        *, session: Session, out: Path, fmt: Literal["xlsx", "csv"] = "xlsx",
        date_from: date | None = None, date_to: date | None = None,
        category: str | None = None, ward: str | None = None, status: str | None = None,
        actor: Actor,
    ) -> ExportResult

- `actor` must hold the officer or admin role (`PermissionDeniedError` otherwise); `cli_actor()`
  on the command line, `actor_for(session=..., telegram_id=...)` in the bot.
- Dates are local dates in Asia/Ho_Chi_Minh, both ends inclusive. `category` is a label or code
  (diacritics optional: "giao thong" works), `status` a code (`moi`, `tiep_nhan`, ...). Bad input
  raises `ExportError` (an `InvalidInputError`: `.message` is Vietnamese) before anything is written;
  `parse_local_date` reads the officer's dates (2026-03-01 or 01/03/2026).
- XLSX (xlsxwriter, constant_memory): sheet "Góp ý" (ticket, time, category, ward, status, text),
  sheet "Tổng hợp" (counts by status, by category, by ward × category, three native charts), one
  sheet per poll (votes by option and by ward, native charts), and `out.with_suffix(".png")`, a
  matplotlib chart of the same summary for sharing in chats.
- CSV: UTF-8 with BOM, fixed columns `CSV_COLUMNS`; cells a spreadsheet could read as a formula
  (starting with = + - @) are prefixed with an apostrophe.
- Pseudonymous: no chat ids, Telegram ids or names; the CSV carries `resident`, a truncated pseudonym.
- Bounded memory: rows are streamed from the database in chunks; counts come from SQL GROUP BY.
- Files are written to a temporary name and renamed, so a failed export leaves no partial file.
- Each export adds one audit-log entry (action `export`: actor, filters, format, row count) and commits.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import Feedback, Poll, PollOption, Resident, Vote
from bot.services._base import LOCAL_TZ, guarded
from bot.services.audit import AuditAction, record_audit
from bot.services.charts import render_summary_png
from bot.services.errors import InvalidInputError
from bot.services.feedback import (
    Category,
    FeedbackFilter,
    Status,
    check_filter,
    feedback_query,
    local_day_start,
    parse_category,
    parse_status,
)
from bot.services.polls import UNKNOWN_WARD
from bot.services.roles import Actor, Role

Format = Literal["xlsx", "csv"]
FORMATS: tuple[Format, ...] = ("xlsx", "csv")
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
FEEDBACK_SHEET = "Góp ý"
SUMMARY_SHEET = "Tổng hợp"
FEEDBACK_HEADERS = ("Mã phiếu", "Thời gian", "Lĩnh vực", "Phường/Xã", "Trạng thái", "Nội dung")
FEEDBACK_WIDTHS = (16, 17, 24, 24, 16, 100)
TOP_WARDS_CHART = 15
MAX_XLSX_ROWS = 1_048_575  # Excel's row limit, less the header
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


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


def _filters_dict(filters: FeedbackFilter) -> dict[str, str | None]:
    """JSON-ready filters for the audit log."""
    return {
        "date_from": filters.date_from.isoformat() if filters.date_from else None,
        "date_to": filters.date_to.isoformat() if filters.date_to else None,
        "category": filters.category.value if filters.category else None,
        "ward": filters.ward,
        "status": filters.status.value if filters.status else None,
    }


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One exported feedback: pseudonymous, times in local time."""

    ticket: str
    created_at: datetime
    category: str
    ward: str
    status: str
    status_label: str
    text: str
    latitude: float | None = None
    longitude: float | None = None
    has_photo: bool = False
    resident: str = ""


@dataclass(frozen=True)
class Summary:
    """Counts for the summary sheet and chart, from SQL GROUP BY."""

    categories: Sequence[str]
    statuses: Sequence[tuple[str, str]]
    cells: Mapping[tuple[str, str], int]
    by_status: Mapping[str, int]

    @property
    def total(self) -> int:
        """Number of feedback rows counted."""
        return sum(self.cells.values())

    def by_category(self) -> list[tuple[str, int]]:
        """(category label, count) in the fixed category order."""
        totals = {c: 0 for c in self.categories}
        for (_, cat), n in self.cells.items():
            totals[cat] = totals.get(cat, 0) + n
        return list(totals.items())

    def by_ward(self) -> list[tuple[str, int]]:
        """(ward, count), most feedback first, then by name."""
        totals: dict[str, int] = {}
        for (ward, _), n in self.cells.items():
            totals[ward] = totals.get(ward, 0) + n
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    def status_counts(self) -> list[tuple[str, int]]:
        """(status label, count) in workflow order."""
        return [(label, self.by_status.get(code, 0)) for code, label in self.statuses]


@dataclass(frozen=True)
class PollReport:
    """Results of one poll: votes by option and by ward × option (option index)."""

    poll_id: int
    question: str
    options: Sequence[str]
    votes: Sequence[int]
    by_ward: Mapping[tuple[str, int], int]
    opens_at: datetime | None = None
    closes_at: datetime | None = None

    @property
    def total(self) -> int:
        """Number of votes."""
        return sum(self.votes)

    def wards(self) -> list[str]:
        """Wards with votes, most votes first."""
        totals: dict[str, int] = {}
        for (ward, _), n in self.by_ward.items():
            totals[ward] = totals.get(ward, 0) + n
        return [w for w, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))]


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


# --- helpers ---------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower-case, strip diacritics (đ → d) and collapse spaces, for lenient matching."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.lower().split())


def parse_local_date(text: str) -> date:
    """A date typed by an officer: YYYY-MM-DD or DD/MM/YYYY (also DD-MM-YYYY, DD.MM.YYYY)."""
    value = text.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ExportError(f"Ngày '{text}' không hợp lệ; nhập dạng 2026-03-31 hoặc 31/03/2026 (invalid date).")


def to_local(moment: datetime) -> datetime:
    """Hà Nội local time of a stored moment (naive values are UTC, as the database keeps them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ)


def clean_text(value: str) -> str:
    """Drop control characters that XML and spreadsheets reject (keeps newlines and tabs)."""
    return _CONTROL.sub("", value)


def _csv_safe(value: str) -> str:
    """Neutralise text a spreadsheet would run as a formula."""
    value = clean_text(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def check_writable(out: Path) -> None:
    """Raise ExportError unless `out` can be created (its folder exists and is writable)."""
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise ExportError(f"'{out}' là một thư mục, cần một tên tệp (file name).")
    if not parent.is_dir():
        raise ExportError(f"Thư mục '{parent}' không tồn tại (folder does not exist).")
    if not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ExportError(f"Không có quyền ghi vào '{out}' (path is not writable).")


@contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    """Yield a temporary path beside `out`; rename it to `out` only if the block succeeds."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _sheet_name(prefix: str, text: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (≤ 31 characters, no []:*?/\\)."""
    base = " ".join(_SHEET_BAD.sub(" ", f"{prefix} {text}").split())[:31].strip(" '") or prefix
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


# --- CSV -------------------------------------------------------------------------------------


def write_csv(rows: Iterable[FeedbackRow], out: Path) -> int:
    """Write rows as CSV (UTF-8 with BOM, fixed columns) to `out`; return the row count."""
    count = 0
    with _atomic(out) as tmp, tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(_csv_record(row))
            count += 1
    return count


def _csv_record(row: FeedbackRow) -> tuple[str, ...]:
    """One CSV line in `CSV_COLUMNS` order."""
    return (
        row.ticket,
        row.created_at.isoformat(timespec="seconds"),
        row.category,
        _csv_safe(row.ward),
        row.status,
        row.status_label,
        _csv_safe(row.text),
        "" if row.latitude is None else f"{row.latitude:.6f}",
        "" if row.longitude is None else f"{row.longitude:.6f}",
        "1" if row.has_photo else "0",
        row.resident,
    )


# --- XLSX ------------------------------------------------------------------------------------


class _Styles:
    """Cell formats of one workbook."""

    def __init__(self, wb: Any) -> None:
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.note = wb.add_format({"italic": True, "font_color": "#555555"})
        self.header = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
        )
        self.when = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        self.int = wb.add_format({"num_format": "#,##0"})
        self.pct = wb.add_format({"num_format": "0.0%"})
        self.bold_int = wb.add_format({"num_format": "#,##0", "bold": True, "top": 1})
        self.bold = wb.add_format({"bold": True, "top": 1})


def write_xlsx(
    rows: Iterable[FeedbackRow],
    out: Path,
    *,
    summary: Summary,
    polls: Iterable[PollReport] = (),
    described: str = "toàn bộ thời gian",
) -> tuple[int, int]:
    """Write the feedback, summary and poll sheets to `out`; return (feedback rows, poll sheets)."""
    import xlsxwriter

    with _atomic(out) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_formulas": False})
        wb.set_properties({"title": f"Báo cáo góp ý ({described})", "author": "citizenbot"})
        styles = _Styles(wb)
        feedback_ws = wb.add_worksheet(FEEDBACK_SHEET)
        summary_ws = wb.add_worksheet(SUMMARY_SHEET)
        count = _write_feedback_sheet(feedback_ws, rows, styles)
        _write_summary_sheet(wb, summary_ws, summary, styles, described)
        taken = {FEEDBACK_SHEET.lower(), SUMMARY_SHEET.lower()}
        n_polls = 0
        for poll in polls:
            ws = wb.add_worksheet(_sheet_name(f"KS{poll.poll_id}", poll.question, taken))
            _write_poll_sheet(wb, ws, poll, styles)
            n_polls += 1
        wb.close()
    return count, n_polls


def _write_feedback_sheet(ws: Any, rows: Iterable[FeedbackRow], styles: _Styles) -> int:
    """Stream feedback rows under a frozen, filterable header; return the row count."""
    for column, width in enumerate(FEEDBACK_WIDTHS):
        ws.set_column(column, column, width)
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, FEEDBACK_HEADERS, styles.header)
    r = 0
    for r, row in enumerate(rows, start=1):
        if r > MAX_XLSX_ROWS:
            raise ExportError("Quá nhiều góp ý cho một trang Excel; hãy thu hẹp bộ lọc hoặc xuất CSV.")
        ws.write_string(r, 0, row.ticket)
        ws.write_datetime(r, 1, row.created_at.replace(tzinfo=None), styles.when)
        ws.write_string(r, 2, row.category)
        ws.write_string(r, 3, clean_text(row.ward))
        ws.write_string(r, 4, row.status_label)
        ws.write_string(r, 5, clean_text(row.text))
    ws.autofilter(0, 0, r, len(FEEDBACK_HEADERS) - 1)
    return r


def _write_summary_sheet(wb: Any, ws: Any, summary: Summary, styles: _Styles, described: str) -> None:
    """Counts by status, by category and by ward × category, with three native charts."""
    name = SUMMARY_SHEET
    ws.set_column(0, 0, 28)
    ws.set_column(1, len(summary.categories) + 1, 13)
    ws.write_string(0, 0, "Tổng hợp góp ý của người dân", styles.title)
    ws.write_string(1, 0, f"Phạm vi: {described}", styles.note)
    ws.write_string(2, 0, "Tổng số góp ý")
    ws.write_number(2, 1, summary.total, styles.bold_int)

    status_top = 4
    ws.write_row(status_top, 0, ("Trạng thái", "Số góp ý"), styles.header)
    statuses = summary.status_counts()
    for i, (label, n) in enumerate(statuses, start=status_top + 1):
        ws.write_string(i, 0, label)
        ws.write_number(i, 1, n, styles.int)

    cat_top = status_top + len(statuses) + 2
    ws.write_row(cat_top, 0, ("Lĩnh vực", "Số góp ý"), styles.header)
    categories = summary.by_category()
    for i, (label, n) in enumerate(categories, start=cat_top + 1):
        ws.write_string(i, 0, label)
        ws.write_number(i, 1, n, styles.int)

    matrix_top = cat_top + len(categories) + 2
    wards = _write_ward_matrix(ws, matrix_top, summary, styles)

    chart_col = len(summary.categories) + 3
    cat_chart = wb.add_chart({"type": "bar"})
    cat_chart.add_series(
        {
            "name": "Số góp ý",
            "categories": [name, cat_top + 1, 0, cat_top + len(categories), 0],
            "values": [name, cat_top + 1, 1, cat_top + len(categories), 1],
            "data_labels": {"value": True},
        }
    )
    _style_chart(cat_chart, "Góp ý theo lĩnh vực", reverse=True)
    ws.insert_chart(0, chart_col, cat_chart, {"x_scale": 1.3, "y_scale": 1.2})

    pie = wb.add_chart({"type": "pie"})
    pie.add_series(
        {
            "name": "Trạng thái",
            "categories": [name, status_top + 1, 0, status_top + len(statuses), 0],
            "values": [name, status_top + 1, 1, status_top + len(statuses), 1],
            "data_labels": {"percentage": True},
        }
    )
    pie.set_title({"name": "Góp ý theo trạng thái"})
    ws.insert_chart(19, chart_col, pie, {"x_scale": 1.3, "y_scale": 1.2})

    if wards:
        top = min(wards, TOP_WARDS_CHART)
        total_col = len(summary.categories) + 1
        ward_chart = wb.add_chart({"type": "column"})
        ward_chart.add_series(
            {
                "name": "Số góp ý",
                "categories": [name, matrix_top + 1, 0, matrix_top + top, 0],
                "values": [name, matrix_top + 1, total_col, matrix_top + top, total_col],
                "data_labels": {"value": True},
            }
        )
        _style_chart(ward_chart, f"{top} phường/xã nhiều góp ý nhất")
        ws.insert_chart(38, chart_col, ward_chart, {"x_scale": 1.3, "y_scale": 1.2})


def _write_ward_matrix(ws: Any, top: int, summary: Summary, styles: _Styles) -> int:
    """Ward rows × category columns plus totals; return the number of ward rows."""
    cats = list(summary.categories)
    ws.write_row(top, 0, ("Phường/Xã", *cats, "Tổng"), styles.header)
    wards = summary.by_ward()
    for r, (ward, total) in enumerate(wards, start=top + 1):
        ws.write_string(r, 0, clean_text(ward))
        for c, cat in enumerate(cats, start=1):
            ws.write_number(r, c, summary.cells.get((ward, cat), 0), styles.int)
        ws.write_number(r, len(cats) + 1, total, styles.bold_int)
    last = top + len(wards) + 1
    ws.write_string(last, 0, "Tổng cộng", styles.bold)
    for c, (_, n) in enumerate(summary.by_category(), start=1):
        ws.write_number(last, c, n, styles.bold_int)
    ws.write_number(last, len(cats) + 1, summary.total, styles.bold_int)
    return len(wards)


def _style_chart(chart: Any, title: str, *, reverse: bool = False) -> None:
    """Title, no legend, integer axis."""
    chart.set_title({"name": title})
    chart.set_legend({"none": True})
    axis = chart.set_y_axis if not reverse else chart.set_x_axis
    axis({"num_format": "#,##0", "major_gridlines": {"visible": True}})
    if reverse:
        chart.set_y_axis({"reverse": True})


def _write_poll_sheet(wb: Any, ws: Any, poll: PollReport, styles: _Styles) -> None:
    """Votes by option (with share) and by ward × option, with two native charts."""
    name = ws.get_name()
    n_opt = len(poll.options)
    ws.set_column(0, 0, 34)
    ws.set_column(1, max(n_opt, 2) + 1, 14)
    ws.write_string(0, 0, clean_text(poll.question), styles.title)
    ws.write_string(1, 0, _poll_window(poll), styles.note)
    ws.write_string(2, 0, "Tổng số phiếu")
    ws.write_number(2, 1, poll.total, styles.bold_int)

    ws.write_row(4, 0, ("Phương án", "Số phiếu", "Tỷ lệ"), styles.header)
    for r, (label, n) in enumerate(zip(poll.options, poll.votes, strict=True), start=5):
        ws.write_string(r, 0, clean_text(label))
        ws.write_number(r, 1, n, styles.int)
        ws.write_number(r, 2, n / poll.total if poll.total else 0.0, styles.pct)

    chart = wb.add_chart({"type": "column"})
    chart.add_series(
        {
            "name": "Số phiếu",
            "categories": [name, 5, 0, 4 + n_opt, 0],
            "values": [name, 5, 1, 4 + n_opt, 1],
            "data_labels": {"value": True},
        }
    )
    _style_chart(chart, "Kết quả theo phương án")
    ws.insert_chart(0, n_opt + 3, chart, {"x_scale": 1.2, "y_scale": 1.1})

    top = 6 + n_opt
    wards = poll.wards()
    ws.write_row(top, 0, ("Phường/Xã", *[clean_text(o) for o in poll.options], "Tổng"), styles.header)
    for r, ward in enumerate(wards, start=top + 1):
        ws.write_string(r, 0, clean_text(ward))
        counts = [poll.by_ward.get((ward, i), 0) for i in range(n_opt)]
        ws.write_row(r, 1, counts, styles.int)
        ws.write_number(r, n_opt + 1, sum(counts), styles.bold_int)
    if wards:
        _poll_ward_chart(wb, ws, poll, top, min(len(wards), TOP_WARDS_CHART))


def _poll_ward_chart(wb: Any, ws: Any, poll: PollReport, top: int, n_wards: int) -> None:
    """Stacked columns of the wards with most votes, one series per option."""
    name = ws.get_name()
    chart = wb.add_chart({"type": "column", "subtype": "stacked"})
    for i in range(len(poll.options)):
        chart.add_series(
            {
                "name": [name, top, i + 1],
                "categories": [name, top + 1, 0, top + n_wards, 0],
                "values": [name, top + 1, i + 1, top + n_wards, i + 1],
            }
        )
    chart.set_title({"name": "Kết quả theo phường/xã"})
    chart.set_y_axis({"num_format": "#,##0"})
    chart.set_legend({"position": "bottom"})
    ws.insert_chart(17, len(poll.options) + 3, chart, {"x_scale": 1.2, "y_scale": 1.1})


def _poll_window(poll: PollReport) -> str:
    """'Mở: … · Đóng: …' in local time."""

    def fmt(moment: datetime | None) -> str:
        return to_local(moment).strftime("%d/%m/%Y %H:%M") if moment else "—"

    return f"Mở: {fmt(poll.opens_at)} · Đóng: {fmt(poll.closes_at)} (giờ Hà Nội)"


# --- database --------------------------------------------------------------------------------

CHUNK_SIZE = 1000
PSEUDONYM_CHARS = 12
ERASED_TEXT = "(nội dung đã xóa theo yêu cầu của người dân)"
_WARD_PREFIXES = ("phuong ", "xa ", "thi tran ", "p. ", "p.", "x. ")


def _bare_ward(name: str) -> str:
    """Folded ward name without its 'phường' / 'xã' prefix."""
    folded = fold(name)
    for prefix in _WARD_PREFIXES:
        if folded.startswith(prefix):
            return folded[len(prefix) :].strip()
    return folded


def _resolve_ward(session: Session, ward: str) -> str:
    """The stored spelling of a ward ('hoan kiem' → 'Phường Hoàn Kiếm'), or the input as typed."""
    typed = " ".join(ward.split())
    ward_col = col(Feedback.ward)
    candidates = [
        w for w in session.execute(sa.select(ward_col).where(ward_col.is_not(None)).distinct()).scalars()
    ]
    for matches in (
        lambda w: w == typed,
        lambda w: fold(w) == fold(typed),
        lambda w: _bare_ward(w) == _bare_ward(typed),
    ):
        found = sorted(w for w in candidates if matches(w))
        if found:
            return found[0]
    return typed


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
        ward=_resolve_ward(session, ward) if ward and ward.strip() else None,
        status=parse_status(status) if status and status.strip() else None,
    )
    check_filter(filters)
    return filters


def _where(filters: FeedbackFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE clause of the feedback service's own filter query (one definition of the filters)."""
    clause = feedback_query(filters).whereclause
    return [] if clause is None else [clause]


def iter_feedback(
    session: Session, filters: FeedbackFilter, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[FeedbackRow]:
    """Stream matching feedback, oldest first, fetching `chunk_size` rows at a time."""
    stmt = (
        sa.select(
            col(Feedback.ticket),
            col(Feedback.created_at),
            col(Feedback.category),
            col(Feedback.ward),
            col(Feedback.status),
            col(Feedback.text),
            col(Feedback.latitude),
            col(Feedback.longitude),
            col(Feedback.photo_file_id).is_not(None),
            col(Feedback.erased_at),
            col(Resident.pseudonym),
            col(Resident.erased_at),
        )
        .join(Resident, col(Resident.id) == col(Feedback.resident_id))
        .where(*_where(filters))
        .order_by(col(Feedback.created_at), col(Feedback.id))
        .execution_options(yield_per=chunk_size)
    )
    for rec in session.execute(stmt):
        yield FeedbackRow(
            ticket=rec[0],
            created_at=to_local(rec[1]),
            category=_label(Category, rec[2]),
            ward=rec[3] or UNKNOWN_WARD,
            status=rec[4],
            status_label=_label(Status, rec[4]),
            text=ERASED_TEXT if rec[9] is not None else (rec[5] or ""),
            latitude=rec[6],
            longitude=rec[7],
            has_photo=bool(rec[8]),
            resident="" if rec[11] is not None else rec[10][:PSEUDONYM_CHARS],
        )


def summarize(session: Session, filters: FeedbackFilter) -> Summary:
    """Counts by ward × category and by status, with SQL GROUP BY."""
    where = _where(filters)
    count = sa.func.count()
    cells: dict[tuple[str, str], int] = {}
    by_cell = sa.select(col(Feedback.ward), col(Feedback.category), count).where(*where)
    for ward, cat, n in session.execute(by_cell.group_by(col(Feedback.ward), col(Feedback.category))):
        key = (ward or UNKNOWN_WARD, _label(Category, cat))
        cells[key] = cells.get(key, 0) + n
    by_status_stmt = sa.select(col(Feedback.status), count).where(*where).group_by(col(Feedback.status))
    by_status = {code: n for code, n in session.execute(by_status_stmt)}
    labels = [c.label for c in Category]
    extra = sorted({cat for _, cat in cells} - set(labels))
    return Summary(labels + extra, [(s.value, s.label) for s in Status], cells, by_status)


def _label(kind: type[Category] | type[Status], code: str) -> str:
    """The Vietnamese label of a stored code (the code itself if unknown)."""
    try:
        return kind(code).label
    except ValueError:
        return code


def poll_reports(session: Session, filters: FeedbackFilter) -> list[PollReport]:
    """Polls whose voting window overlaps the date filter, with votes by option and by ward."""
    stmt = sa.select(Poll).order_by(col(Poll.id))
    if filters.date_to:
        stmt = stmt.where(col(Poll.opens_at) < local_day_start(filters.date_to + timedelta(days=1)))
    if filters.date_from:
        end = sa.func.coalesce(col(Poll.closed_at), col(Poll.closes_at))
        stmt = stmt.where(sa.or_(end.is_(None), end >= local_day_start(filters.date_from)))
    polls = list(session.execute(stmt).scalars())
    if not polls:
        return []
    ids = [p.id for p in polls]
    options: dict[int, list[PollOption]] = {}
    opt_stmt = (
        sa.select(PollOption).where(col(PollOption.poll_id).in_(ids)).order_by(col(PollOption.position))
    )
    for opt in session.execute(opt_stmt).scalars():
        options.setdefault(opt.poll_id, []).append(opt)
    counts: dict[int, dict[tuple[str, int], int]] = {}
    vote_stmt = (
        sa.select(col(Vote.poll_id), col(Vote.ward), col(Vote.option_id), sa.func.count())
        .where(col(Vote.poll_id).in_(ids))
        .group_by(col(Vote.poll_id), col(Vote.ward), col(Vote.option_id))
    )
    for poll_id, ward, option_id, n in session.execute(vote_stmt):
        counts.setdefault(poll_id, {})[(ward or UNKNOWN_WARD, option_id)] = n
    return [_poll_report(p, options.get(p.id or 0, []), counts.get(p.id or 0, {})) for p in polls]


def _poll_report(poll: Any, options: Sequence[Any], counts: Mapping[tuple[str, int], int]) -> PollReport:
    """Assemble a PollReport from rows (option ids mapped to positions)."""
    index = {opt.id: i for i, opt in enumerate(options)}
    votes = [0] * len(options)
    by_ward: dict[tuple[str, int], int] = {}
    for (ward, option_id), n in counts.items():
        i = index.get(option_id)
        if i is None:
            continue
        votes[i] += n
        by_ward[(ward, i)] = by_ward.get((ward, i), 0) + n
    return PollReport(
        poll_id=poll.id,
        question=poll.question,
        options=[opt.text for opt in options],
        votes=votes,
        by_ward=by_ward,
        opens_at=poll.opens_at,
        closes_at=poll.closed_at or poll.closes_at,
    )


def chart_path_for(out: Path) -> Path:
    """Where the PNG chart of an XLSX export goes: beside it, same name, .png."""
    png = out.with_suffix(".png")
    return png if png != out else out.with_name(out.name + ".chart.png")


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
    """Export filtered feedback (and poll results, XLSX) to `out`, log it in the audit log, commit."""
    actor.require(Role.OFFICER)
    if fmt not in FORMATS:
        raise ExportError(f"Định dạng '{fmt}' không hỗ trợ; dùng xlsx hoặc csv.")
    out = Path(out)
    check_writable(out)
    filters = resolve_filters(
        session, date_from=date_from, date_to=date_to, category=category, ward=ward, status=status
    )
    rows = iter_feedback(session, filters, chunk_size=chunk_size)
    chart, n_polls = None, 0
    if fmt == "csv":
        count = write_csv(rows, out)
    else:
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
    session.commit()  # end the read transaction before writing the audit entry
    details: dict[str, Any] = {
        "format": fmt,
        "filters": _filters_dict(filters),
        "rows": count,
        "polls": n_polls,
    }
    record_audit(
        session=session, actor=actor, action=AuditAction.EXPORT, target=f"feedback.{fmt}", details=details
    )
    session.commit()
    return ExportResult(fmt=fmt, path=out, rows=count, chart_path=chart, polls=n_polls, filters=filters)
