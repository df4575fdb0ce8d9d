"""Wiring of the PTB Application: handlers, persistence, rate limits, concurrency, start-up and shut-down."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    ContextTypes,
    PersistenceInput,
    PicklePersistence,
    filters,
)

from bot.config import Settings
from bot.telegram import admin, common, feedback, officer, outbox, polls, privacy, qa, track
from bot.telegram.deps import DEPS_KEY, BotDeps, FloodGate, RoleFilters, Searcher, deps

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
STATE_FILE = "telegram-state.pickle"
ROLE_REFRESH_SECONDS = 60
OUTBOX_FIRST_RUN = 2.0  # seconds after start: notifications queued while the bot was down go out soon


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across users, in order for each user (so a /gopy conversation stays consistent)."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the update's handlers while holding its user's lock."""
        user = getattr(update, "effective_user", None)
        if user is None:
            await coroutine
            return
        lock = self._locks.setdefault(user.id, asyncio.Lock())
        self._users[user.id] += 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[user.id] -= 1
            if not self._users[user.id]:
                del self._users[user.id]
                del self._locks[user.id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class InProgressPersistence(PicklePersistence):
    """Persist only what is in progress (drafts, open conversations): no list of every user on disk."""

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        """Keep non-empty user data; forget a user whose data became empty."""
        if data:
            await super().update_user_data(user_id, data)
        elif self.user_data and user_id in self.user_data:
            await super().drop_user_data(user_id)

    async def update_conversation(self, name: str, key: tuple[int | str, ...], new_state: object | None) -> None:
        """Store a conversation's state; forget it when the conversation ends."""
        if new_state is not None:
            await super().update_conversation(name, key, new_state)
            return
        stored = (self.conversations or {}).get(name, {})
        if key in stored:
            del stored[key]
            await self.flush()


def build_application(
    settings: Settings,
    *,
    search: Searcher,
    engine: Engine | None = None,
    manage_search: bool = True,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> Application:
    """A ready-to-run Application: only wiring (and the pseudonym key); no network until it is started.

    `rate_limiter` replaces the in-process AIORateLimiter (e.g. one shared by every worker, bot/scale/limits.py).
    """
    token = settings.telegram_bot_token
    if token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    persistence = InProgressPersistence(
        filepath=settings.data_dir / STATE_FILE,
        store_data=PersistenceInput(bot_data=False, chat_data=False, callback_data=False),
        update_interval=5,
    )
    application = (
        ApplicationBuilder()
        .token(token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_file_url)
        .persistence(persistence)
        .rate_limiter(rate_limiter or AIORateLimiter(overall_max_rate=settings.telegram_max_rate, max_retries=3))
        .concurrent_updates(PerUserUpdateProcessor(settings.telegram_concurrent_updates))
        .post_init(functools.partial(_post_init, manage_search=manage_search))
        .post_shutdown(functools.partial(_post_shutdown, engine=engine, manage_search=manage_search))
        .build()
    )
    roles = RoleFilters()
    roles.update(set(settings.admin_ids), set(settings.officer_ids))
    sessions = None
    if engine is not None:
        from bot.db.engine import session_scope

        sessions = functools.partial(session_scope, engine)
    from bot.services.residents import load_pseudonymizer

    application.bot_data[DEPS_KEY] = BotDeps(
        settings=settings,
        search=search,
        sessions=sessions,
        roles=roles,
        pseudonymize=load_pseudonymizer(settings),
        flood=FloodGate(settings.telegram_flood_limit, settings.telegram_flood_window),
    )
    _add_handlers(application, roles)
    return application


def _add_handlers(application: Application, roles: RoleFilters) -> None:
    """Register every handler, in order: flood limit, edits/forwards, commands, flows, Q&A, fallbacks."""
    private = filters.ChatType.PRIVATE
    question = private & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    application.add_handler(common.flood_handler(), group=-2)
    application.add_handlers(common.early_handlers(), group=-1)
    application.add_handlers(common.command_handlers())
    application.add_handlers(common.private_only_handlers(privacy.COMMANDS + feedback.COMMANDS + polls.COMMANDS))
    application.add_handler(feedback.conversation())
    application.add_handler(polls.create_conversation(roles.admins & private))
    application.add_handlers(officer.handlers(roles.officers & private))
    application.add_handlers(admin.handlers(roles.admins & private))
    application.add_handlers(polls.handlers(roles.admins & private))
    application.add_handlers(common.refusal_handlers(officer.COMMANDS + admin.COMMANDS + polls.ADMIN_COMMANDS))
    application.add_handlers(track.handlers())
    application.add_handlers(privacy.handlers())
    application.add_handlers(qa.handlers(question))
    application.add_handlers(common.fallback_handlers())
    application.add_error_handler(common.on_error)


async def _post_init(application: Application, *, manage_search: bool) -> None:
    """Start the search service, load roles from the database, publish the command menus."""
    bot_deps: BotDeps = application.bot_data[DEPS_KEY]
    if manage_search:
        await bot_deps.search.start(build_if_missing=True)
    await refresh_roles(application)
    if application.job_queue is not None:
        application.job_queue.run_repeating(_refresh_job, interval=ROLE_REFRESH_SECONDS, first=ROLE_REFRESH_SECONDS)
        if bot_deps.sessions is not None:
            interval = bot_deps.settings.telegram_outbox_interval
            application.job_queue.run_repeating(
                outbox.drain_outbox, interval=interval, first=min(interval, OUTBOX_FIRST_RUN), name="outbox"
            )
    await common.publish_commands(application.bot, bot_deps.roles)


async def _post_shutdown(
    application: Application,
    *,
    engine: Engine | None,
    manage_search: bool,
) -> None:
    """Close the search service and the database engine."""
    if manage_search:
        await application.bot_data[DEPS_KEY].search.close()
    if engine is not None:
        engine.dispose()


async def _refresh_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Periodic role refresh (roles granted from the CLI take effect within a minute, menus too)."""
    roles = deps(context).roles
    before = (set(roles.admins.user_ids), set(roles.officers.user_ids))
    await refresh_roles(context.application)
    if before != (set(roles.admins.user_ids), set(roles.officers.user_ids)):
        await common.publish_commands(context.bot, roles)


async def refresh_roles(application: Application) -> None:
    """Reload admin and officer ids from the database (settings ids are kept when it is down)."""
    from bot.services import roles as role_service
    from bot.services.errors import ServiceError

    bot_deps: BotDeps = application.bot_data[DEPS_KEY]
    settings = bot_deps.settings
    admins, officers = set(settings.admin_ids), set(settings.officer_ids)
    if bot_deps.sessions is not None:
        try:
            with_db = await asyncio.to_thread(_load_roles, bot_deps, role_service)
        except ServiceError as exc:
            log.warning("roles not loaded from the database: %s", exc.message)
        else:
            admins |= with_db[0]
            officers |= with_db[1]
    bot_deps.roles.update(admins, officers)


def _load_roles(bot_deps: BotDeps, role_service: Any) -> tuple[set[int], set[int]]:
    """Grant the settings' ids in the database, then read (admin ids, officer ids) (worker thread)."""
    assert bot_deps.sessions is not None
    settings = bot_deps.settings
    with bot_deps.sessions() as session:
        role_service.bootstrap_roles(session=session, admin_ids=settings.admin_ids, officer_ids=settings.officer_ids)
        views = role_service.list_roles(session=session)
    admins = {view.telegram_id for view in views if view.role == role_service.Role.ADMIN}
    officers = {view.telegram_id for view in views if view.role == role_service.Role.OFFICER}
    return admins, officers


__all__ = ["PerUserUpdateProcessor", "build_application", "deps", "refresh_roles"]
