"""/theodoi: the resident's own tickets and their status."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, filters

from bot.telegram import format as fmt
from bot.telegram.common import reply
from bot.telegram.deps import call, pseudonym

COMMANDS = ["theodoi"]
NONE_YET = "Bạn chưa gửi góp ý nào. Gõ /gopy để gửi góp ý đầu tiên."
TITLE = "Góp ý của bạn (mới nhất trước)"


async def my_tickets(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the resident's tickets with category, date and status."""
    from bot.dates import format_local
    from bot.services import feedback
    from bot.services.errors import ServiceError

    try:
        items = await call(
            context, feedback.my_feedback, read_only=True, pseudonym=pseudonym(update, context), limit=20
        )
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    if not items:
        await reply(update, NONE_YET)
        return
    lines = [
        f"{item.ticket} · {item.category.label} · {format_local(item.created_at, '%d/%m/%Y')} · {item.status.label}"
        for item in items
    ]
    await reply(update, fmt.bullet_list(TITLE, lines))


def handlers() -> list[BaseHandler]:
    """The /theodoi command (private chats)."""
    return [CommandHandler("theodoi", my_tickets, filters=filters.ChatType.PRIVATE)]
