"""What handlers need, kept in `application.bot_data`: settings, the search service, the database, roles."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from telegram import Update
from telegram.ext import ContextTypes, filters

from bot.config import Settings
from bot.services.addresses import AddressBook

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from sqlmodel import Session

    from bot.search.faq import FaqEntry
    from bot.search.models import Answer, BuildReport

DEPS_KEY = "deps"
T = TypeVar("T")


class SessionFactory(Protocol):
    """`functools.partial(session_scope, engine)`: a session, read-only (never locks out writers) on request."""

    def __call__(self, *, read_only: bool = False) -> AbstractContextManager[Session]:
        """Open a session."""
        ...


class Searcher(Protocol):
    """The part of bot.search.service.SearchService the bot uses."""

    async def start(self, *, build_if_missing: bool = True) -> None:
        """Load (or build) the index."""
        ...

    async def close(self) -> None:
        """Release the index and encoder."""
        ...

    async def ask(self, question: str, top_k: int | None = None) -> Answer:
        """Answer a question (CPU work off the event loop)."""
        ...

    async def rebuild(self) -> BuildReport:
        """Re-index knowledge/ in the background and swap the index in atomically."""
        ...

    async def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors (off the event loop)."""
        ...

    async def set_faq(self, entries: Sequence[FaqEntry]) -> None:
        """Replace the staff answers searched before the documents."""
        ...


    def set_extra_synonyms(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Admins' (everyday, formal) wording pairs."""
        ...


@dataclass
class RoleFilters:
    """Who holds a role, cached from the database for command menus and /help (it authorises nothing)."""

    admins: filters.User = field(default_factory=lambda: filters.User(allow_empty=False))
    officers: filters.User = field(default_factory=lambda: filters.User(allow_empty=False))

    def update(self, admin_ids: set[int], officer_ids: set[int]) -> None:
        """Replace both id sets (admins are officers too)."""
        self.admins.user_ids = admin_ids
        self.officers.user_ids = officer_ids | admin_ids


@dataclass
class FloodGate:
    """Per-resident sliding window, in memory only (so no list of users is written to disk)."""

    limit: int
    window: float
    seen: dict[int, list[float]] = field(default_factory=dict)
    warned: set[int] = field(default_factory=set)

    def check(self, user_id: int, now: float) -> bool | None:
        """True: within the limit; False: over it, warn once; None: over it, already warned."""
        recent = [t for t in self.seen.get(user_id, []) if now - t < self.window]
        if len(recent) < self.limit:
            self.seen[user_id] = [*recent, now]
            self.warned.discard(user_id)
            if len(self.seen) > 10_000:
                self.prune(now)
            return True
        self.seen[user_id] = recent
        if user_id in self.warned:
            return None
        self.warned.add(user_id)
        return False

    async def check_async(self, user_id: int, now: float) -> bool | None:
        """`check` from a handler (in memory: no I/O, so it runs inline)."""
        return self.check(user_id, now)

    def prune(self, now: float) -> None:
        """Forget residents with no update inside the window."""
        for user_id in [u for u, times in self.seen.items() if not times or now - times[-1] >= self.window]:
            del self.seen[user_id]
            self.warned.discard(user_id)


@dataclass
class BotDeps:
    """Long-lived collaborators of the handlers (created in `citizenbot run` or a test)."""

    settings: Settings
    search: Searcher
    sessions: SessionFactory | None
    roles: RoleFilters
    pseudonymize: Callable[[int], str]
    flood: FloodGate
    addresses: AddressBook


def deps(context: ContextTypes.DEFAULT_TYPE) -> BotDeps:
    """The BotDeps of this application."""
    value = context.bot_data[DEPS_KEY]
    assert isinstance(value, BotDeps)
    return value


def pseudonym(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The resident's pseudonymous key (HMAC of the Telegram user id); the id itself is never stored."""
    assert update.effective_user is not None
    return deps(context).pseudonymize(update.effective_user.id)


def idempotency_key(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """A key that is the same when Telegram delivers this update twice."""
    return f"tg:{context.bot.id}:{update.update_id}"


def _in_session(
    sessions: SessionFactory, fn: Callable[..., T], kwargs: dict[str, Any], read_only: bool = False
) -> T:
    """Run one service function in its own session (worker thread); services commit themselves."""
    with sessions(read_only=read_only) as session:
        return fn(session=session, **kwargs)


def _as_actor(
    sessions: SessionFactory,
    telegram_id: int,
    fn: Callable[..., T],
    kwargs: dict[str, Any],
    read_only: bool = False,
) -> T:
    """Run a privileged service function as the Actor of this Telegram user (worker thread)."""
    from bot.services.roles import actor_for

    with sessions(read_only=read_only) as session:
        actor = actor_for(session=session, telegram_id=telegram_id)
        return fn(session=session, actor=actor, **kwargs)


async def call_as(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    fn: Callable[..., T],
    /,
    *,
    read_only: bool = False,
    **kwargs: Any,
) -> T:
    """Call a privileged service function as the sender (the service checks the role again).

    `read_only=True` for reports and lists: the session never takes SQLite's write lock.
    """
    from bot.services.errors import DatabaseUnavailableError

    sessions = deps(context).sessions
    if sessions is None:
        raise DatabaseUnavailableError()
    assert update.effective_user is not None
    work = functools.partial(_as_actor, sessions, update.effective_user.id, fn, kwargs, read_only)
    return await asyncio.to_thread(work)


async def call(
    context: ContextTypes.DEFAULT_TYPE, fn: Callable[..., T], /, *, read_only: bool = False, **kwargs: Any
) -> T:
    """Call a synchronous service function with a session, in a worker thread.

    `read_only=True` for reads (lists, poll cards): the session never takes SQLite's write lock.
    """
    from bot.services.errors import DatabaseUnavailableError

    sessions = deps(context).sessions
    if sessions is None:
        raise DatabaseUnavailableError()
    return await asyncio.to_thread(functools.partial(_in_session, sessions, fn, kwargs, read_only))


def user_draft(context: ContextTypes.DEFAULT_TYPE, key: str) -> dict[str, Any]:
    """This user's draft of a multi-step flow, in user_data (persisted, so it survives a restart)."""
    assert context.user_data is not None
    draft: dict[str, Any] = context.user_data.setdefault(key, {})
    return draft
