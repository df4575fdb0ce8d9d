"""Feedback: consent, tickets, validation (nothing written), status workflow, notifications, replays."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.db.engine import session_scope
from bot.db.models import AuditLog, Feedback, FeedbackStatusChange
from bot.services import feedback, notifications, residents
from bot.services.errors import (
    ConsentRequiredError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
)
from bot.services.feedback import Category, FeedbackFilter, Status
from bot.services.residents import Purpose

from .conftest import ADMIN, OFFICER, RESIDENT_ACTOR, WARD_A, WARD_B, MakeResident


def submit(session: Session, key: str, n: int, **kwargs: Any) -> feedback.FeedbackView:
    """Submit a feedback with idempotency key 'tg:update:<n>'."""
    fields: dict[str, Any] = {"category": "giao_thong", "text": f"Ổ gà số {n} trên phố Tràng Tiền"}
    fields.update(kwargs)
    return feedback.submit_feedback(
        session=session, pseudonym=key, idempotency_key=f"tg:update:{n}", **fields
    )


def count(session: Session, model: type) -> int:
    """Rows in a table."""
    return int(session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


def test_feedback_without_consent_is_refused_and_nothing_stored(
    session: Session, make_resident: MakeResident
) -> None:
    key = make_resident(1, purposes=(Purpose.POLLS,))
    with pytest.raises(ConsentRequiredError) as err:
        submit(session, key, 1)
    assert err.value.purpose == "feedback" and "đồng ý" in err.value.message
    assert count(session, Feedback) == 0


def test_withdrawn_consent_refuses_new_feedback(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(1)
    submit(session, key, 1)
    assert residents.withdraw_consent(session=session, pseudonym=key, purpose="feedback")
    with pytest.raises(ConsentRequiredError):
        submit(session, key, 2)
    assert count(session, Feedback) == 1


def test_tickets_are_sequential_and_formatted(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(1)
    tickets = [submit(session, key, n).ticket for n in range(3)]
    assert all(re.fullmatch(r"GY-\d{4}-\d{6}", t) for t in tickets)
    assert [int(t[-6:]) for t in tickets] == [1, 2, 3]


def test_ticket_numbers_unique_under_concurrent_submissions(
    engine: Engine, make_resident: MakeResident
) -> None:
    keys = [make_resident(100 + i) for i in range(8)]
    start = threading.Barrier(8)

    def work(i: int) -> list[str]:
        start.wait()
        with session_scope(engine) as s:
            return [submit(s, keys[i], i * 100 + j).ticket for j in range(5)]

    with ThreadPoolExecutor(8) as pool:
        tickets = [t for batch in pool.map(work, range(8)) for t in batch]
    assert len(set(tickets)) == 40
    assert sorted(int(t[-6:]) for t in tickets) == list(range(1, 41))


def test_feedback_fields_ward_from_profile_and_category_label(
    session: Session, make_resident: MakeResident
) -> None:
    key = make_resident(1, ward="Phúc Xá, Ba Đình")
    item = submit(
        session, key, 1, category="Môi trường", photo_file_id="AgACAgUAAx", latitude=21.03, longitude=105.85
    )
    assert item.category is Category.MOI_TRUONG and item.category.label == "Môi trường"
    assert item.ward == "Phường Hồng Hà"
    assert (item.photo_file_id, item.latitude, item.longitude, item.status) == (
        "AgACAgUAAx",
        21.03,
        105.85,
        Status.MOI,
    )
    other = submit(session, key, 2, ward="hoan kiem", category="an ninh trat tu")
    assert other.ward == WARD_A and other.category is Category.AN_NINH_TRAT_TU


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"text": "x" * 4001}, "4.000"),
        ({"text": "   "}, "trống"),
        ({"category": "thời tiết"}, "Lĩnh vực"),
        ({"latitude": 21.0}, "vĩ độ"),
        ({"latitude": 200.0, "longitude": 105.0}, "Tọa độ"),
    ],
)
def test_invalid_feedback_writes_nothing(
    session: Session, make_resident: MakeResident, fields: dict[str, object], needle: str
) -> None:
    key = make_resident(1)
    with pytest.raises(InvalidInputError) as err:
        submit(session, key, 1, **fields)
    assert needle in err.value.message
    assert count(session, Feedback) == 0 and count(session, FeedbackStatusChange) == 0


def test_text_of_exactly_4000_characters_is_accepted(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(1)
    assert submit(session, key, 1, text="đ" * 4000).text == "đ" * 4000


def test_ward_is_optional_and_listed_as_unknown(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(1, ward=None)
    unknown = submit(session, key, 1)
    assert unknown.ward is None
    assert submit(session, key, 2, ward=WARD_B).ward == WARD_B
    assert [f.ward for f in feedback.list_feedback(session=session)] == [None, WARD_B]
    assert [f.ticket for f in feedback.list_feedback(session=session, filters=FeedbackFilter(ward=WARD_B))] != [
        unknown.ticket
    ]


@pytest.mark.parametrize(
    "attachment",
    [{"photo_file_id": "AgACAgIAAxkBAAIB"}, {"latitude": 21.0285, "longitude": 105.8542}],
    ids=["photo", "location"],
)
def test_photo_or_location_alone_needs_no_text(
    session: Session, make_resident: MakeResident, attachment: dict[str, object]
) -> None:
    key = make_resident(1)
    stored = submit(session, key, 1, text=None, **attachment)
    assert stored.text is None and not stored.erased
    assert submit(session, key, 2, text="   ", **attachment).text is None
    with pytest.raises(InvalidInputError, match=r"4\.000"):
        submit(session, key, 3, text="x" * 4001, **attachment)
    with pytest.raises(InvalidInputError, match="trống"):
        submit(session, key, 4, text=None)
    assert count(session, Feedback) == 2


def test_replayed_submission_is_stored_once(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(1)
    first = submit(session, key, 7)
    again = submit(session, key, 7, text="a different body delivered twice")
    assert again.ticket == first.ticket and again.text == first.text
    assert count(session, Feedback) == 1


def test_same_key_submitted_concurrently_is_stored_once(engine: Engine, make_resident: MakeResident) -> None:
    key = make_resident(1)
    start = threading.Barrier(8)

    def work(_: int) -> str:
        start.wait()
        with session_scope(engine) as s:
            return submit(s, key, 42).ticket

    with ThreadPoolExecutor(8) as pool:
        tickets = set(pool.map(work, range(8)))
    with session_scope(engine) as s:
        assert count(s, Feedback) == 1
    assert len(tickets) == 1


def test_status_workflow_history_and_notification(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(555)
    ticket = submit(session, key, 1).ticket
    result = feedback.change_status(session=session, ticket=ticket, status="tiep_nhan", actor=OFFICER)
    assert result.feedback.status is Status.TIEP_NHAN
    assert result.notification is not None and result.notification.chat_id == 555
    assert ticket in result.notification.text and "Đã tiếp nhận" in result.notification.text
    done = feedback.change_status(
        session=session, ticket=ticket, status="da_xu_ly", actor=OFFICER, comment="Đã vá xong ổ gà."
    )
    assert done.notification is not None and "Đã vá xong ổ gà." in done.notification.text
    history = feedback.status_history(session=session, ticket=ticket)
    assert [(h.old_status, h.new_status) for h in history] == [
        (None, Status.MOI),
        (Status.MOI, Status.TIEP_NHAN),
        (Status.TIEP_NHAN, Status.DA_XU_LY),
    ]
    assert history[-1].comment == "Đã vá xong ổ gà." and history[-1].actor == OFFICER.label
    audits = (
        session.execute(sa.select(AuditLog).where(col(AuditLog.action) == "status_change")).scalars().all()
    )
    assert [(a.actor, a.target, a.details["to"]) for a in audits] == [
        (OFFICER.label, ticket, "tiep_nhan"),
        (OFFICER.label, ticket, "da_xu_ly"),
    ]


@pytest.mark.parametrize(
    ("path", "refused"),
    [((), "da_xu_ly"), ((), "moi"), (("tu_choi",), "tiep_nhan"), (("tiep_nhan", "da_xu_ly"), "dang_xu_ly")],
)
def test_disallowed_transitions_are_refused(
    session: Session, make_resident: MakeResident, path: tuple[str, ...], refused: str
) -> None:
    ticket = submit(session, make_resident(1), 1).ticket
    for step in path:
        feedback.change_status(session=session, ticket=ticket, status=step, actor=OFFICER)
    before = count(session, FeedbackStatusChange)
    with pytest.raises(InvalidTransitionError):
        feedback.change_status(session=session, ticket=ticket, status=refused, actor=OFFICER)
    assert count(session, FeedbackStatusChange) == before


def test_status_change_needs_an_officer_and_a_known_ticket(
    session: Session, make_resident: MakeResident
) -> None:
    ticket = submit(session, make_resident(1), 1).ticket
    with pytest.raises(PermissionDeniedError):
        feedback.change_status(session=session, ticket=ticket, status="tiep_nhan", actor=RESIDENT_ACTOR)
    with pytest.raises(NotFoundError):
        feedback.change_status(session=session, ticket="GY-2026-999999", status="tiep_nhan", actor=ADMIN)
    with pytest.raises(InvalidInputError, match="Trạng thái"):
        feedback.change_status(session=session, ticket=ticket, status="xong", actor=ADMIN)
    assert feedback.get_feedback(session=session, ticket=ticket).status is Status.MOI


def test_replayed_status_change_is_applied_once(session: Session, make_resident: MakeResident) -> None:
    ticket = submit(session, make_resident(1), 1).ticket
    for _ in range(2):
        result = feedback.change_status(
            session=session, ticket=ticket, status="tiep_nhan", actor=OFFICER, idempotency_key="tg:update:900"
        )
        assert result.feedback.status is Status.TIEP_NHAN and result.notification is not None
    assert len(feedback.status_history(session=session, ticket=ticket)) == 2


def test_erased_author_gets_no_notification(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(1)
    ticket = submit(session, key, 1).ticket
    residents.forget(session=session, pseudonym=key)
    result = feedback.change_status(session=session, ticket=ticket, status="tiep_nhan", actor=OFFICER)
    assert result.notification is None and result.feedback.text is None and result.feedback.erased


def test_list_filters(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(1)
    a = submit(session, key, 1, category="giao_thong", ward=WARD_A)
    submit(session, key, 2, category="y_te", ward=WARD_B)
    feedback.change_status(session=session, ticket=a.ticket, status="tiep_nhan", actor=OFFICER)
    today = a.created_at.astimezone(feedback.LOCAL_TZ).date()

    def tickets(**kwargs: Any) -> list[str]:
        items = feedback.list_feedback(session=session, filters=FeedbackFilter(**kwargs))
        return [i.ticket for i in items]

    assert len(tickets()) == 2
    assert tickets(category=Category.GIAO_THONG) == [a.ticket]
    assert tickets(ward=WARD_B) != [a.ticket] and len(tickets(ward=WARD_B)) == 1
    assert tickets(status=Status.TIEP_NHAN) == [a.ticket]
    assert len(tickets(date_from=today, date_to=today)) == 2
    assert tickets(date_to=date(2000, 1, 1)) == []
    with pytest.raises(InvalidInputError):
        tickets(date_from=today, date_to=date(2000, 1, 1))


def test_residents_see_only_their_own_feedback(session: Session, make_resident: MakeResident) -> None:
    mine, other = make_resident(1), make_resident(2)
    ticket = submit(session, mine, 1).ticket
    assert (
        feedback.feedback_of_resident(session=session, pseudonym=mine, ticket=ticket.lower()).ticket == ticket
    )
    with pytest.raises(NotFoundError):
        feedback.feedback_of_resident(session=session, pseudonym=other, ticket=ticket)
    assert [f.ticket for f in feedback.my_feedback(session=session, pseudonym=mine)] == [ticket]
    assert feedback.my_feedback(session=session, pseudonym=other) == []


def test_queued_status_notifications_wait_in_the_outbox(
    session: Session, make_resident: MakeResident
) -> None:
    key = make_resident(321)
    first = submit(session, key, 1).ticket
    second = submit(session, key, 2).ticket
    direct = feedback.change_status(session=session, ticket=first, status="tiep_nhan", actor=OFFICER)
    assert direct.notification is not None
    assert notifications.take_pending_notifications(session=session) == []
    queued = feedback.change_status(session=session, ticket=second, status="tu_choi", actor=ADMIN, queue=True)
    assert queued.notification is not None
    assert notifications.take_pending_notifications(session=session) == [queued.notification]
    assert notifications.take_pending_notifications(session=session) == []


def test_erasure_drops_queued_notifications(session: Session, make_resident: MakeResident) -> None:
    key = make_resident(322)
    ticket = submit(session, key, 1).ticket
    feedback.change_status(session=session, ticket=ticket, status="tiep_nhan", actor=ADMIN, queue=True)
    residents.forget(session=session, pseudonym=key)
    assert notifications.take_pending_notifications(session=session) == []


def test_requeued_notifications_are_taken_again_unless_the_resident_was_erased(
    session: Session, make_resident: MakeResident
) -> None:
    kept, erased = make_resident(323), make_resident(324)
    for n, key in ((1, kept), (2, erased)):
        ticket = submit(session, key, n).ticket
        feedback.change_status(session=session, ticket=ticket, status="tiep_nhan", actor=ADMIN, queue=True)
    taken = notifications.take_pending_notifications(session=session)
    assert [n.chat_id for n in taken] == [323, 324]
    residents.forget(session=session, pseudonym=erased)
    assert notifications.requeue_notifications(session=session, notifications=taken) == 1
    assert notifications.take_pending_notifications(session=session) == [taken[0]]
    assert notifications.take_pending_notifications(session=session) == []
