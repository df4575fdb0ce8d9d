"""Start-up checks every replica makes: PostgreSQL only, one shared pseudonym secret."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy.engine import Engine, make_url

from bot.config import Settings
from bot.services.errors import ServiceError

FINGERPRINT_KEY = "pseudonym_secret_fingerprint"
SQLITE_REFUSED = (
    "citizenbot {command} cần PostgreSQL (DATABASE_URL=postgresql+psycopg://...): SQLite chỉ dùng cho một tiến "
    "trình, hãy chạy `citizenbot run` / {command} needs PostgreSQL shared by every replica; on one machine "
    "with SQLite use `citizenbot run`."
)
SECRET_MISMATCH = (
    "PSEUDONYM_SECRET của máy này khác với bí mật đã dùng cho cơ sở dữ liệu (dấu vân tay {mine} ≠ {stored}): "
    "mọi máy phải dùng cùng một PSEUDONYM_SECRET, nếu không một cư dân sẽ có hai bí danh (bỏ phiếu hai lần) / "
    "this replica's pseudonym secret differs from the one the database was started with: every replica must "
    "share the same PSEUDONYM_SECRET."
)


class ReplicaRefusedError(ServiceError):
    """This process must not start: its configuration would break the shared database."""


def require_postgres(settings: Settings, command: str) -> None:
    """Refuse SQLite for the commands that share a database between processes."""
    if make_url(settings.effective_database_url).get_backend_name() != "postgresql":
        raise ReplicaRefusedError(SQLITE_REFUSED.format(command=command))


def fingerprint(pseudonymize: Callable[[int], str]) -> str:
    """A fingerprint of the pseudonym secret: a hash of its HMAC of a fixed label, never the secret."""
    return hashlib.sha256(f"citizenbot-secret-fingerprint:{pseudonymize(0)}".encode()).hexdigest()[:16]


def check_fingerprint(engine: Engine, pseudonymize: Callable[[int], str]) -> None:
    """Record the secret's fingerprint on first start; refuse a replica whose secret differs."""
    import sqlalchemy as sa

    from bot.db.engine import is_unavailable
    from bot.scale.store import put_setting
    from bot.services.errors import DatabaseUnavailableError

    mine = fingerprint(pseudonymize)
    try:
        stored = put_setting(engine, FINGERPRINT_KEY, mine, only_if_absent=True)
    except sa.exc.SQLAlchemyError as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailableError() from exc
        raise
    if stored != mine:
        raise ReplicaRefusedError(SECRET_MISMATCH.format(mine=mine, stored=stored))
