"""SQL of the scale-out tables (seen updates, cluster settings, replicas): storage only, no Telegram."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

SEEN_TTL = timedelta(days=1)


def utcnow() -> datetime:
    """Now, as the naive UTC the tables store."""
    return datetime.now(UTC).replace(tzinfo=None)


def get_setting(engine: Engine, key: str) -> str | None:
    """A shared value, or None."""
    with engine.connect() as connection:
        value = connection.execute(sa.text("SELECT value FROM cluster_setting WHERE key = :k"), {"k": key}).scalar()
    return None if value is None else str(value)


def put_setting(engine: Engine, key: str, value: str, *, only_if_absent: bool = False) -> str:
    """Store a shared value (or keep the existing one when only_if_absent); return the stored value."""
    action = "NOTHING" if only_if_absent else "UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO cluster_setting (key, value, updated_at) VALUES (:k, :v, :t) "
                f"ON CONFLICT (key) DO {action}"
            ),
            {"k": key, "v": value, "t": utcnow()},
        )
        stored = connection.execute(sa.text("SELECT value FROM cluster_setting WHERE key = :k"), {"k": key}).scalar()
    return str(stored)


async def mark_seen(connection: Any, update_id: int) -> bool:
    """Record an update id in the caller's open transaction; False when it was already there (a replay).

    A concurrent replay blocks on the uncommitted row until the first transaction ends, so only one wins.
    """
    cursor = await connection.execute(
        "INSERT INTO seen_update (update_id, seen_at) VALUES (%s, %s) ON CONFLICT (update_id) DO NOTHING",
        (update_id, utcnow()),
    )
    return bool(cursor.rowcount)


def prune_seen(engine: Engine) -> int:
    """Forget update ids older than a day (Telegram does not redeliver that late); return how many."""
    with engine.begin() as connection:
        result = connection.execute(sa.text("DELETE FROM seen_update WHERE seen_at < :t"), {"t": utcnow() - SEEN_TTL})
    return int(result.rowcount or 0)


LOST_AFTER_BEATS = 3  # a replica that missed this many heartbeats in a row is shown as lost
_DB_NOW = "timezone('utc', now())"  # the database's clock: replicas on machines with skewed clocks agree


def beat(engine: Engine, name: str, kind: str, index_generation: int, *, forget_after: float) -> list[str]:
    """Record that this replica is alive (and the index generation it serves); delete the rows of replicas
    silent for more than `forget_after` seconds, whoever they were. Return the names deleted."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO replica (name, kind, index_generation, started_at, last_seen) "
                f"VALUES (:n, :k, :g, {_DB_NOW}, {_DB_NOW}) ON CONFLICT (name) DO UPDATE SET "
                "kind = excluded.kind, index_generation = excluded.index_generation, last_seen = excluded.last_seen"
            ),
            {"n": name, "k": kind, "g": index_generation},
        )
        forgotten = connection.execute(
            sa.text(
                f"DELETE FROM replica WHERE last_seen < {_DB_NOW} - make_interval(secs => :s) RETURNING name"
            ),
            {"s": forget_after},
        ).scalars().all()
    return [str(name) for name in forgotten]


def forget_replica(engine: Engine, name: str) -> None:
    """Remove a replica that stopped cleanly."""
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM replica WHERE name = :n"), {"n": name})


@dataclass(frozen=True)
class ReplicaView:
    """A replica as `citizenbot status` shows it."""

    name: str
    kind: str
    index_generation: int
    seconds_since_heartbeat: float
    alive: bool


def list_replicas(engine: Engine, *, heartbeat: float, forget_after: float) -> list[ReplicaView]:
    """Every replica not yet forgotten, by kind and name: alive when its last heartbeat is at most
    LOST_AFTER_BEATS beats old, lost otherwise (rows older than `forget_after` are left out even if no
    live process has deleted them yet)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                f"SELECT name, kind, index_generation, extract(epoch FROM {_DB_NOW} - last_seen) AS age "
                "FROM replica WHERE last_seen >= " + _DB_NOW + " - make_interval(secs => :s) ORDER BY kind, name"
            ),
            {"s": forget_after},
        ).all()
    lost_after = LOST_AFTER_BEATS * heartbeat
    return [
        ReplicaView(r.name, r.kind, int(r.index_generation), max(0.0, float(r.age)), float(r.age) <= lost_after)
        for r in rows
    ]
