"""Engines, sessions and schema upgrades for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from bot.config import Settings
from bot.services.errors import DatabaseUnavailableError, ServiceError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "citizenbot_read_only"
PG_READ_ONLY = "postgresql_readonly"
PG_READ_ONLY_SQLSTATE = "25006"
MIGRATION_LOCK = 7_406_118_001  # PostgreSQL advisory lock key held while migrating
PING_IDLE_SECONDS = 5.0  # a pooled PostgreSQL connection idle longer than this is pinged before use
IDLE_SINCE = "citizenbot_idle_since"


class SchemaTooNewError(ServiceError):
    """The database schema is newer than this code (another replica was upgraded first)."""

    def __init__(self, revision: str) -> None:
        super().__init__(
            f"Cơ sở dữ liệu ở phiên bản {revision}, mới hơn mã của tiến trình này ({head_revision()}): "
            "hãy cập nhật citizenbot trên máy này rồi chạy lại / the database schema is newer than this "
            "code: update citizenbot on this machine, then start it again."
        )
        self.revision = revision


def _url_of(target: Settings | str) -> str:
    """The database URL of a Settings object (creating data_dir for the default), or the URL itself."""
    if isinstance(target, str):
        return target
    if not target.database_url:
        target.data_dir.mkdir(parents=True, exist_ok=True)
    return target.effective_database_url


def _normalise_url(url: str) -> str:
    """Use psycopg (v3) for plain postgresql:// URLs."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL, foreign keys, a busy timeout, secure delete; transactions begun explicitly (_sqlite_on_begin)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA secure_delete = ON")  # erased text is overwritten, not left in free pages
    cursor.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    """Writers take the write lock up front (no deadlocked lock upgrades); readers never take it.

    A read-only transaction is a deferred `BEGIN` on a connection switched to `PRAGMA query_only`, so
    it reads one snapshot while residents write, and any write inside it fails at once instead of
    trying to upgrade to the write lock.
    """
    read_only = bool(conn.get_execution_options().get(READ_ONLY))
    info = conn.connection.info
    if info.get(READ_ONLY) is not read_only:
        conn.exec_driver_sql(f"PRAGMA query_only = {'ON' if read_only else 'OFF'}")
        info[READ_ONLY] = read_only
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(target: Settings | str, **kwargs: Any) -> Engine:
    """An engine for Settings (DATABASE_URL or data_dir/citizenbot.db) or for a URL."""
    url = _normalise_url(_url_of(target))
    if make_url(url).get_backend_name() == "sqlite":
        kwargs.setdefault(
            "connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        kwargs.setdefault("poolclass", sa.pool.QueuePool)
        kwargs.setdefault("pool_size", 8)
        kwargs.setdefault("max_overflow", 24)
        engine = sa.create_engine(url, pool_pre_ping=True, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 30)
    engine = sa.create_engine(url, **kwargs)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    """Remember when a pooled connection went idle."""
    record.info[IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Ping a pooled PostgreSQL connection before use only when it sat idle for PING_IDLE_SECONDS.

    `pool_pre_ping` pings on every checkout: one more round trip for every vote. A connection in steady
    use needs none; one idle long enough for a server restart or a dropped TCP session is pinged, and a
    dead one is replaced (the pool retries). A connection that breaks within those seconds fails its
    statement once (DatabaseUnavailableError) and the pool drops every connection of that generation.
    """
    idle_since = record.info.get(IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < PING_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as exc:
        raise sa.exc.DisconnectionError(str(exc)) from exc


def is_unavailable(exc: BaseException) -> bool:
    """True for errors meaning the database cannot be reached or stays locked."""
    if is_read_only_violation(exc):
        return False
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) or (
        isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated
    )


def is_read_only_violation(exc: BaseException) -> bool:
    """True when code tried to write inside a read-only session (a bug, not an outage)."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    return (
        "readonly database" in str(exc.orig) or getattr(exc.orig, "sqlstate", None) == PG_READ_ONLY_SQLSTATE
    )


def _read_only_options(engine: Engine | sa.Connection, read_only: bool) -> dict[str, bool]:
    """Execution options of a read-only (or, explicitly, a writing) transaction on this backend."""
    options = {READ_ONLY: read_only}
    if engine.dialect.name == "postgresql":
        options[PG_READ_ONLY] = read_only
    return options


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session that is closed at the end; unreachable-database errors become DatabaseUnavailableError.

    Services commit their own transactions; anything left uncommitted is rolled back on exit.
    `read_only=True` reads a snapshot without ever taking SQLite's write lock (a deferred transaction
    under `PRAGMA query_only`; READ ONLY on PostgreSQL), so reports and lists do not block residents'
    writes; a write in it fails at once (see `write_transaction` for the one write after a long read).
    """
    bind = engine.execution_options(**_read_only_options(engine, True)) if read_only else engine
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
    except sa.exc.SQLAlchemyError as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailableError() from exc
        raise
    finally:
        session.close()


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """A new, short write transaction in `session` (also a read-only one), committed at the end.

    For the one write that follows a long read, such as an export's audit entry: the read snapshot is
    ended first, so the write never upgrades a reader's lock (SQLite: `BEGIN IMMEDIATE`).
    """
    session.commit()
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    session.connection(execution_options=_read_only_options(bind, False))
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _alembic_config(connection: sa.Connection) -> Any:
    """An Alembic Config pointing at the migrations shipped inside the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _engine_for(target: Engine | Settings | str) -> tuple[Engine, bool]:
    """(engine, whether we created it and must dispose it)."""
    if isinstance(target, Engine):
        return target, False
    return make_engine(target), True


def upgrade(target: Engine | Settings | str, revision: str = "head") -> None:
    """Run the Alembic migrations up to `revision` (the schema only ever comes from migrations).

    On PostgreSQL the migrations run under an advisory lock, so replicas starting together upgrade once.
    """
    from alembic import command

    engine, owned = _engine_for(target)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            _refuse_newer(connection)
            command.upgrade(_alembic_config(connection), revision)
    except sa.exc.SQLAlchemyError as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailableError() from exc
        raise
    finally:
        if owned:
            engine.dispose()


def _refuse_newer(connection: sa.Connection) -> None:
    """Raise SchemaTooNewError when the database was migrated by newer code than this one."""
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None and current not in _known_revisions():
        raise SchemaTooNewError(current)


def _known_revisions() -> set[str]:
    """Every revision shipped with this code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def current_revision(target: Engine | Settings | str) -> str | None:
    """The schema revision stored in the database (None when empty)."""
    from alembic.runtime.migration import MigrationContext

    engine, owned = _engine_for(target)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except sa.exc.SQLAlchemyError as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailableError() from exc
        raise
    finally:
        if owned:
            engine.dispose()


def head_revision() -> str:
    """The newest revision shipped with this code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def ensure_schema(target: Engine | Settings | str) -> bool:
    """Upgrade when the database is behind the code; True when an upgrade ran.

    Refuses (SchemaTooNewError) a database migrated by newer code: this process must be updated first.
    """
    current = current_revision(target)
    if current == head_revision():
        return False
    if current is not None and current not in _known_revisions():
        raise SchemaTooNewError(current)
    upgrade(target)
    return True
