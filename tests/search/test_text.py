"""Vietnamese text handling and question validation."""

from __future__ import annotations

import unicodedata

import pytest

from bot.search.errors import InvalidQuestionError
from bot.text import (
    clause_spans,
    normalize,
    plain_syllables,
    sentence_spans,
    strip_diacritics,
    validate_question,
)


def test_normalize_places_tone_marks_one_way() -> None:
    assert normalize("hoà bình, thuỷ lợi, khoẻ, Hoà") == "hòa bình, thủy lợi, khỏe, Hòa"
    assert normalize("quý, hoàn thành, xoá") == "quý, hoàn thành, xóa"


def test_normalize_composes_nfd_input() -> None:
    decomposed = unicodedata.normalize("NFD", "Hà Nội")
    assert normalize(decomposed) == "Hà Nội"


def test_strip_diacritics_maps_d_with_stroke() -> None:
    assert strip_diacritics("Đẩy mạnh đô thị Hà Nội") == "Day manh do thi Ha Noi"
    assert plain_syllables("Hoà Bình, 2030!") == ["hoa", "binh", "2030"]


def test_sentences_and_clauses_are_exact_spans() -> None:
    text = "Hà Nội đẩy mạnh quy hoạch; chủ động phòng chống thiên tai. Thành phố tăng cường đối ngoại.\nDòng hai."
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "Hà Nội đẩy mạnh quy hoạch; chủ động phòng chống thiên tai.",
        "Thành phố tăng cường đối ngoại.",
        "Dòng hai.",
    ]
    assert [text[a:b] for a, b in clause_spans(text, spans[0])] == [
        "Hà Nội đẩy mạnh quy hoạch;",
        "chủ động phòng chống thiên tai.",
    ]


def test_valid_question_is_normalised() -> None:
    nfd = unicodedata.normalize("NFD", "  Hà Nội   có bao nhiêu chỉ tiêu? ")
    assert validate_question(nfd) == "Hà Nội có bao nhiêu chỉ tiêu?"
    assert validate_question("ha noi co bao nhieu chi tieu") == "ha noi co bao nhieu chi tieu"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "chưa nhập câu hỏi"),
        ("   \n\t ", "chưa nhập câu hỏi"),
        ("x" * 10_000, "quá dài"),
        ("😀🎉👍", "chưa có chữ"),
        ("12345 ???", "chưa có chữ"),
        ("Как дела в Ханое?", "bằng tiếng Việt"),
        ("河内有多少个指标", "bằng tiếng Việt"),
    ],
)
def test_bad_questions_get_a_clear_vietnamese_message(text: str, expected: str) -> None:
    with pytest.raises(InvalidQuestionError) as info:
        validate_question(text)
    assert expected in info.value.message
