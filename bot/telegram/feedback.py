"""/gopy: consent → category → ward (or skip) → content (text, photo, location) → summary → ticket."""

from __future__ import annotations

import warnings
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
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
from bot.telegram.common import Callback, consent_keyboard, end_flow, grant_consent, reply
from bot.telegram.deps import call, idempotency_key, pseudonym, user_draft

COMMANDS = ["gopy"]
CONSENT, CATEGORY, WARD, CONTENT, CONFIRM = range(5)
DRAFT = "gopy"
MAX_WARD = 120
MAX_TEXT = 4000

ASK_CONSENT = (
    "Để gửi góp ý, mình cần bạn đồng ý cho lưu nội dung góp ý (kèm mã bí danh, không lưu tên) "
    "và gửi thông báo khi có kết quả xử lý. Bạn có đồng ý không?"
)
ASK_CATEGORY = "Góp ý của bạn thuộc lĩnh vực nào?"
ASK_WARD = "Góp ý này liên quan đến phường/xã nào? Hãy gõ tên (ví dụ: Phường Hoàn Kiếm), hoặc bấm «Bỏ qua»."
ASK_CONTENT = "Hãy gửi nội dung góp ý: một tin nhắn chữ, hoặc một ảnh kèm chú thích, hoặc một vị trí 📍."
CHOOSE_CATEGORY = "Bạn hãy chọn lĩnh vực bằng các nút ở trên nhé (hoặc /huy để hủy)."
PRESS_SEND = "Bạn hãy bấm «Gửi» hoặc «Hủy» ở trên nhé (hoặc /huy để hủy)."
WRONG_CONTENT = "Mình chỉ nhận nội dung bằng chữ, một ảnh kèm chú thích, hoặc một vị trí. Gõ /huy để hủy."
WARD_TOO_LONG = f"Tên phường/xã dài quá (tối đa {MAX_WARD} ký tự). Bạn hãy gõ lại, hoặc bấm «Bỏ qua»."
TEXT_TOO_LONG = f"Nội dung dài quá (tối đa {MAX_TEXT:,} ký tự). Bạn hãy rút gọn rồi gửi lại.".replace(",", ".")
NO_WARD = "Không sao, góp ý sẽ được gửi mà không ghi phường/xã."
ADD_MORE = "Bạn có thể gửi thêm chữ mô tả, ảnh hoặc vị trí để bổ sung (không bắt buộc), rồi bấm «Gửi»."
UNKNOWN_WARD = "chưa rõ"
CANCELLED = "Đã hủy góp ý. Nội dung chưa được gửi."
DECLINED = "Không sao cả. Khi nào muốn gửi góp ý, bạn gõ /gopy nhé."
SENT = (
    "✅ Đã nhận góp ý của bạn. Mã phiếu: <b>{ticket}</b>\n"
    "Bạn sẽ nhận được tin nhắn khi cán bộ cập nhật tình trạng; xem lại bằng /theodoi."
)


def _categories() -> list[tuple[str, str]]:
    """(code, Vietnamese label) of each feedback category, from the service."""
    from bot.services import feedback

    return [(category.value, category.label) for category in feedback.categories()]


def _category_keyboard() -> InlineKeyboardMarkup:
    """Two category buttons per row; callback data carries the category's index."""
    buttons = [
        InlineKeyboardButton(label, callback_data=fmt.callback("gc", index))
        for index, (_, label) in enumerate(_categories())
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def _draft(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    """This resident's feedback draft (kept in user_data so it survives a restart)."""
    return user_draft(context, DRAFT)


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/gopy: check consent, then ask for the category."""
    from bot.services import residents
    from bot.services.errors import ServiceError

    assert context.user_data is not None
    context.user_data[DRAFT] = {}
    try:
        agreed = await call(
            context, residents.has_consent, pseudonym=pseudonym(update, context), purpose="feedback"
        )
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return ConversationHandler.END
    if not agreed:
        await reply(update, ASK_CONSENT, reply_markup=consent_keyboard("fb"))
        return CONSENT
    await reply(update, ASK_CATEGORY, reply_markup=_category_keyboard())
    return CATEGORY


async def consent_given(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """The resident agreed: record consent and ask for the category."""
    from bot.services.errors import ServiceError

    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    try:
        await grant_consent(update, context, ("feedback", "notifications"))
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return ConversationHandler.END
    await reply(update, ASK_CATEGORY, reply_markup=_category_keyboard())
    return CATEGORY


async def consent_refused(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """The resident declined: end without storing anything."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    _clear(context)
    await reply(update, DECLINED)
    return ConversationHandler.END


async def category_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Remember the category and ask for the ward."""
    query = update.callback_query
    assert query is not None and query.data is not None
    categories = _categories()
    index = int(query.data.split(":")[1])
    if index >= len(categories):
        await query.answer(fmt.STALE_BUTTON, show_alert=True)
        return CATEGORY
    code, label = categories[index]
    _draft(context)["category"] = code
    await query.answer()
    await query.edit_message_text(f"Lĩnh vực: <b>{fmt.esc(label)}</b>", parse_mode="HTML")
    skip = InlineKeyboardMarkup([[InlineKeyboardButton("Bỏ qua", callback_data=fmt.callback("gw", "skip"))]])
    await reply(update, ASK_WARD, reply_markup=skip)
    return WARD


async def ward_typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Recognise the typed ward: one match is confirmed, several are offered as buttons, none explained."""
    from bot.services.errors import InvalidInputError

    message = update.effective_message
    assert message is not None and message.text is not None
    ward = " ".join(message.text.split())
    if len(ward) > MAX_WARD:
        await reply(update, WARD_TOO_LONG)
        return WARD
    try:
        matches = await wardpick.recognise(ward)
    except InvalidInputError as exc:
        await reply(update, f"{fmt.esc(exc.message)} Hoặc bấm «Bỏ qua».")
        return WARD
    found = wardpick.offer(_draft(context), "gw", ward, matches, skip=fmt.callback("gw", "skip"))
    if found.match is None:
        await reply(update, found.text, reply_markup=found.keyboard)
        return WARD
    _draft(context)["ward"] = found.match.ward
    await reply(update, f"{wardpick.confirmation(found.match)}\n{ASK_CONTENT}")
    return CONTENT


async def ward_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """A candidate (or «Giữ như đã gõ») was pressed: remember that ward and ask for the content."""
    query = update.callback_query
    assert query is not None and query.data is not None
    ward = wardpick.chosen(_draft(context), query.data)
    if ward is None:
        await query.answer(wardpick.STALE, show_alert=True)
        return WARD
    await query.answer()
    await query.edit_message_text(f"Phường/xã: <b>{fmt.esc(ward)}</b>", parse_mode="HTML")
    _draft(context)["ward"] = ward
    await reply(update, ASK_CONTENT)
    return CONTENT


async def ward_skipped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """No ward typed: use the ward saved in the resident's profile, else send the feedback without one."""
    from bot.services import residents
    from bot.services.errors import ServiceError

    query = update.callback_query
    assert query is not None
    await query.answer()
    try:
        profile = await call(context, residents.get_resident, pseudonym=pseudonym(update, context))
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return WARD
    await query.edit_message_reply_markup(reply_markup=None)
    draft = _draft(context)
    draft["ward"] = None
    if profile is None or not profile.ward:
        draft["ward_label"] = UNKNOWN_WARD
        await reply(update, f"{NO_WARD}\n{ASK_CONTENT}")
        return CONTENT
    draft["ward_label"] = profile.ward
    await reply(update, f"Mình dùng phường/xã đã lưu: <b>{fmt.esc(profile.ward)}</b>.\n{ASK_CONTENT}")
    return CONTENT


async def content_received(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Collect text, a photo (caption optional) or a location, then show the summary; more may follow."""
    message = update.effective_message
    assert message is not None
    draft = _draft(context)
    text = message.text or message.caption
    if text is not None and len(text) > MAX_TEXT:
        await reply(update, TEXT_TOO_LONG)
        return CONFIRM if any(draft.get(k) for k in ("text", "photo", "location")) else CONTENT
    if text:
        draft["text"] = text
    if message.photo:
        draft["photo"] = message.photo[-1].file_id
    if message.location:
        draft["location"] = (message.location.latitude, message.location.longitude)
    keyboard = InlineKeyboardMarkup(
        [[
            InlineKeyboardButton("Gửi", callback_data=fmt.callback("gs", "send")),
            InlineKeyboardButton("Hủy", callback_data=fmt.callback("gs", "cancel")),
        ]]
    )
    await reply(update, f"{_summary(draft)}\n\n{ADD_MORE}", reply_markup=keyboard)
    return CONFIRM


async def voice_received(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """A voice message as the content: its transcript becomes (or replaces) the text; the audio is not kept."""
    from bot.telegram.voice import hear

    draft = _draft(context)
    text = await hear(update, context)
    if text is None:
        return CONFIRM if any(draft.get(k) for k in ("text", "photo", "location")) else CONTENT
    draft["text"] = text
    await reply(update, fmt.VOICE_FEEDBACK_HEARD.format(text=fmt.esc(text)))
    return await content_received(update, context)


def _summary(draft: dict[str, Any]) -> str:
    """The draft as the resident will send it (every typed text escaped)."""
    labels = dict(_categories())
    lines = [
        "<b>Xem lại góp ý của bạn</b>",
        f"Lĩnh vực: {fmt.esc(labels.get(draft.get('category', ''), draft.get('category', '')))}",
        f"Phường/xã: {fmt.esc(draft.get('ward') or draft.get('ward_label') or UNKNOWN_WARD)}",
    ]
    if draft.get("text"):
        lines.append(f"Nội dung: {fmt.esc(draft['text'])}")
    if draft.get("photo"):
        lines.append("📷 Kèm 1 ảnh")
    if draft.get("location"):
        lat, lon = draft["location"]
        lines.append(f"📍 Vị trí: {lat:.5f}, {lon:.5f}")
    return "\n".join(lines)


async def send(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Submit the draft; on a database outage keep it and apologise, so nothing is lost silently."""
    from bot.services import feedback
    from bot.services.errors import ConsentRequiredError, DatabaseUnavailableError, ServiceError

    query = update.callback_query
    assert query is not None
    draft = _draft(context)
    location = draft.get("location") or (None, None)
    try:
        result = await call(
            context,
            feedback.submit_feedback,
            pseudonym=pseudonym(update, context),
            category=draft.get("category"),
            ward=draft.get("ward"),
            text=draft.get("text"),
            photo_file_id=draft.get("photo"),
            latitude=location[0],
            longitude=location[1],
            idempotency_key=idempotency_key(update, context),
        )
    except DatabaseUnavailableError:
        await query.answer()
        await reply(update, fmt.DB_DOWN)
        return CONFIRM
    except ConsentRequiredError:
        await query.answer()
        await reply(update, ASK_CONSENT, reply_markup=consent_keyboard("fb"))
        return CONSENT
    except ServiceError as exc:
        await query.answer()
        await reply(update, fmt.esc(exc.message))
        return ConversationHandler.END
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    _clear(context)
    await reply(update, SENT.format(ticket=fmt.esc(result.ticket)))
    return ConversationHandler.END


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/huy or «Hủy»: drop the draft."""
    return await end_flow(update, context, DRAFT, CANCELLED)


def _clear(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Forget the draft (it may hold personal text)."""
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


def _nudge(text: str) -> Callback:
    """A state callback that repeats what is expected and stays in the same state."""

    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Tell the resident what this step expects."""
        await reply(update, text)

    return callback


def conversation() -> ConversationHandler:
    """The persistent /gopy conversation (per user and chat, private chats only)."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    other = private & ~filters.COMMAND
    content = private & ((filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.LOCATION)
    with warnings.catch_warnings():
        # Buttons are tracked per chat and user, not per message: intended (one draft per resident).
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("gopy", begin, filters=filters.ChatType.PRIVATE)],
            states={
                CONSENT: [
                    CallbackQueryHandler(consent_given, pattern=r"^cs:fb:1$"),
                    CallbackQueryHandler(consent_refused, pattern=r"^cs:fb:0$"),
                    MessageHandler(other, _nudge(ASK_CONSENT)),
                ],
                CATEGORY: [
                    CallbackQueryHandler(category_chosen, pattern=r"^gc:\d{1,2}$"),
                    MessageHandler(other, _nudge(CHOOSE_CATEGORY)),
                ],
                WARD: [
                    MessageHandler(private & filters.TEXT & ~filters.COMMAND, ward_typed),
                    CallbackQueryHandler(ward_skipped, pattern=r"^gw:skip$"),
                    CallbackQueryHandler(ward_chosen, pattern=rf"^gw:{wardpick.PATTERN}$"),
                    MessageHandler(other, _nudge(ASK_WARD)),
                ],
                CONTENT: [
                    MessageHandler(content, content_received),
                    MessageHandler(private & filters.VOICE, voice_received),
                    MessageHandler(other, _nudge(WRONG_CONTENT)),
                ],
                CONFIRM: [
                    CallbackQueryHandler(send, pattern=r"^gs:send$"),
                    CallbackQueryHandler(cancel, pattern=r"^gs:cancel$"),
                    MessageHandler(content, content_received),
                    MessageHandler(private & filters.VOICE, voice_received),
                    MessageHandler(other, _nudge(PRESS_SEND)),
                ],
            },
            fallbacks=[CommandHandler("huy", cancel)],
            name="gopy",
            persistent=True,
            allow_reentry=True,
        )
