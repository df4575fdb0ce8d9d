"""Questions and answers: any plain text in a private chat (or a mention in a group) is a question."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.telegram import format as fmt
from bot.telegram import knowledge
from bot.telegram.deps import call, deps

if TYPE_CHECKING:
    from bot.search.models import Answer

log = logging.getLogger(__name__)
TYPING_AFTER_SECONDS = 1.0  # most answers take ~40 ms: a "typing…" action would only cost rate-limit budget
# Ratings and unanswered questions asked by voice are recorded as "[giọng nói] <transcript>", so admins
# see in /chuatraloi that a 👎 or a miss may come from a wrong transcript rather than a wrong answer.
VOICE_PREFIX = "[giọng nói]"


class MentionsBot(filters.MessageFilter):
    """Messages that mention this bot by @username or reply to one of its messages."""

    def filter(self, message: Message) -> bool:
        """True when the bot is addressed."""
        username = message.get_bot().username
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.username == username:
            return True
        return f"@{username}".lower() in (message.text or "").lower()


def _strip_mention(text: str, username: str) -> str:
    """The question without the bot's @username."""
    mention = f"@{username}"
    index = text.lower().find(mention.lower())
    if index < 0:
        return text
    return (text[:index] + text[index + len(mention) :]).strip()


def _helpful_keyboard() -> InlineKeyboardMarkup:
    """The two buttons under an answer."""
    return InlineKeyboardMarkup(
        [[
            InlineKeyboardButton(fmt.HELPFUL_YES, callback_data=fmt.callback("qa", 1)),
            InlineKeyboardButton(fmt.HELPFUL_NO, callback_data=fmt.callback("qa", 0)),
        ]]
    )


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A typed question: answer it in reply to the resident's message."""
    message = update.effective_message
    assert message is not None and message.text is not None
    await answer_text(context, message, _strip_mention(message.text, context.bot.username))


async def answer_text(
    context: ContextTypes.DEFAULT_TYPE, message: Message, text: str, *, spoken: bool = False
) -> None:
    """Validate the question, search the documents, reply to `message` with the quoted passage or an honest no.

    Typed and spoken questions share this; a spoken one is logged under VOICE_PREFIX (see `rated_question`).
    """
    from bot.search.errors import SearchError
    from bot.text import validate_question

    try:
        question = validate_question(text)
        answer = await _ask_showing_typing(message, deps(context).search.ask(question))
    except SearchError as exc:
        await message.reply_text(fmt.esc(exc.message), parse_mode=ParseMode.HTML)
        return
    if answer.staff is not None:
        await _reply_rated(message, knowledge.staff_answer(answer.staff))
        return
    if answer.intent is not None:
        await message.reply_text(_intent_reply(answer.intent), parse_mode=ParseMode.HTML)
        return
    note = fmt.ENGLISH_NOTE + "\n" if answer.language == "en" else ""
    if answer.abstained or not answer.passages:
        await message.reply_text(note + fmt.NOT_COVERED, parse_mode=ParseMode.HTML)
        await _log_unanswered(context, message, f"{VOICE_PREFIX} {question}" if spoken else question)
        return
    best = answer.passages[0]
    await _reply_rated(message, note + fmt.answer_message(best.text, answer.highlight, best.title, best.source))


async def _reply_rated(message: Message, reply: str) -> None:
    """Reply to the question (split at Telegram's limit) with the rating buttons under the last part."""
    parts = fmt.split_html(reply)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        await message.reply_text(
            part,
            parse_mode=ParseMode.HTML,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
            reply_markup=_helpful_keyboard() if last else None,
        )


def _intent_reply(intent: str) -> str:
    """The bot's own reply to small talk or to a question about its commands."""
    return fmt.SMALL_TALK.get(intent) or fmt.COMMAND_HELP.get(intent) or fmt.HELP_RESIDENT


async def _ask_showing_typing(message: Message, asking: Awaitable[Answer]) -> Answer:
    """Await the answer; show "typing…" only if it is slow to come (each action counts against Telegram's limits)."""
    task = asyncio.ensure_future(asking)
    done, _ = await asyncio.wait({task}, timeout=TYPING_AFTER_SECONDS)
    if not done:
        await message.reply_chat_action(ChatAction.TYPING)
    return await task


async def _log_unanswered(context: ContextTypes.DEFAULT_TYPE, message: Message, question: str) -> None:
    """Record an abstained question (linked to the resident only if they asked in their private chat and
    consented to notifications); a database outage only logs a warning."""
    from bot.services import questions
    from bot.services.errors import ServiceError

    # In a private chat the chat is the resident (a spoken question's `message` is the bot's transcript line).
    asker = deps(context).pseudonymize(message.chat.id) if message.chat.type == "private" else None
    try:
        await call(context, questions.record_unanswered, text=question, pseudonym=asker)
    except ServiceError as exc:
        log.warning("unanswered question not recorded: %s", exc.message)


async def rate_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Thank the resident and count the rating (once per button press) for the question answered.

    Nothing links the rating to the resident: only the question text is counted, anonymously.
    """
    query = update.callback_query
    assert query is not None and query.data is not None
    helpful = query.data.endswith(":1")
    message = query.message
    question = message.reply_to_message if isinstance(message, Message) else None
    if question is not None and question.text:
        await _record_rating(context, rated_question(question, context.bot.id, context.bot.username), helpful, query.id)
    await query.answer(fmt.HELPFUL_THANKS)
    await query.edit_message_reply_markup(reply_markup=None)


def rated_question(question: Message, bot_id: int, username: str) -> str:
    """The question an answer replied to: a typed text, or the transcript the bot showed for a voice message."""
    sender = question.from_user
    text = question.text or ""
    if sender is not None and sender.id == bot_id and text.startswith(fmt.VOICE_ASKED):
        return f"{VOICE_PREFIX} {text.removeprefix(fmt.VOICE_ASKED).strip()}"
    return _strip_mention(text, username)


async def _record_rating(context: ContextTypes.DEFAULT_TYPE, question: str, helpful: bool, query_id: str) -> None:
    """Count a rating; a database outage or a blank question only logs a warning."""
    from bot.services import questions
    from bot.services.errors import ServiceError

    try:
        await call(
            context,
            questions.record_rating,
            text=question,
            helpful=helpful,
            idempotency_key=f"tg:{context.bot.id}:cbq:{query_id}",
        )
    except ServiceError as exc:
        log.warning("answer rating not recorded: %s", exc.message)


def handlers(private_text: filters.BaseFilter) -> list[MessageHandler | CallbackQueryHandler]:
    """Q&A handlers: plain text in private chats, mentions in groups, and the rating buttons."""
    return [
        MessageHandler(private_text, answer_question),
        MessageHandler(
            filters.ChatType.GROUPS & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & MentionsBot(),
            answer_question,
        ),
        CallbackQueryHandler(rate_answer, pattern=r"^qa:[01]$"),
    ]
