"""/xoadulieu: withdraw consent and erase the resident's data, after a confirmation button."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.telegram import format as fmt
from bot.telegram.common import reply
from bot.telegram.deps import call, pseudonym

COMMANDS = ["xoadulieu"]
CONFIRM = (
    "Bạn có chắc muốn xóa dữ liệu của mình không? Mình sẽ rút lại mọi đồng ý, xóa nội dung, ảnh và vị trí "
    "trong các góp ý của bạn (kể cả nội dung chuyển từ tin nhắn thoại; bản ghi âm thì không bao giờ được lưu), "
    "và không còn gửi thông báo cho bạn. Phiếu khảo sát được giữ ẩn danh để kết quả "
    "không bị sai. Việc này không thể hoàn tác."
)
YES = "Xóa dữ liệu của tôi"
NO = "Không, giữ lại"
ERASED = "Đã xóa dữ liệu của bạn ({feedback} góp ý được xóa nội dung). Cảm ơn bạn đã đồng hành."
NOTHING = "Mình không lưu dữ liệu nào của bạn."
KEPT = "Dữ liệu của bạn được giữ nguyên."


async def ask_erase(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/xoadulieu: explain and ask for confirmation."""
    keyboard = InlineKeyboardMarkup(
        [[
            InlineKeyboardButton(YES, callback_data=fmt.callback("er", 1)),
            InlineKeyboardButton(NO, callback_data=fmt.callback("er", 0)),
        ]]
    )
    await reply(update, CONFIRM, reply_markup=keyboard)


async def erase(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The confirmation button: erase through the service, and drop the bot's own state for this user."""
    from bot.services import residents
    from bot.services.errors import ServiceError

    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    if query.data != "er:1":
        await reply(update, KEPT)
        return
    try:
        report = await call(context, residents.forget, pseudonym=pseudonym(update, context), actor="resident")
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    if context.user_data is not None:
        context.user_data.clear()
    await reply(update, ERASED.format(feedback=report.feedback_erased) if report.found else NOTHING)


def handlers() -> list[BaseHandler]:
    """/xoadulieu and its confirmation buttons."""
    return [
        CommandHandler("xoadulieu", ask_erase, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(erase, pattern=r"^er:[01]$"),
    ]
