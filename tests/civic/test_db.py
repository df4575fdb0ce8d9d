"""Database: migrations from empty, SQLite pragmas, UTC timestamps, unreachable databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.config import Settings
from bot.db.engine import (
    current_revision,
    ensure_schema,
    head_revision,
    is_read_only_violation,
    is_unavailable,
    make_engine,
    session_scope,
    upgrade,
    write_transaction,
)
from bot.db.models import AuditLog
from bot.services import feedback, residents
from bot.services.errors import DatabaseUnavailableError

TABLES = {
    "resident",
    "consent",
    "feedback",
    "feedback_status_change",
    "ticket_counter",
    "poll",
    "poll_option",
    "vote",
    "role_assignment",
    "notification_outbox",
    "audit_log",
    "unanswered_question",
    "answer_rating",
    "idempotency_record",
    "alembic_version",
}
UNREACHABLE = ["postgresql+psycopg://postgres@127.0.0.1:1/test", "sqlite:////nonexistent-dir/sub/citizen.db"]


def test_migrations_build_the_schema_from_empty(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        assert ensure_schema(engine) is True
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
        assert current_revision(engine) == head_revision()
        assert ensure_schema(engine) is False
    finally:
        engine.dispose()
    if database_url.startswith("postgresql"):
        assert _tables_in_schema(database_url) >= TABLES


def _tables_in_schema(url: str) -> set[str]:
    """Tables of the schema named by the URL's search_path option (the version table must be there too)."""
    schema = url.rsplit("%3D", 1)[1]
    public = make_engine(url.split("?")[0])
    try:
        with public.connect() as conn:
            query = sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s")
            return set(conn.execute(query, {"s": schema}).scalars())
    finally:
        public.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_default_database_lives_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "new-data")
    engine = make_engine(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    assert (tmp_path / "new-data" / "citizenbot.db").is_file()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(sa.exc.IntegrityError):
        session.execute(sa.text("INSERT INTO poll_option (poll_id, position, text) VALUES (424242, 1, 'x')"))
        session.commit()


def test_timestamps_come_back_as_utc(engine: Engine) -> None:
    moment = datetime(2026, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=7)))
    with session_scope(engine) as session:
        session.add(AuditLog(at=moment, actor="t", action="export", details={"a": 1}))
        session.commit()
        stored = session.execute(sa.select(AuditLog)).scalar_one()
        assert stored.at == moment and stored.at.tzinfo is not None
        assert stored.at.utcoffset() == timedelta(0) and stored.at.hour == 1 and stored.at.tzinfo == UTC


@pytest.mark.parametrize("url", UNREACHABLE)
def test_unreachable_database_gives_a_clear_error(url: str) -> None:
    with pytest.raises(DatabaseUnavailableError) as err:
        upgrade(url)
    assert "không truy cập được" in err.value.message
    with pytest.raises(DatabaseUnavailableError):
        ensure_schema(url)


@pytest.mark.parametrize("url", UNREACHABLE)
def test_services_on_unreachable_database_raise_database_unavailable(url: str) -> None:
    engine = make_engine(url, connect_args={"connect_timeout": 2} if url.startswith("postgresql") else {})
    try:
        with session_scope(engine) as session:
            with pytest.raises(DatabaseUnavailableError):
                residents.ensure_resident(session=session, pseudonym="a" * 64)
            with pytest.raises(DatabaseUnavailableError):
                feedback.get_feedback(session=session, ticket="GY-2026-000001")
    finally:
        engine.dispose()


def test_lost_database_mid_write_leaves_nothing_half_written(engine: Engine) -> None:
    """A failure inside a service's transaction rolls back every statement of that write."""
    key = "b" * 64
    with session_scope(engine) as session:
        residents.grant_consent(session=session, pseudonym=key, purpose="feedback", policy_version="v1")
        residents.set_ward(session=session, pseudonym=key, ward="Phường Láng")
        session.execute(sa.text("DROP TABLE feedback_status_change"))
        session.commit()
        with pytest.raises((sa.exc.SQLAlchemyError, DatabaseUnavailableError)):
            feedback.submit_feedback(
                session=session, pseudonym=key, category="y_te", text="x", idempotency_key="k"
            )
        assert session.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one() == 0
        assert session.execute(sa.text("SELECT count(*) FROM ticket_counter")).scalar_one() == 0
        assert session.execute(sa.text("SELECT count(*) FROM idempotency_record")).scalar_one() == 0


def test_models_and_migrations_agree(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_an_older_schema_is_upgraded_keeping_its_data(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0001")
        with session_scope(engine) as session:
            residents.ensure_resident(session=session, pseudonym="c" * 64)
        assert current_revision(engine) == "0001"
        assert ensure_schema(engine) is True
        assert current_revision(engine) == head_revision() != "0001"
        with session_scope(engine) as session:
            assert residents.get_resident(session=session, pseudonym="c" * 64) is not None
    finally:
        engine.dispose()


def test_upgrade_from_0002_adds_answer_ratings(database_url: str) -> None:
    from bot.services import questions

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002")
        assert "answer_rating" not in sa.inspect(engine).get_table_names()
        with session_scope(engine) as session:
            questions.record_unanswered(session=session, text="Giá vàng hôm nay?")
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with session_scope(engine) as session:
            assert [q.count for q in questions.top_unanswered(session=session)] == [1]
            rated = questions.record_rating(session=session, text="Giờ làm việc?", helpful=False, idempotency_key="k")
            assert rated.not_helpful == 1
    finally:
        engine.dispose()


def test_read_only_session_does_not_block_writers(engine: Engine) -> None:
    """A long export (read-only session) must not hold up residents' writes."""
    with session_scope(engine, read_only=True) as reader:
        assert reader.execute(sa.text("SELECT count(*) FROM resident")).scalar_one() == 0
        with session_scope(engine) as writer:
            info = residents.ensure_resident(session=writer, pseudonym="d" * 64, language="en")
        assert info.language == "en"


def impatient_engine(database_url: str) -> Engine:
    """A migrated engine with one pooled connection whose SQLite writers give up after 0.2 s instead of 30 s.

    A writer that would have to wait for another transaction's lock then fails at once, so a test
    sees "blocked" as an error, not as a slow test.
    """
    engine = make_engine(database_url, pool_size=1, max_overflow=1)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _impatient(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout = 200")

    upgrade(engine)
    return engine


def add_audit(session: Session, n: int) -> None:
    """One audit row (a resident-independent write)."""
    session.add(AuditLog(at=datetime.now(UTC), actor="tg:1", action=f"test-{n}", target=None, details={}))


def test_a_long_read_only_read_does_not_block_writers(database_url: str) -> None:
    """An export streams rows in a read-only session; residents' writes in the middle go through."""
    engine = impatient_engine(database_url)
    try:
        with session_scope(engine) as session:
            for n in range(3000):
                add_audit(session, n)
            session.commit()
        seen = 0
        with session_scope(engine, read_only=True) as reader:
            stream = reader.execute(sa.select(col(AuditLog.id)).execution_options(yield_per=100))
            for seen, _ in enumerate(stream, start=1):
                if seen in (10, 1500):
                    with session_scope(engine) as writer:
                        residents.ensure_resident(session=writer, pseudonym=f"{seen:064d}")
        assert seen == 3000  # the read saw its own snapshot, whole
        with session_scope(engine) as session:
            assert session.execute(sa.text("SELECT count(*) FROM resident")).scalar_one() == 2
    finally:
        engine.dispose()


def test_writing_in_a_read_only_session_fails_at_once_and_is_not_an_outage(database_url: str) -> None:
    engine = impatient_engine(database_url)
    try:
        with pytest.raises(sa.exc.DBAPIError) as caught, session_scope(engine, read_only=True) as reader:
            reader.execute(sa.select(col(AuditLog.id))).all()
            add_audit(reader, 1)
            reader.flush()
        assert is_read_only_violation(caught.value) and not is_unavailable(caught.value)
        with session_scope(engine) as writer:  # the same pooled connection writes again afterwards
            add_audit(writer, 2)
            writer.commit()
            assert writer.execute(sa.select(sa.func.count()).select_from(AuditLog)).scalar_one() == 1
    finally:
        engine.dispose()


def test_the_write_after_a_long_read_gets_its_own_transaction(database_url: str) -> None:
    """An export's audit entry after its read: no lock upgrade, even when residents wrote meanwhile."""
    engine = impatient_engine(database_url)
    try:
        with session_scope(engine, read_only=True) as reader:
            assert reader.execute(sa.select(sa.func.count()).select_from(AuditLog)).scalar_one() == 0
            with session_scope(engine) as writer:
                add_audit(writer, 1)
                writer.commit()
            with write_transaction(reader):
                add_audit(reader, 2)
            with pytest.raises(sa.exc.DBAPIError):  # and the session is read-only again afterwards
                add_audit(reader, 3)
                reader.flush()
        with session_scope(engine) as session:
            actions = session.execute(sa.select(col(AuditLog.action)).order_by(col(AuditLog.action))).scalars().all()
        assert actions == ["test-1", "test-2"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_pooled_connection_killed_while_idle_is_replaced_without_an_error(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server connection to lose")
    import bot.db.engine as engine_module

    with session_scope(engine) as session:
        pid = session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    killer = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with killer.connect() as connection:  # a server restart or a dropped TCP session, for this connection
        assert connection.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
    killer.dispose()
    monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 0.0)  # it has been idle long enough
    with session_scope(engine) as session:  # the resident's next write works: the dead connection was replaced
        residents.ensure_resident(session=session, pseudonym="a" * 64)
        assert session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid
