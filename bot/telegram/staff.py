"""The staff gate: every officer or admin action is checked against the roles in the database.

The database is the only authority on roles. A revocation takes effect on the next action, in every
process; a role granted from the CLI too. The in-memory role cache (RoleFilters) only shapes menus.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.telegram import format as fmt
from bot.telegram.common import reply
from bot.telegram.deps import call

log = logging.getLogger(__name__)


def _command(update: Update) -> str | None:
    """The bot command a message starts with (without @username), lower-cased."""
    message = update.effective_message
    text = message.text if message is not None else None
    if not text or not text.startswith("/"):
        return None
    return text.split(maxsplit=1)[0][1:].split("@", 1)[0].lower()


def gate(
    officer_commands: Sequence[str], admin_commands: Sequence[str], admin_buttons: Sequence[str] = ()
) -> list[BaseHandler]:
    """Handlers (group -1) that let staff commands, admin uploads and admin buttons (callback data
    prefixes) through only when the database grants the sender the role they need."""
    officer_only = {c.lower() for c in officer_commands}
    admin_only = {c.lower() for c in admin_commands}
    names = "|".join(sorted(re.escape(c) for c in officer_only | admin_only))
    commands = filters.Regex(re.compile(rf"^/({names})(@\w+)?(\s|$)", re.IGNORECASE))
    staff_messages = filters.UpdateType.MESSAGE & (commands | (filters.ChatType.PRIVATE & filters.Document.ALL))

    async def check_role(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let the update through when the database grants the role it needs; refuse it otherwise."""
        from bot.services import roles
        from bot.services.errors import ServiceError

        user = update.effective_user
        command = _command(update)
        needed = roles.Role.OFFICER if command in officer_only else roles.Role.ADMIN
        try:
            held = await call(context, roles.role_of, read_only=True, telegram_id=user.id) if user else None
        except ServiceError as exc:
            await _refuse(update, fmt.esc(exc.message))
            raise ApplicationHandlerStop from None
        if held is roles.Role.ADMIN or held is needed:
            return
        await _refuse(update, fmt.FILE_REFUSED if update.message and update.message.document else fmt.REFUSED)
        raise ApplicationHandlerStop

    handlers: list[BaseHandler] = [MessageHandler(staff_messages, check_role)]
    if admin_buttons:
        prefixes = "|".join(re.escape(p) for p in admin_buttons)
        handlers.append(CallbackQueryHandler(check_role, pattern=rf"^({prefixes}):"))
    return handlers


async def _refuse(update: Update, text: str) -> None:
    """Tell the sender why nothing happens (an alert under a button, or a message)."""
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await reply(update, text)
