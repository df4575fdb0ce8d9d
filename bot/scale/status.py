"""`citizenbot status`: the queue, the live workers and what they serve, failed jobs (read-only SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.scale.queue import UPDATE_TASK
from bot.scale.store import ReplicaView, list_replicas
from bot.scale.worker import STALLED_AFTER


@dataclass(frozen=True)
class QueueWorker:
    """A procrastinate worker and its last heartbeat; not alive after STALLED_AFTER seconds of silence
    (its running jobs are then retried by another worker)."""

    id: int
    seconds_since_heartbeat: float
    alive: bool


@dataclass(frozen=True)
class Status:
    """Everything `citizenbot status` prints."""

    waiting: int
    oldest_waiting_seconds: float | None
    running: int
    failed: int
    queue_workers: list[QueueWorker]
    replicas: list[ReplicaView]


def queue_depth(engine: Engine) -> tuple[int, float | None]:
    """(updates waiting, age in seconds of the oldest waiting one)."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT count(*) AS n, min(e.at) AS oldest FROM procrastinate_jobs j "
                "LEFT JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred' "
                "WHERE j.status = 'todo' AND j.task_name = :task"
            ),
            {"task": UPDATE_TASK},
        ).one()
    oldest = None if row.oldest is None else (datetime.now(UTC) - row.oldest).total_seconds()
    return int(row.n), oldest


def read_status(engine: Engine, settings: Settings) -> Status:
    """Read the whole status in a few queries (replicas judged by the heartbeat settings of `settings`)."""
    waiting, oldest = queue_depth(engine)
    with engine.connect() as connection:
        counts: dict[str, int] = dict(
            connection.execute(
                sa.text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status")
            ).all()
        )
        workers = connection.execute(
            sa.text(
                "SELECT id, extract(epoch FROM now() - last_heartbeat) AS age "
                "FROM procrastinate_workers ORDER BY id"
            )
        ).all()
    return Status(
        waiting=waiting,
        oldest_waiting_seconds=oldest,
        running=int(counts.get("doing", 0)),
        failed=int(counts.get("failed", 0)),
        queue_workers=[QueueWorker(int(w.id), float(w.age), float(w.age) <= STALLED_AFTER) for w in workers],
        replicas=list_replicas(
            engine, heartbeat=settings.replica_heartbeat_seconds, forget_after=settings.replica_forget_seconds
        ),
    )
