"""`citizenbot faq add|list|remove|import|export` and `citizenbot synonyms add|list|remove`.

Staff answers and synonyms go to the database; running bots pick them up within 30 s, no restart.
Bad input (empty text, unknown number, bad CSV rows, unreadable file) exits 2 with a Vietnamese message
on stderr; a database error exits 1. The CLI acts as `cli:<OS user>` (an admin) in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.civic import _local
from bot.cli.civic import _session as civic_session

if TYPE_CHECKING:
    from sqlmodel import Session

EXIT_BAD_INPUT = 2
faq_app = typer.Typer(help="Câu trả lời của cán bộ (FAQ), tìm trước tài liệu.", no_args_is_help=True)
synonyms_app = typer.Typer(help="Từ đồng nghĩa: cách nói thường ngày = cách nói trong văn bản.", no_args_is_help=True)
RELOAD = "Bot đang chạy sẽ áp dụng trong vòng 30 giây."


def _bad(message: str) -> typer.Exit:
    """Print a bad-input message on stderr; the caller raises the returned Exit(2)."""
    typer.echo(f"Lỗi: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def _session() -> Iterator[Session]:
    """civic's session (schema upgraded, roles bootstrapped); invalid input or unknown ids exit 2."""
    from bot.services.errors import InvalidInputError, NotFoundError

    with civic_session() as (session, _):
        try:
            yield session
        except (InvalidInputError, NotFoundError) as exc:
            raise _bad(exc.message) from exc


@faq_app.command("add")
def faq_add(
    question: Annotated[str, typer.Argument(help="Câu hỏi")],
    answer: Annotated[str, typer.Argument(help="Câu trả lời")],
    source: Annotated[str | None, typer.Option("--source", help="Nguồn (văn bản, đường dẫn)")] = None,
) -> None:
    """Thêm một câu trả lời của cán bộ (add a staff answer)."""
    from bot.services import faq
    from bot.services.roles import cli_actor

    with _session() as session:
        entry = faq.add_entry(session=session, actor=cli_actor(), question=question, answer=answer, source=source)
    typer.echo(f"Đã thêm câu trả lời số {entry.id}. {RELOAD}")


@faq_app.command("list")
def faq_list() -> None:
    """Liệt kê câu trả lời của cán bộ (list staff answers)."""
    from bot.services import faq

    with _session() as session:
        entries = faq.list_entries(session=session)
    if not entries:
        typer.echo("Chưa có câu trả lời nào của cán bộ.")
    for entry in entries:
        typer.echo(f"#{entry.id} [{_local(entry.updated_at)}] {entry.question}")
        typer.echo(f"    → {' '.join(entry.answer.split())}")
        if entry.source:
            typer.echo(f"    Nguồn: {entry.source}")
        if entry.variants:
            typer.echo(f"    Cách hỏi khác: {len(entry.variants)}")


@faq_app.command("remove")
def faq_remove(faq_id: Annotated[int, typer.Argument(help="Số câu trả lời")]) -> None:
    """Xóa một câu trả lời; các câu hỏi của nó trở lại /chuatraloi (remove a staff answer)."""
    from bot.services import faq
    from bot.services.roles import cli_actor

    with _session() as session:
        entry = faq.remove_entry(session=session, actor=cli_actor(), faq_id=faq_id)
    typer.echo(f"Đã xóa câu trả lời số {entry.id}: {entry.question}. {RELOAD}")


@faq_app.command("import")
def faq_import(path: Annotated[Path, typer.Argument(help="Tệp CSV: question,answer,source,created")]) -> None:
    """Nhập câu trả lời từ CSV UTF-8; có dòng lỗi thì không nhập dòng nào (import CSV)."""
    from bot.services import faq
    from bot.services.roles import cli_actor

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise _bad(f"Không tìm thấy tệp {path}.") from None
    except OSError as exc:
        raise _bad(f"Không đọc được tệp {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise _bad(f"Tệp {path} không phải văn bản UTF-8 (hãy lưu lại dạng «CSV UTF-8»).") from None
    with _session() as session:
        report = faq.import_csv(session=session, actor=cli_actor(), text=text)
    typer.echo(f"Đã nhập {report.added} câu trả lời mới, cập nhật {report.updated} câu đã có. {RELOAD}")


@faq_app.command("export")
def faq_export(path: Annotated[Path, typer.Argument(help="Tệp CSV sẽ ghi (UTF-8 có BOM, mở được bằng Excel)")]) -> None:
    """Xuất câu trả lời ra CSV (export CSV)."""
    from bot.services import faq

    with _session() as session:
        count = len(faq.list_entries(session=session))
        text = faq.export_csv(session=session)
    try:
        path.write_text(text, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise _bad(f"Không ghi được tệp {path}: {exc.strerror or exc}.") from None
    typer.echo(f"Đã xuất {count} câu trả lời ra {path}.")


@synonyms_app.command("add")
def synonyms_add(
    everyday: Annotated[str, typer.Argument(help="Cách nói thường ngày, vd. «kẹt xe»")],
    formal: Annotated[str, typer.Argument(help="Cách nói trong văn bản, vd. «ùn tắc giao thông»")],
) -> None:
    """Thêm từ đồng nghĩa (add a synonym)."""
    from bot.services import synonyms
    from bot.services.roles import cli_actor

    with _session() as session:
        rule = synonyms.add_synonym(session=session, actor=cli_actor(), everyday=everyday, formal=formal)
    typer.echo(f"Đã thêm từ đồng nghĩa số {rule.id}: «{rule.everyday}» = «{rule.formal}». {RELOAD}")


@synonyms_app.command("list")
def synonyms_list() -> None:
    """Liệt kê từ đồng nghĩa do quản trị viên thêm (list synonyms)."""
    from bot.services import synonyms

    with _session() as session:
        rules = synonyms.list_synonyms(session=session)
    if not rules:
        typer.echo("Chưa có từ đồng nghĩa nào do quản trị viên thêm.")
    for rule in rules:
        typer.echo(f"{rule.id}\t{rule.everyday} = {rule.formal}\t{rule.created_by}\t{_local(rule.created_at)}")


@synonyms_app.command("remove")
def synonyms_remove(rule_id: Annotated[int, typer.Argument(help="Số từ đồng nghĩa")]) -> None:
    """Xóa một từ đồng nghĩa (remove a synonym)."""
    from bot.services import synonyms
    from bot.services.roles import cli_actor

    with _session() as session:
        rule = synonyms.remove_synonym(session=session, actor=cli_actor(), rule_id=rule_id)
    typer.echo(f"Đã xóa từ đồng nghĩa số {rule.id}: «{rule.everyday}» = «{rule.formal}». {RELOAD}")


def register(app: typer.Typer) -> None:
    """Add the FAQ and synonym commands to the main app."""
    app.add_typer(faq_app, name="faq")
    app.add_typer(synonyms_app, name="synonyms")
