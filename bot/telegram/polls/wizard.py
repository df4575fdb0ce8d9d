"""Admins: /taokhaosat, a step-by-step poll wizard (question, options, wards, closing time, visibility), and /dongkhaosat."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.dates import format_local
from bot.telegram import format as fmt
from bot.telegram.common import reply
from bot.telegram.deps import call_as, user_draft
from bot.telegram.polls.parse import MAX_DAYS, MAX_WARDS, is_skip, parse_closes, parse_wards

ADMIN_COMMANDS = ["taokhaosat", "dongkhaosat"]
CLOSE_USAGE = "Cách dùng: /dongkhaosat ID (số khảo sát), ví dụ /dongkhaosat 3."
CLOSED = "Đã đóng khảo sát số {id}: {question}"
ASK_QUESTION = "Tạo khảo sát mới. Bạn hãy gõ câu hỏi (tối đa 500 ký tự). Gõ /huy để hủy."
ASK_OPTIONS = "Gõ các lựa chọn, mỗi lựa chọn một dòng (từ 2 đến 10 lựa chọn), trong cùng một tin nhắn."
BAD_OPTIONS = "Cần từ 2 đến 10 lựa chọn khác nhau, mỗi lựa chọn một dòng. Bạn hãy gõ lại."
ASK_VISIBILITY = "Ai được xem kết quả?"
VISIBILITY = {
    "after_vote": "Người đã bỏ phiếu",
    "after_close": "Mọi người, sau khi đóng",
    "officers": "Chỉ cán bộ",
}
CREATED = (
    "✅ Đã tạo khảo sát số <b>{id}</b>: {question}\nCư dân xem bằng /khaosat; đóng bằng /dongkhaosat {id}."
)
CREATE_CANCELLED = "Đã hủy tạo khảo sát."
ASK_WARDS = (
    "Khảo sát dành cho phường/xã nào? Gõ tên các phường/xã, cách nhau bằng dấu phẩy "
    "(ví dụ: Phường Hoàn Kiếm, Phường Ba Đình), hoặc bấm «Bỏ qua» để mọi người đều bỏ phiếu được."
)
BAD_WARDS = "Danh sách phường/xã chưa hợp lệ: tối đa {max} phường/xã, mỗi tên tối đa 120 ký tự. Bạn hãy gõ lại, hoặc bấm «Bỏ qua»."
ASK_CLOSES = (
    "Khi nào khảo sát tự đóng? Gõ ngày giờ theo dạng dd/mm/yyyy hh:mm (giờ Hà Nội, ví dụ 31/12/2026 17:00), "
    "hoặc số ngày kể từ bây giờ (ví dụ 7), hoặc bấm «Bỏ qua» để đóng bằng tay với /dongkhaosat."
)
BAD_CLOSES = (
    "Mình chưa hiểu thời điểm đóng. Hãy gõ dd/mm/yyyy hh:mm (ví dụ 31/12/2026 17:00), "
    "hoặc số ngày từ 1 đến {max} (ví dụ 7), hoặc bấm «Bỏ qua»."
)
PAST_CLOSES = "Thời điểm đóng phải ở tương lai. Bạn hãy gõ lại, hoặc bấm «Bỏ qua»."
SKIP = "Bỏ qua"
QUESTION, OPTIONS, SHOW, WARDS, CLOSES = range(5)
DRAFT = "taokhaosat"


async def close(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/dongkhaosat ID: close a poll now."""
    from bot.services import polls
    from bot.services.errors import ServiceError

    args = context.args or []
    if len(args) != 1 or not args[0].isdigit():
        await reply(update, CLOSE_USAGE)
        return
    try:
        poll = await call_as(update, context, polls.close_poll, poll_id=int(args[0]))
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    await reply(update, CLOSED.format(id=poll.id, question=fmt.esc(poll.question)))


def _draft(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    """The admin's poll draft (user_data, persistent)."""
    return user_draft(context, DRAFT)


async def create_begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/taokhaosat: ask for the question."""
    assert context.user_data is not None
    context.user_data[DRAFT] = {}
    await reply(update, ASK_QUESTION)
    return QUESTION


async def create_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Remember the question and ask for the options."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if len(message.text.strip()) > 500:
        await reply(update, ASK_QUESTION)
        return QUESTION
    _draft(context)["question"] = message.text.strip()
    await reply(update, ASK_OPTIONS)
    return OPTIONS


async def create_options(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Remember the options (one per line) and ask who sees results."""
    message = update.effective_message
    assert message is not None and message.text is not None
    options = [line.strip(" •-*\t") for line in message.text.splitlines() if line.strip(" •-*\t")]
    if not 2 <= len(options) <= 10 or len(set(options)) != len(options):
        await reply(update, BAD_OPTIONS)
        return OPTIONS
    _draft(context)["options"] = options
    await reply(update, ASK_WARDS, reply_markup=_skip_keyboard("tw"))
    return WARDS


def _skip_keyboard(prefix: str) -> InlineKeyboardMarkup:
    """A single «Bỏ qua» button."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(SKIP, callback_data=fmt.callback(prefix, "skip"))]])


async def create_wards(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Remember the wards typed (or «Bỏ qua» typed) and ask when the poll closes."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if not is_skip(message.text):
        wards = parse_wards(message.text)
        if wards is None:
            await reply(update, BAD_WARDS.format(max=MAX_WARDS), reply_markup=_skip_keyboard("tw"))
            return WARDS
        _draft(context)["wards"] = wards
    await reply(update, ASK_CLOSES, reply_markup=_skip_keyboard("tc"))
    return CLOSES


async def skip_wards(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """«Bỏ qua»: the poll is open to everyone."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    _draft(context).pop("wards", None)
    await reply(update, ASK_CLOSES, reply_markup=_skip_keyboard("tc"))
    return CLOSES


async def create_closes(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Remember the closing time (or «Bỏ qua» typed) and ask who sees results."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if not is_skip(message.text):
        now = datetime.now(UTC)
        closes = parse_closes(message.text, now)
        if closes is None:
            await reply(update, BAD_CLOSES.format(max=MAX_DAYS), reply_markup=_skip_keyboard("tc"))
            return CLOSES
        if closes <= now:
            await reply(update, PAST_CLOSES, reply_markup=_skip_keyboard("tc"))
            return CLOSES
        _draft(context)["closes"] = closes.isoformat()
    return await _ask_visibility(update)


async def skip_closes(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """«Bỏ qua»: the poll stays open until /dongkhaosat."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    _draft(context).pop("closes", None)
    return await _ask_visibility(update)


async def _ask_visibility(update: Update) -> int:
    """Offer the three visibility buttons."""
    rows = [
        [InlineKeyboardButton(label, callback_data=fmt.callback("tv", code))]
        for code, label in VISIBILITY.items()
    ]
    await reply(update, ASK_VISIBILITY, reply_markup=InlineKeyboardMarkup(rows))
    return SHOW


async def create_finish(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Create the poll with the chosen visibility."""
    from bot.services import polls
    from bot.services.errors import DatabaseUnavailableError, ServiceError

    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    await query.answer()
    draft = _draft(context)
    try:
        poll = await call_as(
            update,
            context,
            polls.create_poll,
            question=draft.get("question", ""),
            options=draft.get("options", []),
            wards=draft.get("wards", ()),
            closes_at=datetime.fromisoformat(draft["closes"]) if draft.get("closes") else None,
            visibility=query.data.split(":")[1],
        )
    except DatabaseUnavailableError as exc:
        await reply(update, fmt.esc(exc.message))
        return SHOW
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        context.user_data.pop(DRAFT, None)
        return ConversationHandler.END
    await query.edit_message_reply_markup(reply_markup=None)
    context.user_data.pop(DRAFT, None)
    await reply(
        update, CREATED.format(id=poll.id, question=fmt.esc(poll.question)) + "\n" + _scope_line(poll)
    )
    return ConversationHandler.END


def _scope_line(poll: Any) -> str:
    """Who may vote and when the poll closes, for the admin's confirmation."""
    scope = ", ".join(poll.wards) if poll.wards else "mọi phường/xã"
    closes = f"tự đóng lúc {format_local(poll.closes_at)}" if poll.closes_at else "đóng bằng tay"
    return f"Phạm vi: {fmt.esc(scope)}; {closes}."


async def create_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/huy during /taokhaosat."""
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)
    await reply(update, CREATE_CANCELLED)
    return ConversationHandler.END


def create_conversation(admins: filters.BaseFilter) -> ConversationHandler:
    """The persistent step-by-step poll creation for admins."""
    text = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("taokhaosat", create_begin, filters=admins)],
            states={
                QUESTION: [MessageHandler(text, create_question)],
                OPTIONS: [MessageHandler(text, create_options)],
                WARDS: [
                    MessageHandler(text, create_wards),
                    CallbackQueryHandler(skip_wards, pattern=r"^tw:skip$"),
                ],
                CLOSES: [
                    MessageHandler(text, create_closes),
                    CallbackQueryHandler(skip_closes, pattern=r"^tc:skip$"),
                ],
                SHOW: [
                    CallbackQueryHandler(create_finish, pattern=r"^tv:(after_vote|after_close|officers)$")
                ],
            },
            fallbacks=[CommandHandler("huy", create_cancel)],
            name="taokhaosat",
            persistent=True,
            allow_reentry=True,
        )


def handlers(admins: filters.BaseFilter) -> list[BaseHandler]:
    """/dongkhaosat for admins (the wizard is `create_conversation`)."""
    return [CommandHandler("dongkhaosat", close, filters=admins)]
