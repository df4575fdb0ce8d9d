"""XLSX layout (xlsxwriter, constant memory): feedback sheet, summary sheet, one sheet per poll, native charts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.dates import format_local
from bot.services.disclosure import NOTE
from bot.services.exports.files import atomic, clean_text
from bot.services.exports.filters import ExportError
from bot.services.exports.queries import FeedbackRow, PollReport, Summary

FEEDBACK_SHEET = "Góp ý"
SUMMARY_SHEET = "Tổng hợp"
FEEDBACK_HEADERS = ("Mã phiếu", "Thời gian", "Lĩnh vực", "Phường/Xã", "Trạng thái", "Nội dung")
FEEDBACK_WIDTHS = (16, 17, 24, 24, 16, 100)
TOP_WARDS_CHART = 15
MAX_XLSX_ROWS = 1_048_575  # Excel's row limit, less the header
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(prefix: str, text: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (≤ 31 characters, no []:*?/\\)."""
    base = " ".join(_SHEET_BAD.sub(" ", f"{prefix} {text}").split())[:31].strip(" '") or prefix
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


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
        self.masked = wb.add_format({"align": "right", "font_color": "#777777"})


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

    with atomic(out) as tmp:
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
    statuses = summary.status_counts()
    _write_counts(ws, status_top, "Trạng thái", statuses, styles)
    cat_top = status_top + len(statuses) + 2
    categories = summary.by_category()
    _write_counts(ws, cat_top, "Lĩnh vực", categories, styles)

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


def _write_counts(ws: Any, top: int, title: str, counts: list[tuple[str, int]], styles: _Styles) -> None:
    """A two-column table (label, number of feedback) under a header at row `top`."""
    ws.write_row(top, 0, (title, "Số góp ý"), styles.header)
    for i, (label, n) in enumerate(counts, start=top + 1):
        ws.write_string(i, 0, label)
        ws.write_number(i, 1, n, styles.int)


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


def _write_count(ws: Any, row: int, col: int, value: int | str, style: Any) -> None:
    """A count, or its suppression mark ("<5", "ẩn") as right-aligned text."""
    if isinstance(value, str):
        ws.write_string(row, col, value, style.masked)
    else:
        ws.write_number(row, col, value, style.int)


def _write_poll_sheet(wb: Any, ws: Any, poll: PollReport, styles: _Styles) -> None:
    """Votes by option (with share) and by ward × option (small cells suppressed), with two native charts."""
    name = ws.get_name()
    n_opt = len(poll.options)
    ws.set_column(0, 0, 34)
    ws.set_column(1, max(n_opt, 2) + 1, 14)
    ws.write_string(0, 0, clean_text(poll.question), styles.title)
    scope = f" · Chỉ phiếu của: {clean_text(poll.ward)}" if poll.ward else ""
    ws.write_string(1, 0, _poll_window(poll) + scope, styles.note)
    ws.write_string(2, 0, "Tổng số phiếu")
    _write_count(ws, 2, 1, poll.shown_total(), styles)
    ws.write_string(3, 0, NOTE, styles.note)

    ws.write_row(4, 0, ("Phương án", "Số phiếu", "Tỷ lệ"), styles.header)
    for r, (label, n) in enumerate(zip(poll.options, poll.option_cells(), strict=True), start=5):
        ws.write_string(r, 0, clean_text(label))
        _write_count(ws, r, 1, n, styles)
        if not isinstance(n, str):
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
    rows = poll.ward_cells()
    ws.write_row(top, 0, ("Phường/Xã", *[clean_text(o) for o in poll.options], "Tổng"), styles.header)
    for r, (ward, cells, total) in enumerate(rows, start=top + 1):
        ws.write_string(r, 0, clean_text(ward))
        for c, value in enumerate(cells, start=1):
            _write_count(ws, r, c, value, styles)
        _write_count(ws, r, n_opt + 1, total, styles)
    if rows:
        _poll_ward_chart(wb, ws, poll, top, min(len(rows), TOP_WARDS_CHART))


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
    """'Mở: … · Đóng: …' in Hà Nội time."""
    return f"Mở: {format_local(poll.opens_at)} · Đóng: {format_local(poll.closes_at)} (giờ Hà Nội)"
