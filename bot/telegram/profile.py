"""/phuongxa: the resident's ward in their profile (ward-scoped polls, «Bỏ qua» in /gopy)."""

from __future__ import annotations

import warnings
from typing import Any

from telegram import Update
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

from bot.telegram import format as fmt
from bot.telegram import wardpick
from bot.telegram.common import end_flow, private_only_handlers, reply
from bot.telegram.deps import call, pseudonym, user_draft

COMMANDS = ["phuongxa"]
TYPING, CHOOSING = range(2)
DRAFT = "phuongxa"
PREFIX = "px"
MAX_WARD = 120

ASK = (
    "Bạn sống ở phường/xã nào của Hà Nội? Hãy gõ tên, ví dụ: <i>Phường Hồng Hà</i> hoặc "
    "<i>phuc xa ba dinh</i>. Mình dùng nó cho các khảo sát theo phường/xã và khi bạn bấm «Bỏ qua» "
    "trong /gopy. Gõ /huy để thôi."
)
CURRENT = "Phường/xã đang lưu: <b>{ward}</b>."
SAVED = "✅ Đã lưu phường/xã của bạn: {ward}."
SAVED_AS_TYPED = (
    "✅ Đã lưu như bạn gõ: <b>{ward}</b>. Vì mình chưa nhận ra phường/xã này, các khảo sát dành riêng "
    "cho một phường/xã có thể chưa nhận phiếu của bạn; bạn có thể gõ /phuongxa để sửa lại."
)
UNCHANGED = "Không thay đổi gì. Khi cần, bạn gõ /phuongxa nhé."
TOO_LONG = f"Tên phường/xã dài quá (tối đa {MAX_WARD} ký tự). Bạn hãy gõ ngắn gọn lại nhé."
CHOOSE = "Bạn hãy chọn một nút ở trên, gõ lại tên phường/xã, hoặc gõ /huy để thôi."
SKIP = fmt.callback(PREFIX, "skip")


def _draft(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    """The /phuongxa draft in user_data: the candidates offered."""
    return user_draft(context, DRAFT)


def _clear(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Forget the draft (it may hold a typed address)."""
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/phuongxa [tên]: recognise the ward given, or show the saved one and ask."""
    from bot.services import residents
    from bot.services.errors import ServiceError

    _clear(context)
    if context.args:
        return await _recognise(update, context, " ".join(context.args))
    try:
        profile = await call(context, residents.get_resident, pseudonym=pseudonym(update, context))
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return ConversationHandler.END
    saved = CURRENT.format(ward=fmt.esc(profile.ward)) + "\n" if profile is not None and profile.ward else ""
    await reply(update, saved + ASK)
    return TYPING


async def typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """A ward was typed: recognise it."""
    message = update.effective_message
    assert message is not None and message.text is not None
    return await _recognise(update, context, message.text)


async def _recognise(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> int:
    """Save a single match; offer several as buttons; explain how to type it when none matches."""
    from bot.services.errors import InvalidInputError

    ward = " ".join(text.split())
    if len(ward) > MAX_WARD:
        await reply(update, TOO_LONG)
        return TYPING
    try:
        matches = await wardpick.recognise(ward)
    except InvalidInputError as exc:
        await reply(update, fmt.esc(exc.message))
        return TYPING
    found = wardpick.offer(_draft(context), PREFIX, ward, matches, skip=SKIP)
    if found.match is None:
        await reply(update, found.text, reply_markup=found.keyboard)
        return CHOOSING
    return await _save(update, context, found.match.ward, SAVED.format(ward=wardpick.describe(found.match)))


async def chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """A candidate or «Giữ như đã gõ» was pressed: save it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    draft = _draft(context)
    keep = query.data.endswith(f":{wardpick.KEEP}")
    ward = wardpick.chosen(draft, query.data)
    if ward is None:
        await query.answer(wardpick.STALE, show_alert=True)
        return CHOOSING
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    done = SAVED_AS_TYPED.format(ward=fmt.esc(ward)) if keep else SAVED.format(ward=f"<b>{fmt.esc(ward)}</b>")
    return await _save(update, context, ward, done)


async def _save(update: Update, context: ContextTypes.DEFAULT_TYPE, ward: str, done: str) -> int:
    """Store the ward (residents.set_ward); on a database outage say so and let the resident retry."""
    from bot.services import residents
    from bot.services.errors import ServiceError

    try:
        await call(context, residents.set_ward, pseudonym=pseudonym(update, context), ward=ward)
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return CHOOSING if wardpick.OFFER in _draft(context) else TYPING
    _clear(context)
    await reply(update, done)
    return ConversationHandler.END


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/huy or «Bỏ qua»: stop without changing the profile."""
    return await end_flow(update, context, DRAFT, UNCHANGED)


async def nudge(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything but text while a ward is expected."""
    await reply(update, CHOOSE)


def conversation() -> ConversationHandler:
    """The persistent /phuongxa conversation (private chats); like every flow it ends after
    CONVERSATION_TIMEOUT_MINUTES without an answer, so a half-finished edit never captures later questions."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    text = private & filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # Buttons are tracked per chat and user, not per message: intended (one draft per resident).
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("phuongxa", begin, filters=filters.ChatType.PRIVATE)],
            states={
                TYPING: [MessageHandler(text, typed), MessageHandler(private & ~filters.COMMAND, nudge)],
                CHOOSING: [
                    CallbackQueryHandler(chosen, pattern=rf"^{PREFIX}:{wardpick.PATTERN}$"),
                    CallbackQueryHandler(cancel, pattern=rf"^{SKIP}$"),
                    MessageHandler(text, typed),
                    MessageHandler(private & ~filters.COMMAND, nudge),
                ],
            },
            fallbacks=[CommandHandler("huy", cancel)],
            name="phuongxa",
            persistent=True,
            allow_reentry=True,
        )


def handlers() -> list[BaseHandler]:
    """A pointer to the private chat when /phuongxa is used in a group (the flow is `conversation()`)."""
    return private_only_handlers(COMMANDS)
