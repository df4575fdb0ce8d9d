"""`citizenbot run` as an operator starts it: a real process, long polling or webhook, stopped by SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_bot import REPO
from tests.telegram.test_bot_flows import free_port

USER = 9301
START_TIMEOUT = 180.0  # a cold process loads the encoder and the index


def bot_env(fake: FakeBotApi | None, root: Path, index: Path | None) -> dict[str, str]:
    """Environment of a bot process: the fake server, private knowledge/index/data dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(
        KNOWLEDGE_DIR=str(root / "knowledge"),
        INDEX_DIR=str(root / "index"),
        DATA_DIR=str(root / "data"),
        PSEUDONYM_SECRET="test-secret-0123456789abcdef",
        ADMIN_IDS="7001",
    )
    if index is not None:
        shutil.copytree(REPO / "knowledge", root / "knowledge")
        shutil.copytree(index, root / "index")
    if fake is not None:
        env.update(fake.env())
    return env


def start_bot(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    """`citizenbot run ARGS` in its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def stop_bot(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, then the exit status and the output."""
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


def test_missing_token_explains_botfather(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path, env=bot_env(None, tmp_path, None), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_nothing_to_index_is_a_clear_error(fake: FakeBotApi, tmp_path: Path) -> None:
    env = bot_env(fake, tmp_path, None)
    (tmp_path / "knowledge").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Không có tài liệu nào đọc được")


def test_long_polling_then_clean_sigterm(fake: FakeBotApi, tmp_path: Path, index: Path) -> None:
    env = bot_env(fake, tmp_path, index)
    process = start_bot(env, tmp_path)
    try:
        fake.wait_for_sync("getUpdates", timeout=START_TIMEOUT)
        fake.send_command(USER, "help")
        reply = fake.wait_for_sync("sendMessage", lambda c: c.chat_id == USER, timeout=60)
        assert "/gopy" in reply.text
        assert "gopy" in fake.commands()
    finally:
        status, output = stop_bot(process)
    assert status == 0, output
    assert fake.pending_updates() == 0  # confirmed: a restart will not handle /help again
    assert "Traceback" not in output and fake.token.split(":")[1] not in output
    assert (tmp_path / "data" / "citizenbot.db").exists()


def test_webhook_with_secret_token_then_clean_sigterm(fake: FakeBotApi, tmp_path: Path, index: Path) -> None:
    env = bot_env(fake, tmp_path, index)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    process = start_bot(env, tmp_path, "--webhook-url", url, "--listen", "127.0.0.1", "--port", str(port))
    try:
        hook = fake.wait_for_sync("setWebhook", timeout=START_TIMEOUT)
        assert hook.params["url"] == url and len(hook.params["secret_token"]) >= 32
        fake.send_command(USER, "help")
        reply = fake.wait_for_sync("sendMessage", lambda c: c.chat_id == USER, timeout=60)
        assert "/gopy" in reply.text
        forged = {"update_id": 424242, "message": {"message_id": 1, "date": 0, "text": "/help",
                                                   "chat": {"id": USER, "type": "private"},
                                                   "from": {"id": USER, "is_bot": False, "first_name": "x"}}}
        assert fake.post_to_webhook(forged, secret_token="not-the-secret") == 403
    finally:
        status, output = stop_bot(process)
    assert status == 0, output
