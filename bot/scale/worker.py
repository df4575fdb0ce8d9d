"""`citizenbot worker`: handle queued updates with the bot's own handlers, and run the fleet's background jobs."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.scale import heartbeat, metrics, store
from bot.scale.queue import BACKGROUND_QUEUE, UPDATE_TASK, UPDATES_QUEUE

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from telegram.ext import Application

    from bot.scale.index_sync import FleetSearch

log = logging.getLogger(__name__)
HEARTBEAT = 5.0  # seconds between procrastinate worker heartbeats
STALLED_AFTER = 20.0  # a worker silent this long is dead: its running jobs are retried elsewhere
FOLLOW_EVERY = 10.0  # seconds between checks for a newer index generation and changed staff answers
DRAIN_TIMEOUT = 60.0  # on SIGTERM, seconds to let running updates finish
WARM_UP = "Hà Nội phát triển đô thị thế nào?"
FAILED_KEPT_HOURS = 24  # failed jobs stay this long for `citizenbot status`, then are deleted


class WorkerRuntime:
    """What the queue's tasks run against: one initialized PTB Application (no Updater) and the engine."""

    def __init__(self, settings: Settings, engine: Engine, application: Application, search: FleetSearch) -> None:
        self.settings = settings
        self.search = search
        self.engine = engine
        self.application = application
        self.name = heartbeat.replica_name()
        self.ready = False

    async def handle_update(self, payload: dict[str, Any]) -> None:
        """Run one update through the handlers, then write the conversation state it changed."""
        from telegram import Update

        started = time.perf_counter()
        update = Update.de_json(payload, self.application.bot)
        await self.application.process_update(update)
        await self.application.update_persistence()
        metrics.UPDATE_SECONDS.observe(time.perf_counter() - started)
        metrics.UPDATES_HANDLED.inc()

    async def drain_outbox(self) -> None:
        """Send the queued notifications (one run across the fleet at a time)."""
        from telegram.ext import CallbackContext

        from bot.telegram.outbox import drain_outbox

        await drain_outbox(CallbackContext(self.application))

    async def expire_flows(self) -> None:
        """End idle flows (the sweep PTB's job queue runs in `citizenbot run`)."""
        from telegram.ext import CallbackContext

        from bot.telegram.persistence import expire_flows

        await expire_flows(CallbackContext(self.application))

    async def refresh_knowledge(self) -> None:
        """Load staff answers and synonyms changed by another replica or the CLI."""
        from bot.telegram.knowledge import refresh_knowledge

        await refresh_knowledge(self.application)

    def index_generation(self) -> int:
        """The index generation this worker answers from."""
        return self.search.generation


def register_tasks(queue: Any, runtime: WorkerRuntime) -> None:
    """Declare the update task and the periodic background tasks on the procrastinate app."""

    @queue.task(name=UPDATE_TASK, queue=UPDATES_QUEUE)
    async def handle_update(payload: dict[str, Any]) -> None:
        """One Telegram update."""
        await runtime.handle_update(payload)

    # Crontab with a 6th column for seconds (croniter: the seconds come last).
    # No `lock` here: a run that died with its worker must not block the runs that would retry it.
    @queue.periodic(cron="* * * * * */5", periodic_id="retry-stalled")
    @queue.task(name="citizenbot.retry_stalled", queue=BACKGROUND_QUEUE, queueing_lock="retry-stalled")
    async def retry_stalled(timestamp: int) -> None:
        """Put the jobs of dead workers (no heartbeat) back in the queue; then forget the queue's rows of
        workers dead for longer than REPLICA_FORGET_SECONDS (their jobs, if any, are still retried: a job
        of a deleted worker has no worker and counts as stalled)."""
        from procrastinate.exceptions import ConnectorException

        for job in await queue.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
            log.warning("retrying job %s of a worker that stopped answering", job.id)
            try:
                await queue.job_manager.retry_job(job)
            except ConnectorException as exc:  # another worker retried it first
                log.info("job %s not retried here: %s", job.id, exc)
        forget_after = max(STALLED_AFTER, runtime.settings.replica_forget_seconds)
        await queue.job_manager.prune_stalled_workers(seconds_since_heartbeat=forget_after)

    @queue.periodic(cron="* * * * * */10", periodic_id="outbox")
    @queue.task(name="citizenbot.outbox", queue=BACKGROUND_QUEUE, lock="outbox", queueing_lock="outbox")
    async def outbox(timestamp: int) -> None:
        """Send queued notifications."""
        await runtime.drain_outbox()

    @queue.periodic(cron="* * * * * */30", periodic_id="flow-timeouts")
    @queue.task(name="citizenbot.flow_timeouts", queue=BACKGROUND_QUEUE, lock="flows", queueing_lock="flows")
    async def flow_timeouts(timestamp: int) -> None:
        """End /gopy and the other flows left without an answer, and tell each resident once."""
        await runtime.expire_flows()

    @queue.periodic(cron="17 * * * *", periodic_id="prune")
    @queue.task(name="citizenbot.prune", queue=BACKGROUND_QUEUE, lock="prune", queueing_lock="prune")
    async def prune(timestamp: int) -> None:
        """Forget update ids older than a day, ended flood windows, failed jobs older than FAILED_KEPT_HOURS."""
        from bot.scale.limits import prune_flood

        await asyncio.to_thread(store.prune_seen, runtime.engine)
        await asyncio.to_thread(prune_flood, runtime.engine, runtime.settings.telegram_flood_window)
        await queue.job_manager.delete_old_jobs(nb_hours=FAILED_KEPT_HOURS, include_failed=True)


async def _follow_forever(runtime: WorkerRuntime) -> None:
    """Follow the fleet's index generation and staff answers; keep the queue gauges fresh. (The `replica`
    heartbeat runs in its own task: loading a new index must not make this worker look lost.)"""
    from bot.scale.status import queue_depth

    while True:
        try:
            await runtime.search.follow()
        except Exception as exc:  # keep answering from the index already loaded
            log.warning("newer index not loaded: %s", exc)
        await runtime.refresh_knowledge()  # a database outage only logs
        try:
            depth, oldest = await asyncio.to_thread(queue_depth, runtime.engine)
            metrics.QUEUE_DEPTH.set(depth)
            metrics.OLDEST_WAITING.set(oldest or 0.0)
            metrics.INDEX_GENERATION.set(runtime.index_generation())
        except Exception as exc:  # the database is down: the queue is down too, procrastinate reports it
            log.warning("queue gauges not updated: %s", exc)
        await asyncio.sleep(FOLLOW_EVERY)


async def _warm_up(search: Any) -> None:
    """Ask once before taking jobs: the lazy models load here, not in concurrent first questions."""
    from bot.search.errors import SearchError

    try:
        await search.ask(WARM_UP)
    except SearchError as exc:
        log.warning("search not warmed up: %s", exc.message)


async def _count_error(update: object, context: Any) -> None:
    """Error handler beside the bot's own: count errors for Prometheus."""
    metrics.ERRORS.labels("update").inc()


async def serve(settings: Settings, engine: Engine, *, concurrency: int, listen: str, health_port: int) -> None:
    """Run a worker until SIGTERM: finish running updates, take no new ones, then shut down."""
    from bot.scale.health import serve as serve_http
    from bot.scale.index_sync import FleetSearch
    from bot.scale.limits import SharedFloodGate, SharedRateLimiter
    from bot.scale.metrics import MeteredSearch
    from bot.scale.queue import make_queue
    from bot.search.service import SearchService
    from bot.telegram.app import build_application
    from bot.telegram.deps import DEPS_KEY

    search = FleetSearch(SearchService(settings), engine, index_present=(settings.index_dir / "manifest.json").exists)
    application = build_application(
        settings, search=MeteredSearch(search), engine=engine,
        rate_limiter=SharedRateLimiter(engine, settings.telegram_max_rate),
    )
    bot_deps = application.bot_data[DEPS_KEY]
    bot_deps.flood = SharedFloodGate(
        settings.telegram_flood_limit, settings.telegram_flood_window, engine=engine, pseudonymize=bot_deps.pseudonymize
    )
    application.add_error_handler(_count_error)
    runtime = WorkerRuntime(settings, engine, application, search)
    queue = make_queue(settings, pool_size=concurrency + 4)
    register_tasks(queue, runtime)
    await application.initialize()
    server = None
    beating: asyncio.Task[None] | None = None
    following: asyncio.Task[None] | None = None
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await _warm_up(bot_deps.search)
        runtime.ready = True
        if health_port:
            server = serve_http(listen, health_port, lambda: runtime.ready)
        beating = asyncio.create_task(
            heartbeat.keep_beating(engine, settings, runtime.name, "worker", runtime.index_generation)
        )
        following = asyncio.create_task(_follow_forever(runtime))
        async with queue.open_async():
            log.info("worker %s handling updates (concurrency %d)", runtime.name, concurrency)
            await queue.run_worker_async(
                queues=[UPDATES_QUEUE, BACKGROUND_QUEUE],
                concurrency=concurrency,
                delete_jobs="successful",
                update_heartbeat_interval=HEARTBEAT,
                stalled_worker_timeout=STALLED_AFTER,
                shutdown_graceful_timeout=DRAIN_TIMEOUT,
                fetch_job_polling_interval=2.0,
                install_signal_handlers=True,
            )
    finally:
        runtime.ready = False
        if following is not None:
            following.cancel()
        if server is not None:
            server.stop()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
        await heartbeat.stop_beating(engine, beating, runtime.name)
    log.info("worker %s stopped", runtime.name)
