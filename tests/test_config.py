from pathlib import Path

import pytest

from bot.config import Settings


def test_ids_from_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "111, 222")
    monkeypatch.setenv("OFFICER_IDS", "")
    settings = Settings(_env_file=None)
    assert settings.admin_ids == [111, 222]
    assert settings.officer_ids == []


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'citizenbot.db'}"
