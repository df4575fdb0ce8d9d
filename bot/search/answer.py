"""Extractive answers: the answering sentence of the best passage, named source, or an abstention."""

from __future__ import annotations

from bot.search.models import Answer, Passage

ABSTAIN_MESSAGE = (
    "Xin lỗi, các tài liệu hiện có của chương trình không đề cập đến nội dung bạn hỏi, "
    "nên tôi không thể trả lời chính xác."
)


def answer_text(passage: Passage, highlight: str) -> str:
    """Plain-text answer: the answering sentence and the source title."""
    return f"{highlight}\n\nNguồn: {passage.title}"


def make_answer(question: str, passages: list[Passage], highlight: str | None, abstained: bool) -> Answer:
    """Assemble the Answer object (abstentions still carry the passages found)."""
    if abstained or not passages or highlight is None:
        return Answer(question, True, ABSTAIN_MESSAGE, passages, None)
    return Answer(question, False, answer_text(passages[0], highlight), passages, highlight)
