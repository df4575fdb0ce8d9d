"""The notification outbox sender: every message for a resident (status changes from the bot or the CLI)
goes through here, at least once: claimed with a lease, sent, then deleted; put back when Telegram
cannot take it now. The chat id is opened from the resident's sealed address only at send time."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import ContextTypes

from bot.services.addresses import AddressBook
from bot.telegram import format as fmt
from bot.telegram.deps import call, deps

if TYPE_CHECKING:
    from bot.services.notifications import Notification

log = logging.getLogger(__name__)
BATCH = 50


@dataclass
class Outcome:
    """What became of claimed notifications, by outbox id."""

    sent: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)


async def drain_outbox(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeating job: send what is due in the outbox."""
    await deliver(context)


async def deliver(context: ContextTypes.DEFAULT_TYPE, ids: Sequence[int] | None = None) -> Outcome:
    """Claim due notifications (or just `ids`), send them and settle each."""
    from bot.services import notifications
    from bot.services.errors import ServiceError

    try:
        claimed = await call(context, notifications.claim_notifications, limit=BATCH, ids=ids)
    except ServiceError as exc:
        log.warning("notification outbox not read: %s", exc.message)
        return Outcome()
    if not claimed:
        return Outcome()
    outcome = await send_all(context.bot, deps(context).addresses, claimed)
    try:
        await call(context, notifications.finish_notifications, ids=outcome.sent + outcome.dropped)
        retry_in = deps(context).settings.telegram_outbox_interval
        await call(context, notifications.release_notifications, ids=outcome.retry, retry_in=retry_in)
    except ServiceError as exc:  # the leases expire: the rows are sent again later (at least once)
        log.warning("outbox not updated after sending: %s", exc.message)
    return outcome


async def send_all(bot: Bot, addresses: AddressBook, pending: Sequence[Notification]) -> Outcome:
    """Send each notification in order; stop at the first network trouble (the rest is retried)."""
    outcome = Outcome()
    for index, notification in enumerate(pending):
        chat_id = addresses.open(notification.address)
        if chat_id is None:  # no address (no notifications consent, erased) or sealed with another secret
            log.info("notification %s dropped: the resident left no address", notification.id)
            outcome.dropped.append(notification.id)
            continue
        try:
            await bot.send_message(chat_id, fmt.esc(notification.text), parse_mode=ParseMode.HTML)
        except Forbidden as exc:  # the resident blocked the bot: nobody to tell
            log.info("notification %s dropped, resident unreachable: %s", notification.id, exc.message)
            outcome.dropped.append(notification.id)
        except BadRequest as exc:  # e.g. chat not found: retrying cannot help
            log.warning("notification %s dropped: %s", notification.id, exc.message)
            outcome.dropped.append(notification.id)
        except (RetryAfter, NetworkError) as exc:
            log.warning("notifications not sent, will retry: %s", exc.message)
            outcome.retry.extend(n.id for n in pending[index:])
            return outcome
        else:
            outcome.sent.append(notification.id)
    return outcome
