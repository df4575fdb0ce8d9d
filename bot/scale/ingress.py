"""`citizenbot ingress`: receive Telegram updates (webhook or one long poller) and only enqueue them."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import Callable
from typing import Any

import tornado.web
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.scale import heartbeat, metrics, store
from bot.scale.queue import UPDATE_TASK, UPDATES_QUEUE, chat_lock, chat_of, conninfo, strip_private

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
POLL_LOCK = 7_406_118_003  # PostgreSQL advisory lock key of the one long poller
POLL_OFFSET_KEY = "poll_offset"
POLL_TIMEOUT = 20  # seconds a getUpdates call waits for updates
LOCK_RETRY = 5.0  # seconds between attempts to become the poller (takeover well within 30 s)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Ingress:
    """Enqueues each update once (by update_id), without residents' names, locked per chat."""

    def __init__(self, queue: Any, pseudonymize: Callable[[int], str]) -> None:
        self.queue = queue
        self.pseudonymize = pseudonymize

    async def enqueue(self, update: dict[str, Any]) -> bool:
        """Put one update in the queue; False when it was a replay (already enqueued).

        The seen-id row and the job commit together or not at all for concurrent replays: the row stays
        locked until the job is deferred, and a failure rolls it back so Telegram's retry is enqueued.
        """
        from procrastinate.exceptions import AlreadyEnqueued

        update_id = int(update["update_id"])
        chat = chat_of(update)
        task = self.queue.configure_task(
            UPDATE_TASK,
            queue=UPDATES_QUEUE,
            lock=chat_lock(chat, self.pseudonymize) if chat is not None else None,
            queueing_lock=f"update:{update_id}",
        )
        async with self.queue.connector.pool.connection() as connection, connection.transaction():
            if not await store.mark_seen(connection, update_id):
                metrics.UPDATES_REPLAYED.inc()
                return False
            try:
                await task.defer_async(payload=strip_private(update))
            except AlreadyEnqueued:
                metrics.UPDATES_REPLAYED.inc()
                return False
        metrics.UPDATES_ENQUEUED.inc()
        return True


class WebhookHandler(tornado.web.RequestHandler):
    """Telegram's webhook: check the secret token, enqueue, answer at once."""

    def initialize(self, ingress: Ingress, secret: str) -> None:
        self.ingress = ingress
        self.secret = secret

    async def post(self) -> None:
        """403 for a wrong secret, 400 for a body that is not an update, 500 (Telegram retries) if not stored."""
        token = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(token.encode(), self.secret.encode()):
            self.send_error(403)
            return
        try:
            update = json.loads(self.request.body)
            int(update["update_id"])
        except (ValueError, TypeError, KeyError):
            self.send_error(400)
            return
        try:
            await self.ingress.enqueue(update)
        except Exception:
            log.exception("update not enqueued; Telegram will deliver it again")
            metrics.ERRORS.labels("ingress").inc()
            self.send_error(500)
            return
        self.set_status(200)
        self.finish()

    def check_xsrf_cookie(self) -> None:
        """Telegram sends no cookie: the secret token authenticates the request."""


async def poll(ingress: Ingress, settings: Settings, engine: Engine, bot: Any, stop: asyncio.Event) -> None:
    """Long-poll while holding the poller lock; otherwise wait to take over. The offset is in the database."""
    import psycopg

    while not stop.is_set():
        try:
            connection = await psycopg.AsyncConnection.connect(
                conninfo(settings), autocommit=True,
                keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
            )
        except psycopg.OperationalError as exc:
            log.warning("database unreachable, not polling: %s", exc.__class__.__name__)
            await _sleep_or_stop(stop, LOCK_RETRY)
            continue
        async with connection:
            held = (await (await connection.execute("SELECT pg_try_advisory_lock(%s)", (POLL_LOCK,))).fetchone())
            if not held or not held[0]:
                await _sleep_or_stop(stop, LOCK_RETRY)
                continue
            log.info("this ingress is the long poller now")
            await bot.delete_webhook(drop_pending_updates=False)
            await _poll_while_held(ingress, engine, bot, connection, stop)


async def _poll_while_held(ingress: Ingress, engine: Engine, bot: Any, connection: Any, stop: asyncio.Event) -> None:
    """getUpdates from the stored offset, enqueue, store the next offset; stop when the lock's session dies."""
    from telegram.error import NetworkError, TelegramError

    while not stop.is_set():
        try:
            await connection.execute("SELECT 1")
        except Exception:
            log.warning("lost the poller lock's connection; trying to take it again")
            return
        stored = await asyncio.to_thread(store.get_setting, engine, POLL_OFFSET_KEY)
        offset = int(stored) if stored else None
        try:
            updates = await bot.get_updates(offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES)
        except NetworkError as exc:
            log.warning("getUpdates failed, retrying: %s", exc)
            await _sleep_or_stop(stop, 1.0)
            continue
        except TelegramError as exc:
            log.error("getUpdates refused: %s", exc)
            await _sleep_or_stop(stop, LOCK_RETRY)
            continue
        for update in updates:
            await ingress.enqueue(update.to_dict())
        if updates:
            next_offset = str(updates[-1].update_id + 1)
            await asyncio.to_thread(store.put_setting, engine, POLL_OFFSET_KEY, next_offset)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def serve(
    settings: Settings, engine: Engine, *, webhook_url: str | None, listen: str, port: int, health_port: int
) -> None:
    """Run the ingress until SIGTERM/SIGINT: a webhook server, or the long poller (with /healthz); its
    `replica` row beats meanwhile."""
    from telegram import Bot

    from bot.scale.queue import make_queue

    assert settings.telegram_bot_token is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    queue = make_queue(settings)
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_api_base_url,
              base_file_url=settings.telegram_api_base_file_url)
    name = heartbeat.replica_name()
    beating = asyncio.create_task(heartbeat.keep_beating(engine, settings, name, "ingress"))
    try:
        async with queue.open_async(), bot:
            await _receive(settings, engine, queue, bot, stop, webhook_url=webhook_url, listen=listen, port=port,
                           health_port=health_port)
    finally:
        await heartbeat.stop_beating(engine, beating, name)
    log.info("ingress stopped")


async def _receive(
    settings: Settings, engine: Engine, queue: Any, bot: Any, stop: asyncio.Event, *,
    webhook_url: str | None, listen: str, port: int, health_port: int,
) -> None:
    """Serve the webhook, or long-poll, until `stop` is set."""
    from urllib.parse import urlsplit

    from bot.scale.health import serve as serve_http
    from bot.services.residents import load_pseudonymizer

    ingress = Ingress(queue, load_pseudonymizer(settings))
    if webhook_url is None:
        server = serve_http(listen, health_port, lambda: not stop.is_set()) if health_port else None
        await poll(ingress, settings, engine, bot, stop)
    else:
        assert settings.webhook_secret_token is not None
        secret = settings.webhook_secret_token.get_secret_value()
        path = "/" + (urlsplit(webhook_url).path.strip("/") or "telegram")
        route = (path, WebhookHandler, {"ingress": ingress, "secret": secret})
        server = serve_http(listen, port, lambda: not stop.is_set(), extra=[route])
        await bot.set_webhook(webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        log.info("ingress serving the webhook on %s:%s%s", listen, port, path)
        await stop.wait()
    if server is not None:
        server.stop()
