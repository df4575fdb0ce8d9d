"""Fixtures for the scale-out tests: a fresh PostgreSQL schema, and bot processes (ingress, workers)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fresh_postgres_schema
from tests.telegram.fake_bot_api import Call, FakeBotApi
from tests.telegram.test_bot import REPO, shared_index

SECRET = "test-secret-0123456789abcdef"
WEBHOOK_SECRET = "fleet-webhook-secret_0123456789"
ADMIN = 7001


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh PostgreSQL schema (skipped when PostgreSQL is unreachable outside CI)."""
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The index of knowledge/, built once for the session."""
    return shared_index(tmp_path_factory.getbasetemp())


@dataclass
class Fleet:
    """Bot processes started by a test; every one is stopped at the end."""

    root: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[str]:
        """`citizenbot ARGS` as its own process, with its own data directory; output in root/NAME.log."""
        data = self.root / f"data-{name}"
        data.mkdir(exist_ok=True)
        log = (self.root / f"{name}.log").open("a")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=self.root, env={**self.env, "DATA_DIR": str(data), **env},
            stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        self.processes.append(process)
        return process

    def wait(self, fake: FakeBotApi, method: str, predicate: Any = None, timeout: float = 60.0) -> Call:
        """fake.wait_for_sync, failing with the tail of every process's output."""
        try:
            return fake.wait_for_sync(method, predicate, timeout=timeout)
        except TimeoutError as exc:
            tails = "\n".join(f"--- {p.name}\n" + p.read_text()[-3000:] for p in sorted(self.root.glob("*.log")))
            raise AssertionError(f"{exc}\n{tails}") from None

    def log(self, name: str) -> str:
        """What a process printed so far."""
        path = self.root / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def stop_all(self) -> None:
        """SIGTERM every process still running, then SIGKILL the ones that do not stop."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def fleet_env(fake: FakeBotApi | None, root: Path, index: Path | None, database_url: str) -> dict[str, str]:
    """The environment every replica shares: database, secrets, knowledge and a copy of the built index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(
        DATABASE_URL=database_url,
        PSEUDONYM_SECRET=SECRET,
        WEBHOOK_SECRET_TOKEN=WEBHOOK_SECRET,
        KNOWLEDGE_DIR=str(root / "knowledge"),
        INDEX_DIR=str(root / "index"),
        ADMIN_IDS=str(ADMIN),
        PYTHONPATH=str(REPO),
    )
    if index is not None and not (root / "index").exists():
        shutil.copytree(REPO / "knowledge", root / "knowledge")
        shutil.copytree(index, root / "index")
    if fake is not None:
        env.update(fake.env())
    return env


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def fleet(fake: FakeBotApi, tmp_path: Path, index: Path, postgres_url: str) -> Iterator[Fleet]:
    """Bot processes sharing one database, knowledge/ and a copy of the built index; all stopped at the end."""
    running = Fleet(tmp_path, fleet_env(fake, tmp_path, index, postgres_url))
    try:
        yield running
    finally:
        running.stop_all()
