"""A worker process: /healthz and /metrics, the webhook's secret, and SIGTERM draining without losing updates."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request

import pytest

from tests.scale.conftest import Fleet
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_bot_flows import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]
START = 300.0  # a cold worker loads the encoder and the index on a busy machine


def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:PORT/PATH: (status, body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_health_metrics_wrong_secret_and_a_draining_sigterm(fake: FakeBotApi, fleet: Fleet) -> None:
    port, health = free_port(), free_port()
    fleet.start("ingress", "ingress", "--webhook-url", f"http://127.0.0.1:{port}/hook", "--port", str(port))
    hook = fleet.wait(fake, "setWebhook", timeout=START)
    assert hook.params["secret_token"] == fleet.env["WEBHOOK_SECRET_TOKEN"]
    worker = fleet.start("w", "worker", "--concurrency", "2", "--listen", "127.0.0.1", "--health-port", str(health))
    fake.send_command(9101, "help")
    assert "/gopy" in fleet.wait(fake, "sendMessage", lambda c: c.chat_id == 9101, timeout=START).text
    forged = {"update_id": 777_777, "message": {"message_id": 1, "date": 0, "text": "/help",
                                                "chat": {"id": 9102, "type": "private"},
                                                "from": {"id": 9102, "is_bot": False, "first_name": "x"}}}
    assert fake.post_to_webhook(forged, "wrong-secret") == 403
    assert http_get(port, "/healthz") == (200, "ok\n")
    assert http_get(health, "/healthz") == (200, "ok\n")
    status, metrics = http_get(health, "/metrics")
    assert status == 200 and "citizenbot_updates_handled_total 1.0" in metrics
    assert "citizenbot_updates_enqueued_total 1.0" in http_get(port, "/metrics")[1]

    users = range(9110, 9116)
    for user in users:  # SIGTERM while these are queued or being answered: every one is still answered
        fake.send_text(user, "Hà Nội có kế hoạch gì cho giao thông công cộng?")
    first = fleet.wait(fake, "sendMessage", lambda c: c.chat_id in users, timeout=START)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0
    assert "Stopped worker" in fleet.log("w")
    fleet.start("w2", "worker", "--concurrency", "2", "--health-port", "0")
    for user in set(users) - {first.chat_id}:
        fleet.wait(fake, "sendMessage", lambda c, u=user: c.chat_id == u, timeout=START)
    assert 9102 not in {c.chat_id for c in fake.calls("sendMessage")}
