"""`citizenbot worker | ingress | status`: the bot on several processes or machines, sharing PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError

from bot.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.scale.status import Status

NO_WEBHOOK_SECRET = (
    "WEBHOOK_SECRET_TOKEN chưa được đặt: mọi bản ingress phải dùng chung một bí mật (1–256 ký tự A-Z a-z 0-9 _ -) "
    "/ WEBHOOK_SECRET_TOKEN is required with --webhook-url and must be the same on every ingress."
)


def register(app: typer.Typer) -> None:
    """Add this layer's commands to the main app."""
    app.command("worker")(worker)
    app.command("ingress")(ingress)
    app.command("status")(status)


def worker(
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=256, help="updates handled at once"),
    listen: str = typer.Option("0.0.0.0", "--listen", help="address of /healthz and /metrics"),
    health_port: int = typer.Option(8081, "--health-port", min=0, max=65535, help="port of /healthz, /metrics (0: off)"),
) -> None:
    """Handle queued updates (PostgreSQL): any number of workers, on any machine; SIGTERM drains."""
    from bot.scale import worker as worker_module

    settings = _settings(require_token=True)
    _run(settings, "worker", lambda engine: worker_module.serve(
        settings, engine, concurrency=concurrency, listen=listen, health_port=health_port))


def ingress(
    webhook_url: str | None = typer.Option(
        None, "--webhook-url", help="public HTTPS URL Telegram posts updates to (default: one long poller)"
    ),
    listen: str = typer.Option("127.0.0.1", "--listen", help="address the webhook (and /healthz) binds to"),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="port of the webhook, /healthz and /metrics"),
    health_port: int = typer.Option(8082, "--health-port", min=0, max=65535, help="/healthz port when polling (0: off)"),
) -> None:
    """Receive updates and only enqueue them, once each (webhook replicas, or one long poller at a time)."""
    from bot.scale import ingress as ingress_module

    settings = _settings(require_token=True)
    if webhook_url is not None:
        if urlsplit(webhook_url).scheme not in {"http", "https"}:
            typer.echo("--webhook-url phải là một URL http(s) / must be an http(s) URL.", err=True)
            raise typer.Exit(2)
        if settings.webhook_secret_token is None or not settings.webhook_secret_token.get_secret_value().strip():
            typer.echo(NO_WEBHOOK_SECRET, err=True)
            raise typer.Exit(2)
    _run(settings, "ingress", lambda engine: ingress_module.serve(
        settings, engine, webhook_url=webhook_url, listen=listen, port=port, health_port=health_port))


def status() -> None:
    """Queue depth, oldest waiting update, live workers and their index generation, failed jobs."""
    from bot.scale.status import read_status

    settings = _settings(require_token=False)
    engine = _prepared(settings, "status")
    try:
        report = read_status(engine, settings)
    finally:
        engine.dispose()
    for line in status_lines(report, settings):
        typer.echo(line)


def status_lines(report: Status, settings: Settings) -> list[str]:
    """What `citizenbot status` prints: the queue, then every process, alive or lost, said plainly."""
    from bot.scale.store import LOST_AFTER_BEATS

    oldest = "—" if report.oldest_waiting_seconds is None else f"{report.oldest_waiting_seconds:.1f} s"
    lines = [
        f"hàng đợi / queued updates: {report.waiting} (cũ nhất / oldest: {oldest})",
        f"đang xử lý / running jobs: {report.running}; lỗi / failed jobs: {report.failed}",
    ]
    live_queue = sum(w.alive for w in report.queue_workers)
    lines.append(
        f"worker của hàng đợi / queue workers: {live_queue} đang chạy / alive, "
        f"{len(report.queue_workers) - live_queue} mất liên lạc / lost"
    )
    for queue_worker in report.queue_workers:
        state = "sống / alive" if queue_worker.alive else "MẤT / LOST  "
        lines.append(f"  #{queue_worker.id}: {state} heartbeat {queue_worker.seconds_since_heartbeat:.0f} s ago")
    beat, forget = settings.replica_heartbeat_seconds, settings.replica_forget_seconds
    alive = [r for r in report.replicas if r.alive]
    lost = [r for r in report.replicas if not r.alive]
    lines.append(
        f"tiến trình / replicas: {len(alive)} đang chạy / alive, {len(lost)} mất liên lạc / lost "
        f"(heartbeat every {beat:g} s; lost after {LOST_AFTER_BEATS * beat:g} s; forgotten after {forget:g} s)"
    )
    for replica in alive:
        served = f", index generation {replica.index_generation}" if replica.kind == "worker" else ""
        lines.append(
            f"  {replica.kind:7} {replica.name}: sống / alive, heartbeat {replica.seconds_since_heartbeat:.0f} s ago"
            f"{served}"
        )
    for replica in lost:
        left = max(0.0, forget - replica.seconds_since_heartbeat)
        lines.append(
            f"  {replica.kind:7} {replica.name}: MẤT / LOST, no heartbeat for {replica.seconds_since_heartbeat:.0f} s "
            f"(killed, crashed or cut off from the database; forgotten in {left:.0f} s)"
        )
    return lines

def _settings(*, require_token: bool) -> Settings:
    """Settings from the environment, or a clear message and exit 2."""
    from bot.cli.run import MISSING_TOKEN

    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"Cấu hình không hợp lệ / invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from None
    token = settings.telegram_bot_token
    if require_token and (token is None or not token.get_secret_value().strip()):
        typer.echo(MISSING_TOKEN, err=True)
        raise typer.Exit(2)
    return settings


def _prepared(settings: Settings, command: str) -> Engine:
    """PostgreSQL only; the schema and the queue's schema upgraded once; the pseudonym secret checked."""
    from bot.db.engine import ensure_schema, make_engine
    from bot.scale.guard import check_fingerprint, require_postgres
    from bot.scale.queue import ensure_queue_schema
    from bot.services.errors import ServiceError
    from bot.services.residents import load_pseudonymizer

    try:
        require_postgres(settings, command)
    except ServiceError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from None
    engine = make_engine(settings)
    try:
        ensure_schema(engine)
        ensure_queue_schema(engine)
        check_fingerprint(engine, load_pseudonymizer(settings))
    except ServiceError as exc:
        engine.dispose()
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    return engine


def _run(settings: Settings, command: str, main: Callable[[Engine], Coroutine[Any, Any, None]]) -> None:
    """Prepare, then run the process's event loop until it is asked to stop."""
    from bot.cli.run import _configure_logging, start_errors

    _configure_logging()
    engine = _prepared(settings, command)
    try:
        with start_errors(settings):
            asyncio.run(main(engine))
    finally:
        engine.dispose()
