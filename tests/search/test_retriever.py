"""Answers from the real corpus with the default encoder: right document, highlight, abstention."""

from __future__ import annotations

import pytest

from bot.search.answer import ABSTAIN_MESSAGE
from bot.search.errors import InvalidQuestionError
from bot.search.retriever import Retriever

REGION = "ha-noi-thu-do-phat-trien-vung.txt"
SMART = "ha-noi-do-thi-thong-minh-xanh-ben-vung.txt"


@pytest.mark.parametrize(
    ("question", "source", "expected"),
    [
        ("Hà Nội có bao nhiêu chỉ tiêu chủ yếu đến năm 2030?", REGION, "29 chỉ tiêu"),
        ("ha noi co bao nhieu chi tieu chu yeu den nam 2030", REGION, "29 chỉ tiêu"),
        ("Ba khâu đột phá của Hà Nội là gì?", SMART, "Ba khâu đột phá"),
        ("ba khau dot pha cua ha noi la gi", SMART, "Ba khâu đột phá"),
        ("Tầm nhìn đến năm 2045 của Thủ đô là gì?", REGION, "kết nối toàn cầu"),
    ],
)
def test_in_scope_questions_are_answered_from_the_right_document(
    retriever: Retriever, question: str, source: str, expected: str
) -> None:
    answer = retriever.ask(question)
    assert not answer.abstained
    top = answer.passages[0]
    assert top.source == source
    assert expected in top.text
    assert answer.highlight is not None and answer.highlight in top.text
    assert answer.highlight in answer.answer and top.title in answer.answer
    assert [p.score for p in answer.passages] == sorted((p.score for p in answer.passages), reverse=True)


@pytest.mark.parametrize(
    "question",
    ["Giá vàng hôm nay bao nhiêu?", "thoi tiet ha noi ngay mai", "Real Madrid đá với Barcelona khi nào?"],
)
def test_out_of_scope_questions_abstain_but_still_return_passages(
    retriever: Retriever, question: str
) -> None:
    answer = retriever.ask(question, top_k=3)
    assert answer.abstained
    assert answer.answer == ABSTAIN_MESSAGE and "không đề cập" in answer.answer
    assert answer.highlight is None
    assert len(answer.passages) == 3


def test_top_k_bounds_the_passages(retriever: Retriever) -> None:
    assert len(retriever.ask("chuyển đổi số", top_k=1).passages) == 1
    assert len(retriever.ask("chuyển đổi số", top_k=50).passages) == len(retriever.chunks)


def test_invalid_question_raises_with_a_message(retriever: Retriever) -> None:
    with pytest.raises(InvalidQuestionError):
        retriever.ask("🙂🙂")


def test_hue_is_a_place_only_with_its_marks() -> None:
    from bot.search.names import dominant_place

    assert dominant_place("Huế phấn đấu đến năm 2045 trở thành thành phố thế nào?") == ("hue",)
    assert dominant_place("Thừa Thiên Huế có gì mới") == ("hue",)
    assert dominant_place("Thua Thien Hue co gi moi") == ("hue",)  # the longer name also without marks
    assert dominant_place("Thành phố Huế và Huế") == ("hue",)
    assert dominant_place("Sài Gòn, Thành phố Hồ Chí Minh, Sài Gòn") == ("ho", "chi", "minh")
    assert dominant_place("Hà Nội và Huế, Hà Nội") == ("ha", "noi")
    assert dominant_place("chợ hoa huệ") is None
