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


def test_answer_ratings_are_counted_once_per_button_press(session: Session) -> None:
    def rate(text: str, helpful: bool, press: str) -> questions.RatingView:
        return questions.record_rating(session=session, text=text, helpful=helpful, idempotency_key=press)

    assert rate("Giờ làm việc của phường?", False, "q1").not_helpful == 1
    assert rate("giờ làm việc của PHƯỜNG", True, "q2").helpful == 1
    assert rate("Giờ làm việc của phường?", False, "q1").not_helpful == 1  # the same press delivered twice
    rate("Giờ làm việc của phường", False, "q3")
    rate("Thủ tục cấp sổ đỏ?", False, "q4")
    rate("Lịch tiêm chủng", True, "q5")
    top = questions.top_unhelpful(session=session)
    assert [(r.text, r.helpful, r.not_helpful) for r in top] == [
        ("Giờ làm việc của phường?", 1, 2),
        ("Thủ tục cấp sổ đỏ?", 0, 1),
    ]
    assert questions.top_unanswered(session=session) == []  # ratings do not count as abstentions
    with pytest.raises(InvalidInputError):
        rate(" ?! ", False, "q6")
