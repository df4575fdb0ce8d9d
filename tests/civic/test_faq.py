"""Staff answers, linked unanswered asks and admin synonyms on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import NotificationAddress, OutboxNotification, UnansweredAsk, UnansweredQuestion
from bot.services import faq, questions, residents, synonyms
from bot.services.addresses import AddressBook
from bot.services.audit import AuditAction, list_audit
from bot.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from bot.services.residents import Purpose
from tests.civic.conftest import ADMIN, OFFICER, SECRET, MakeResident

LIBRARY = "Thư viện quận mở cửa mấy giờ?"


def outbox(session: Session) -> list[tuple[int, str]]:
    """(chat id, text) of every queued notification (the chat id opened from the resident's sealed address)."""
    rows = session.execute(
        sa.select(col(NotificationAddress.sealed), col(OutboxNotification.text))
        .join(NotificationAddress, col(NotificationAddress.resident_id) == col(OutboxNotification.resident_id))
        .order_by(col(OutboxNotification.id))
    ).all()
    book = AddressBook(SECRET)
    return [(book.open(sealed) or 0, text) for sealed, text in rows]


def refs_of(session: Session, *texts: str) -> list[str]:
    """The /chuatraloi refs of pending questions with these texts, in the given order."""
    pending = {q.text: q.ref for q in faq.pending_questions(session=session, actor=ADMIN)}
    return [pending[t] for t in texts]


def test_an_entry_is_added_listed_and_removed_with_audit(session: Session) -> None:
    entry = faq.add_entry(
        session=session, actor=ADMIN, question="  Thư viện  mở cửa mấy giờ? ", answer="Từ 8h đến 20h.", source=""
    )
    assert (entry.question, entry.source) == ("Thư viện mở cửa mấy giờ?", None)
    assert [e.id for e in faq.list_entries(session=session)] == [entry.id]
    removed = faq.remove_entry(session=session, actor=ADMIN, faq_id=entry.id)
    assert removed.answer == "Từ 8h đến 20h." and faq.list_entries(session=session) == []
    actions = [(a.action, a.target) for a in list_audit(session=session)]
    assert actions[:2] == [(AuditAction.FAQ_REMOVE, f"faq:{entry.id}"), (AuditAction.FAQ_ADD, f"faq:{entry.id}")]
    with pytest.raises(NotFoundError):
        faq.remove_entry(session=session, actor=ADMIN, faq_id=entry.id)


@pytest.mark.parametrize(("question", "answer"), [("", "x"), ("x", "  "), ("x" * 1001, "y"), ("x", "y" * 3501)])
def test_blank_or_huge_entries_are_refused(session: Session, question: str, answer: str) -> None:
    with pytest.raises(InvalidInputError):
        faq.add_entry(session=session, actor=ADMIN, question=question, answer=answer)
    assert faq.list_entries(session=session) == []


def test_only_admins_manage_answers_and_synonyms(session: Session) -> None:
    with pytest.raises(PermissionDeniedError):
        faq.add_entry(session=session, actor=OFFICER, question="a?", answer="b")
    with pytest.raises(PermissionDeniedError):
        faq.pending_questions(session=session, actor=OFFICER)
    with pytest.raises(PermissionDeniedError):
        synonyms.add_synonym(session=session, actor=OFFICER, everyday="kẹt xe", formal="ùn tắc giao thông")


def test_csv_round_trip_neutralises_formulas_and_keeps_vietnamese(session: Session) -> None:
    faq.add_entry(
        session=session, actor=ADMIN, question="=1+1 là gì?", answer="Dòng 1\nDòng 2, có dấu phẩy", source="@nguồn"
    )
    text = faq.export_csv(session=session)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["question", "answer", "source", "created"]
    assert rows[1][:3] == ["'=1+1 là gì?", "Dòng 1\nDòng 2, có dấu phẩy", "'@nguồn"]
    faq.remove_entry(session=session, actor=ADMIN, faq_id=faq.list_entries(session=session)[0].id)
    report = faq.import_csv(session=session, actor=ADMIN, text="\ufeff" + text)
    assert (report.added, report.updated) == (1, 0)
    (entry,) = faq.list_entries(session=session)
    assert (entry.question, entry.answer, entry.source) == ("=1+1 là gì?", "Dòng 1\nDòng 2, có dấu phẩy", "@nguồn")
    again = faq.import_csv(session=session, actor=ADMIN, text=text.replace("có dấu phẩy", "đã sửa"))
    assert (again.added, again.updated) == (0, 1)
    assert faq.list_entries(session=session)[0].answer == "Dòng 1\nDòng 2, đã sửa"


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(session: Session) -> None:
    text = (
        "question,answer,source,created\n"
        'Hỏi một?,"Trả lời\nhai dòng",,2026-01-02\n'  # lines 2-3
        ",Thiếu câu hỏi,,\n"  # line 4
        "Hỏi hai?,Đáp,,31/02/2026\n"  # line 5
        "Hỏi ba?,Đáp,,,thừa cột\n"  # line 6
        "Hỏi bốn?,Đáp hợp lệ,,02/12/2026\n"
    )
    with pytest.raises(InvalidInputError) as error:
        faq.import_csv(session=session, actor=ADMIN, text=text)
    message = error.value.message
    assert "Dòng 4:" in message and "Dòng 5:" in message and "Dòng 6:" in message
    assert "Dòng 2" not in message and "Dòng 7" not in message
    assert faq.list_entries(session=session) == []
    with pytest.raises(InvalidInputError, match="tiêu đề"):
        faq.import_csv(session=session, actor=ADMIN, text="Hỏi?,Đáp\n")


def test_a_consenting_askers_question_is_linked_others_are_counted_anonymously(
    session: Session, make_resident: MakeResident
) -> None:
    consenting = make_resident(5001)
    silent = make_resident(5002, purposes=(Purpose.FEEDBACK,))
    for key in (consenting, consenting, silent, None):
        questions.record_unanswered(session=session, text=LIBRARY, pseudonym=key)
    (row,) = session.execute(sa.select(UnansweredQuestion)).scalars()
    assert row.count == 4
    links = session.execute(sa.select(UnansweredAsk)).scalars().all()
    assert [(link.asks, link.notified_at) for link in links] == [(2, None)]


def test_answering_a_group_notifies_each_consenting_asker_once_and_replays_safely(
    session: Session, make_resident: MakeResident
) -> None:
    first, second, declined = make_resident(5101), make_resident(5102), make_resident(5103)
    residents.withdraw_consent(session=session, pseudonym=declined, purpose=Purpose.NOTIFICATIONS)
    paraphrase = "giờ mở cửa của thư viện là khi nào"
    questions.record_unanswered(session=session, text=LIBRARY, pseudonym=first)
    questions.record_unanswered(session=session, text=paraphrase, pseudonym=first)  # same group twice
    questions.record_unanswered(session=session, text=paraphrase, pseudonym=second)
    questions.record_unanswered(session=session, text=paraphrase, pseudonym=declined)
    questions.record_rating(session=session, text="Thư viện có mở cuối tuần không?", helpful=False, idempotency_key=None)
    refs = refs_of(session, paraphrase, LIBRARY, "Thư viện có mở cuối tuần không?")
    result = faq.answer_group(
        session=session, actor=ADMIN, refs=refs, answer="Từ 8 giờ đến 20 giờ, cả cuối tuần.",
        source="Thông báo 12/TB", idempotency_key="tg:1:cbq:42",
    )
    assert (result.linked, result.notified) == (3, 2)
    assert result.entry.question == paraphrase and set(result.entry.variants) == {LIBRARY, "Thư viện có mở cuối tuần không?"}
    sent = outbox(session)
    assert sorted(chat for chat, _ in sent) == [5101, 5102]
    assert "Từ 8 giờ đến 20 giờ" in sent[0][1] and "Nguồn: Thông báo 12/TB" in sent[0][1]
    assert all(f"«{paraphrase}»" in text for _, text in sent)  # each resident's own latest wording
    replay = faq.answer_group(
        session=session, actor=ADMIN, refs=refs, answer="Từ 8 giờ đến 20 giờ, cả cuối tuần.",
        idempotency_key="tg:1:cbq:42",
    )
    assert replay.entry.id == result.entry.id and len(faq.list_entries(session=session)) == 1
    second_answer = faq.answer_group(session=session, actor=ADMIN, refs=refs[:1], answer="Sửa lại: 8h-21h.")
    assert second_answer.notified == 0 and len(outbox(session)) == 2  # every asker was already told once
    assert faq.pending_questions(session=session, actor=ADMIN) == []
    with pytest.raises(NotFoundError):
        faq.answer_group(session=session, actor=ADMIN, refs=["u999999"], answer="x")
    with pytest.raises(InvalidInputError):
        faq.answer_group(session=session, actor=ADMIN, refs=["drop table"], answer="x")


def test_an_answered_question_comes_back_when_asked_again_or_its_entry_is_removed(session: Session) -> None:
    rated = "Thư viện có wifi không?"
    questions.record_unanswered(session=session, text=LIBRARY)
    questions.record_rating(session=session, text=rated, helpful=False, idempotency_key=None)
    refs = refs_of(session, LIBRARY, rated)
    faq.answer_group(session=session, actor=ADMIN, refs=refs, answer="8h-20h, có wifi.")
    questions.record_rating(session=session, text=rated, helpful=True, idempotency_key=None)
    assert faq.pending_questions(session=session, actor=ADMIN) == []  # a 👍 since is no reason to answer again
    questions.record_rating(session=session, text=rated, helpful=False, idempotency_key=None)
    assert [q.text for q in faq.pending_questions(session=session, actor=ADMIN)] == [rated]  # a new 👎 is
    result = faq.answer_group(session=session, actor=ADMIN, refs=refs_of(session, rated), answer="Có wifi miễn phí.")
    assert faq.pending_questions(session=session, actor=ADMIN) == []
    faq.remove_entry(session=session, actor=ADMIN, faq_id=result.entry.id)
    assert [q.text for q in faq.pending_questions(session=session, actor=ADMIN)] == [rated]


def test_erasure_removes_linked_questions_and_keeps_anonymous_counts(
    session: Session, make_resident: MakeResident
) -> None:
    leaving, staying = make_resident(5201), make_resident(5202)
    only_mine = "Chung cư nhà tôi ở ngõ 12 có bị phá dỡ không?"
    questions.record_unanswered(session=session, text=only_mine, pseudonym=leaving)
    for key in (leaving, leaving, staying, None):
        questions.record_unanswered(session=session, text=LIBRARY, pseudonym=key)
    faq.answer_group(session=session, actor=ADMIN, refs=refs_of(session, only_mine), answer="Chưa có kế hoạch.")
    residents.forget(session=session, pseudonym=leaving, actor=ADMIN)
    counts = {r.text: r.count for r in session.execute(sa.select(UnansweredQuestion)).scalars()}
    assert counts == {LIBRARY: 2}  # the other resident's linked ask and the anonymous one
    assert faq.list_entries(session=session)[0].variants == ()  # the erased resident's wording is gone
    assert [link.asks for link in session.execute(sa.select(UnansweredAsk)).scalars()] == [1]


def test_synonyms_are_added_listed_removed_and_audited(session: Session) -> None:
    rule = synonyms.add_synonym(session=session, actor=ADMIN, everyday=" Kẹt  xe ", formal="ùn tắc giao thông")
    assert (rule.everyday, rule.formal) == ("kẹt xe", "ùn tắc giao thông")
    with pytest.raises(InvalidInputError, match="Đã có"):
        synonyms.add_synonym(session=session, actor=ADMIN, everyday="kẹt xe", formal="ùn tắc giao thông")
    for everyday, formal in (("", "x"), ("a = b", "c"), ("kẹt xe", "ket xe"), ("😀", "ùn tắc")):
        with pytest.raises(InvalidInputError):
            synonyms.add_synonym(session=session, actor=ADMIN, everyday=everyday, formal=formal)
    assert [r.id for r in synonyms.list_synonyms(session=session)] == [rule.id]
    synonyms.remove_synonym(session=session, actor=ADMIN, rule_id=rule.id)
    assert synonyms.list_synonyms(session=session) == []
    with pytest.raises(NotFoundError):
        synonyms.remove_synonym(session=session, actor=ADMIN, rule_id=rule.id)
    actions = [a.action for a in list_audit(session=session)][:2]
    assert actions == [AuditAction.SYNONYM_REMOVE, AuditAction.SYNONYM_ADD]


def test_the_generation_changes_with_every_change(session: Session) -> None:
    seen = [faq.knowledge_generation(session=session)]
    entry = faq.add_entry(session=session, actor=ADMIN, question="a?", answer="b")
    seen.append(faq.knowledge_generation(session=session))
    rule = synonyms.add_synonym(session=session, actor=ADMIN, everyday="kẹt xe", formal="ùn tắc")
    seen.append(faq.knowledge_generation(session=session))
    synonyms.remove_synonym(session=session, actor=ADMIN, rule_id=rule.id)
    seen.append(faq.knowledge_generation(session=session))
    faq.remove_entry(session=session, actor=ADMIN, faq_id=entry.id)
    seen.append(faq.knowledge_generation(session=session))
    assert all(a != b for a, b in itertools.pairwise(seen))
