"""Polls: /khaosat lists open polls with vote buttons; admins /taokhaosat and /dongkhaosat."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
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
from bot.telegram.common import consent_keyboard, reply
from bot.telegram.deps import call, call_as, deps, idempotency_key, pseudonym, user_draft

COMMANDS = ["khaosat"]
ADMIN_COMMANDS = ["taokhaosat", "dongkhaosat"]
NO_POLLS = "Hiện chưa có cuộc khảo sát nào đang mở cho bạn."
ASK_CONSENT = (
    "Để ghi nhận phiếu của bạn, mình cần bạn đồng ý cho lưu lựa chọn (kèm mã bí danh, không lưu tên). "
    "Bạn có đồng ý không? Sau khi đồng ý, hãy bấm lại lựa chọn của mình."
)
VOTED = "Đã ghi nhận lựa chọn: {option}"
WITHDRAWN = "Đã rút phiếu của bạn."
NO_VOTE = "Bạn chưa bỏ phiếu trong khảo sát này."
WITHDRAW = "↩️ Rút phiếu"
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
CREATED = "✅ Đã tạo khảo sát số <b>{id}</b>: {question}\nCư dân xem bằng /khaosat; đóng bằng /dongkhaosat {id}."
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
MAX_WARDS, MAX_WARD, MAX_DAYS = 50, 120, 365
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
QUESTION, OPTIONS, SHOW, WARDS, CLOSES = range(5)
DRAFT = "taokhaosat"


@dataclass(frozen=True)
class PollCard:
    """What a resident sees for one poll: the poll, their choice, and results when visible."""

    poll: Any
    choice: int | None
    results: Any | None
    hidden: str | None


def _card(session: Any, pseudonym: str, poll_id: int) -> PollCard:
    """Gather one poll card from the services (worker thread)."""
    from bot.services import polls
    from bot.services.errors import ResultsHiddenError

    poll = polls.get_poll(session=session, poll_id=poll_id)
    choice = polls.my_vote(session=session, pseudonym=pseudonym, poll_id=poll_id)
    try:
        results = polls.results_for_resident(session=session, pseudonym=pseudonym, poll_id=poll_id)
    except ResultsHiddenError as exc:
        return PollCard(poll, choice, None, exc.message)
    return PollCard(poll, choice, results, None)


def _cards(session: Any, pseudonym: str) -> list[PollCard]:
    """Cards of every poll open to the resident (worker thread)."""
    from bot.services import polls

    return [_card(session, pseudonym, p.id) for p in polls.polls_for_resident(session=session, pseudonym=pseudonym)]


def _render(card: PollCard) -> tuple[str, InlineKeyboardMarkup]:
    """HTML text and buttons of a poll card."""
    poll = card.poll
    lines = [f"📊 <b>Khảo sát số {poll.id}</b>", fmt.esc(poll.question)]
    chosen = {o.id: o.text for o in poll.options}.get(card.choice) if card.choice else None
    if chosen:
        lines.append(f"Bạn đã chọn: <b>{fmt.esc(chosen)}</b>")
    if card.results is not None:
        total = card.results.total
        lines.append(f"\nKết quả hiện tại ({total} phiếu):")
        for count in card.results.by_option:
            share = f"{100 * count.count / total:.0f}%" if total else "0%"
            lines.append(f"• {fmt.esc(count.text)}: {count.count} ({share})")
    elif card.hidden:
        lines.append(f"<i>{fmt.esc(card.hidden)}</i>")
    rows = [
        [InlineKeyboardButton(("✅ " if o.id == card.choice else "") + o.text, callback_data=fmt.callback("pv", poll.id, o.id))]
        for o in poll.options
    ]
    if card.choice:
        rows.append([InlineKeyboardButton(WITHDRAW, callback_data=fmt.callback("pw", poll.id))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def list_polls(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/khaosat: one message per open poll, each option a button."""
    from bot.services.errors import ServiceError

    sessions = deps(context).sessions
    try:
        if sessions is None:
            raise _unavailable()
        cards = await _in_thread(sessions, _cards, pseudonym(update, context))
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    if not cards:
        await reply(update, NO_POLLS)
        return
    for card in cards:
        text, keyboard = _render(card)
        await reply(update, text, reply_markup=keyboard)


def _unavailable() -> Exception:
    """The database-down error of the services."""
    from bot.services.errors import DatabaseUnavailableError

    return DatabaseUnavailableError()


async def _in_thread(sessions: Any, fn: Any, *args: Any) -> Any:
    """Run fn(session, *args) in one session in a worker thread."""
    import asyncio

    def work() -> Any:
        with sessions() as session:
            return fn(session, *args)

    return await asyncio.to_thread(work)


async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An option button: record (or change) the vote, confirm, and redraw the card."""
    from bot.services import polls

    query = update.callback_query
    assert query is not None and query.data is not None
    _, poll_id, option_id = query.data.split(":")
    await _vote_action(
        update, context, int(poll_id), polls.cast_vote, option_id=int(option_id)
    )


async def withdraw(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The withdraw button: remove the vote and redraw the card."""
    from bot.services import polls

    query = update.callback_query
    assert query is not None and query.data is not None
    await _vote_action(update, context, int(query.data.split(":")[1]), polls.withdraw_vote)


async def _vote_action(
    update: Update, context: ContextTypes.DEFAULT_TYPE, poll_id: int, fn: Any, **kwargs: Any
) -> None:
    """Cast or withdraw through the service, answer the button, edit the message."""
    from bot.services.errors import ConsentRequiredError, ServiceError

    query = update.callback_query
    assert query is not None
    key = pseudonym(update, context)
    try:
        result = await call(
            context, fn, pseudonym=key, poll_id=poll_id, idempotency_key=idempotency_key(update, context), **kwargs
        )
        sessions = deps(context).sessions
        card = await _in_thread(sessions, _card, key, poll_id)
    except ConsentRequiredError:
        await query.answer()
        await reply(update, ASK_CONSENT, reply_markup=consent_keyboard("pl"))
        return
    except ServiceError as exc:
        await query.answer(exc.message, show_alert=True)
        return
    if result.option_id is None:
        await query.answer(WITHDRAWN if result.previous_option_id else NO_VOTE)
    else:
        chosen = {o.id: o.text for o in card.poll.options}[result.option_id]
        await query.answer(VOTED.format(option=chosen)[:190])
    text, keyboard = _render(card)
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    except BadRequest as exc:  # the same button pressed twice: the card did not change
        if "not modified" not in exc.message:
            raise


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


# --- /taokhaosat ----------------------------------------------------------------------------------


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


def _is_skip(text: str) -> bool:
    """The admin typed «Bỏ qua» instead of pressing the button."""
    return " ".join(text.lower().split()) in {"bỏ qua", "bo qua"}


def parse_wards(text: str) -> list[str] | None:
    """Ward names separated by commas, semicolons or lines; None when empty, too many or too long."""
    wards = list(dict.fromkeys(" ".join(part.split()) for part in re.split(r"[,;\n]", text) if part.strip()))
    if not wards or len(wards) > MAX_WARDS or any(len(ward) > MAX_WARD for ward in wards):
        return None
    return wards


def parse_closes(text: str, now: datetime) -> datetime | None:
    """'dd/mm/yyyy hh:mm' (or 'dd/mm/yyyy': end of that day), Hà Nội time, or a number of days from now."""
    cleaned = " ".join(text.split())
    if cleaned.isdigit():
        days = int(cleaned)
        return now + timedelta(days=days) if 1 <= days <= MAX_DAYS else None
    for pattern in ("%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%d/%m/%Y"):
        try:
            moment = datetime.strptime(cleaned, pattern)
        except ValueError:
            continue
        if pattern == "%d/%m/%Y":
            moment = moment.replace(hour=23, minute=59)
        return moment.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
    return None


async def create_wards(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Remember the wards typed (or «Bỏ qua» typed) and ask when the poll closes."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if not _is_skip(message.text):
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
    if not _is_skip(message.text):
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
    rows = [[InlineKeyboardButton(label, callback_data=fmt.callback("tv", code))] for code, label in VISIBILITY.items()]
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
    await reply(update, CREATED.format(id=poll.id, question=fmt.esc(poll.question)) + "\n" + _scope_line(poll))
    return ConversationHandler.END


def _scope_line(poll: Any) -> str:
    """Who may vote and when the poll closes, for the admin's confirmation."""
    scope = ", ".join(poll.wards) if poll.wards else "mọi phường/xã"
    closes = (
        f"tự đóng lúc {poll.closes_at.astimezone(LOCAL_TZ):%d/%m/%Y %H:%M}" if poll.closes_at else "đóng bằng tay"
    )
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
                SHOW: [CallbackQueryHandler(create_finish, pattern=r"^tv:(after_vote|after_close|officers)$")],
            },
            fallbacks=[CommandHandler("huy", create_cancel)],
            name="taokhaosat",
            persistent=True,
            allow_reentry=True,
        )


def handlers(admins: filters.BaseFilter) -> list[BaseHandler]:
    """/khaosat, the vote buttons, and /dongkhaosat for admins."""
    return [
        CommandHandler("khaosat", list_polls, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(vote, pattern=r"^pv:\d{1,9}:\d{1,9}$"),
        CallbackQueryHandler(withdraw, pattern=r"^pw:\d{1,9}$"),
        CommandHandler("dongkhaosat", close, filters=admins),
    ]
