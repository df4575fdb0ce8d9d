"""What keeps replicas consistent: PostgreSQL only, one pseudonym secret, migrations once, newer schemas refused."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli import app
from bot.db.engine import (
    SchemaTooNewError,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    upgrade,
)
from bot.scale.guard import ReplicaRefusedError, check_fingerprint
from bot.services.residents import Pseudonymizer
from tests.scale.conftest import SECRET


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    """`citizenbot ARGS` in-process; (exit code, output)."""
    result = CliRunner().invoke(app, list(args), env={"TELEGRAM_BOT_TOKEN": "1:x", **env})
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("command", ["worker", "ingress"])
def test_sqlite_is_refused_with_a_clear_message(tmp_path: Path, command: str) -> None:
    code, output = cli({"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "DATA_DIR": str(tmp_path)}, command)
    assert code == 2
    assert "cần PostgreSQL" in output and "citizenbot run" in output
    assert not (tmp_path / "bot.db").exists()


@pytest.mark.postgres
def test_ingress_webhook_needs_the_shared_secret_token(postgres_url: str) -> None:
    code, output = cli({"DATABASE_URL": postgres_url}, "ingress", "--webhook-url", "https://bot.example/hook")
    assert code == 2 and "WEBHOOK_SECRET_TOKEN" in output


@pytest.mark.postgres
def test_a_replica_with_another_pseudonym_secret_is_refused(postgres_url: str, tmp_path: Path) -> None:
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        check_fingerprint(engine, Pseudonymizer(SECRET.encode()))
        check_fingerprint(engine, Pseudonymizer(SECRET.encode()))  # the same secret starts again
        with pytest.raises(ReplicaRefusedError, match="PSEUDONYM_SECRET"):
            check_fingerprint(engine, Pseudonymizer(b"another-secret-0123456789"))
        with engine.connect() as connection:
            stored = connection.execute(sa.text("SELECT value FROM cluster_setting")).scalars().all()
        assert stored and SECRET not in stored[0]
    finally:
        engine.dispose()
    env = {"DATABASE_URL": postgres_url, "DATA_DIR": str(tmp_path), "PSEUDONYM_SECRET": "another-secret-0123456789"}
    for command in ("worker", "run"):
        code, output = cli(env, command)
        assert code == 1 and "PSEUDONYM_SECRET" in output, output


def test_a_schema_newer_than_the_code_is_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaTooNewError, match="9999"):
            ensure_schema(engine)
        with pytest.raises(SchemaTooNewError):
            upgrade(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    engines = [make_engine(postgres_url) for _ in range(4)]
    errors: list[BaseException] = []

    def start(index: int) -> None:
        try:
            ensure_schema(engines[index])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()
