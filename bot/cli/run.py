"""`citizenbot run`: start the Telegram bot (long polling by default, or a webhook)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError

from bot.config import Settings

if TYPE_CHECKING:
    from telegram.ext import Application

log = logging.getLogger("bot.run")

MISSING_TOKEN = """\
TELEGRAM_BOT_TOKEN chưa được đặt / TELEGRAM_BOT_TOKEN is not set.

Cách lấy token / How to get one:
  1. Mở Telegram, nhắn cho @BotFather / open a chat with @BotFather in Telegram.
  2. Gửi /newbot, đặt tên và username cho bot / send /newbot and choose a name and a username.
  3. BotFather trả về một token dạng 123456789:AA... / it replies with a token like 123456789:AA...
  4. Đặt vào môi trường hoặc tệp .env / put it in the environment or in .env:
       TELEGRAM_BOT_TOKEN=123456789:AA...
Rồi chạy lại / then run again: citizenbot run"""
BOTFATHER_HINT = "Lấy token mới từ @BotFather (/token) / get a new one from @BotFather (/token)."


def register(app: typer.Typer) -> None:
    """Add this layer's commands to the main app."""
    app.command("run")(run)


def run(
    webhook_url: str | None = typer.Option(
        None, "--webhook-url", help="public HTTPS URL Telegram posts updates to (default: long polling)"
    ),
    listen: str = typer.Option("127.0.0.1", "--listen", help="address the webhook server binds to"),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="port the webhook server listens on"),
) -> None:
    """Start the Telegram bot: long polling, or a webhook with --webhook-url (secret token checked)."""
    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"Cấu hình không hợp lệ / invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from None
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value().strip():
        typer.echo(MISSING_TOKEN, err=True)
        raise typer.Exit(2)
    if webhook_url is not None and urlsplit(webhook_url).scheme not in {"http", "https"}:
        typer.echo("--webhook-url phải là một URL http(s) / must be an http(s) URL.", err=True)
        raise typer.Exit(2)
    _configure_logging()
    with start_errors(settings):
        _serve(settings, webhook_url, listen, port)


@contextmanager
def start_errors(settings: Settings) -> Iterator[None]:
    """Turn what stops a bot process from starting into a clear message and an exit status, never a traceback."""
    from telegram.error import InvalidToken, NetworkError

    from bot.search.errors import SearchError
    from bot.services.errors import ServiceError

    try:
        yield
    except ServiceError as exc:  # a schema newer than this code, or another replica's pseudonym secret
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    except SearchError as exc:  # no index and nothing indexable, or the encoder cannot load here
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    except InvalidToken:
        typer.echo("Telegram từ chối TELEGRAM_BOT_TOKEN / the token was rejected. " + BOTFATHER_HINT, err=True)
        raise typer.Exit(2) from None
    except NetworkError as exc:
        typer.echo(
            f"Không kết nối được tới Telegram Bot API ({settings.telegram_api_base_url}) / cannot reach it: {exc}",
            err=True,
        )
        raise typer.Exit(1) from None


def _serve(settings: Settings, webhook_url: str | None, listen: str, port: int) -> None:
    """Run the bot until SIGINT/SIGTERM: long polling, or a webhook behind a reverse proxy."""
    application = _prepare(settings)
    if webhook_url is None:
        log.info("starting with long polling")
        application.run_polling(allowed_updates=_ALL_UPDATES, drop_pending_updates=False)
        return
    secret = settings.webhook_secret_token.get_secret_value() if settings.webhook_secret_token else None
    path = urlsplit(webhook_url).path.strip("/") or "telegram"
    log.info("starting webhook on %s:%s/%s", listen, port, path)
    application.run_webhook(
        listen=listen,
        port=port,
        url_path=path,
        webhook_url=webhook_url,
        secret_token=secret or secrets.token_urlsafe(32),
        allowed_updates=_ALL_UPDATES,
    )


_ALL_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


def _configure_logging() -> None:
    """Log to stderr; keep httpx (its request lines contain the bot token) and alembic quiet."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _prepare(settings: Settings) -> Application:
    """Upgrade the database, create the search service and wire the Application."""
    from bot.db.engine import ensure_schema, make_engine
    from bot.scale.guard import check_fingerprint
    from bot.search.service import SearchService
    from bot.services.errors import DatabaseUnavailableError
    from bot.services.residents import load_pseudonymizer
    from bot.telegram.app import build_application

    engine = make_engine(settings)
    try:
        if ensure_schema(engine):
            log.info("database schema upgraded")
        check_fingerprint(engine, load_pseudonymizer(settings))
    except DatabaseUnavailableError as exc:
        log.warning("database unavailable at start (questions still answered): %s", exc.message)
    application = build_application(settings, search=SearchService(settings), engine=engine)
    if engine.dialect.name == "postgresql":  # shown by `citizenbot status` beside ingress and workers
        from bot.scale import heartbeat

        heartbeat.install(application, engine, settings)
    return application
