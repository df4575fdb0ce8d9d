"""Officers: /baocao [from] [to] sends the XLSX export and PNG chart; /xuly changes a ticket's status."""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import date
from pathlib import Path

from telegram import Update
from telegram.constants import ChatAction
from telegram.error import Forbidden, TelegramError
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, filters

from bot.telegram import format as fmt
from bot.telegram.common import reply
from bot.telegram.deps import call_as, idempotency_key

log = logging.getLogger(__name__)
COMMANDS = ["baocao", "xuly"]
BAOCAO_USAGE = "Cách dùng: /baocao [từ ngày] [đến ngày], ví dụ /baocao 01/01/2026 31/03/2026."
XULY_USAGE = (
    "Cách dùng: /xuly MÃ_PHIẾU TRẠNG_THÁI [ghi chú], ví dụ /xuly GY-2026-000123 dang_xu_ly Đã chuyển phường.\n"
    "Trạng thái: moi, tiep_nhan, dang_xu_ly, da_xu_ly, tu_choi."
)
EXPORTING = "Đang xuất báo cáo, vui lòng đợi…"
EXPORTED = "Báo cáo {filters}: {rows} góp ý, {polls} khảo sát."
CHANGED = "Đã cập nhật {ticket}: <b>{status}</b>."
NOTIFIED = "Đã báo cho người gửi."
NOT_NOTIFIED = "Không gửi được thông báo cho người gửi (họ đã chặn bot hoặc đã xóa dữ liệu)."


def _dates(args: list[str]) -> tuple[date | None, date | None]:
    """Parse up to two dates (raises ExportError with a Vietnamese message)."""
    from bot.services.exports import ExportError, parse_local_date

    if len(args) > 2:
        raise ExportError(BAOCAO_USAGE)
    parsed = [parse_local_date(arg) for arg in args]
    return (parsed[0] if parsed else None), (parsed[1] if len(parsed) > 1 else None)


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Export feedback and polls (off the event loop) and send the XLSX and the PNG chart."""
    from bot.services.errors import ServiceError
    from bot.services.exports import describe_filters, export_feedback

    message = update.effective_message
    assert message is not None
    workdir = Path(tempfile.mkdtemp(prefix="baocao-"))
    try:
        date_from, date_to = _dates(context.args or [])
        await reply(update, EXPORTING)
        await message.reply_chat_action(ChatAction.UPLOAD_DOCUMENT)
        name = f"bao-cao-{date.today():%Y%m%d}.xlsx"
        result = await call_as(
            update, context, export_feedback, out=workdir / name, fmt="xlsx", date_from=date_from, date_to=date_to
        )
        caption = EXPORTED.format(filters=fmt.esc(describe_filters(result.filters)), rows=result.rows, polls=result.polls)
        for path in result.paths:
            with path.open("rb") as handle:
                await message.reply_document(handle, filename=path.name, caption=caption, parse_mode="HTML")
            caption = ""
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def change_status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Move a ticket along the workflow and notify its resident."""
    from bot.services import feedback
    from bot.services.errors import ServiceError

    message = update.effective_message
    assert message is not None and message.text is not None
    parts = message.text.split(maxsplit=3)
    if len(parts) < 3:
        await reply(update, fmt.esc(XULY_USAGE))
        return
    ticket, status = parts[1], parts[2]
    comment = parts[3] if len(parts) > 3 else None
    try:
        result = await call_as(
            update,
            context,
            feedback.change_status,
            ticket=ticket,
            status=status,
            comment=comment,
            idempotency_key=idempotency_key(update, context),
        )
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    view = result.feedback
    text = CHANGED.format(ticket=fmt.esc(view.ticket), status=fmt.esc(view.status.label))
    if result.notification is not None:
        text += "\n" + await _notify(context, result.notification.chat_id, result.notification.text)
    await reply(update, text)


async def _notify(context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str) -> str:
    """Send the status notification to the resident; say whether it reached them."""
    try:
        await context.bot.send_message(chat_id, fmt.esc(text), parse_mode="HTML")
    except Forbidden:
        return NOT_NOTIFIED
    except TelegramError as exc:
        log.warning("notification to a resident failed: %s", exc)
        return NOT_NOTIFIED
    return NOTIFIED


def handlers(officers: filters.BaseFilter) -> list[BaseHandler]:
    """Officer commands, gated by the officers filter at registration."""
    return [
        CommandHandler("baocao", report, filters=officers),
        CommandHandler("xuly", change_status, filters=officers),
    ]
