"""Everyday wording and the home city: colloquial terms reach formal text, other cities rank lower."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.search.index import build_index
from bot.search.retriever import Retriever
from bot.search.synonyms import expansions, load_rules, parse_rules
from tests.search.conftest import HashEncoder

HANOI = (
    "Giao thông Hà Nội\n"
    "Hà Nội mở rộng xe buýt điện và đường sắt đô thị để giảm ùn tắc giao thông ở trung tâm Hà Nội. "
    "Bãi đỗ xe ngầm được xây dựng thêm."
)
DANANG = HANOI.replace("Hà Nội", "Đà Nẵng")

OTHER_TOPICS = (
    "Môi trường\nThành phố trồng thêm cây xanh và cải tạo các hồ; rác thải được phân loại tại nguồn.",
    "Giáo dục\nCác trường học được xây mới, giáo viên được bồi dưỡng; học sinh học hai buổi mỗi ngày.",
    "Y tế\nBệnh viện tuyến cơ sở được nâng cấp; người dân khám chữa bệnh bằng thẻ bảo hiểm y tế.",
)


@pytest.mark.parametrize("question", ["Kẹt xe ở nội đô giải quyết sao?", "ket xe o noi do giai quyet sao"])
def test_colloquial_wording_is_expanded_with_or_without_marks(question: str) -> None:
    assert expansions(question, load_rules()) == ["ùn tắc giao thông"]


def test_table_ignores_comments_and_matches_accented_words_where_the_accent_matters() -> None:
    rules = parse_rules("# chú thích\nkẹt xe | tắc đường = ùn tắc giao thông\nmấy = bao nhiêu\n")
    assert expansions("Tắc đường mấy giờ?", rules) == ["ùn tắc giao thông", "bao nhiêu"]
    assert expansions("Mấy chục xe kẹt xe", rules) == ["ùn tắc giao thông", "bao nhiêu"]
    assert expansions("Máy lạnh bật thế nào?", rules) == []  # "máy" is not "mấy"
    assert expansions("nha may o dau", rules, accented="nhà máy ở đâu") == []
    assert expansions("tac duong may gio", rules, accented="tắc đường mấy giờ") == [
        "ùn tắc giao thông",
        "bao nhiêu",
    ]
    assert expansions("Giá vàng hôm nay?", rules) == []


def test_admin_pairs_extend_the_starter_list(tmp_path: Path) -> None:
    retriever = _retriever(tmp_path, "Hà Nội")
    question = "nhích từng mét mỗi sáng thì sao"
    assert retriever.ask(question).passages[0].source != "ha-noi.txt"
    retriever.set_extra_synonyms([("nhích từng mét", "ùn tắc giao thông đường sắt đô thị")])
    assert retriever.ask(question).passages[0].source == "ha-noi.txt"
    retriever.set_extra_synonyms([])
    assert "ùn tắc" not in " ".join(expansions(question, retriever._synonyms))


def test_the_starter_list_holds_no_rule_firing_on_a_lookalike() -> None:
    rules = load_rules()
    assert expansions("Nhà máy xả thải", rules) == []
    assert all(formal not in ("Thăng Long", "chênh lệch mức sống", "bao nhiêu") for _, formal in rules)


def _retriever(tmp_path: Path, home: str) -> Retriever:
    """A fake-encoder retriever over one Hà Nội and one Đà Nẵng traffic document."""
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir(exist_ok=True)
    (knowledge / "ha-noi.txt").write_text(HANOI, encoding="utf-8")
    (knowledge / "da-nang.txt").write_text(DANANG, encoding="utf-8")
    for n, topic in enumerate(OTHER_TOPICS):
        (knowledge / f"chu-de-{n}.txt").write_text(topic, encoding="utf-8")
    settings = Settings(
        knowledge_dir=knowledge, index_dir=tmp_path / "index", home_place=home, _env_file=None
    )
    encoder = HashEncoder()
    build_index(settings, encoder=encoder)
    return Retriever.load(settings, encoder=encoder)


def test_a_question_naming_no_city_is_answered_from_the_home_city(tmp_path: Path) -> None:
    question = "Thành phố làm gì để giảm kẹt xe?"
    assert _retriever(tmp_path, "Hà Nội").ask(question).passages[0].source == "ha-noi.txt"
    assert _retriever(tmp_path, "Đà Nẵng").ask(question).passages[0].source == "da-nang.txt"


@pytest.mark.parametrize("home", ["Thành phố Hà Nội", "TP. Hà Nội", "thành phố ha noi"])
def test_the_home_place_may_be_written_with_its_kind_of_unit(tmp_path: Path, home: str) -> None:
    # The home place as a deployer writes it: its documents must not be taken for another city's.
    assert _retriever(tmp_path, home).ask("Thành phố làm gì để giảm kẹt xe?").passages[0].source == "ha-noi.txt"


def test_a_question_naming_another_city_is_answered_from_that_city(tmp_path: Path) -> None:
    answer = _retriever(tmp_path, "Hà Nội").ask("Đà Nẵng làm gì để giảm ùn tắc giao thông?")
    assert answer.passages[0].source == "da-nang.txt"


def test_an_accented_question_is_not_matched_on_its_unaccented_form() -> None:
    # "thành phố có" stripped of marks reads "thanh pho co", like "phố cổ": only a question typed
    # without marks is matched that way.
    assert "khu phố cổ" not in expansions("Thành phố có kế hoạch gì cho nông thôn?", load_rules())
