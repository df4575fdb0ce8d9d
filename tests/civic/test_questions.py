"""Unanswered questions: counted by normalised text, most asked first."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.services import questions
from bot.services.errors import InvalidInputError


def test_counts_group_variants_of_the_same_question(session: Session) -> None:
    assert questions.record_unanswered(session=session, text="Giá vàng hôm nay?") == 1
    assert questions.record_unanswered(session=session, text="  giá vàng   HÔM NAY ") == 2
    assert questions.record_unanswered(session=session, text="Lịch thi đấu bóng đá") == 1
    top = questions.top_unanswered(session=session)
    assert [(q.text, q.count) for q in top] == [("Giá vàng hôm nay?", 2), ("Lịch thi đấu bóng đá", 1)]
    assert [q.count for q in questions.top_unanswered(session=session, limit=1)] == [2]


def test_blank_question_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInputError):
        questions.record_unanswered(session=session, text=" ?! ")
    assert questions.top_unanswered(session=session) == []
