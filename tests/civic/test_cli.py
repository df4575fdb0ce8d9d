"""The civic CLI through Typer's CliRunner: happy paths, Vietnamese errors with exit 1, no tracebacks."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.db.engine import head_revision, make_engine, session_scope, upgrade
from bot.db.models import AuditLog
from bot.services import feedback, notifications, residents
from bot.services.residents import Purpose, load_address_book, load_pseudonymizer


class Cli:
    """Runs `citizenbot ...` against one database and data directory."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.url, self.data_dir = database_url, data_dir
        self.env = {"DATABASE_URL": database_url, "DATA_DIR": str(data_dir), "ADMIN_IDS": "1001"}

    def __call__(self, *args: str, code: int = 0) -> str:
        """Invoke and check the exit code; return stdout (+ stderr)."""
        result = CliRunner().invoke(app, list(args), env=self.env)
        assert result.exit_code == code, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        return result.output

    def settings(self) -> Settings:
        """The settings the CLI sees."""
        return Settings(database_url=self.url, data_dir=self.data_dir)


@pytest.fixture
def cli(database_url: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)
    return Cli(database_url, data_dir)


def file_feedback(cli: Cli, telegram_id: int, text: str) -> str:
    """A resident (known to the CLI's pseudonym secret) files a feedback; returns the ticket."""
    settings = cli.settings()
    key = load_pseudonymizer(settings)(telegram_id)
    engine = make_engine(settings)
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            residents.ensure_resident(session=session, pseudonym=key)
            residents.grant_consent(
                session=session, pseudonym=key, purpose=Purpose.FEEDBACK, policy_version="v1"
            )
            residents.grant_consent(
                session=session,
                pseudonym=key,
                purpose=Purpose.NOTIFICATIONS,
                policy_version="v1",
                address=load_address_book(settings).seal(telegram_id),
            )
            return feedback.submit_feedback(
                session=session,
                pseudonym=key,
                category="moi_truong",
                text=text,
                ward="Phường Láng",
                idempotency_key=f"t{telegram_id}",
            ).ticket
    finally:
        engine.dispose()


def test_db_upgrade(cli: Cli) -> None:
    head = head_revision()
    assert f"({head})" in cli("db", "upgrade")
    assert f"({head})" in cli("db", "upgrade")


def test_poll_lifecycle(cli: Cli) -> None:
    out = cli(
        "poll",
        "create",
        "--question",
        "Có nên sáp nhập hai phường?",
        "--option",
        "Đồng ý",
        "--option",
        "Không đồng ý",
        "--ward",
        "Phường Láng",
        "--closes",
        "2099-01-01",
        "--visibility",
        "after_close",
    )
    assert "#1" in out and "Phường Láng" in out and "after_close" in out
    assert "Có nên sáp nhập hai phường?" in cli("poll", "list")
    results = cli("poll", "results", "1")
    assert "Tổng số phiếu: 0" in results and "Đồng ý: 0" in results
    assert "Đã đóng khảo sát #1" in cli("poll", "close", "1")
    assert "đã kết thúc" in cli("poll", "close", "1", code=1)
    assert "[closed]" in cli("poll", "list")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--option", "Chỉ một"], "từ 2 đến 10"),
        (["--option", "A", "--option", "B", "--closes", "2026-02-30"], "Thời gian không hợp lệ"),
        (["--option", "A", "--option", "B", "--closes", "2001-01-01"], "Thời điểm đóng"),
        (["--option", "A", "--option", "B", "--visibility", "everyone"], "hiển thị"),
    ],
)
def test_bad_poll_input_is_explained(cli: Cli, args: list[str], needle: str) -> None:
    assert needle in cli("poll", "create", "--question", "Câu hỏi?", *args, code=1)
    assert "Chưa có khảo sát" in cli("poll", "list")


def test_unknown_poll_is_explained(cli: Cli) -> None:
    assert "Không tìm thấy khảo sát số 42" in cli("poll", "results", "42", code=1)


def test_feedback_list_and_status(cli: Cli) -> None:
    ticket = file_feedback(cli, 501, "Rác thải chất đống ở ngõ 105")
    listed = cli("feedback", "list", "--category", "môi trường", "--ward", "lang", "--status", "moi")
    assert ticket in listed and "Rác thải" in listed and "Môi trường" in listed
    assert "Không có góp ý" in cli("feedback", "list", "--category", "y_te")
    assert "Không có góp ý" in cli("feedback", "list", "--to", "2001-01-01")
    out = cli("feedback", "status", ticket, "tiep_nhan", "--comment", "Đã chuyển đội vệ sinh")
    assert "Đã tiếp nhận" in out and "Đã chuyển đội vệ sinh" in out
    assert "bot sẽ gửi" in out
    engine = make_engine(cli.url)
    try:
        with session_scope(engine) as session:
            [queued] = notifications.claim_notifications(session=session)
    finally:
        engine.dispose()
    assert load_address_book(cli.settings()).open(queued.address) == 501 and ticket in queued.text and "Đã chuyển đội vệ sinh" in queued.text
    assert "Không thể chuyển" in cli("feedback", "status", ticket, "moi", code=1)
    assert "Trạng thái không hợp lệ" in cli("feedback", "status", ticket, "xong", code=1)
    assert "Lĩnh vực không hợp lệ" in cli("feedback", "list", "--category", "bóng đá", code=1)
    assert "Thời gian không hợp lệ" in cli("feedback", "list", "--from", "hôm qua", code=1)


def test_roles(cli: Cli) -> None:
    assert "1001\tadmin\tcấp bởi env" in cli("role", "list")
    assert "Đã cấp quyền cán bộ cho 2002" in cli("role", "grant", "--officer", "2002")
    assert "2002\tofficer" in cli("role", "list")
    assert "Đã thu hồi quyền cán bộ của 2002" in cli("role", "revoke", "--officer", "2002")
    assert "--admin hoặc --officer" in cli("role", "grant", "2002", code=1)
    assert "--admin hoặc --officer" in cli("role", "grant", "--admin", "--officer", "2002", code=1)
    assert "cuối cùng" in cli("role", "revoke", "--admin", "1001", code=1)


def test_forget_and_audit_actor(cli: Cli) -> None:
    ticket = file_feedback(cli, 777, "Đèn đường hỏng")
    out = cli("forget", "777")
    assert "Đã xóa dữ liệu của người dùng 777" in out and "1 góp ý" in out
    assert "đã xóa theo yêu cầu" in cli("feedback", "list")
    assert "Không có dữ liệu nào" in cli("forget", "777")
    assert ticket in cli("feedback", "list")
    engine = make_engine(cli.url)
    try:
        with session_scope(engine) as session:
            audit = session.execute(sa.select(AuditLog).where(col(AuditLog.action) == "erasure")).scalar_one()
    finally:
        engine.dispose()
    assert audit.actor == f"cli:{getpass.getuser()}"


def test_unreachable_database_is_explained(cli: Cli) -> None:
    cli.env["DATABASE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    assert "không truy cập được" in cli("poll", "list", code=1)
    assert "không truy cập được" in cli("db", "upgrade", code=1)
