"""Shared plumbing of the services: error translation, idempotent commits, portable upserts, time."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, NamedTuple, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot.db.engine import is_unavailable
from bot.db.models import IdempotencyRecord, utcnow
from bot.services.errors import DatabaseUnavailableError, InvalidInputError

P = ParamSpec("P")
R = TypeVar("R")
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_KEY_LENGTH = 200


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Roll the session back on any error; unreachable/locked database → DatabaseUnavailableError."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session = kwargs.get("session")
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            if isinstance(session, Session):
                with suppress(sa.exc.SQLAlchemyError):
                    session.rollback()
            if isinstance(exc, sa.exc.SQLAlchemyError) and is_unavailable(exc):
                raise DatabaseUnavailableError() from exc
            raise

    return wrapper


def now_utc(now: datetime | None = None) -> datetime:
    """`now` (must be aware) or the current UTC time."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise InvalidInputError("Thời điểm phải có múi giờ.")
    return now.astimezone(UTC)


def check_key(key: str | None) -> None:
    """Refuse an over-long or blank idempotency key."""
    if key is not None and (not key.strip() or len(key) > MAX_KEY_LENGTH):
        raise InvalidInputError("Khóa chống gửi trùng (idempotency key) không hợp lệ.")


def replayed(session: Session, key: str | None, kind: str) -> dict[str, Any] | None:
    """The stored result for `key`, if this write was already done."""
    if key is None:
        return None
    return replay_of(session.get(IdempotencyRecord, key), kind)


class StoredResult(NamedTuple):
    """An idempotency record's kind and result, as read by a Core query (see `replay_of`)."""

    kind: str
    result: dict[str, Any]


def replay_of(record: IdempotencyRecord | StoredResult | None, kind: str) -> dict[str, Any] | None:
    """The stored result of an already loaded record (None: not done yet); a key of another kind is refused."""
    if record is None:
        return None
    if record.kind != kind:
        raise InvalidInputError("Khóa chống gửi trùng đã được dùng cho một thao tác khác.")
    return dict(record.result)


def with_record(write: Any) -> Any:
    """PostgreSQL: one statement that runs `write` (as a CTE) and inserts its idempotency record, from the
    bound parameters of `write` plus idem_key, idem_kind, idem_result and idem_created_at. Build it once
    for a statement built once (see polls), and pass it to `commit_once(with_record=...)`."""
    table = table_of(IdempotencyRecord)
    values = {name: sa.bindparam(f"idem_{name}", type_=table.c[name].type) for name in _RECORD_COLUMNS}
    return postgresql.insert(table).values(values).add_cte(write.cte("write"))


_RECORD_COLUMNS = ("key", "kind", "result", "created_at")


def commit_once(
    session: Session,
    key: str | None,
    kind: str,
    result: dict[str, Any],
    write: Any = None,
    *,
    params: Mapping[str, Any] | None = None,
    combined: Any = None,
) -> dict[str, Any]:
    """Commit the pending write (and `write`, a statement, with `params`) with its idempotency record; a
    concurrent twin's result wins races. On PostgreSQL `write` and the record go in one statement: `combined`
    (`with_record(write)`, built once by the caller) or built here.

    With `params`, `write` is a Core statement built once with bound parameters: it runs on the session's
    connection, without the ORM's per-statement work (nothing it changes is loaded in the session).
    """
    together = key is not None and write is not None and _dialect(session) == "postgresql"
    try:
        if together:
            stamp = utcnow()
            record = {"idem_key": key, "idem_kind": kind, "idem_result": result, "idem_created_at": stamp}
            statement, values = combined if combined is not None else with_record(write), {**(params or {}), **record}
        else:
            statement, values = write, dict(params or {})
        if statement is not None:
            if params is not None:
                session.connection().execute(statement, values)
            else:
                session.execute(statement, values or None)
        if key is not None and not together:
            session.add(IdempotencyRecord(key=key, kind=kind, result=result, created_at=utcnow()))
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
        earlier = replayed(session, key, kind)
        if earlier is None:
            raise
        return earlier
    return result


def insert_ignore(session: Session, table: sa.Table, values: Mapping[str, Any], keys: Sequence[str]) -> None:
    """INSERT ... ON CONFLICT (keys) DO NOTHING on SQLite and PostgreSQL."""
    session.execute(
        _insert(session, table).values(**values).on_conflict_do_nothing(index_elements=list(keys))
    )


def upsert(
    session: Session,
    table: sa.Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update: Mapping[str, Any],
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET update, atomically, on SQLite and PostgreSQL."""
    session.execute(upsert_statement(session, table, values, keys, update))


def upsert_statement(
    session: Session,
    table: sa.Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update: Mapping[str, Any],
) -> Any:
    """The statement `upsert` executes (for `commit_once(write=...)`)."""
    stmt = _insert(session, table).values(**values)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=dict(update))


def _dialect(session: Session) -> str:
    """The name of the session's database backend."""
    return session.get_bind().dialect.name


def _insert(session: Session, table: sa.Table) -> Any:
    """The dialect's INSERT construct (both support ON CONFLICT)."""
    if _dialect(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def table_of(model: Any) -> sa.Table:
    """The Table behind a SQLModel class."""
    table: sa.Table = model.__table__
    return table
