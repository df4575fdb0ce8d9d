"""Residents: /khaosat lists open polls with vote buttons; a button casts, changes or withdraws a vote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.telegram import format as fmt
from bot.telegram.common import consent_keyboard, reply
from bot.telegram.deps import call, idempotency_key, pseudonym

if TYPE_CHECKING:
    from sqlmodel import Session

COMMANDS = ["khaosat"]
NO_POLLS = "Hiện chưa có cuộc khảo sát nào đang mở cho bạn."
ASK_CONSENT = (
    "Để ghi nhận phiếu của bạn, mình cần bạn đồng ý cho lưu lựa chọn (kèm mã bí danh, không lưu tên). "
    "Bạn có đồng ý không? Sau khi đồng ý, hãy bấm lại lựa chọn của mình."
)
VOTED = "Đã ghi nhận lựa chọn: {option}"
WITHDRAWN = "Đã rút phiếu của bạn."
NO_VOTE = "Bạn chưa bỏ phiếu trong khảo sát này."
WITHDRAW = "↩️ Rút phiếu"


@dataclass(frozen=True)
class PollCard:
    """What a resident sees for one poll: the poll, their choice, and results when visible."""

    poll: Any
    choice: int | None
    results: Any | None
    hidden: str | None


def poll_card(*, session: Session, pseudonym: str, poll_id: int) -> PollCard:
    """Gather one poll card from the services (worker thread, read-only session)."""
    from bot.services import polls
    from bot.services.errors import ResultsHiddenError

    poll = polls.get_poll(session=session, poll_id=poll_id)
    choice = polls.my_vote(session=session, pseudonym=pseudonym, poll_id=poll_id)
    try:
        results = polls.results_for_resident(session=session, pseudonym=pseudonym, poll_id=poll_id)
    except ResultsHiddenError as exc:
        return PollCard(poll, choice, None, exc.message)
    return PollCard(poll, choice, results, None)


def poll_cards(*, session: Session, pseudonym: str) -> list[PollCard]:
    """Cards of every poll open to the resident (worker thread, read-only session)."""
    from bot.services import polls

    return [
        poll_card(session=session, pseudonym=pseudonym, poll_id=p.id)
        for p in polls.polls_for_resident(session=session, pseudonym=pseudonym)
    ]


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
        [
            InlineKeyboardButton(
                ("✅ " if o.id == card.choice else "") + o.text,
                callback_data=fmt.callback("pv", poll.id, o.id),
            )
        ]
        for o in poll.options
    ]
    if card.choice:
        rows.append([InlineKeyboardButton(WITHDRAW, callback_data=fmt.callback("pw", poll.id))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def list_polls(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/khaosat: one message per open poll, each option a button (a read: never waits for writers)."""
    from bot.services.errors import ServiceError

    try:
        cards = await call(context, poll_cards, read_only=True, pseudonym=pseudonym(update, context))
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    if not cards:
        await reply(update, NO_POLLS)
        return
    for card in cards:
        text, keyboard = _render(card)
        await reply(update, text, reply_markup=keyboard)


async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An option button: record (or change) the vote, confirm, and redraw the card."""
    from bot.services import polls

    query = update.callback_query
    assert query is not None and query.data is not None
    _, poll_id, option_id = query.data.split(":")
    await _vote_action(update, context, int(poll_id), polls.cast_vote, option_id=int(option_id))


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
            context,
            fn,
            pseudonym=key,
            poll_id=poll_id,
            idempotency_key=idempotency_key(update, context),
            **kwargs,
        )
        card = await call(context, poll_card, read_only=True, pseudonym=key, poll_id=poll_id)
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


def handlers() -> list[BaseHandler]:
    """/khaosat and the vote buttons."""
    return [
        CommandHandler("khaosat", list_polls, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(vote, pattern=r"^pv:\d{1,9}:\d{1,9}$"),
        CallbackQueryHandler(withdraw, pattern=r"^pw:\d{1,9}$"),
    ]
