"""Chat Vietnamese normalisation: shorthand, repeated letters, Telex leftovers, spacing, language, focus."""

from __future__ import annotations

import pytest

from bot.search.chat import (
    asks_number,
    detect_language,
    expand,
    find_focus,
    fix_spacing,
    parse_table,
    prepare,
    squeeze_repeats,
    unmet_answer,
    untelex,
)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ko bik HN co ke hoach j", "không biết Hà Nội co ke hoach gì"),
        ("mn ơi tp có ctr gì về xh ko", "mọi người ơi thành phố có chương trình gì về xã hội không"),
        ("dc hok", "được không"),
        ("MTTQ làm gì", "Mặt trận Tổ quốc làm gì"),
        ("qte vs trong nước", "quốc tế với trong nước"),
        ("bn tiền 1 vé", "bao nhiêu tiền 1 vé"),
        ("bn ơi cho hỏi", "bạn ơi cho hỏi"),
        ("tại sao v", "tại sao vậy"),
    ],
)
def test_chat_shorthand_becomes_full_words(typed: str, meant: str) -> None:
    assert expand(typed) == meant


def test_capitalised_abbreviations_are_administrative_and_lower_case_ones_chat() -> None:
    assert expand("KH năm nay") == "kế hoạch năm nay"
    assert expand("kh biết") == "không biết"
    assert expand("Ko biết") == "Không biết"


# A small formal text of the kind the bot indexes (written for this test).
FORMAL = (
    "Nâng cao chất lượng giáo dục đào tạo và phát triển nguồn nhân lực. "
    "Ủy ban nhân dân thành phố xây dựng kế hoạch riêng để triển khai. "
    "Các sở ngành xây dựng kế hoạch của ngành mình. Người dân không phải đi lại nhiều."
)


def test_an_ambiguous_shorthand_takes_the_meaning_its_neighbours_call_for() -> None:
    from bot.search.restore import Restorer

    choose = Restorer([FORMAL]).choose
    assert expand("HN mạnh về gd đt ko", choose=choose) == "Hà Nội mạnh về giáo dục đào tạo không"
    assert expand("chất lg gd thế nào", choose=choose) == "chất lượng giáo dục thế nào"
    assert expand("đề án kh riêng", choose=choose) == "đề án kế hoạch riêng"
    assert expand("tôi kh biết", choose=choose) == "tôi không biết"  # the usual meaning without evidence
    assert expand("gd tôi ở Hà Đông", choose=choose) == "gia đình tôi ở Hà Đông"
    assert expand("số đt của phường", choose=choose) == "số điện thoại của phường"
    assert expand("HN mạnh về gd đt ko") == "Hà Nội mạnh về gia đình điện thoại không"  # no chooser: usual
    assert prepare("kh của các sở ngành", choose).text == "kế hoạch của các sở ngành"


def test_a_table_line_may_list_several_meanings_the_usual_one_first() -> None:
    table = parse_table("kh = không / kế hoạch\nKH = kế hoạch\n")
    assert table.meanings["kh"] == ("không", "kế hoạch")
    assert table.folded["kh"] == "không"
    assert expand("KH năm nay", table, choose=lambda before, meanings, after: meanings[0]) == (
        "kế hoạch năm nay"  # the capitalised administrative form is not ambiguous
    )


def test_only_whole_tokens_change() -> None:
    assert expand("giá 5k một vé, hát karaoke") == "giá 5k một vé, hát karaoke"
    assert expand("v là chữ cái") == "v là chữ cái"  # "v" means "vậy" only at the end of a sentence


def test_letters_repeated_for_emphasis_are_squeezed() -> None:
    assert squeeze_repeats("nhiềuuu") == "nhiều"
    assert squeeze_repeats("quáaaa") == "quá"
    assert squeeze_repeats("xoong") == "xoong"  # a real double letter stays


def test_telex_leftovers_become_syllables_and_real_words_stay() -> None:
    assert untelex("laf") == "là"
    assert untelex("nhieeuf") == "nhiều"
    assert untelex("dduwowngf") == "đường"
    assert untelex("bus") is None
    assert untelex("nha") is None  # already a syllable


def test_missing_spaces_around_punctuation_are_restored() -> None:
    assert fix_spacing("xanh,sạch.Cho hỏi?") == "xanh, sạch. Cho hỏi?"
    assert fix_spacing("1.000 tỷ (dự kiến )") == "1.000 tỷ (dự kiến)"
    assert expand("TP.HCM co metro") == "Thành phố Hồ Chí Minh co metro"


def test_english_is_told_from_vietnamese_with_or_without_marks() -> None:
    assert detect_language("What is Hanoi doing about air pollution?") == "en"
    assert detect_language("Is there a plan for green transport") == "en"
    assert detect_language("ha noi co ke hoach gi ve giao thong") == "vi"
    assert detect_language("Hà Nội có kế hoạch gì?") == "vi"


def test_an_english_message_is_left_as_typed() -> None:
    chat = prepare("Is Hanoi planning more buses?")
    assert (chat.language, chat.text) == ("en", "Is Hanoi planning more buses?")


def test_the_question_of_a_long_story_is_its_focus() -> None:
    story = (
        "Nhà tôi ở gần sông Tô Lịch. Mùa hè nước bốc mùi kinh khủng, con tôi hay bị ho. "
        "Hàng xóm cũng kêu nhiều lắm. Không biết thành phố có kế hoạch gì để làm sạch sông không?"
    )
    assert find_focus(story) == "Không biết thành phố có kế hoạch gì để làm sạch sông không?"
    assert find_focus("Thành phố có kế hoạch gì?") == "Thành phố có kế hoạch gì?"


def test_a_closing_question_that_names_nothing_keeps_the_sentence_before_it() -> None:
    story = (
        "Nhà tôi bán hàng ăn ở chợ, dạo này vắng khách lắm. Hàng xóm nói thành phố sắp cải tạo "
        "các chợ truyền thống. Cụ thể là thế nào vậy?"
    )
    assert find_focus(story) == "Hàng xóm nói thành phố sắp cải tạo các chợ truyền thống. Cụ thể là thế nào vậy?"


def test_a_message_typed_without_marks_is_flagged_for_restoration_shorthand_aside() -> None:
    assert prepare("HN co ke hoach j ve ket xe ko").unaccented
    assert not prepare("Hà Nội có kế hoạch gì về kẹt xe?").unaccented


def test_number_questions_are_recognised_on_marks() -> None:
    assert asks_number("Hà Nội có bao nhiêu chỉ tiêu?")
    assert asks_number("Mấy năm nữa thì xong?")
    assert not asks_number("Nhà máy có phải di dời không?")


def test_may_in_a_yes_no_question_is_a_plural_not_a_number_question() -> None:
    assert asks_number("Quận này có mấy trường học?")
    assert asks_number("có mấy chỉ tiêu ạ?")
    assert not asks_number("Mấy ông cán bộ phường có biết chuyện này không?")
    assert not asks_number("Mấy tuyến xe buýt điện chạy rồi hả?")


def test_table_parses_comments_case_and_phrases() -> None:
    table = parse_table("# chú thích\nko | K = không  # ghi chú\nHN = Hà Nội\nbao h = bao giờ\n")
    assert table.folded == {"ko": "không"}
    assert table.exact == {"K": "không", "HN": "Hà Nội"}
    assert table.phrases == {("bao", "h"): "bao giờ"}


def test_administrative_abbreviations_expand_only_as_written() -> None:
    assert prepare("Hà Nội có bao nhiêu xã đạt NTM?").text == "Hà Nội có bao nhiêu xã đạt nông thôn mới?"
    assert "nông thôn" not in prepare("ntm").text  # lower case is not the abbreviation


def test_an_answer_lacking_what_the_question_asks_for_is_told() -> None:
    assert unmet_answer("Những huyện nào sẽ lên quận?", "Phấn đấu có 3 - 5 huyện phát triển thành quận.")
    assert not unmet_answer("Những huyện nào sẽ lên quận?", "Các huyện Đông Anh, Gia Lâm lên quận.")
    assert unmet_answer("Thu nhập bình quân đạt bao nhiêu USD?", "GRDP tăng 8% mỗi năm.")
    assert not unmet_answer("Thu nhập bình quân đạt bao nhiêu USD?", "thu nhập đạt 12.000 USD")
    assert unmet_answer("Nghị quyết 30 ban hành năm nào?", "Nghị quyết số 30-NQ/TW")
    assert not unmet_answer("Tầm nhìn đến năm 2045 của Thủ đô là gì?", "Thủ đô kết nối toàn cầu")


@pytest.mark.parametrize(
    ("question", "clause", "passage"),
    [
        ("Khi nào phường thu gom rác cồng kềnh?", "thu gom vào sáng chủ nhật cuối cùng của mỗi tháng", ""),
        ("Trẻ được tiêm chủng miễn phí vào ngày nào?", "tiêm chủng vào ngày 20 hằng tháng", ""),
        ("Bao giờ xong đường sắt đô thị?", "hoàn thành các tuyến đường sắt đô thị", "Đến năm 2030: hoàn thành …"),
    ],
)
def test_a_when_question_is_met_by_a_time_in_words_a_day_or_the_passages_year(
    question: str, clause: str, passage: str
) -> None:
    assert not unmet_answer(question, clause, passage)


def test_a_number_question_needs_the_thing_it_counts() -> None:
    from bot.search.chat import counted_thing

    assert counted_thing("Hà Nội sẽ lắp bao nhiêu camera giám sát?") == "camera"
    assert counted_thing("Dân số năm 2030 là bao nhiêu triệu người?") == "trieu"
    assert counted_thing("Có mấy xã đạt nông thôn mới?") == "xa"
    assert counted_thing("Mấy năm nữa thì xong?") is None  # a time span is written otherwise
    assert counted_thing("Xe máy có bao nhiêu chiếc?") is None  # a classifier; "máy" is not "mấy"
    assert counted_thing("Mấy ông cán bộ có biết không?") is None  # not a number question
    assert unmet_answer("Hà Nội sẽ lắp bao nhiêu camera?", "Phấn đấu 100% xã có hạ tầng số đến năm 2025.")
    assert not unmet_answer("Có bao nhiêu xã đạt chuẩn?", "Đến nay có 382 xã đạt chuẩn nông thôn mới.")


def test_a_when_question_without_any_time_around_is_unmet() -> None:
    assert unmet_answer("Bao giờ xong đường sắt đô thị?", "phát triển mạnh đường sắt đô thị", "Thành phố phát triển …")
