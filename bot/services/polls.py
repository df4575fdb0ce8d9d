"""Opinion polls: creation, schedule, scope by ward, one changeable vote per resident, results."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from bot.db.models import IdempotencyRecord, Poll, PollOption, Resident, Vote
from bot.services._base import (
    StoredResult,
    check_key,
    commit_once,
    guarded,
    now_utc,
    replay_of,
    table_of,
    with_record,
)
from bot.services.audit import AuditAction, record_audit
from bot.services.errors import (
    InvalidInputError,
    NotFoundError,
    OutOfScopeError,
    PollClosedError,
    PollNotOpenError,
    ResultsHiddenError,
)
from bot.services.residents import Purpose, consent_required, find_resident, may_process
from bot.services.roles import Actor, Role
from bot.services.wards import normalize_ward

MIN_OPTIONS, MAX_OPTIONS = 2, 10
MAX_QUESTION, MAX_OPTION = 500, 200
UNKNOWN_WARD = "Chưa xác định"


class Visibility(StrEnum):
    """Who sees results, when."""

    AFTER_VOTE = "after_vote"
    AFTER_CLOSE = "after_close"
    OFFICERS = "officers"


class PollState(StrEnum):
    """Where a poll is in its life."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class OptionView:
    """One answer."""

    id: int
    position: int
    text: str


@dataclass(frozen=True)
class PollView:
    """A poll with its options and state at the time it was read."""

    id: int
    question: str
    options: tuple[OptionView, ...]
    wards: tuple[str, ...]
    opens_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    visibility: Visibility
    state: PollState


@dataclass(frozen=True)
class VoteResult:
    """A vote stored (option_id None: withdrawn); previous_option_id is what it replaced."""

    poll_id: int
    option_id: int | None
    previous_option_id: int | None


@dataclass(frozen=True)
class OptionCount:
    """Votes for one option."""

    option_id: int
    text: str
    count: int


@dataclass(frozen=True)
class WardCount:
    """Votes from one ward, per option id (voter's ward when they voted)."""

    ward: str
    counts: dict[int, int]
    total: int


@dataclass(frozen=True)
class PollResults:
    """Totals by option and by ward."""

    poll: PollView
    total: int
    by_option: tuple[OptionCount, ...]
    by_ward: tuple[WardCount, ...]


def _state(poll: _Schedule, now: datetime) -> PollState:
    """Scheduled, open or closed at `now`."""
    if poll.closed_at is not None or (poll.closes_at is not None and poll.closes_at <= now):
        return PollState.CLOSED
    return PollState.SCHEDULED if now < poll.opens_at else PollState.OPEN


def _options(session: Session, poll_id: int) -> tuple[OptionView, ...]:
    """A poll's options in order."""
    stmt = sa.select(PollOption).where(col(PollOption.poll_id) == poll_id).order_by(col(PollOption.position))
    return tuple(OptionView(o.id or 0, o.position, o.text) for o in session.execute(stmt).scalars())


def _view(session: Session, poll: Poll, now: datetime) -> PollView:
    """A detached view of a poll."""
    return PollView(
        poll.id or 0,
        poll.question,
        _options(session, poll.id or 0),
        tuple(poll.wards),
        poll.opens_at,
        poll.closes_at,
        poll.closed_at,
        Visibility(poll.visibility),
        _state(poll, now),
    )


def parse_visibility(value: str | Visibility) -> Visibility:
    """A Visibility from its code."""
    try:
        return Visibility(str(value).strip().lower())
    except ValueError:
        raise InvalidInputError(
            f"Chế độ hiển thị không hợp lệ: {value!r} (after_vote, after_close, officers)."
        ) from None


def _clean(text: str, limit: int, what: str) -> str:
    """NFC, single-spaced, non-empty, within the limit."""
    cleaned = " ".join(unicodedata.normalize("NFC", text).split())
    if not cleaned:
        raise InvalidInputError(f"{what} không được để trống.")
    if len(cleaned) > limit:
        raise InvalidInputError(f"{what} dài tối đa {limit} ký tự.")
    return cleaned


def _clean_options(options: Sequence[str]) -> list[str]:
    """2 to 10 distinct, non-empty options."""
    cleaned = [_clean(o, MAX_OPTION, "Lựa chọn") for o in options]
    if not MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS:
        raise InvalidInputError(
            f"Khảo sát cần từ {MIN_OPTIONS} đến {MAX_OPTIONS} lựa chọn (có {len(cleaned)})."
        )
    if len({o.casefold() for o in cleaned}) != len(cleaned):
        raise InvalidInputError("Các lựa chọn không được trùng nhau.")
    return cleaned


def _check_times(opens: datetime, closes: datetime | None, now: datetime) -> None:
    """Close after open, and not already in the past."""
    if closes is not None and closes <= opens:
        raise InvalidInputError("Thời điểm đóng phải sau thời điểm mở.")
    if closes is not None and closes <= now:
        raise InvalidInputError("Thời điểm đóng đã qua.")


@guarded
def create_poll(
    *,
    session: Session,
    actor: Actor,
    question: str,
    options: Sequence[str],
    wards: Sequence[str] = (),
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    visibility: str | Visibility = Visibility.AFTER_VOTE,
    now: datetime | None = None,
) -> PollView:
    """Create a poll (admins only); opens now unless scheduled; wards limit who may vote. Audited."""
    actor.require(Role.ADMIN)
    current = now_utc(now)
    text = _clean(question, MAX_QUESTION, "Câu hỏi")
    choices = _clean_options(options)
    scope = sorted({normalize_ward(w).ward for w in wards})
    opens = now_utc(opens_at) if opens_at is not None else current
    closes = now_utc(closes_at) if closes_at is not None else None
    _check_times(opens, closes, current)
    mode = parse_visibility(visibility)
    poll = Poll(
        question=text,
        wards=scope,
        opens_at=opens,
        closes_at=closes,
        visibility=mode.value,
        created_by=actor.label,
        created_at=current,
    )
    session.add(poll)
    session.flush()
    session.add_all(PollOption(poll_id=poll.id or 0, position=i, text=t) for i, t in enumerate(choices, 1))
    record_audit(
        session=session,
        actor=actor,
        action=AuditAction.POLL_CREATE,
        target=f"poll:{poll.id}",
        details={"options": len(choices), "wards": len(scope)},
    )
    session.commit()
    return _view(session, poll, current)


def _poll(session: Session, poll_id: int) -> Poll:
    """The poll row, or NotFoundError (a vote reads and locks it in `_ballot_statement`)."""
    poll = session.execute(sa.select(Poll).where(col(Poll.id) == poll_id)).scalar_one_or_none()
    if poll is None:
        raise NotFoundError(f"Không tìm thấy khảo sát số {poll_id}.")
    return poll


@guarded
def get_poll(*, session: Session, poll_id: int, now: datetime | None = None) -> PollView:
    """A poll by id."""
    return _view(session, _poll(session, poll_id), now_utc(now))


@guarded
def list_polls(
    *, session: Session, state: PollState | None = None, now: datetime | None = None
) -> list[PollView]:
    """Polls, newest first, optionally only those in `state`."""
    current = now_utc(now)
    rows = session.execute(sa.select(Poll).order_by(col(Poll.id).desc())).scalars().all()
    views = [_view(session, p, current) for p in rows]
    return [v for v in views if state is None or v.state is state]


@guarded
def polls_for_resident(*, session: Session, pseudonym: str, now: datetime | None = None) -> list[PollView]:
    """Open polls the resident may vote in (scope matches their ward)."""
    resident = find_resident(session, pseudonym)
    ward = resident.ward if resident is not None else None
    return [
        p
        for p in list_polls(session=session, state=PollState.OPEN, now=now)
        if not p.wards or (ward is not None and ward in p.wards)
    ]


def _check_open(poll: _Schedule, now: datetime) -> None:
    """PollNotOpenError / PollClosedError unless open at `now`."""
    state = _state(poll, now)
    if state is PollState.SCHEDULED:
        raise PollNotOpenError()
    if state is PollState.CLOSED:
        raise PollClosedError()


def _check_scope(poll: _Schedule, ward: str | None) -> None:
    """OutOfScopeError unless the poll is city-wide or the resident's ward is in its scope."""
    if not poll.wards:
        return
    if ward is None:
        raise OutOfScopeError("Khảo sát này dành cho một số phường/xã: hãy cho biết phường/xã của bạn trước.")
    if ward not in poll.wards:
        raise OutOfScopeError(f"Khảo sát này chỉ dành cho cư dân: {', '.join(poll.wards)}.")


def _current_choice(session: Session, poll_id: int, resident_id: int) -> int | None:
    """The option the resident currently chose in the poll."""
    stmt = sa.select(col(Vote.option_id)).where(
        col(Vote.poll_id) == poll_id, col(Vote.resident_id) == resident_id
    )
    return session.execute(stmt).scalar_one_or_none()


class _Schedule(Protocol):
    """What the vote's checks read of a poll: its schedule and scope (a Poll, or the vote's one read)."""

    @property
    def opens_at(self) -> datetime: ...
    @property
    def closes_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def wards(self) -> list[str]: ...


@dataclass(frozen=True)
class _PollRow:
    """A poll's schedule and scope as the vote's one read returns them."""

    opens_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    wards: list[str]


@dataclass(frozen=True)
class _Ballot:
    """What a vote or withdrawal checks, read in one statement; None/False where a row is missing."""

    record: StoredResult | None
    poll: _PollRow | None
    resident_id: int | None
    ward: str | None
    consented: bool
    option_ok: bool
    previous: int | None


@functools.cache
def _ballot_statement() -> Any:
    """The one read of a vote, built once, in Core (columns, no ORM entities: nothing to load into the
    session). Parameters: key, poll_id, pseudonym, option_id; NULL matches nothing."""
    poll_id = sa.bindparam("poll_id", type_=sa.Integer)
    polls_t, records = table_of(Poll), table_of(IdempotencyRecord)
    locked = (
        sa.select(polls_t.c.id, polls_t.c.opens_at, polls_t.c.closes_at, polls_t.c.closed_at, polls_t.c.wards)
        .where(polls_t.c.id == poll_id)
        .with_for_update(read=True)
        .subquery("p")
    )
    option = sa.bindparam("option_id", type_=sa.Integer)
    belongs = sa.exists().where(col(PollOption.id) == option, col(PollOption.poll_id) == poll_id)
    current = sa.select(col(Vote.option_id)).where(
        col(Vote.poll_id) == poll_id, col(Vote.resident_id) == col(Resident.id)
    )
    return (
        sa.select(
            records.c.kind,
            records.c.result,
            locked.c.id,
            locked.c.opens_at,
            locked.c.closes_at,
            locked.c.closed_at,
            locked.c.wards,
            col(Resident.id),
            col(Resident.ward),
            may_process(Purpose.POLLS),
            belongs,
            current.scalar_subquery(),
        )
        .select_from(sa.select(sa.literal(1).label("one")).subquery("one"))
        .outerjoin(records, records.c.key == sa.bindparam("key", type_=sa.String))
        .outerjoin(locked, sa.true())
        .outerjoin(Resident, col(Resident.pseudonym) == sa.bindparam("pseudonym", type_=sa.String))
    )


def _ballot(
    session: Session, pseudonym: str, poll_id: int, key: str | None, option_id: int | None
) -> _Ballot:
    """One round trip: the key's record, the poll (shared-locked against a concurrent close), the resident
    with their POLLS consent, whether `option_id` belongs to the poll, and the current choice."""
    params = {"key": key, "poll_id": poll_id, "pseudonym": pseudonym, "option_id": option_id}
    row = session.connection().execute(_ballot_statement(), params).one()
    kind, result, found, opens, closes, closed, wards, resident_id, ward, consented, option_ok, previous = row
    return _Ballot(
        None if kind is None else StoredResult(kind, result),
        None if found is None else _PollRow(opens, closes, closed, list(wards or [])),
        resident_id,
        ward,
        bool(consented),
        bool(option_ok),
        previous,
    )


def _prepare(
    session: Session,
    pseudonym: str,
    poll_id: int,
    key: str | None,
    option_id: int | None,
    now: datetime | None,
) -> _Ballot | dict[str, Any]:
    """Every rule before a vote or withdrawal, in this order: the stored result of a replayed key (returned,
    the transaction ended), poll exists and open, consent, scope, option belongs to the poll (cast only)."""
    check_key(key)
    ballot = _ballot(session, pseudonym, poll_id, key, option_id)
    earlier = replay_of(ballot.record, "vote")
    if earlier is not None:
        session.commit()  # nothing to write: releases the poll's shared lock at once
        return earlier
    current = now_utc(now)
    if ballot.poll is None:
        raise NotFoundError(f"Không tìm thấy khảo sát số {poll_id}.")
    _check_open(ballot.poll, current)
    if not ballot.consented:
        raise consent_required(Purpose.POLLS)
    _check_scope(ballot.poll, ballot.ward)
    if option_id is not None and not ballot.option_ok:
        raise NotFoundError(f"Lựa chọn số {option_id} không thuộc khảo sát này.")
    return ballot


@functools.cache
def _vote_write(dialect: str) -> tuple[Any, Any]:
    """A vote's upsert, built once per backend, and (PostgreSQL) the same with its idempotency record.
    Parameters: v_poll, v_option, v_resident, v_ward, v_stamp."""
    table = table_of(Vote)
    stamp = sa.bindparam("v_stamp", type_=table.c.created_at.type)
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(
        poll_id=sa.bindparam("v_poll", type_=sa.Integer),
        option_id=sa.bindparam("v_option", type_=sa.Integer),
        resident_id=sa.bindparam("v_resident", type_=sa.Integer),
        ward=sa.bindparam("v_ward", type_=table.c.ward.type),
        created_at=stamp,
        updated_at=stamp,
    )
    write = insert.on_conflict_do_update(
        index_elements=["poll_id", "resident_id"],
        set_={"option_id": insert.excluded.option_id, "ward": insert.excluded.ward,
              "updated_at": insert.excluded.updated_at},
    )
    return write, with_record(write) if dialect == "postgresql" else None


@functools.cache
def _withdraw_write(dialect: str) -> tuple[Any, Any]:
    """A withdrawal's delete, built once per backend, and (PostgreSQL) the same with its idempotency record.
    Parameters: v_poll, v_resident."""
    table = table_of(Vote)
    write = sa.delete(table).where(
        table.c.poll_id == sa.bindparam("v_poll", type_=sa.Integer),
        table.c.resident_id == sa.bindparam("v_resident", type_=sa.Integer),
    )
    return write, with_record(write) if dialect == "postgresql" else None


@guarded
def cast_vote(
    *,
    session: Session,
    pseudonym: str,
    poll_id: int,
    option_id: int,
    idempotency_key: str | None,
    now: datetime | None = None,
) -> VoteResult:
    """Vote or change a vote (needs POLLS consent, open poll, ward in scope); replay-safe."""
    ballot = _prepare(session, pseudonym, poll_id, idempotency_key, option_id, now)
    if not isinstance(ballot, _Ballot):
        return VoteResult(**ballot)
    write, combined = _vote_write(session.get_bind().dialect.name)
    params = {
        "v_poll": poll_id,
        "v_option": option_id,
        "v_resident": ballot.resident_id,
        "v_ward": ballot.ward,
        "v_stamp": now_utc(None),
    }
    result = {"poll_id": poll_id, "option_id": option_id, "previous_option_id": ballot.previous}
    return VoteResult(
        **commit_once(session, idempotency_key, "vote", result, write, params=params, combined=combined)
    )


@guarded
def withdraw_vote(
    *,
    session: Session,
    pseudonym: str,
    poll_id: int,
    idempotency_key: str | None,
    now: datetime | None = None,
) -> VoteResult:
    """Withdraw the resident's vote while the poll is open (option_id None in the result); replay-safe."""
    ballot = _prepare(session, pseudonym, poll_id, idempotency_key, None, now)
    if not isinstance(ballot, _Ballot):
        return VoteResult(**ballot)
    write, combined = _withdraw_write(session.get_bind().dialect.name)
    params = {"v_poll": poll_id, "v_resident": ballot.resident_id}
    result = {"poll_id": poll_id, "option_id": None, "previous_option_id": ballot.previous}
    return VoteResult(
        **commit_once(session, idempotency_key, "vote", result, write, params=params, combined=combined)
    )


@guarded
def my_vote(*, session: Session, pseudonym: str, poll_id: int) -> int | None:
    """The option id the resident currently chose, or None."""
    resident = find_resident(session, pseudonym)
    return None if resident is None else _current_choice(session, poll_id, resident.id or 0)


@guarded
def close_poll(*, session: Session, poll_id: int, actor: Actor, now: datetime | None = None) -> PollView:
    """Close a poll now (admins only); closing twice is refused. Audited."""
    actor.require(Role.ADMIN)
    current = now_utc(now)
    stmt = sa.select(Poll).where(col(Poll.id) == poll_id).with_for_update()
    poll = session.execute(stmt).scalar_one_or_none()
    if poll is None:
        raise NotFoundError(f"Không tìm thấy khảo sát số {poll_id}.")
    if _state(poll, current) is PollState.CLOSED:
        raise PollClosedError(f"Khảo sát số {poll_id} đã kết thúc trước đó.")
    poll.closed_at = current
    record_audit(session=session, actor=actor, action=AuditAction.POLL_CLOSE, target=f"poll:{poll_id}")
    session.commit()
    return _view(session, poll, current)


def _tally(session: Session, poll: PollView) -> PollResults:
    """Count votes by option and by (voter's) ward."""
    stmt = (
        sa.select(col(Vote.ward), col(Vote.option_id), sa.func.count())
        .where(col(Vote.poll_id) == poll.id)
        .group_by(col(Vote.ward), col(Vote.option_id))
    )
    per_option = {o.id: 0 for o in poll.options}
    per_ward: dict[str, dict[int, int]] = {}
    for ward, option_id, count in session.execute(stmt).all():
        per_option[option_id] = per_option.get(option_id, 0) + count
        per_ward.setdefault(ward or UNKNOWN_WARD, {o.id: 0 for o in poll.options})[option_id] = count
    by_option = tuple(OptionCount(o.id, o.text, per_option[o.id]) for o in poll.options)
    by_ward = tuple(WardCount(w, c, sum(c.values())) for w, c in sorted(per_ward.items()))
    return PollResults(poll, sum(per_option.values()), by_option, by_ward)


@guarded
def poll_results(*, session: Session, poll_id: int, actor: Actor, now: datetime | None = None) -> PollResults:
    """Full results for officers and admins, whatever the visibility."""
    actor.require(Role.OFFICER)
    return _tally(session, _view(session, _poll(session, poll_id), now_utc(now)))


@guarded
def results_for_resident(
    *, session: Session, pseudonym: str, poll_id: int, now: datetime | None = None
) -> PollResults:
    """Results if the poll's visibility allows this resident to see them now, else ResultsHiddenError."""
    poll = _view(session, _poll(session, poll_id), now_utc(now))
    closed = poll.state is PollState.CLOSED
    if poll.visibility is Visibility.OFFICERS:
        raise ResultsHiddenError("Kết quả khảo sát này chỉ dành cho cán bộ.")
    if poll.visibility is Visibility.AFTER_CLOSE and not closed:
        raise ResultsHiddenError("Kết quả sẽ được công bố khi khảo sát kết thúc.")
    if (
        poll.visibility is Visibility.AFTER_VOTE
        and not closed
        and my_vote(session=session, pseudonym=pseudonym, poll_id=poll_id) is None
    ):
        raise ResultsHiddenError("Hãy bỏ phiếu để xem kết quả.")
    return _tally(session, poll)
