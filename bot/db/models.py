"""All tables of the civic data layer (one module, SQLModel). The schema itself comes from migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores naive UTC on every backend; always returns timezone-aware UTC."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC (naive input is refused)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Attach UTC to the stored naive value."""
        return None if value is None else value.replace(tzinfo=UTC)


def _ts(nullable: bool = False, **kwargs: Any) -> Any:
    """A UTC timestamp column."""
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, **kwargs))


def _bigint(nullable: bool = True, **kwargs: Any) -> Any:
    """A 64-bit integer column (Telegram ids exceed 32 bits)."""
    return Field(sa_column=sa.Column(sa.BigInteger(), nullable=nullable, **kwargs))


class Resident(SQLModel, table=True):
    """A resident, known only by a pseudonym (HMAC of the Telegram user id); no Telegram id is stored.

    Where notifications reach them is kept apart, encrypted, in NotificationAddress.
    """

    id: int | None = Field(default=None, primary_key=True)
    pseudonym: str = Field(max_length=64, unique=True)
    language: str | None = Field(default="vi", max_length=8)
    ward: str | None = Field(default=None, max_length=120)
    ward_input: str | None = Field(default=None, max_length=200)
    ward_verified: bool = False
    created_at: datetime = _ts()
    erased_at: datetime | None = _ts(nullable=True)


class Consent(SQLModel, table=True):
    """One grant of consent for one purpose; withdrawn_at set when withdrawn (history kept)."""

    id: int | None = Field(default=None, primary_key=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    purpose: str = Field(max_length=20)
    policy_version: str = Field(max_length=20)
    granted_at: datetime = _ts()
    withdrawn_at: datetime | None = _ts(nullable=True)


class TicketCounter(SQLModel, table=True):
    """Last ticket sequence number used in a year (row-locked while incremented)."""

    __tablename__ = "ticket_counter"
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_seq: int = 0


class Feedback(SQLModel, table=True):
    """A resident's feedback (góp ý) with its ticket number and current status."""

    __table_args__ = (sa.UniqueConstraint("year", "seq", name="uq_feedback_year_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket: str = Field(max_length=20, unique=True)
    year: int
    seq: int
    resident_id: int = Field(foreign_key="resident.id", index=True)
    category: str = Field(max_length=30, index=True)
    ward: str | None = Field(default=None, max_length=120, index=True)
    text: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    photo_file_id: str | None = Field(default=None, max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    status: str = Field(default="moi", max_length=20, index=True)
    created_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()
    erased_at: datetime | None = _ts(nullable=True)


class FeedbackStatusChange(SQLModel, table=True):
    """One step of a feedback's status history, with the officer's comment."""

    __tablename__ = "feedback_status_change"
    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id", index=True)
    old_status: str | None = Field(default=None, max_length=20)
    new_status: str = Field(max_length=20)
    comment: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    actor: str = Field(max_length=100)
    created_at: datetime = _ts()


class Poll(SQLModel, table=True):
    """An opinion poll; `wards` (JSON list) limits who may vote, empty = everyone."""

    id: int | None = Field(default=None, primary_key=True)
    question: str = Field(max_length=500)
    wards: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON(), nullable=False))
    opens_at: datetime = _ts()
    closes_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    visibility: str = Field(default="after_vote", max_length=20)
    created_by: str = Field(max_length=100)
    created_at: datetime = _ts()


class PollOption(SQLModel, table=True):
    """One answer of a poll, in display order."""

    __tablename__ = "poll_option"
    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    position: int
    text: str = Field(max_length=200)


class Vote(SQLModel, table=True):
    """A resident's current choice in a poll (one row per poll and resident)."""

    __table_args__ = (sa.UniqueConstraint("poll_id", "resident_id", name="uq_vote_poll_resident"),)
    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    option_id: int = Field(foreign_key="poll_option.id")
    resident_id: int = Field(foreign_key="resident.id", index=True)
    ward: str | None = Field(default=None, max_length=120)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class RoleAssignment(SQLModel, table=True):
    """An admin or officer role held by a Telegram user id (staff, not residents)."""

    __tablename__ = "role_assignment"
    __table_args__ = (sa.UniqueConstraint("telegram_id", "role", name="uq_role_user_role"),)
    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = _bigint(nullable=False)
    role: str = Field(max_length=20)
    granted_by: str = Field(max_length=100)
    granted_at: datetime = _ts()


class AuditLog(SQLModel, table=True):
    """Who did what to what, when (never the erased personal data)."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=40, index=True)
    target: str | None = Field(default=None, max_length=200)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON(), nullable=False))


class UnansweredQuestion(SQLModel, table=True):
    """A question the retriever abstained on, counted by its normalised text."""

    __tablename__ = "unanswered_question"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=500, unique=True)
    text: str = Field(max_length=1000)
    count: int = 1
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()


class IdempotencyRecord(SQLModel, table=True):
    """The result of a write already done for an idempotency key (e.g. 'tg:update:123')."""

    __tablename__ = "idempotency_record"
    key: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=40)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON(), nullable=False))
    created_at: datetime = _ts()


class OutboxNotification(SQLModel, table=True):
    """A notification waiting to be sent; deleted only after Telegram accepted it (at least once).

    A sender leases rows (`claimed_until`) before sending, so a sender that dies between taking and
    sending loses nothing: the lease expires and another sender takes the row. `dedupe_key` (the
    write's idempotency key) makes a replayed status change queue nothing new.
    """

    __tablename__ = "notification_outbox"
    id: int | None = Field(default=None, primary_key=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    attempts: int = 0
    claimed_until: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class AnswerRating(SQLModel, table=True):
    """Anonymous 'helpful' / 'not helpful' counts of answers, per normalised question (no resident)."""

    __tablename__ = "answer_rating"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=500, unique=True)
    text: str = Field(max_length=1000)
    helpful: int = 0
    not_helpful: int = 0
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()


class NotificationAddress(SQLModel, table=True):
    """Where a resident who consented to notifications is reached: their chat id, encrypted.

    The key is derived from the pseudonym secret and never stored in the database, so the database
    alone cannot link a pseudonym to a Telegram account. Deleted on withdrawal and erasure.
    """

    __tablename__ = "notification_address"
    resident_id: int = Field(foreign_key="resident.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    sealed: str = Field(max_length=400)
    updated_at: datetime = _ts()


class ConversationState(SQLModel, table=True):
    """The step a resident is at in a multi-step flow (/gopy, /taokhaosat), shared by every process.

    `key` is an HMAC of the chat and user ids, `owner` the user's pseudonym (for erasure), `address`
    the encrypted chat id (to say the flow ended after inactivity). Rows older than the timeout are ended.
    """

    __tablename__ = "conversation_state"
    name: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=64, index=True)
    state: Any = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    address: str | None = Field(default=None, max_length=400)
    updated_at: datetime = _ts(index=True)


class UserDraft(SQLModel, table=True):
    """A user's drafts of multi-step flows (PTB user_data), keyed by their pseudonym."""

    __tablename__ = "user_draft"
    owner: str = Field(primary_key=True, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON(), nullable=False))
    updated_at: datetime = _ts()


class FaqEntry(SQLModel, table=True):
    """An answer written by the city's staff (from /chuatraloi or the CLI), searched before the documents."""

    __tablename__ = "faq_entry"
    id: int | None = Field(default=None, primary_key=True)
    question: str = Field(max_length=1000)
    answer: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    source: str | None = Field(default=None, max_length=500)
    created_by: str = Field(max_length=100)
    created_at: datetime = _ts()
    updated_at: datetime = _ts(index=True)


class FaqLink(SQLModel, table=True):
    """A question ('unanswered' or 'rating' row) answered by an FAQ entry: a variant of it, off /chuatraloi."""

    __tablename__ = "faq_link"
    __table_args__ = (sa.UniqueConstraint("kind", "question_id", name="uq_faq_link_question"),)
    id: int | None = Field(default=None, primary_key=True)
    faq_id: int = Field(foreign_key="faq_entry.id", index=True)
    kind: str = Field(max_length=12)
    question_id: int
    seen_count: int  # the question's asks (or 👎) when answered: more later puts it back on /chuatraloi
    linked_at: datetime = _ts()


class UnansweredAsk(SQLModel, table=True):
    """Who asked an unanswered question, kept only for residents who consented to notifications."""

    __tablename__ = "unanswered_ask"
    __table_args__ = (sa.UniqueConstraint("question_id", "resident_id", name="uq_unanswered_ask"),)
    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="unanswered_question.id", index=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    asks: int = 1
    last_asked: datetime = _ts()
    notified_at: datetime | None = _ts(nullable=True)


class SynonymRule(SQLModel, table=True):
    """An admin's everyday ↔ formal wording pair, used beside the shipped synonyms.txt."""

    __tablename__ = "synonym_rule"
    __table_args__ = (sa.UniqueConstraint("everyday", "formal", name="uq_synonym_rule"),)
    id: int | None = Field(default=None, primary_key=True)
    everyday: str = Field(max_length=200)
    formal: str = Field(max_length=200)
    created_by: str = Field(max_length=100)
    created_at: datetime = _ts()


# --- running on several machines (bot/scale) --------------------------------------------------------


class SeenUpdate(SQLModel, table=True):
    """A Telegram update id the ingress has enqueued (a replay is enqueued once); pruned after a day."""

    __tablename__ = "seen_update"
    update_id: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False))
    seen_at: datetime = _ts(index=True)


class ClusterSetting(SQLModel, table=True):
    """A value every replica shares: pseudonym-secret fingerprint, long-poll offset, index generation."""

    __tablename__ = "cluster_setting"
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)
    updated_at: datetime = _ts()


class Replica(SQLModel, table=True):
    """A running worker or ingress process (host:pid), its last heartbeat and the index it serves."""

    __tablename__ = "replica"
    name: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=20)
    index_generation: int = 0
    started_at: datetime = _ts()
    last_seen: datetime = _ts()


class FloodCounter(SQLModel, table=True):
    """Updates a resident (pseudonym) sent in the current flood window, shared by every worker."""

    __tablename__ = "flood_counter"
    pseudonym: str = Field(primary_key=True, max_length=64)
    window_start: float
    hits: int


class SendBudget(SQLModel, table=True):
    """A token bucket for Telegram's overall send rate, shared by every worker."""

    __tablename__ = "send_budget"
    name: str = Field(primary_key=True, max_length=64)
    tokens: float
    updated: float
