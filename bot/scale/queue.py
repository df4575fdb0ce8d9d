"""The job queue (procrastinate on PostgreSQL): its app, schema, task names, and what an update job carries."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from bot.config import Settings

UPDATE_TASK = "citizenbot.update"
UPDATES_QUEUE = "updates"
BACKGROUND_QUEUE = "background"
SCHEMA_LOCK = 7_406_118_002  # PostgreSQL advisory lock key held while the queue schema is created
PRIVATE_FIELDS = ("first_name", "last_name", "username", "language_code", "is_premium", "added_to_attachment_menu")


def conninfo(settings: Settings) -> str:
    """The libpq URL of DATABASE_URL (procrastinate uses psycopg directly, without SQLAlchemy)."""
    url = make_url(settings.effective_database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_queue(settings: Settings, *, pool_size: int = 10) -> Any:
    """A procrastinate App on DATABASE_URL (not opened yet)."""
    import procrastinate

    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(settings), min_size=1, max_size=pool_size
    )
    return procrastinate.App(connector=connector)


def ensure_queue_schema(engine: Engine) -> bool:
    """Create procrastinate's tables once (advisory lock; idempotent); True when they were created."""
    from procrastinate.schema import SchemaManager

    with engine.begin() as connection:
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        if connection.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None:
            return False
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute(SchemaManager.get_schema())  # several statements: psycopg runs them without parameters
    return True


def chat_lock(chat_id: int, pseudonymize: Callable[[int], str]) -> str:
    """The queue lock of one chat, so its updates run one at a time, in order.

    Derived from the HMAC of the chat id (never the id itself), and distinct from the resident's pseudonym.
    """
    digest = hashlib.sha256(f"queue-lock:{pseudonymize(chat_id)}".encode()).hexdigest()
    return f"chat:{digest[:32]}"


def strip_private(payload: Any) -> Any:
    """A copy of an update without residents' names, usernames or language codes (bots keep theirs)."""
    if isinstance(payload, list):
        return [strip_private(item) for item in payload]
    if not isinstance(payload, dict):
        return payload
    clean = {key: strip_private(value) for key, value in payload.items()}
    if "id" in clean and ("is_bot" in clean or "type" in clean) and not clean.get("is_bot"):
        for name in PRIVATE_FIELDS:
            clean.pop(name, None)
        if "is_bot" in clean:
            clean["first_name"] = ""  # required by the Bot API's User; never read by the handlers
    return clean


def chat_of(payload: dict[str, Any]) -> int | None:
    """The chat (or, failing that, the user) an update belongs to, from its JSON."""
    for kind, value in payload.items():
        if kind == "update_id" or not isinstance(value, dict):
            continue
        message = value.get("message") if kind == "callback_query" else value
        chat = (message or {}).get("chat") or value.get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return int(chat["id"])
        sender = value.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return int(sender["id"])
    return None
