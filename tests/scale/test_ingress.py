"""The ingress: each update enqueued once, without names, locked per chat; one long poller at a time."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.db.engine import make_engine, upgrade
from bot.scale.ingress import Ingress
from bot.scale.queue import ensure_queue_schema, make_queue
from bot.services.residents import load_pseudonymizer
from tests.scale.conftest import SECRET, Fleet, fleet_env
from tests.telegram.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.postgres
RESIDENT = 9201


def update(update_id: int, text: str = "Xin chào") -> dict[str, Any]:
    """A private message carrying everything Telegram sends about its author."""
    person = {"id": RESIDENT, "first_name": "Lan", "last_name": "Nguyễn", "username": "lan_hn"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 0, "text": text,
            "from": {**person, "is_bot": False, "language_code": "vi", "is_premium": True},
            "chat": {**person, "type": "private"},
        },
    }


def jobs(url: str) -> list[Any]:
    """The queued jobs: (args, lock), oldest first."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT args, lock FROM procrastinate_jobs ORDER BY id")).all())
    finally:
        engine.dispose()


async def test_a_replayed_update_is_enqueued_once_without_names(postgres_url: str) -> None:
    settings = Settings(database_url=postgres_url, pseudonym_secret=SECRET)
    engine = make_engine(settings)
    await asyncio.to_thread(upgrade, engine)
    await asyncio.to_thread(ensure_queue_schema, engine)
    assert ensure_queue_schema(engine) is False  # idempotent
    engine.dispose()
    queue = make_queue(settings)
    async with queue.open_async():
        ingress = Ingress(queue, load_pseudonymizer(settings))
        first = await asyncio.gather(*(ingress.enqueue(update(501)) for _ in range(5)))
        assert sorted(first) == [False, False, False, False, True]
        assert await ingress.enqueue(update(502, "Câu thứ hai")) is True
        await asyncio.to_thread(_delete_jobs, postgres_url)  # handled and deleted by a worker
        assert await ingress.enqueue(update(501)) is False  # a late replay is still recognised
        assert await ingress.enqueue(update(503)) is True
    queued = jobs(postgres_url)
    assert [job.args["payload"]["update_id"] for job in queued] == [503]
    text = json.dumps(queued[0].args, ensure_ascii=False)
    assert all(private not in text for private in ("Lan", "Nguyễn", "lan_hn", '"vi"', "is_premium"))
    assert queued[0].args["payload"]["message"]["from"]["id"] == RESIDENT  # handlers still know who asked
    assert str(RESIDENT) not in queued[0].lock and queued[0].lock.startswith("chat:")
    result = CliRunner().invoke(app, ["status"], env={"DATABASE_URL": postgres_url, "PSEUDONYM_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    assert "queued updates: 1 (" in result.output and "failed jobs: 0" in result.output


def _delete_jobs(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM procrastinate_jobs"))
    finally:
        engine.dispose()


def test_only_one_ingress_polls_and_another_takes_over_when_it_dies(
    fake: FakeBotApi, tmp_path: Path, postgres_url: str
) -> None:
    fleet = Fleet(tmp_path, fleet_env(fake, tmp_path, None, postgres_url))
    try:
        names = ["a", "b"]
        processes = {name: fleet.start(name, "ingress", "--health-port", "0") for name in names}
        fleet.wait(fake, "getUpdates", timeout=120)
        time.sleep(2)
        pollers = [name for name in names if "long poller now" in fleet.log(name)]
        assert len(pollers) == 1, [fleet.log(n) for n in names]
        sent = [fake.send_text(RESIDENT, f"tin {i}") for i in range(3)]
        _wait_jobs(postgres_url, 3)
        processes[pollers[0]].send_signal(signal.SIGKILL)
        sent += [fake.send_text(RESIDENT, f"tin {i}") for i in range(3, 6)]
        _wait_jobs(postgres_url, 6, timeout=45)
        other = next(name for name in names if name != pollers[0])
        assert "long poller now" in fleet.log(other)
        queued = jobs(postgres_url)
        assert [job.args["payload"]["update_id"] for job in queued] == sent  # none lost, none doubled, in order
    finally:
        fleet.stop_all()


def _wait_jobs(url: str, count: int, timeout: float = 30.0) -> None:
    """Wait until `count` jobs are queued (fail with the count seen)."""
    deadline = time.monotonic() + timeout
    while len(found := jobs(url)) < count and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(found) == count, found
