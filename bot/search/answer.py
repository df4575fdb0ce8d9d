"""Extractive answers: the answering sentence of the best passage, named source, or an abstention."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.search.models import Answer, Passage

if TYPE_CHECKING:
    from bot.search.faq import FaqHit

ABSTAIN_MESSAGE = (
    "Xin lỗi, các tài liệu hiện có của chương trình không đề cập đến nội dung bạn hỏi, "
    "nên tôi không thể trả lời chính xác."
)

SMALL_TALK_MESSAGE = "Chào bạn! Mình là trợ lý hỏi đáp về chương trình của thành phố. Bạn cứ gõ câu hỏi nhé."
HELP_MESSAGE = "Bạn gõ /help để xem các lệnh: /gopy (góp ý), /khaosat (khảo sát), /theodoi, /xoadulieu."


def answer_text(passage: Passage, highlight: str) -> str:
    """Plain-text answer: the answering sentence and the source title."""
    return f"{highlight}\n\nNguồn: {passage.title}"


def make_answer(
    question: str, passages: list[Passage], highlight: str | None, abstained: bool, *, language: str = "vi"
) -> Answer:
    """Assemble the Answer object (abstentions still carry the passages found)."""
    if abstained or not passages or highlight is None:
        return Answer(question, True, ABSTAIN_MESSAGE, passages, None, language)
    return Answer(question, False, answer_text(passages[0], highlight), passages, highlight, language)


def small_talk_answer(question: str, intent: str, language: str = "vi") -> Answer:
    """Small talk or a question about the bot: no passage; the bot replies with its own words."""
    reply = HELP_MESSAGE if intent.startswith("help") else SMALL_TALK_MESSAGE
    return Answer(question, True, reply, [], None, language, intent)


def staff_answer(question: str, hit: FaqHit, language: str = "vi") -> Answer:
    """A staff answer (FAQ) that matched the question: the reply is the entry's answer, no passage."""
    return Answer(question, False, hit.entry.answer, [], None, language, staff=hit)
