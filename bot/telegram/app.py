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
    filters,
)

from bot.config import Settings
from bot.telegram import (
    admin,
    common,
    feedback,
    knowledge,
    officer,
    outbox,
    polls,
    privacy,
    profile,
    qa,
    staff,
    track,
    voice,
)
from bot.telegram.deps import DEPS_KEY, BotDeps, FloodGate, RoleFilters, Searcher, deps
from bot.telegram.persistence import DatabasePersistence, expire_flows, refresh_flows_handler

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
ROLE_REFRESH_SECONDS = 60
OUTBOX_FIRST_RUN = 2.0  # seconds after start: notifications queued while the bot was down go out soon


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across users, in order for each user (so a /gopy conversation stays consistent).

    After each update the application's persistence is flushed while the user's lock is held, so the
    next update (in this process or another) reads the steps and drafts this one left.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()
        self.application: Application | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the update's handlers while holding its user's lock, then flush what they changed."""
        user = getattr(update, "effective_user", None)
        if user is None:
            await coroutine
            return
        lock = self._locks.setdefault(user.id, asyncio.Lock())
        self._users[user.id] += 1
        try:
            async with lock:
                await coroutine
                if self.application is not None and self.application.persistence is not None:
                    await self.application.update_persistence()
        finally:
            self._users[user.id] -= 1
            if not self._users[user.id]:
                del self._users[user.id]
                del self._locks[user.id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def build_application(
    settings: Settings,
    *,
    search: Searcher,
    engine: Engine,
    manage_search: bool = True,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> Application:
    """A ready-to-run Application: only wiring (and the pseudonym key); no network until it is started.

    `rate_limiter` replaces the in-process AIORateLimiter (e.g. one shared by every worker, bot/scale/limits.py).
    """
    from bot.db.engine import session_scope
    from bot.services.residents import load_address_book, load_pseudonymizer

    token = settings.telegram_bot_token
    if token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sessions = functools.partial(session_scope, engine)
    pseudonymize = load_pseudonymizer(settings)
    addresses = load_address_book(settings)
    processor = PerUserUpdateProcessor(settings.telegram_concurrent_updates)
    application = (
        ApplicationBuilder()
        .token(token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_file_url)
        .persistence(DatabasePersistence(sessions, pseudonymize, addresses))
        .rate_limiter(rate_limiter or AIORateLimiter(overall_max_rate=settings.telegram_max_rate, max_retries=3))
        .concurrent_updates(processor)
        .post_init(functools.partial(_post_init, manage_search=manage_search))
        .post_shutdown(functools.partial(_post_shutdown, engine=engine, manage_search=manage_search))
        .build()
    )
    processor.application = application
    roles = RoleFilters()
    roles.update(set(settings.admin_ids), set(settings.officer_ids))
    application.bot_data[DEPS_KEY] = BotDeps(
        settings=settings,
        search=search,
        sessions=sessions,
        roles=roles,
        pseudonymize=pseudonymize,
        flood=FloodGate(settings.telegram_flood_limit, settings.telegram_flood_window),
        addresses=addresses,
    )
    voice.install(application, settings)
    _add_handlers(application, settings)
    return application


STAFF_OFFICER_COMMANDS = officer.COMMANDS
STAFF_ADMIN_COMMANDS = admin.COMMANDS + knowledge.COMMANDS + polls.ADMIN_COMMANDS


def _add_handlers(application: Application, settings: Settings) -> None:
    """Register every handler, in order: flow steps, flood limit, edits/forwards and the staff gate,
    commands, flows, Q&A, fallbacks. Staff handlers are registered for private chats only: the gate
    (group -1) checks the sender's role in the database on every staff action."""
    private = filters.ChatType.PRIVATE
    question = private & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    flows = [
        feedback.conversation(),
        profile.conversation(),
        polls.create_conversation(private),
        knowledge.conversation(private),
    ]
    timeout = settings.conversation_timeout_minutes * 60
    application.add_handler(refresh_flows_handler(flows, timeout), group=-3)
    application.add_handler(common.flood_handler(), group=-2)
    application.add_handlers(common.early_handlers(), group=-1)
    application.add_handlers(
        staff.gate(STAFF_OFFICER_COMMANDS, STAFF_ADMIN_COMMANDS, admin.BUTTONS + knowledge.BUTTONS), group=-1
    )
    application.add_handlers(common.command_handlers())
    application.add_handlers(common.private_only_handlers(privacy.COMMANDS + feedback.COMMANDS + polls.COMMANDS))
    application.add_handlers(flows)
    application.add_handlers(profile.handlers())
    application.add_handlers(officer.handlers(private))
    application.add_handlers(admin.handlers(private))
    application.add_handlers(knowledge.handlers(private))
    application.add_handlers(polls.handlers(private))
    application.add_handlers(common.refusal_handlers(STAFF_OFFICER_COMMANDS + STAFF_ADMIN_COMMANDS))
    application.add_handlers(track.handlers())
    application.add_handlers(privacy.handlers())
    application.add_handlers(qa.handlers(question))
    application.add_handlers(voice.handlers(application))  # before the fallback that says "please type"
    application.add_handlers(common.fallback_handlers())
    application.add_error_handler(common.on_error)


async def _post_init(application: Application, *, manage_search: bool) -> None:
    """Start the search service, seed and load roles, schedule the periodic jobs, publish the menus."""
    bot_deps: BotDeps = application.bot_data[DEPS_KEY]
    if manage_search:
        await bot_deps.search.start(build_if_missing=True)
    await refresh_roles(application)
    await knowledge.start_refresh(application)
    if application.job_queue is not None:
        application.job_queue.run_repeating(_refresh_job, interval=ROLE_REFRESH_SECONDS, first=ROLE_REFRESH_SECONDS)
        interval = bot_deps.settings.telegram_outbox_interval
        application.job_queue.run_repeating(
            outbox.drain_outbox, interval=interval, first=min(interval, OUTBOX_FIRST_RUN), name="outbox"
        )
        sweep = min(60.0, bot_deps.settings.conversation_timeout_minutes * 60 / 3)
        application.job_queue.run_repeating(expire_flows, interval=sweep, first=sweep, name="flow-timeouts")
    await common.publish_commands(application.bot, bot_deps.roles)


async def _post_shutdown(application: Application, *, engine: Engine, manage_search: bool) -> None:
    """Close the search service, the voice workers and the database engine."""
    voice.close(application)
    if manage_search:
        await application.bot_data[DEPS_KEY].search.close()
    engine.dispose()


async def _refresh_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Periodic role refresh (roles granted from the CLI take effect within a minute, menus too)."""
    roles = deps(context).roles
    before = (set(roles.admins.user_ids), set(roles.officers.user_ids))
    await refresh_roles(context.application)
    if before != (set(roles.admins.user_ids), set(roles.officers.user_ids)):
        await common.publish_commands(context.bot, roles)


async def refresh_roles(application: Application) -> None:
    """Seed an empty role table from ADMIN_IDS/OFFICER_IDS, then cache the roles for menus and /help.

    The cache decides nothing: the staff gate reads the database on every staff action.
    """
    from bot.services import roles as role_service
    from bot.services.errors import ServiceError

    bot_deps: BotDeps = application.bot_data[DEPS_KEY]
    try:
        admins, officers = await asyncio.to_thread(_load_roles, bot_deps, role_service)
    except ServiceError as exc:
        log.warning("roles not loaded from the database: %s", exc.message)
        return
    bot_deps.roles.update(admins, officers)


def _load_roles(bot_deps: BotDeps, role_service: Any) -> tuple[set[int], set[int]]:
    """Seed the role table if it is empty, then read (admin ids, officer ids) (worker thread)."""
    settings = bot_deps.settings
    assert bot_deps.sessions is not None
    with bot_deps.sessions() as session:
        role_service.bootstrap_roles(session=session, admin_ids=settings.admin_ids, officer_ids=settings.officer_ids)
        views = role_service.list_roles(session=session)
    admins = {view.telegram_id for view in views if view.role == role_service.Role.ADMIN}
    officers = {view.telegram_id for view in views if view.role == role_service.Role.OFFICER}
    return admins, officers


__all__ = ["PerUserUpdateProcessor", "build_application", "deps", "refresh_roles"]
