"""`citizenbot db|poll|feedback|role|forget|unanswered`: thin commands over bot.services.

Every command upgrades the database schema when it is behind, bootstraps ADMIN_IDS/OFFICER_IDS, acts
as `cli:<OS user>` (an admin) in the audit log, and turns service errors into a Vietnamese message on
stderr with exit code 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.config import Settings
    from bot.services.feedback import FeedbackView
    from bot.services.polls import PollResults, PollView

db_app = typer.Typer(help="Cơ sở dữ liệu (database).", no_args_is_help=True)
poll_app = typer.Typer(help="Khảo sát ý kiến (polls).", no_args_is_help=True)
feedback_app = typer.Typer(help="Góp ý của người dân (feedback).", no_args_is_help=True)
role_app = typer.Typer(help="Vai trò quản trị viên / cán bộ (roles).", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    """Print an error on stderr; the caller raises the returned Exit(1)."""
    typer.echo(f"Lỗi: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def _session(*, read_only: bool = False) -> Iterator[tuple[Session, Settings]]:
    """A session on an up-to-date database with bootstrapped roles; service errors exit with code 1.

    `read_only=True` for commands that only read: the session never takes SQLite's write lock, so a
    long listing does not hold up the running bot's residents.
    """
    from bot.config import Settings
    from bot.db.engine import ensure_schema, make_engine, session_scope
    from bot.services.errors import ServiceError
    from bot.services.roles import bootstrap_roles

    settings = Settings()
    engine = make_engine(settings)
    try:
        ensure_schema(engine)
        with session_scope(engine) as session:
            bootstrap_roles(session=session, admin_ids=settings.admin_ids, officer_ids=settings.officer_ids)
        with session_scope(engine, read_only=read_only) as session:
            yield session, settings
    except ServiceError as exc:
        raise _fail(exc.message) from exc
    finally:
        engine.dispose()


def _local(moment: datetime | None) -> str:
    """A stored moment shown in Hà Nội time."""
    from bot.dates import format_local

    return format_local(moment, "%Y-%m-%d %H:%M")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Nâng cấp lược đồ cơ sở dữ liệu lên phiên bản mới nhất (run migrations)."""
    from bot.config import Settings
    from bot.db.engine import current_revision, make_engine, upgrade
    from bot.services.errors import ServiceError

    engine = make_engine(Settings())
    try:
        upgrade(engine)
        if engine.dialect.name == "postgresql":  # the job queue of `citizenbot worker` (bot/scale)
            from bot.scale.queue import ensure_queue_schema

            ensure_queue_schema(engine)
        revision = current_revision(engine)
    except ServiceError as exc:
        raise _fail(exc.message) from exc
    finally:
        engine.dispose()
    typer.echo(f"Cơ sở dữ liệu đã ở phiên bản mới nhất ({revision}).")


def _print_poll(poll: PollView) -> None:
    """One poll as a few lines."""
    scope = ", ".join(poll.wards) or "toàn thành phố"
    typer.echo(f"#{poll.id} [{poll.state.value}] {poll.question}")
    typer.echo(
        f"    mở {_local(poll.opens_at)} → đóng {_local(poll.closed_at or poll.closes_at)}; "
        f"hiển thị: {poll.visibility.value}; phạm vi: {scope}"
    )
    for option in poll.options:
        typer.echo(f"    {option.id}. {option.text}")


@poll_app.command("create")
def poll_create(
    question: Annotated[str, typer.Option("--question", help="Câu hỏi")],
    option: Annotated[list[str], typer.Option("--option", help="Một lựa chọn (lặp lại 2-10 lần)")],
    ward: Annotated[
        list[str] | None, typer.Option("--ward", help="Giới hạn cho phường/xã (lặp lại được)")
    ] = None,
    opens: Annotated[
        str | None, typer.Option("--opens", help="Mở lúc: YYYY-MM-DD hoặc ISO (giờ Hà Nội)")
    ] = None,
    closes: Annotated[
        str | None, typer.Option("--closes", help="Đóng lúc: YYYY-MM-DD hoặc ISO (giờ Hà Nội)")
    ] = None,
    visibility: Annotated[
        str, typer.Option("--visibility", help="after_vote|after_close|officers")
    ] = "after_vote",
) -> None:
    """Tạo khảo sát mới (create a poll)."""
    from bot.dates import parse_local_datetime
    from bot.services import polls
    from bot.services.roles import cli_actor

    with _session() as (session, _):
        poll = polls.create_poll(
            session=session,
            actor=cli_actor(),
            question=question,
            options=option,
            wards=ward or [],
            opens_at=parse_local_datetime(opens) if opens else None,
            closes_at=parse_local_datetime(closes, end_of_day=True) if closes else None,
            visibility=visibility,
        )
    typer.echo("Đã tạo khảo sát:")
    _print_poll(poll)


@poll_app.command("list")
def poll_list() -> None:
    """Liệt kê các khảo sát (list polls)."""
    from bot.services import polls

    with _session(read_only=True) as (session, _):
        found = polls.list_polls(session=session)
    if not found:
        typer.echo("Chưa có khảo sát nào.")
    for poll in found:
        _print_poll(poll)


@poll_app.command("close")
def poll_close(poll_id: Annotated[int, typer.Argument(help="Số khảo sát")]) -> None:
    """Đóng khảo sát ngay (close a poll now)."""
    from bot.services import polls
    from bot.services.roles import cli_actor

    with _session() as (session, _):
        poll = polls.close_poll(session=session, poll_id=poll_id, actor=cli_actor())
    typer.echo(f"Đã đóng khảo sát #{poll.id} lúc {_local(poll.closed_at)}.")


def _print_results(results: PollResults) -> None:
    """Totals by option (exact), then by ward with cells of 1–4 votes suppressed (bot.services.disclosure)."""
    from bot.services.disclosure import NOTE, mask_table, shown

    typer.echo(f"Khảo sát #{results.poll.id} [{results.poll.state.value}]: {results.poll.question}")
    typer.echo(f"Tổng số phiếu: {results.total}")
    for option in results.by_option:
        share = 100 * option.count / results.total if results.total else 0.0
        typer.echo(f"  {option.option_id}. {option.text}: {option.count} ({share:.1f}%)")
    if not results.by_ward:
        return
    options = [o.option_id for o in results.by_option]
    cells = {(w.ward, o): n for w in results.by_ward for o, n in w.counts.items()}
    marks = mask_table(cells, [w.ward for w in results.by_ward], options)
    typer.echo(f"Theo phường/xã ({NOTE[0].lower()}{NOTE[1:]}):")
    for ward in results.by_ward:
        counts = ", ".join(
            f"{o.text}: {marks.get((ward.ward, o.option_id), ward.counts.get(o.option_id, 0))}"
            for o in results.by_option
        )
        typer.echo(f"  {ward.ward} ({shown(ward.total)}): {counts}")


@poll_app.command("results")
def poll_results(poll_id: Annotated[int, typer.Argument(help="Số khảo sát")]) -> None:
    """Kết quả khảo sát theo lựa chọn và theo phường/xã (poll results)."""
    from bot.services import polls
    from bot.services.roles import cli_actor

    with _session(read_only=True) as (session, _):
        results = polls.poll_results(session=session, poll_id=poll_id, actor=cli_actor())
    _print_results(results)


def _print_feedback(item: FeedbackView) -> None:
    """One feedback on one line (text shortened)."""
    from bot.services.polls import UNKNOWN_WARD

    text = "(đã xóa theo yêu cầu)" if item.erased else (item.text or "(chỉ có ảnh/vị trí)").replace("\n", " ")
    short = text if len(text) <= 80 else text[:79] + "…"
    typer.echo(
        f"{item.ticket} | {_local(item.created_at)} | {item.category.label} | {item.ward or UNKNOWN_WARD} | "
        f"{item.status.label} | {short}"
    )


@feedback_app.command("list")
def feedback_list(
    date_from: Annotated[str | None, typer.Option("--from", help="Từ ngày YYYY-MM-DD")] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Đến ngày YYYY-MM-DD (tính cả ngày này)")
    ] = None,
    category: Annotated[str | None, typer.Option("--category", help="Mã hoặc tên lĩnh vực")] = None,
    ward: Annotated[str | None, typer.Option("--ward", help="Phường/xã")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="moi|tiep_nhan|dang_xu_ly|da_xu_ly|tu_choi")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Số dòng tối đa")] = 200,
) -> None:
    """Liệt kê góp ý theo bộ lọc (list feedback)."""
    from bot.dates import parse_local_date
    from bot.services import feedback
    from bot.services.exports.filters import resolve_filters

    with _session(read_only=True) as (session, _):
        filters = resolve_filters(
            session,
            date_from=parse_local_date(date_from) if date_from else None,
            date_to=parse_local_date(date_to) if date_to else None,
            category=category,
            ward=ward,
            status=status,
        )
        items = feedback.list_feedback(session=session, filters=filters, limit=limit)
    if not items:
        typer.echo("Không có góp ý nào khớp bộ lọc.")
    for item in items:
        _print_feedback(item)


@feedback_app.command("status")
def feedback_status(
    ticket: Annotated[str, typer.Argument(help="Mã góp ý, vd. GY-2026-000123")],
    status: Annotated[str, typer.Argument(help="tiep_nhan|dang_xu_ly|da_xu_ly|tu_choi")],
    comment: Annotated[str | None, typer.Option("--comment", help="Ghi chú gửi kèm cho người dân")] = None,
) -> None:
    """Cập nhật trạng thái góp ý (change a feedback's status)."""
    from bot.services import feedback
    from bot.services.roles import cli_actor

    with _session() as (session, _):
        result = feedback.change_status(
            session=session, ticket=ticket, status=status, actor=cli_actor(), comment=comment
        )
    typer.echo(f"Góp ý {result.feedback.ticket}: {result.feedback.status.label}.")
    if result.notified:
        news = feedback.notification_text(result.feedback.ticket, result.feedback.status, comment)
        typer.echo("Đã xếp hàng thông báo; bot sẽ gửi cho người dân:\n" + news)
    else:
        typer.echo("Người gửi không nhận thông báo (chưa đồng ý nhận thông báo hoặc đã xóa dữ liệu).")


def _role_of_flags(admin: bool, officer: bool) -> str:
    """Exactly one of --admin / --officer."""
    from bot.services.errors import InvalidInputError

    if admin == officer:
        raise InvalidInputError("Chọn đúng một trong --admin hoặc --officer.")
    return "admin" if admin else "officer"


def _change_role(grant: bool, telegram_id: int, admin: bool, officer: bool) -> None:
    """Grant or revoke a role from the CLI."""
    from bot.services import roles

    with _session() as (session, _):
        role = roles.parse_role(_role_of_flags(admin, officer))
        change = roles.grant_role if grant else roles.revoke_role
        changed = change(session=session, telegram_id=telegram_id, role=role, actor=roles.cli_actor())
    label = roles.ROLE_LABELS[role]
    if grant:
        typer.echo(f"Đã cấp quyền {label} cho {telegram_id}." if changed else f"{telegram_id} đã là {label}.")
    else:
        typer.echo(
            f"Đã thu hồi quyền {label} của {telegram_id}." if changed else f"{telegram_id} không là {label}."
        )


@role_app.command("grant")
def role_grant(
    telegram_id: Annotated[int, typer.Argument(help="Mã người dùng Telegram")],
    admin: Annotated[bool, typer.Option("--admin", help="Quản trị viên")] = False,
    officer: Annotated[bool, typer.Option("--officer", help="Cán bộ")] = False,
) -> None:
    """Cấp quyền quản trị viên hoặc cán bộ (grant a role)."""
    _change_role(True, telegram_id, admin, officer)


@role_app.command("revoke")
def role_revoke(
    telegram_id: Annotated[int, typer.Argument(help="Mã người dùng Telegram")],
    admin: Annotated[bool, typer.Option("--admin", help="Quản trị viên")] = False,
    officer: Annotated[bool, typer.Option("--officer", help="Cán bộ")] = False,
) -> None:
    """Thu hồi quyền (revoke a role)."""
    _change_role(False, telegram_id, admin, officer)


@role_app.command("list")
def role_list() -> None:
    """Liệt kê vai trò (list roles)."""
    from bot.services import roles

    with _session(read_only=True) as (session, _):
        found = roles.list_roles(session=session)
    if not found:
        typer.echo("Chưa có quản trị viên hay cán bộ nào (đặt ADMIN_IDS hoặc dùng role grant).")
    for item in found:
        typer.echo(
            f"{item.telegram_id}\t{item.role.value}\tcấp bởi {item.granted_by}\t{_local(item.granted_at)}"
        )


def forget(
    telegram_id: Annotated[int, typer.Argument(help="Mã người dùng Telegram cần xóa dữ liệu")],
) -> None:
    """Xóa dữ liệu cá nhân của một người dân (erase a resident's data); tổng phiếu khảo sát được giữ."""
    from bot.services import residents
    from bot.services.roles import cli_actor

    with _session() as (session, settings):
        pseudonym = residents.load_pseudonymizer(settings)(telegram_id)
        report = residents.forget(session=session, pseudonym=pseudonym, actor=cli_actor())
    if not report.found:
        typer.echo(f"Không có dữ liệu nào của người dùng {telegram_id}.")
        return
    typer.echo(
        f"Đã xóa dữ liệu của người dùng {telegram_id}: {report.feedback_erased} góp ý đã xóa nội dung, "
        f"{report.consents_withdrawn} đồng ý đã thu hồi, {report.votes_kept} phiếu giữ lại ẩn danh."
    )


def unanswered(limit: Annotated[int, typer.Option("--limit", min=1, help="Số câu hỏi")] = 20) -> None:
    """Các câu hỏi bot chưa trả lời được, nhiều nhất trước (questions the bot abstained on)."""
    from bot.services import questions

    with _session(read_only=True) as (session, _):
        found = questions.top_unanswered(session=session, limit=limit)
    if not found:
        typer.echo("Chưa có câu hỏi nào chưa trả lời được.")
    for item in found:
        typer.echo(f"{item.count:>5}  {item.text}")


def register(app: typer.Typer) -> None:
    """Add this layer's commands to the main app."""
    app.add_typer(db_app, name="db")
    app.add_typer(poll_app, name="poll")
    app.add_typer(feedback_app, name="feedback")
    app.add_typer(role_app, name="role")
    app.command("forget")(forget)
    app.command("unanswered")(unanswered)
