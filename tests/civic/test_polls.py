"""Polls: lifecycle (scheduled, open, change, withdraw, closed), scope, results, visibility, replays."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import AuditLog, Vote
from bot.services import polls, residents
from bot.services.errors import (
    ConsentRequiredError,
    InvalidInputError,
    NotFoundError,
    OutOfScopeError,
    PermissionDeniedError,
    PollClosedError,
    PollNotOpenError,
    ResultsHiddenError,
)
from bot.services.polls import PollState, Visibility
from bot.services.residents import Purpose

from .conftest import ADMIN, NOW, OFFICER, RESIDENT_ACTOR, WARD_A, WARD_B, MakeResident

LATER = NOW + timedelta(days=1)


def new_poll(session: Session, **kwargs: Any) -> polls.PollView:
    """A three-option poll created at NOW."""
    fields: dict[str, Any] = {
        "question": "Có nên mở rộng phố đi bộ Hồ Gươm?",
        "options": ["Có", "Không", "Chưa rõ"],
    }
    fields.update(kwargs)
    return polls.create_poll(session=session, actor=ADMIN, now=NOW, **fields)


def vote(
    session: Session, key: str, poll: polls.PollView, choice: int, n: int, now: datetime = NOW
) -> polls.VoteResult:
    """Vote for the poll's option at index `choice` with key 'tg:update:<n>'."""
    return polls.cast_vote(
        session=session,
        pseudonym=key,
        poll_id=poll.id,
        option_id=poll.options[choice].id,
        idempotency_key=f"tg:update:{n}",
        now=now,
    )


def votes(session: Session) -> int:
    """Vote rows stored."""
    return int(session.execute(sa.select(sa.func.count()).select_from(Vote)).scalar_one())


def test_vote_change_and_withdraw_while_open(session: Session, make_resident: MakeResident) -> None:
    poll = new_poll(session)
    key = make_resident(1)
    first = vote(session, key, poll, 0, 1)
    assert (first.option_id, first.previous_option_id) == (poll.options[0].id, None)
    changed = vote(session, key, poll, 2, 2)
    assert (changed.option_id, changed.previous_option_id) == (poll.options[2].id, poll.options[0].id)
    assert polls.my_vote(session=session, pseudonym=key, poll_id=poll.id) == poll.options[2].id
    assert votes(session) == 1
    gone = polls.withdraw_vote(session=session, pseudonym=key, poll_id=poll.id, idempotency_key="w1", now=NOW)
    assert gone.option_id is None and gone.previous_option_id == poll.options[2].id
    assert polls.my_vote(session=session, pseudonym=key, poll_id=poll.id) is None and votes(session) == 0


def test_scheduled_poll_refuses_votes_until_it_opens(session: Session, make_resident: MakeResident) -> None:
    poll = new_poll(session, opens_at=LATER, closes_at=LATER + timedelta(days=7))
    key = make_resident(1)
    assert poll.state is PollState.SCHEDULED
    with pytest.raises(PollNotOpenError):
        vote(session, key, poll, 0, 1)
    assert votes(session) == 0
    vote(session, key, poll, 0, 2, now=LATER + timedelta(minutes=1))
    assert votes(session) == 1


def test_closed_poll_refuses_vote_change_and_withdrawal(
    session: Session, make_resident: MakeResident
) -> None:
    poll = new_poll(session)
    key = make_resident(1)
    vote(session, key, poll, 1, 1)
    closed = polls.close_poll(session=session, poll_id=poll.id, actor=ADMIN, now=LATER)
    assert closed.state is PollState.CLOSED
    with pytest.raises(PollClosedError):
        vote(session, key, poll, 0, 2, now=LATER)
    with pytest.raises(PollClosedError):
        polls.withdraw_vote(session=session, pseudonym=key, poll_id=poll.id, idempotency_key="w", now=LATER)
    with pytest.raises(PollClosedError):
        polls.close_poll(session=session, poll_id=poll.id, actor=ADMIN, now=LATER)
    assert polls.my_vote(session=session, pseudonym=key, poll_id=poll.id) == poll.options[1].id


def test_poll_closes_by_itself_at_its_close_time(session: Session, make_resident: MakeResident) -> None:
    poll = new_poll(session, closes_at=NOW + timedelta(hours=1))
    key = make_resident(1)
    with pytest.raises(PollClosedError):
        vote(session, key, poll, 0, 1, now=NOW + timedelta(hours=1))
    assert (
        polls.get_poll(session=session, poll_id=poll.id, now=NOW + timedelta(hours=2)).state
        is PollState.CLOSED
    )


def test_scope_limits_voters_to_listed_wards(session: Session, make_resident: MakeResident) -> None:
    poll = new_poll(session, wards=["hoàn kiếm"])
    assert poll.wards == (WARD_A,)
    inside, outside, unknown = (
        make_resident(1, ward=WARD_A),
        make_resident(2, ward=WARD_B),
        make_resident(3, ward=None),
    )
    vote(session, inside, poll, 0, 1)
    with pytest.raises(OutOfScopeError, match=WARD_A):
        vote(session, outside, poll, 0, 2)
    with pytest.raises(OutOfScopeError, match="phường/xã của bạn"):
        vote(session, unknown, poll, 0, 3)
    assert votes(session) == 1
    assert [p.id for p in polls.polls_for_resident(session=session, pseudonym=inside, now=NOW)] == [poll.id]
    assert polls.polls_for_resident(session=session, pseudonym=outside, now=NOW) == []


def test_vote_needs_poll_consent(session: Session, make_resident: MakeResident) -> None:
    poll = new_poll(session)
    key = make_resident(1, purposes=(Purpose.FEEDBACK,))
    with pytest.raises(ConsentRequiredError) as err:
        vote(session, key, poll, 0, 1)
    assert err.value.purpose == "polls" and votes(session) == 0


def test_unknown_poll_or_foreign_option_writes_nothing(session: Session, make_resident: MakeResident) -> None:
    poll, other = new_poll(session), new_poll(session, question="Câu hỏi khác")
    key = make_resident(1)
    with pytest.raises(NotFoundError, match="khảo sát"):
        polls.cast_vote(
            session=session, pseudonym=key, poll_id=9999, option_id=1, idempotency_key="a", now=NOW
        )
    with pytest.raises(NotFoundError, match="Lựa chọn"):
        polls.cast_vote(
            session=session,
            pseudonym=key,
            poll_id=poll.id,
            option_id=other.options[0].id,
            idempotency_key="b",
            now=NOW,
        )
    assert votes(session) == 0


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"options": ["Có"]}, "từ 2 đến 10"),
        ({"options": [f"Phương án {i}" for i in range(11)]}, "từ 2 đến 10"),
        ({"options": ["Có", " có "]}, "trùng"),
        ({"question": "  "}, "Câu hỏi"),
        ({"visibility": "public"}, "hiển thị"),
        ({"closes_at": NOW - timedelta(days=1)}, "đóng"),
        ({"opens_at": LATER, "closes_at": LATER - timedelta(hours=1)}, "sau thời điểm mở"),
    ],
)
def test_invalid_poll_is_refused_and_nothing_written(
    session: Session, fields: dict[str, object], needle: str
) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        new_poll(session, **fields)
    assert polls.list_polls(session=session, now=NOW) == []
    assert session.execute(sa.select(AuditLog)).first() is None


def test_results_by_option_and_by_ward(session: Session, make_resident: MakeResident) -> None:
    poll = new_poll(session)
    choices = [(1, WARD_A, 0), (2, WARD_A, 0), (3, WARD_A, 1), (4, WARD_B, 1), (5, WARD_B, 1), (6, None, 2)]
    for telegram_id, ward, choice in choices:
        vote(session, make_resident(telegram_id, ward=ward), poll, choice, telegram_id)
    results = polls.poll_results(session=session, poll_id=poll.id, actor=OFFICER)
    assert results.total == 6
    assert [(o.text, o.count) for o in results.by_option] == [("Có", 2), ("Không", 3), ("Chưa rõ", 1)]
    wards = {w.ward: (w.total, [w.counts[o.id] for o in poll.options]) for w in results.by_ward}
    assert wards == {WARD_A: (3, [2, 1, 0]), WARD_B: (2, [0, 2, 0]), polls.UNKNOWN_WARD: (1, [0, 0, 1])}


def test_results_need_an_officer(session: Session) -> None:
    poll = new_poll(session)
    with pytest.raises(PermissionDeniedError):
        polls.poll_results(session=session, poll_id=poll.id, actor=RESIDENT_ACTOR)


@pytest.mark.parametrize(
    ("visibility", "before_vote", "after_vote", "after_close"),
    [
        ("after_vote", False, True, True),
        ("after_close", False, False, True),
        ("officers", False, False, False),
    ],
)
def test_result_visibility_for_residents(
    session: Session,
    make_resident: MakeResident,
    visibility: str,
    before_vote: bool,
    after_vote: bool,
    after_close: bool,
) -> None:
    poll = new_poll(session, visibility=visibility)
    assert poll.visibility is Visibility(visibility)
    key = make_resident(1)

    def visible(now: datetime = NOW) -> bool:
        try:
            polls.results_for_resident(session=session, pseudonym=key, poll_id=poll.id, now=now)
        except ResultsHiddenError:
            return False
        return True

    assert visible() is before_vote
    vote(session, key, poll, 0, 1)
    assert visible() is after_vote
    polls.close_poll(session=session, poll_id=poll.id, actor=ADMIN, now=LATER)
    assert visible(LATER) is after_close


def test_replayed_vote_is_counted_once_and_returns_the_original(
    session: Session, make_resident: MakeResident
) -> None:
    poll = new_poll(session)
    key = make_resident(1)
    vote(session, key, poll, 0, 10)
    vote(session, key, poll, 1, 11)
    replay = vote(session, key, poll, 0, 10)
    assert replay.option_id == poll.options[0].id
    assert polls.my_vote(session=session, pseudonym=key, poll_id=poll.id) == poll.options[1].id
    assert votes(session) == 1


def test_erasure_keeps_totals_by_option_and_ward(session: Session, make_resident: MakeResident) -> None:
    poll = new_poll(session)
    keys = [make_resident(i, ward=WARD_A if i % 2 else WARD_B) for i in range(1, 5)]
    for i, key in enumerate(keys):
        vote(session, key, poll, i % 2, i)
    before = polls.poll_results(session=session, poll_id=poll.id, actor=ADMIN)
    report = residents.forget(session=session, pseudonym=keys[0], actor=ADMIN)
    assert report.votes_kept == 1
    after = polls.poll_results(session=session, poll_id=poll.id, actor=ADMIN)
    assert (after.total, after.by_option, after.by_ward) == (before.total, before.by_option, before.by_ward)
    assert polls.my_vote(session=session, pseudonym=keys[0], poll_id=poll.id) is None


def test_create_and_close_are_admin_only_and_audited(session: Session) -> None:
    with pytest.raises(PermissionDeniedError):
        polls.create_poll(session=session, actor=OFFICER, question="Q?", options=["A", "B"], now=NOW)
    poll = new_poll(session)
    with pytest.raises(PermissionDeniedError):
        polls.close_poll(session=session, poll_id=poll.id, actor=OFFICER, now=NOW)
    polls.close_poll(session=session, poll_id=poll.id, actor=ADMIN, now=NOW)
    rows = session.execute(sa.select(AuditLog).order_by(col(AuditLog.id))).scalars().all()
    assert [(r.actor, r.action, r.target) for r in rows] == [
        (ADMIN.label, "poll_create", f"poll:{poll.id}"),
        (ADMIN.label, "poll_close", f"poll:{poll.id}"),
    ]


def test_list_polls_by_state(session: Session) -> None:
    open_poll = new_poll(session)
    scheduled = new_poll(session, opens_at=LATER)
    closed = new_poll(session)
    polls.close_poll(session=session, poll_id=closed.id, actor=ADMIN, now=NOW)
    assert [p.id for p in polls.list_polls(session=session, now=NOW)] == [
        closed.id,
        scheduled.id,
        open_poll.id,
    ]
    assert [p.id for p in polls.list_polls(session=session, state=PollState.OPEN, now=NOW)] == [open_poll.id]
    assert [p.id for p in polls.list_polls(session=session, state=PollState.SCHEDULED, now=NOW)] == [
        scheduled.id
    ]


def test_withdrawn_consent_blocks_further_votes(session: Session, make_resident: MakeResident) -> None:
    poll = new_poll(session)
    key = make_resident(1)
    vote(session, key, poll, 0, 1)
    residents.withdraw_consent(session=session, pseudonym=key, purpose=Purpose.POLLS)
    with pytest.raises(ConsentRequiredError):
        vote(session, key, poll, 1, 2)
    assert polls.my_vote(session=session, pseudonym=key, poll_id=poll.id) == poll.options[0].id
