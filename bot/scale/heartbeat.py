"""Every process on PostgreSQL (ingress, worker, run) keeps a `replica` row alive for `citizenbot status`.

Each process writes its row every REPLICA_HEARTBEAT_SECONDS (10 s by default). A row LOST_AFTER_BEATS
(3) beats old is shown as lost: the process was killed, its machine died, or it cannot reach the
database. Any live process deletes the rows silent for more than REPLICA_FORGET_SECONDS (10 minutes by
default) at each of its beats; a process that stops cleanly deletes its own row at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.scale import store

log = logging.getLogger(__name__)


def replica_name() -> str:
    """This process's name in `replica`: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def beat_once(engine: Engine, settings: Settings, name: str, kind: str, generation: int = 0) -> None:
    """Write this process's heartbeat and delete long-lost rows; a database outage only logs."""
    try:
        forgotten = await asyncio.to_thread(
            store.beat, engine, name, kind, generation, forget_after=settings.replica_forget_seconds
        )
    except Exception as exc:  # the database is down: status cannot be read either; try again next beat
        log.warning("replica heartbeat not written: %s", exc.__class__.__name__)
        return
    for lost in forgotten:
        log.info("forgot replica %s (no heartbeat for %.0f s)", lost, settings.replica_forget_seconds)


async def keep_beating(
    engine: Engine, settings: Settings, name: str, kind: str, generation: Callable[[], int] = lambda: 0
) -> None:
    """Beat every REPLICA_HEARTBEAT_SECONDS until cancelled."""
    while True:
        await beat_once(engine, settings, name, kind, generation())
        await asyncio.sleep(settings.replica_heartbeat_seconds)


async def stop_beating(engine: Engine, task: asyncio.Task[None] | None, name: str) -> None:
    """Cancel the beat and delete this process's row: a clean stop is not a lost replica."""
    if task is not None:
        task.cancel()
    try:
        await asyncio.to_thread(store.forget_replica, engine, name)
    except Exception as exc:
        log.warning("replica row not deleted (it will be shown as lost, then forgotten): %s", exc.__class__.__name__)


def install(application: Any, engine: Engine, settings: Settings) -> None:
    """`citizenbot run` on PostgreSQL: beat from PTB's job queue (kind "run"); delete the row once stopped.

    Wraps the Application's post_init and post_stop, so the beat starts with the bot and ends with it.
    """
    name = replica_name()
    started = application.post_init
    stopped = application.post_stop

    async def beat_job(context: Any) -> None:
        """One heartbeat."""
        await beat_once(engine, settings, name, "run")

    async def post_init(app: Any) -> None:
        """The bot's own start-up, then the first beat and the repeating ones."""
        if started is not None:
            await started(app)
        if app.job_queue is not None:
            app.job_queue.run_repeating(beat_job, interval=settings.replica_heartbeat_seconds, first=0, name="replica")

    async def post_stop(app: Any) -> None:
        """Delete this process's row, then whatever the bot did on stop."""
        await stop_beating(engine, None, name)
        if stopped is not None:
            await stopped(app)

    application.post_init = post_init
    application.post_stop = post_stop
