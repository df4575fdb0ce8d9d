"""Welcome, help, consent, the flood limit, fallbacks for what the bot does not handle, and errors."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.telegram import format as fmt
from bot.telegram.deps import RoleFilters, call, deps, pseudonym

log = logging.getLogger(__name__)
Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]
ALL_PURPOSES = ("feedback", "polls", "notifications")
PURPOSE_CODES = {"all": ALL_PURPOSES, "fb": ("feedback", "notifications"), "pl": ("polls",)}


def consent_keyboard(code: str) -> InlineKeyboardMarkup:
    """'Đồng ý' / 'Không đồng ý' buttons for a purpose code of PURPOSE_CODES."""
    return InlineKeyboardMarkup(
        [[
            InlineKeyboardButton(fmt.AGREE, callback_data=fmt.callback("cs", code, 1)),
            InlineKeyboardButton(fmt.DISAGREE, callback_data=fmt.callback("cs", code, 0)),
        ]]
    )


async def reply(update: Update, text: str, **kwargs: object) -> None:
    """Send an HTML reply (split at Telegram's limit) to the chat of this update."""
    chat = update.effective_chat
    if chat is None:
        return
    for part in fmt.split_html(text):
        await chat.send_message(part, parse_mode=ParseMode.HTML, **kwargs)  # type: ignore[arg-type]


async def end_flow(update: Update, context: ContextTypes.DEFAULT_TYPE, draft: str, text: str) -> int:
    """End a multi-step flow: close the pressed button (if any), forget its draft, say `text`."""
    from telegram.ext import ConversationHandler

    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(reply_markup=None)
    if context.user_data is not None:
        context.user_data.pop(draft, None)
    await reply(update, text)
    return ConversationHandler.END


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Welcome the resident and show the privacy notice with consent buttons."""
    await reply(update, fmt.WELCOME)
    if update.effective_chat is not None and update.effective_chat.type == "private":
        await reply(update, fmt.PRIVACY_NOTICE, reply_markup=consent_keyboard("all"))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands this user may use."""
    user = update.effective_user
    roles = deps(context).roles
    text = fmt.HELP_RESIDENT
    if user is not None and user.id in roles.officers.user_ids:
        text += fmt.HELP_OFFICER
    if user is not None and user.id in roles.admins.user_ids:
        text += fmt.HELP_ADMIN
    await reply(update, text)


async def grant_consent(update: Update, context: ContextTypes.DEFAULT_TYPE, purposes: tuple[str, ...]) -> None:
    """Record consent for each purpose (raises ServiceError when the database is down).

    With the notifications consent, the chat id is stored sealed (AddressBook), apart from the pseudonym.
    """
    from bot.services import residents

    chat = update.effective_chat
    assert chat is not None
    bot_deps = deps(context)
    for purpose in purposes:
        await call(
            context,
            residents.grant_consent,
            pseudonym=pseudonym(update, context),
            purpose=purpose,
            policy_version=bot_deps.settings.policy_version,
            address=bot_deps.addresses.seal(chat.id) if purpose == "notifications" else None,
        )


async def consent_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Handle 'Đồng ý' / 'Không đồng ý' under a privacy notice."""
    from bot.services.errors import ServiceError

    query = update.callback_query
    assert query is not None and query.data is not None
    _, code, agreed = query.data.split(":")
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    if agreed != "1":
        await reply(update, fmt.CONSENT_DECLINED)
        return
    try:
        await grant_consent(update, context, PURPOSE_CODES[code])
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    await reply(update, fmt.CONSENT_THANKS)


async def limit_flood(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Drop a resident's updates beyond the per-resident limit; warn once per window."""
    if update.effective_user is None:
        return
    verdict = await deps(context).flood.check_async(update.effective_user.id, time.monotonic())
    if verdict:
        return
    if verdict is False:
        if update.callback_query is not None:
            await update.callback_query.answer(fmt.FLOOD, show_alert=True)
        else:
            await reply(update, fmt.FLOOD)
    raise ApplicationHandlerStop


async def say(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """Reply with a fixed text and stop further handling."""
    await reply(update, text)
    raise ApplicationHandlerStop


def _sayer(text: str) -> Callback:
    """A callback that replies with `text`."""

    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Reply with a fixed friendly text."""
        await say(update, context, text)

    return callback


async def ignore(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stay silent (edits in groups) and stop further handling."""
    raise ApplicationHandlerStop


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press that no handler recognises (forged or outdated callback data)."""
    query = update.callback_query
    assert query is not None
    await query.answer(fmt.STALE_BUTTON, show_alert=True)


async def refuse(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Politely refuse a role-gated command to someone without the role."""
    await reply(update, fmt.REFUSED)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error and tell the resident, in Vietnamese, that something went wrong."""
    if isinstance(context.error, Forbidden):  # the resident blocked the bot: nobody to tell
        log.info("resident unreachable: %s", context.error.message)
        return
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        if update.callback_query is not None:
            await update.callback_query.answer(fmt.ERROR, show_alert=True)
            return
        await update.effective_chat.send_message(html.escape(fmt.ERROR), parse_mode=ParseMode.HTML)


def early_handlers() -> list[BaseHandler]:
    """Handlers of group -1: edited and forwarded messages get a short answer and go no further."""
    private = filters.ChatType.PRIVATE
    return [
        MessageHandler(filters.UpdateType.EDITED & filters.ChatType.GROUPS, ignore),
        MessageHandler(filters.UpdateType.EDITED & private, _sayer(fmt.EDITED)),
        MessageHandler(filters.FORWARDED & private, _sayer(fmt.FORWARDED)),
    ]


def flood_handler() -> TypeHandler:
    """The per-resident flood limit, run before every other handler (group -2)."""
    return TypeHandler(Update, limit_flood)


def command_handlers() -> list[BaseHandler]:
    """/start, /help and the consent buttons."""
    return [
        CommandHandler("start", start),
        CommandHandler("help", help_command),
        CallbackQueryHandler(consent_answer, pattern=r"^cs:(all|pl):[01]$"),
    ]


def fallback_handlers() -> list[BaseHandler]:
    """Last resort answers in private chats: stickers, voice, media, files, unknown commands, old buttons."""
    private = filters.ChatType.PRIVATE
    return [
        MessageHandler(private & filters.Sticker.ALL, _sayer(fmt.STICKER)),
        MessageHandler(private & (filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE), _sayer(fmt.VOICE)),
        MessageHandler(private & filters.Document.ALL, _sayer(fmt.FILE_REFUSED)),
        CommandHandler("huy", _sayer(fmt.NOTHING_TO_CANCEL), filters=private),
        MessageHandler(private & filters.COMMAND, _sayer(fmt.UNKNOWN_COMMAND)),
        MessageHandler(private & ~filters.TEXT, _sayer(fmt.MEDIA)),
        CallbackQueryHandler(stale_button),
    ]


def private_only_handlers(commands: list[str]) -> list[BaseHandler]:
    """In groups, personal commands are answered with a pointer to the private chat."""
    return [CommandHandler(commands, _sayer(fmt.PRIVATE_ONLY), filters=filters.ChatType.GROUPS)]


def refusal_handlers(commands: list[str]) -> list[BaseHandler]:
    """Role-gated commands reaching this point come from someone without the role: refuse politely."""
    return [CommandHandler(commands, refuse)]


RESIDENT_COMMANDS = [
    ("start", "Giới thiệu và quyền riêng tư"),
    ("help", "Danh sách lệnh"),
    ("gopy", "Gửi góp ý, phản ánh"),
    ("phuongxa", "Phường/xã của tôi"),
    ("theodoi", "Tình trạng góp ý của tôi"),
    ("khaosat", "Khảo sát đang mở"),
    ("xoadulieu", "Xóa dữ liệu của tôi"),
    ("huy", "Hủy thao tác đang làm"),
]
OFFICER_COMMANDS = [
    ("baocao", "Xuất báo cáo góp ý và khảo sát"),
    ("xuly", "Cập nhật tình trạng một góp ý"),
]
ADMIN_COMMANDS = [
    ("capnhat", "Lập lại chỉ mục tài liệu"),
    ("taokhaosat", "Tạo khảo sát"),
    ("dongkhaosat", "Đóng khảo sát"),
    ("chuatraloi", "Câu hỏi chưa trả lời được"),
    ("themtu", "Thêm từ đồng nghĩa"),
    ("dstu", "Danh sách từ đồng nghĩa"),
    ("xoatu", "Xóa từ đồng nghĩa"),
]


async def publish_commands(bot: Bot, roles: RoleFilters) -> None:
    """setMyCommands: residents in the default scope, officers and admins in their own chats."""
    await bot.set_my_commands([BotCommand(*pair) for pair in RESIDENT_COMMANDS])
    for user_id in sorted(roles.officers.user_ids):
        pairs = RESIDENT_COMMANDS + OFFICER_COMMANDS
        if user_id in roles.admins.user_ids:
            pairs = pairs + ADMIN_COMMANDS
        try:
            await bot.set_my_commands(
                [BotCommand(*pair) for pair in pairs], scope=BotCommandScopeChat(chat_id=user_id)
            )
        except BadRequest as exc:  # the staff member has not opened a chat with the bot yet
            log.info("command menu for %s not set: %s", user_id, exc.message)
