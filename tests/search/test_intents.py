"""Small talk and questions about the bot are told from questions about the documents."""

from __future__ import annotations

import pytest

from bot.search.chat import prepare
from bot.search.intents import detect_intent


def intent(text: str) -> str | None:
    """The intent of a message as the retriever sees it."""
    return detect_intent(prepare(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Chào bạn!", "greeting"),
        ("hello", "greeting"),
        ("cam on ban nhieu nhe", "thanks"),
        ("Cảm ơn ad", "thanks"),
        ("Bạn là ai vậy?", "about_bot"),
        ("who are you?", "about_bot"),
        ("bot ngu thế", "insult"),
        ("kể chuyện cười đi", "joke"),
        ("Bạn khỏe không?", "smalltalk"),
        ("tạm biệt nhé", "goodbye"),
    ],
)
def test_small_talk_is_recognised(text: str, expected: str) -> None:
    assert intent(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Làm sao để góp ý?", "help_feedback"),
        ("lam sao de gop y", "help_feedback"),
        ("Bỏ phiếu ở đâu?", "help_poll"),
        ("Muốn xóa dữ liệu của tôi thì làm thế nào", "help_erase"),
        ("Góp ý của tôi xử lý đến đâu rồi?", "help_follow"),
        ("Bot này dùng như thế nào?", "help"),
    ],
)
def test_questions_about_the_bots_commands_get_their_help(text: str, expected: str) -> None:
    assert intent(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Xin chào, cho mình hỏi kế hoạch giảm ô nhiễm không khí của Hà Nội",
        "Hà Nội có kế hoạch gì về giao thông công cộng?",
        "Người dân được góp ý vào quy hoạch chung của Thủ đô như thế nào?",
        "Tôi đi ngủ đây",  # "ngủ" is not the insult "ngu"
    ],
)
def test_questions_about_the_documents_are_not_small_talk(text: str) -> None:
    assert intent(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bạn có thích xem bóng đá không", "smalltalk"),
        ("Hôm nay mình mệt quá", "smalltalk"),
        ("hihi", "smalltalk"),
        ("ok cảm ơn nhé", "thanks"),
        ("vâng, hiểu rồi", "thanks"),
        ("hế lô bot", "greeting"),
        ("Bạn có phải chatgpt không?", "about_bot"),
        ("trả lời linh tinh, chẳng hiểu gì cả", "insult"),
        ("làm một bài thơ về mùa thu đi", "joke"),
    ],
)
def test_everyday_chat_beyond_set_phrases_is_small_talk(text: str, expected: str) -> None:
    assert intent(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tôi muốn gửi ảnh cái ổ gà trước cửa nhà qua bot thì làm sao?", "help_feedback"),
        ("Góp ý gửi rồi có sửa được không?", "help_feedback"),
        ("Bot có lưu số điện thoại của tôi không?", "help_erase"),
        ("Phản ánh của tôi đã có phản hồi chưa?", "help_follow"),
        ("Đã có kết quả khảo sát chưa?", "help_poll"),
    ],
)
def test_usage_questions_in_everyday_wording_get_the_bots_help(text: str, expected: str) -> None:
    assert intent(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "chào bạn, cho hỏi về metro",  # a greeting that goes on to ask is a question
        "dạ cho em hỏi kế hoạch chống ngập",
        "rác ở ngõ nhà tôi không ai dọn",
        "tiến độ dự án metro thế nào",
        "Thành phố đã lấy ý kiến người dân chưa?",
        "Đi đâu cũng thấy rác vứt bừa, khói bụi mù mịt, sông thì đen kịt.",
    ],
)
def test_everyday_questions_about_the_city_stay_questions(text: str) -> None:
    assert intent(text) is None


def test_chat_shorthand_does_not_swallow_unaccented_words() -> None:
    # "ty" (thank you) would read "tỷ" typed without marks: it is not in the table.
    assert intent("ty gia do la my hom nay") is None


@pytest.mark.parametrize("text", ["ba khau dot pha la gi", "y kien nguoi dan the nao"])
def test_one_word_phrases_with_marks_do_not_match_unaccented_words(text: str) -> None:
    # "dốt" and "đần" typed without marks read "dot" (đột) and "dan" (dân).
    assert intent(text) is None
