"""Fixtures shared by the Telegram tests: a fresh fake Bot API server per test, and the index of the real
knowledge/ built once per session (modules that keep one bot for all their tests define their own `fake`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_bot import shared_index


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_index(tmp_path_factory.getbasetemp())
