"""Reply formatting: escaping, the bold answering sentence, Telegram's 4,096-character limit, callback data."""

from __future__ import annotations

import pytest

from bot.telegram import format as fmt
from tests.telegram.fake_bot_api import parse_html

PASSAGE = "Hà Nội xây dựng đô thị xanh. Giao thông công cộng <tăng> 30% & hơn. Kết thúc."
SENTENCE = "Giao thông công cộng <tăng> 30% & hơn."


def test_answer_bolds_the_sentence_and_escapes_document_text() -> None:
    html = fmt.answer_message(PASSAGE, SENTENCE, "Tài liệu <A&B>", "a.txt")
    text, entities = parse_html(html)
    assert SENTENCE in text and "Tài liệu <A&B>" in text
    bold = next(e for e in entities if e["type"] == "bold")
    assert text[bold["offset"] : bold["offset"] + bold["length"]] == SENTENCE


def test_answer_without_a_matching_highlight_quotes_the_passage_plainly() -> None:
    text, entities = parse_html(fmt.answer_message(PASSAGE, "câu không có trong đoạn", "", "a.txt"))
    assert PASSAGE in text and "a.txt" in text
    assert all(e["type"] != "bold" for e in entities)


@pytest.mark.parametrize("size", [100, 5000, 20000])
def test_split_keeps_every_part_valid_and_within_the_limit(size: int) -> None:
    lines = [f"• dòng {i}: <i>{fmt.esc('ý kiến <' + str(i) + '> & thêm')}</i>" for i in range(size // 40)]
    html = "<b>Danh sách</b>\n<blockquote>" + "\n".join(lines) + "</blockquote>"
    parts = fmt.split_html(html)
    assert all(fmt.utf16_len(part) <= fmt.MAX_MESSAGE for part in parts)
    plain = "\n".join(parse_html(part)[0] for part in parts)  # each part parses on its own
    assert plain.count("ý kiến <") == len(lines)


def test_split_cuts_a_single_huge_word() -> None:
    parts = fmt.split_html("<b>" + "x" * 9000 + "</b>")
    assert len(parts) == 3 and sum(len(parse_html(p)[0]) for p in parts) == 9000


def test_callback_data_refuses_more_than_64_bytes() -> None:
    assert fmt.callback("pv", 123456789, 987654321) == "pv:123456789:987654321"
    with pytest.raises(ValueError, match="64 bytes"):
        fmt.callback("x" * 70)
