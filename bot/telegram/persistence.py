"""PTB persistence in the database: drafts (user_data) and conversation steps, keyed by pseudonyms.

PTB loads persistence once, at start, and never refreshes ConversationHandler state. Here nothing is
loaded at start: before each update, `refresh_flows` (the first handler group) reads the resident's
steps from the database, and PTB's `refresh_user_data` their drafts; after each update the
application flushes what changed (PerUserUpdateProcessor). So any process can continue a flow that
another began, a restart loses nothing, and erasure (which deletes the rows) reaches the drafts.
No Telegram id, name or username is stored: keys are HMACs, chat ids are sealed (AddressBook).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import (
    BasePersistence,
    ContextTypes,
    ConversationHandler,
    PersistenceInput,
    TypeHandler,
)

from bot.services.addresses import AddressBook

if TYPE_CHECKING:
    from telegram.ext._utils.trackingdict import TrackingDict
    from telegram.ext._utils.types import ConversationDict, ConversationKey

    from bot.telegram.deps import SessionFactory

log = logging.getLogger(__name__)
KNOWN_DRAFTS = 10_000  # drafts remembered as written, to skip rewriting unchanged ones
Data = dict[Any, Any]


class DatabasePersistence(BasePersistence[Data, Data, Data]):
    """user_data and conversation states in SQL tables; chat, bot and callback data are not kept."""

    def __init__(
        self,
        sessions: SessionFactory,
        pseudonymize: Callable[[int], str],
        addresses: AddressBook,
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False),
            update_interval=30,
        )
        self._sessions = sessions
        self._pseudonymize = pseudonymize
        self._addresses = addresses
        self._written: OrderedDict[str, str] = OrderedDict()

    async def _call(self, fn: Callable[..., Any], *, read_only: bool = False, **kwargs: Any) -> Any:
        """Run a conversations service function in a worker thread with its own session."""

        def work() -> Any:
            with self._sessions(read_only=read_only) as session:
                return fn(session=session, **kwargs)

        return await asyncio.to_thread(work)

    async def get_user_data(self) -> dict[int, Data]:
        """Nothing is loaded at start: drafts are read per update (refresh_user_data)."""
        return {}

    async def get_chat_data(self) -> dict[int, Data]:
        """Chat data is not kept."""
        return {}

    async def get_bot_data(self) -> Data:
        """Bot data is not kept."""
        return {}

    async def get_callback_data(self) -> None:
        """Callback data is not kept (buttons carry ids)."""
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        """Nothing is loaded at start: steps are read per update (refresh_flows)."""
        return {}

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        """Write the flow's step under pseudonymous keys (None ends it)."""
        from bot.services import conversations

        chat_id, user_id = int(key[0]), int(key[-1])
        await self._call(
            conversations.save_step,
            name=name,
            key=self._addresses.key(*key),
            owner=self._pseudonymize(user_id),
            state=new_state,
            address=None if new_state is None else self._addresses.seal(chat_id),
        )

    async def update_user_data(self, user_id: int, data: Data) -> None:
        """Write the user's drafts when they changed (an empty dict deletes them)."""
        from bot.services import conversations

        owner = self._pseudonymize(user_id)
        encoded = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
        if self._written.get(owner) == encoded:
            return
        await self._call(conversations.save_draft, owner=owner, data=json.loads(encoded))
        self._remember(owner, encoded)

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """Replace the in-memory drafts by the database's (another process may have changed them)."""
        from bot.services import conversations
        from bot.services.errors import ServiceError

        owner = self._pseudonymize(user_id)
        try:
            stored = await self._call(conversations.load_draft, read_only=True, owner=owner)
        except ServiceError as exc:
            log.warning("drafts not refreshed (kept in memory): %s", exc.message)
            return
        user_data.clear()
        user_data.update(stored)
        self._remember(owner, json.dumps(stored, sort_keys=True, ensure_ascii=False, default=str))

    def _remember(self, owner: str, encoded: str) -> None:
        """Note what the database holds for this owner (bounded)."""
        self._written[owner] = encoded
        self._written.move_to_end(owner)
        while len(self._written) > KNOWN_DRAFTS:
            self._written.popitem(last=False)

    async def drop_user_data(self, user_id: int) -> None:
        """Delete the user's drafts."""
        await self.update_user_data(user_id, {})

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        """Chat data is not kept."""

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        """Chat data is not kept."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """Chat data is not kept."""

    async def update_bot_data(self, data: Data) -> None:
        """Bot data is not kept."""

    async def refresh_bot_data(self, bot_data: Data) -> None:
        """Bot data is not kept."""

    async def update_callback_data(self, data: Any) -> None:
        """Callback data is not kept."""

    async def flush(self) -> None:
        """Every write goes straight to the database."""


def refresh_flows_handler(flows: Sequence[ConversationHandler], timeout: float) -> TypeHandler:
    """The first handler: load this chat's flow steps from the database into the ConversationHandlers."""

    async def refresh_flows(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Set each flow's state for this chat and user as the database has it; tell about timed-out flows."""
        from bot.services import conversations
        from bot.services.errors import ServiceError
        from bot.telegram.deps import call, deps

        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        key = (chat.id, user.id)
        names = [f.name for f in flows if f.name]
        conversation_key = deps(context).addresses.key(*key)
        try:
            steps = await call(
                context, conversations.load_steps, read_only=True, key=conversation_key, names=names, timeout=timeout
            )
            ended = (
                await call(context, conversations.end_expired, key=conversation_key, names=names, timeout=timeout)
                if steps.expired
                else []
            )
        except ServiceError as exc:
            log.warning("flow steps not refreshed (kept in memory): %s", exc.message)
            return
        for flow in flows:
            # PTB has no public way to refresh one conversation key; with persistence it is a TrackingDict.
            states = cast("TrackingDict[ConversationKey, object]", flow._conversations)
            if flow.name in steps.states:
                states.update_no_track({key: steps.states[flow.name]})
            else:
                states.data.pop(key, None)
        for flow_end in ended:
            if context.user_data is not None:
                context.user_data.pop(flow_end.name, None)
            await chat.send_message(timeout_text(flow_end.name, timeout), parse_mode=ParseMode.HTML)

    return TypeHandler(Update, refresh_flows)


def timeout_text(name: str, timeout: float) -> str:
    """What a resident reads when a flow ended after `timeout` seconds without an answer."""
    from bot.telegram import format as fmt

    minutes = max(1, round(timeout / 60))
    return fmt.FLOW_TIMED_OUT.get(name, fmt.FLOW_TIMED_OUT["default"]).format(minutes=minutes)


async def expire_flows(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeating job: end flows idle past the timeout and tell each resident once."""
    from telegram.error import TelegramError

    from bot.services import conversations
    from bot.services.errors import ServiceError
    from bot.telegram.deps import call, deps

    bot_deps = deps(context)
    timeout = bot_deps.settings.conversation_timeout_minutes * 60
    try:
        ended = await call(context, conversations.expire_steps, timeout=timeout)
    except ServiceError as exc:
        log.warning("idle flows not expired: %s", exc.message)
        return
    for flow in ended:
        chat_id = bot_deps.addresses.open(flow.address)
        if chat_id is None:
            continue
        try:
            await context.bot.send_message(chat_id, timeout_text(flow.name, timeout), parse_mode=ParseMode.HTML)
        except TelegramError as exc:
            log.info("timeout notice not delivered: %s", exc.message)
