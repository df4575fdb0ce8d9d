"""One ingress and three workers as separate processes, on PostgreSQL, against the fake Bot API (webhook)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scale.conftest import Fleet, fleet_env
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_bot_flows import free_port

pytestmark = pytest.mark.postgres
START = 240.0  # a cold worker loads the encoder and the index on a busy machine


@pytest.fixture
def fleet(fake: FakeBotApi, tmp_path: Path, index: Path, postgres_url: str) -> Iterator[Fleet]:
    running = Fleet(tmp_path, fleet_env(fake, tmp_path, index, postgres_url))
    try:
        yield running
    finally:
        running.stop_all()


def test_smoke_help_through_ingress_and_worker(fake: FakeBotApi, fleet: Fleet) -> None:
    port = free_port()
    fleet.start("ingress", "ingress", "--webhook-url", f"http://127.0.0.1:{port}/hook", "--port", str(port))
    fleet.wait(fake, "setWebhook", timeout=START)
    fleet.start("worker1", "worker", "--concurrency", "4", "--health-port", "0")
    fake.send_command(9101, "help")
    reply = fleet.wait(fake, "sendMessage", lambda c: c.chat_id == 9101, timeout=START)
    assert "/gopy" in reply.text
