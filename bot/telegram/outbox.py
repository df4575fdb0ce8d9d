"""The notification outbox: messages queued outside the bot (e.g. `citizenbot feedback status`) are sent here."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import ContextTypes

from bot.telegram import format as fmt
from bot.telegram.deps import call

if TYPE_CHECKING:
    from bot.services.notifications import Notification

log = logging.getLogger(__name__)
BATCH = 50


async def drain_outbox(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeating job: take queued notifications, send them, put back those Telegram could not take now."""
    from bot.services import notifications
    from bot.services.errors import ServiceError

    try:
        pending = await call(context, notifications.take_pending_notifications, limit=BATCH)
    except ServiceError as exc:
        log.warning("notification outbox not read: %s", exc.message)
        return
    failed = await send_all(context.bot, pending)
    if not failed:
        return
    try:
        await call(context, notifications.requeue_notifications, notifications=failed)
    except ServiceError as exc:
        log.error("%d notification(s) lost, outbox not writable: %s", len(failed), exc.message)
        return
    log.info("%d notification(s) put back in the outbox", len(failed))


async def send_all(bot: Bot, pending: list[Notification]) -> list[Notification]:
    """Send each notification; return those to retry (network trouble, flood limit), in order."""
    for index, notification in enumerate(pending):
        try:
            await bot.send_message(notification.chat_id, fmt.esc(notification.text), parse_mode=ParseMode.HTML)
        except Forbidden as exc:  # the resident blocked the bot: nobody to tell
            log.info("notification dropped, resident unreachable: %s", exc.message)
        except BadRequest as exc:  # e.g. chat not found: retrying cannot help
            log.warning("notification dropped: %s", exc.message)
        except (RetryAfter, NetworkError) as exc:
            log.warning("notification not sent, will retry: %s", exc.message)
            return pending[index:]
    return []
