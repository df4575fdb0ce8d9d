"""Admins: /capnhat re-indexes knowledge/ in the background, documents are added by upload."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.telegram import format as fmt
from bot.telegram.common import reply
from bot.telegram.deps import Searcher, deps

if TYPE_CHECKING:
    from telegram import Document as TgDocument

    from bot.config import Settings
    from bot.search.models import Document
    from bot.search.uploads import DocumentStore, Staged, UploadRejectedError

log = logging.getLogger(__name__)
COMMANDS = ["capnhat"]
BUTTONS = ["up"]  # callback data prefixes of admin buttons (role checked by the staff gate)
REINDEXING = "Đang lập lại chỉ mục tài liệu; câu hỏi vẫn được trả lời bằng chỉ mục cũ trong lúc chờ."
REINDEXED = "✅ Đã cập nhật chỉ mục: {documents} tài liệu, {passages} đoạn, trong {seconds:.1f} giây."
SKIPPED = "Bỏ qua {n} tệp:"
BAD_TYPE = "Mình chỉ nhận tài liệu pdf, docx, txt, md hoặc html."
BAD_NAME = "Tên tệp không hợp lệ. Hãy đổi tên tệp (chữ, số, dấu gạch) rồi gửi lại."
SAVED = "Đã lưu tài liệu <b>{name}</b> vào kho tài liệu."


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/capnhat: start a background rebuild; the report arrives when it is done."""
    await reply(update, REINDEXING)
    _start_rebuild(update, context)


def _start_rebuild(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Run the rebuild as an application task, so this admin's other updates are not held up."""
    chat = update.effective_chat
    assert chat is not None
    context.application.create_task(
        _rebuild_and_report(context.bot, chat.id, deps(context).search), update=update, name="reindex"
    )


async def _rebuild_and_report(bot: Bot, chat_id: int, search: Searcher) -> None:
    """Rebuild the index, then tell the admin what was indexed and skipped."""
    from bot.search.errors import SearchError

    try:
        report = await search.rebuild()
    except SearchError as exc:
        await bot.send_message(chat_id, fmt.esc(exc.message), parse_mode=ParseMode.HTML)
        return
    text = REINDEXED.format(documents=report.documents, passages=report.passages, seconds=report.seconds)
    if report.skipped:
        text += "\n" + fmt.bullet_list(SKIPPED.format(n=len(report.skipped)), [f"{f}: {r}" for f, r in report.skipped])
    for part in fmt.split_html(text):
        await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML)


async def add_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A document from an admin: check it, parse it in the sandbox, then store it (or ask to replace)."""
    from bot.search.uploads import DocumentStore, UploadRejectedError

    message = update.effective_message
    assert message is not None and message.document is not None
    settings = deps(context).settings
    store = DocumentStore(settings)
    try:
        await message.reply_chat_action(ChatAction.TYPING)
        staged, parsed = await _receive(message.document, store, settings)
    except UploadRejectedError as exc:
        await reply(update, _rejection(exc, message.document.file_name or "", settings.max_upload_mb))
        return
    await _store_or_ask(update, context, store, staged, len(parsed.text))


async def _receive(document: TgDocument, store: DocumentStore, settings: Settings) -> tuple[Staged, Document]:
    """Check name and size, download into staging, validate in the sandbox (staging cleared on failure)."""
    from bot.search.uploads import check_name, check_size, too_big

    name = check_name(document.file_name)
    check_size(document.file_size, settings)
    staged = store.stage(name)
    received = False
    try:
        try:
            telegram_file = await document.get_file()
        except BadRequest as exc:  # Telegram serves bots files up to 20 MB only
            if "too big" not in exc.message.lower():
                raise
            raise too_big(document.file_size) from exc
        check_size(telegram_file.file_size, settings)
        await telegram_file.download_to_drive(staged.path)
        parsed = await asyncio.to_thread(store.validate, staged)
        received = True
    finally:
        if not received:
            store.discard(staged)
    return staged, parsed


def _rejection(exc: UploadRejectedError, file_name: str, limit_mb: float) -> str:
    """The admin's message for a refused upload."""
    kind, reason = exc.kind, exc.reason
    if kind == "path":
        return fmt.UPLOAD_BAD_PATH
    if kind == "type":
        return BAD_TYPE
    if kind == "name":
        return BAD_NAME
    if kind == "size":
        return fmt.UPLOAD_TOO_BIG.format(size=reason, limit=limit_mb)
    return fmt.UPLOAD_REJECTED.format(name=fmt.esc(file_name), reason=fmt.esc(reason))


async def _store_or_ask(
    update: Update, context: ContextTypes.DEFAULT_TYPE, store: DocumentStore, staged: Staged, chars: int
) -> None:
    """Store a validated upload and re-index, or ask before replacing a document of the same name."""
    name = fmt.esc(staged.name)
    if await asyncio.to_thread(store.same_as_stored, staged):
        store.discard(staged)
        await reply(update, fmt.UPLOAD_SAME.format(name=name))
        return
    if store.exists(staged.name):
        store.hold(staged)
        keyboard = InlineKeyboardMarkup(
            [[
                InlineKeyboardButton(fmt.UPLOAD_REPLACE, callback_data=fmt.callback("up", "r", staged.token)),
                InlineKeyboardButton(fmt.UPLOAD_KEEP, callback_data=fmt.callback("up", "k", staged.token)),
            ]]
        )
        await reply(update, fmt.UPLOAD_REPLACE_ASK.format(name=name, chars=chars), reply_markup=keyboard)
        return
    await asyncio.to_thread(store.store, staged)
    await reply(update, SAVED.format(name=name) + "\n" + REINDEXING)
    _start_rebuild(update, context)


async def confirm_replace(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """«Thay thế» / «Giữ bản cũ» under a replacement question (the button carries a token, not a name)."""
    from bot.search.uploads import DocumentStore

    query = update.callback_query
    assert query is not None and query.data is not None
    bot_deps = deps(context)  # the staff gate checked the admin role in the database
    await query.answer()
    _, choice, token = [*query.data.split(":", 2), "", ""][:3]
    staged = DocumentStore(bot_deps.settings).take(token) if choice in ("r", "k") else None
    if staged is None:
        await reply(update, fmt.UPLOAD_EXPIRED)
        return
    await query.edit_message_reply_markup(None)
    store, name = DocumentStore(bot_deps.settings), fmt.esc(staged.name)
    if choice == "k":
        store.discard(staged)
        await reply(update, fmt.UPLOAD_KEPT.format(name=name))
        return
    await asyncio.to_thread(store.store, staged)
    await reply(update, fmt.UPLOAD_REPLACED.format(name=name) + "\n" + REINDEXING)
    _start_rebuild(update, context)


def handlers(admins: filters.BaseFilter) -> list[BaseHandler]:
    """Admin commands and document uploads, gated by the admins filter at registration."""
    return [
        CommandHandler("capnhat", reindex, filters=admins),
        MessageHandler(admins & filters.Document.ALL & filters.UpdateType.MESSAGE, add_document),
        CallbackQueryHandler(confirm_replace, pattern=r"^up:"),
    ]
