"""`citizenbot status` lists every process: an ingress and a worker show up alive; a SIGKILLed worker is
shown as lost, then a live process forgets it; a process stopped cleanly leaves at once."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli import app
from bot.db.engine import make_engine
from tests.scale.conftest import Fleet
from tests.telegram.fake_bot_api import FakeBotApi

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]
START = 300.0  # a cold worker loads the encoder and the index on a busy machine
BEAT = {"REPLICA_HEARTBEAT_SECONDS": "2", "REPLICA_FORGET_SECONDS": "20"}  # lost after 6 s, forgotten after 20 s


def status(fleet: Fleet) -> str:
    """What `citizenbot status` prints, with the fleet's environment."""
    env = {k: fleet.env[k] for k in ("DATABASE_URL", "PSEUDONYM_SECRET")} | BEAT
    result = CliRunner().invoke(app, ["status"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def line_of(output: str, kind: str, pid: int) -> str | None:
    """The status line of the process `pid` of `kind`, or None when it is not listed."""
    found = [line for line in output.splitlines() if re.match(rf"\s+{kind}\s+\S+:{pid}: ", line)]
    return found[0] if found else None


def wait_status(fleet: Fleet, check: Callable[[str], bool], timeout: float) -> str:
    """Poll `citizenbot status` until `check` accepts its output; fail with the last output and the logs."""
    deadline = time.monotonic() + timeout
    while not check(output := status(fleet)):
        if time.monotonic() > deadline:
            raise AssertionError(output + "\n" + "".join(fleet.log(n)[-2000:] for n in ("ingress", "w", "run")))
        time.sleep(1.0)
    return output


def replica_rows(url: str) -> list[str]:
    """The names in `replica`, as stored (not as status filters them)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT name FROM replica ORDER BY name")).scalars())
    finally:
        engine.dispose()


def test_status_shows_an_ingress_and_a_worker_then_a_killed_worker_as_lost_until_forgotten(
    fake: FakeBotApi, fleet: Fleet
) -> None:
    ingress = fleet.start("ingress", "ingress", "--health-port", "0", **BEAT)
    output = wait_status(fleet, lambda out: "alive" in (line_of(out, "ingress", ingress.pid) or ""), START)
    assert "tiến trình / replicas: 1 đang chạy / alive, 0 mất liên lạc / lost" in output

    worker = fleet.start("w", "worker", "--concurrency", "2", "--health-port", "0", **BEAT)
    output = wait_status(fleet, lambda out: line_of(out, "worker", worker.pid) is not None, START)
    assert re.search(r"sống / alive, heartbeat \d+ s ago, index generation \d+", line_of(output, "worker", worker.pid)
                     or "")
    assert "2 đang chạy / alive, 0 mất liên lạc / lost" in output

    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed_at = time.monotonic()
    output = wait_status(fleet, lambda out: "MẤT / LOST" in (line_of(out, "worker", worker.pid) or ""), 60)
    assert time.monotonic() - killed_at >= 4  # not before it missed its beats (lost after 3 beats of 2 s)
    assert "1 đang chạy / alive, 1 mất liên lạc / lost" in output
    assert "alive" in (line_of(output, "ingress", ingress.pid) or "")  # the ingress is not lost with it

    # The live ingress, not status, deletes the row once it is 20 s old.
    deadline = time.monotonic() + 60
    while any(name.endswith(f":{worker.pid}") for name in replica_rows(fleet.env["DATABASE_URL"])):
        assert time.monotonic() < deadline, replica_rows(fleet.env["DATABASE_URL"])
        time.sleep(1.0)
    assert time.monotonic() - killed_at >= 18
    output = status(fleet)
    assert line_of(output, "worker", worker.pid) is None
    assert "1 đang chạy / alive, 0 mất liên lạc / lost" in output
    assert "forgot replica" in fleet.log("ingress")

    ingress.send_signal(signal.SIGTERM)
    assert ingress.wait(timeout=60) == 0
    assert replica_rows(fleet.env["DATABASE_URL"]) == []  # a clean stop is not a lost replica
    assert "0 đang chạy / alive, 0 mất liên lạc / lost" in status(fleet)


def test_status_shows_citizenbot_run_on_postgresql(fake: FakeBotApi, fleet: Fleet) -> None:
    single = fleet.start("run", "run", **BEAT)
    output = wait_status(fleet, lambda out: "alive" in (line_of(out, "run", single.pid) or ""), START)
    assert "1 đang chạy / alive, 0 mất liên lạc / lost" in output
    single.send_signal(signal.SIGTERM)
    assert single.wait(timeout=120) == 0
    assert replica_rows(fleet.env["DATABASE_URL"]) == []  # stopped cleanly: gone at once, not lost
