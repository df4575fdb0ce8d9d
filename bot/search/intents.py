"""Messages that are not questions about the documents: small talk and questions about using the bot.

The phrases live in intents_vi.txt. A message is small talk when, once its small-talk phrases and
filler words are taken out, almost nothing is left ("chào bạn" yes; "chào bạn, metro chạy đến đâu
rồi" no), and a greeting or thanks that goes on to ask ("cho hỏi", "?") is a question. It asks about
the bot's own commands when it names one (góp ý, bỏ phiếu, xóa dữ liệu, theo dõi) with a "how do I" cue
and little else; a message that speaks of the bot itself ("qua bot", "ở đây", "trên này") may say more.
Matching uses marks when the message has them; typed without marks, one-word phrases with marks are
skipped ("dốt" would match "đột").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from bot.search.chat import ChatQuestion
from bot.text import has_diacritics, strip_diacritics, syllables

SMALL_TALK = ("about_bot", "insult", "joke", "smalltalk", "thanks", "goodbye", "greeting")  # by priority
HELP = ("help_erase", "help_follow", "help_poll", "help_feedback", "help")  # by priority
HOW = "how"
ADDRESSED = "addressed"  # the message speaks of the bot itself ("qua bot", "ở đây", "trên này")
CUES = (HOW, ADDRESSED)
MAX_LEFT_SMALL_TALK = 2
MAX_LEFT_ABOUT_BOT = 4  # "bot ngu thế, trả lời chẳng đúng gì cả" is still an insult
MAX_LEFT_HELP = 4
MAX_LEFT_HELP_ADDRESSED = 8  # "tôi muốn gửi ảnh chỗ ổ gà trước cửa nhà qua bot thì làm sao"
ROOMY = ("about_bot", "insult", "smalltalk")  # a personal question to the bot may name what it is about
ASKING = frozenset(["hỏi", "?"])  # "chào bạn, cho hỏi về metro" is a question, not a greeting
MAX_SYLLABLES = 30
FILLERS = frozenset(
    [
        "tôi",
        "mình",
        "em",
        "anh",
        "chị",
        "bạn",
        "muốn",
        "thì",
        "để",
        "cho",
        "hỏi",
        "về",
        "với",
        "có",
        "không",
        "là",
        "gì",
        "nào",
        "được",
        "ạ",
        "nhé",
        "nha",
        "ơi",
        "vậy",
        "sao",
        "làm",
        "ở",
        "đâu",
        "thế",
        "như",
        "bot",
        "quản",
        "trị",
        "viên",
        "xin",
        "cần",
        "phải",
        "ai",
        "một",
        "cái",
        "này",
        "của",
        "nữa",
        "rồi",
        "chưa",
        "đi",
        "à",
        "hả",
        "chứ",
        "và",
        "hay",
        "lại",
        "gửi",
        "mọi",
        "người",
        "thử",
        "nhỉ",
        "đã",
        "luôn",
        "lắm",
        "quá",
        "nhiều",
        "rất",
        "thật",
        "tham",
        "gia",
        "cả",
        "ad",
        "admin",
        "i",
        "to",
        "do",
        "how",
        "can",
        "a",
        "my",
        "the",
        "you",
        "me",
        "is",
        "are",
        "please",
        "where",
        "what",
        "it",
    ]
)


@dataclass(frozen=True, eq=False)  # hashed by identity: its phrase order is cached
class IntentTable:
    """Phrases (syllable tuples, with marks) by intent."""

    phrases: dict[str, tuple[tuple[str, ...], ...]]


def parse_intents(text: str) -> IntentTable:
    """Parse "intent: phrase | phrase" lines (# comments)."""
    phrases: dict[str, list[tuple[str, ...]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        name, rest = (part.strip() for part in line.split(":", 1))
        for phrase in rest.split("|"):
            sylls = tuple(phrase.strip().lower().split())
            if sylls:
                phrases.setdefault(name, []).append(sylls)
    return IntentTable({k: tuple(sorted(v, key=len, reverse=True)) for k, v in phrases.items()})


@lru_cache(maxsize=1)
def intent_table() -> IntentTable:
    """The table shipped with the package."""
    text = resources.files("bot.search").joinpath("intents_vi.txt").read_text(encoding="utf-8")
    return parse_intents(text)


def _words(text: str) -> list[str]:
    """Lower-case words of the message, keeping a leading slash of commands."""
    out: list[str] = []
    for token in text.lower().replace("/ ", "/").split():
        if token.startswith("/") and len(token) > 1:
            out.append(token.rstrip(".,!?"))
        else:
            out.extend(syllables(token))
    return out


@lru_cache(maxsize=8)
def _ordered(table: IntentTable, folding: bool) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(intent, phrase) pairs, longest phrase first, folded to no marks when the message has none.

    Typed without marks, a one-word phrase with marks is ambiguous ("dốt"/"đột", "đần"/"dân"): left out.
    """
    fold = strip_diacritics if folding else (lambda s: s)
    pairs = [
        (name, tuple(fold(s) for s in p))
        for name, ps in table.phrases.items()
        for p in ps
        if not (folding and len(p) == 1 and has_diacritics(p[0]))
    ]
    return tuple(sorted(pairs, key=lambda item: len(item[1]), reverse=True))


def detect_intent(chat: ChatQuestion, table: IntentTable | None = None) -> str | None:
    """The intent of a message that is not a question about the documents, else None."""
    table = table or intent_table()
    words = _words(chat.text)
    if not words or len(words) > MAX_SYLLABLES:
        return None
    folding = chat.unaccented or chat.language == "en"
    fold = strip_diacritics if folding else (lambda s: s)
    seq = [fold(w) for w in words]
    used = [False] * len(seq)
    found: set[str] = set()
    present = set(seq)
    for name, phrase in _ordered(table, folding):
        if phrase[0] not in present:
            continue
        size = len(phrase)
        for i in range(len(seq) - size + 1):
            if not any(used[i : i + size]) and tuple(seq[i : i + size]) == phrase:
                used[i : i + size] = [True] * size
                found.add(name)
    fillers = {fold(f) for f in FILLERS}
    left = sum(1 for w, u in zip(seq, used, strict=True) if not u and w not in fillers and not w.isdigit())
    help_limit = MAX_LEFT_HELP_ADDRESSED if ADDRESSED in found else MAX_LEFT_HELP
    for name in HELP:
        if name in found and (HOW in found or left == 0) and left <= help_limit:
            return name
    asks = any(fold(w) in ASKING for w in seq) or "?" in chat.text
    for name in SMALL_TALK:
        limit = MAX_LEFT_ABOUT_BOT if name in ROOMY else MAX_LEFT_SMALL_TALK
        if name not in ROOMY and asks and left > 0:
            continue  # a greeting or thanks that goes on to ask something is a question
        if name in found and left <= limit:
            return name
    return None
