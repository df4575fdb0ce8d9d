"""Admins: /capnhat re-indexes knowledge/ in the background, documents are added by upload, /chuatraloi."""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

from telegram import Bot, Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.telegram import format as fmt
from bot.telegram.common import reply
from bot.telegram.deps import Searcher, call, deps

log = logging.getLogger(__name__)
COMMANDS = ["capnhat", "chuatraloi"]
MAX_UPLOAD = 20 * 1024 * 1024
SUFFIXES = (".pdf", ".docx", ".txt", ".md", ".html", ".htm")
REINDEXING = "Đang lập lại chỉ mục tài liệu; câu hỏi vẫn được trả lời bằng chỉ mục cũ trong lúc chờ."
REINDEXED = "✅ Đã cập nhật chỉ mục: {documents} tài liệu, {passages} đoạn, trong {seconds:.1f} giây."
SKIPPED = "Bỏ qua {n} tệp:"
BAD_TYPE = "Mình chỉ nhận tài liệu pdf, docx, txt, md hoặc html."
TOO_BIG = "Tệp quá lớn (tối đa 20 MB)."
BAD_NAME = "Tên tệp không hợp lệ. Hãy đổi tên tệp (chữ, số, dấu gạch) rồi gửi lại."
SAVED = "Đã lưu tài liệu <b>{name}</b> vào kho tài liệu."
NO_UNANSWERED = "Chưa có câu hỏi nào mà mình không trả lời được hoặc bị đánh giá là không có ích."
UNANSWERED_TITLE = "Câu hỏi chưa trả lời được (hỏi nhiều nhất trước)"
UNHELPFUL_TITLE = "Câu trả lời bị đánh giá «Không có ích» (nhiều nhất trước)"


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


def safe_name(name: str) -> str | None:
    """A file name safe to write into knowledge/ (no directories, no hidden files), or None."""
    base = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name).strip()
    base = re.sub(r"[^\w.\- ]", "_", base).strip(" .")
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    if not stem or suffix not in SUFFIXES or base.lower() == "manifest.json":
        return None
    return f"{stem[:100]}{suffix}"


async def add_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A document from an admin: check type and size, save it into knowledge/, re-index."""
    message = update.effective_message
    assert message is not None and message.document is not None
    document = message.document
    if Path(document.file_name or "").suffix.lower() not in SUFFIXES:
        await reply(update, BAD_TYPE)
        return
    if (document.file_size or 0) > MAX_UPLOAD:
        await reply(update, TOO_BIG)
        return
    name = safe_name(document.file_name or "")
    if name is None:
        await reply(update, BAD_NAME)
        return
    knowledge = deps(context).settings.knowledge_dir
    knowledge.mkdir(parents=True, exist_ok=True)
    partial = knowledge / f".{name}.part"
    telegram_file = await document.get_file()
    await telegram_file.download_to_drive(partial)
    partial.replace(knowledge / name)
    await reply(update, SAVED.format(name=fmt.esc(name)) + "\n" + REINDEXING)
    _start_rebuild(update, context)


async def unanswered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/chuatraloi: questions the bot abstained on, then answers residents rated not helpful."""
    from bot.services import questions
    from bot.services.errors import ServiceError

    try:
        items = await call(context, questions.top_unanswered, limit=30)
        unhelpful = await call(context, questions.top_unhelpful, limit=20)
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    if not items and not unhelpful:
        await reply(update, NO_UNANSWERED)
        return
    sections = []
    if items:
        sections.append(fmt.bullet_list(UNANSWERED_TITLE, [f"({item.count}×) {item.text}" for item in items]))
    if unhelpful:
        lines = [f"(👎 {r.not_helpful} · 👍 {r.helpful}) {r.text}" for r in unhelpful]
        sections.append(fmt.bullet_list(UNHELPFUL_TITLE, lines))
    await reply(update, "\n\n".join(sections))


def handlers(admins: filters.BaseFilter) -> list[BaseHandler]:
    """Admin commands and document uploads, gated by the admins filter at registration."""
    return [
        CommandHandler("capnhat", reindex, filters=admins),
        CommandHandler("chuatraloi", unanswered, filters=admins),
        MessageHandler(admins & filters.Document.ALL & filters.UpdateType.MESSAGE, add_document),
    ]
