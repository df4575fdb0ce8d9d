"""`citizenbot export`: feedback and poll results for Front officers, as XLSX (+ PNG chart) or CSV."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from bot.services.exports import ExportResult

FORMAT_HELP = "xlsx (kèm biểu đồ PNG) hoặc csv"
DATE_HELP = "2026-03-01 hoặc 01/03/2026 (giờ Hà Nội, tính cả ngày này)"


def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Tệp kết quả (output file), vd. baocao.xlsx")],
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "xlsx",
    date_from: Annotated[str | None, typer.Option("--from", help=f"Từ ngày (from): {DATE_HELP}")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help=f"Đến ngày (to): {DATE_HELP}")] = None,
    category: Annotated[str | None, typer.Option("--category", help="Lĩnh vực, vd. 'giao thông'")] = None,
    ward: Annotated[str | None, typer.Option("--ward", help="Phường/xã")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="moi|tiep_nhan|dang_xu_ly|da_xu_ly|tu_choi")
    ] = None,
) -> None:
    """Xuất góp ý và kết quả khảo sát (export feedback and poll results) ra XLSX hoặc CSV."""
    from bot.dates import parse_local_date
    from bot.services.errors import ServiceError
    from bot.services.exports import ExportError

    try:
        kind = fmt.strip().lower()
        if kind not in ("xlsx", "csv"):
            raise ExportError(f"Định dạng '{fmt}' không hỗ trợ; dùng xlsx hoặc csv (unsupported format).")
        start = parse_local_date(date_from) if date_from else None
        end = parse_local_date(date_to) if date_to else None
        result = _run(out, kind, start, end, category=category, ward=ward, status=status)
    except ServiceError as exc:
        typer.echo(f"Lỗi: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    except OSError as exc:
        typer.echo(f"Lỗi: không ghi được tệp '{out}' ({exc.strerror or exc}).", err=True)
        raise typer.Exit(1) from exc
    _print(result)


def _run(
    out: Path,
    fmt: str,
    start: date | None,
    end: date | None,
    *,
    category: str | None,
    ward: str | None,
    status: str | None,
) -> ExportResult:
    """Upgrade the database if needed and export as the CLI operator (read-only: the bot keeps writing)."""
    from bot.config import Settings
    from bot.db.engine import ensure_schema, make_engine, session_scope
    from bot.services.exports import export_feedback
    from bot.services.roles import cli_actor

    engine = make_engine(Settings())
    try:
        ensure_schema(engine)
        with session_scope(engine, read_only=True) as session:
            return export_feedback(
                session=session,
                out=out,
                fmt="csv" if fmt == "csv" else "xlsx",
                date_from=start,
                date_to=end,
                category=category,
                ward=ward,
                status=status,
                actor=cli_actor(),
            )
    finally:
        engine.dispose()


def _print(result: ExportResult) -> None:
    """Tell the operator what was written."""
    from bot.services.exports import describe_filters

    typer.echo(f"Đã xuất {result.rows} góp ý ({describe_filters(result.filters)}) → {result.path}")
    if result.chart_path:
        typer.echo(f"Biểu đồ: {result.chart_path}; {result.polls} khảo sát.")


def register(app: typer.Typer) -> None:
    """Add this layer's commands to the main app."""
    app.command("export")(export)
