"""Chat Vietnamese → written Vietnamese before retrieval.

Steps, in order: spacing around punctuation; the language (an English message is left as typed);
chat shorthand from chat_vi.txt (whole tokens, "ko" → "không", "HN" → "Hà Nội"; a form with several
meanings takes the one its neighbours make likely, see Restorer.choose); letters repeated for
emphasis ("nhiềuuu" → "nhiều"); Telex leftovers ("laf" → "là", "nhieeuf" → "nhiều"). A repaired word
must be a real Vietnamese syllable (underthesea's word list), so ordinary words are never "repaired".
`find_focus` picks the question out of a long message that tells a story first.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from bot.text import has_diacritics, normalize, plain_syllables, strip_diacritics, syllables

_TOKEN_RE = re.compile(r"\w+(?:[.\-]\w+)*|[^\w\s]", re.UNICODE)
_NO_SPACE_BEFORE = re.compile(r" ([,.;:!?)\]…])")
_NO_SPACE_AFTER = re.compile(r"([(\[]) ")
_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]*|\n")
_TONE_KEYS = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323"}
_TELEX_PAIRS = (("dd", "đ"), ("aa", "â"), ("ee", "ê"), ("oo", "ô"), ("uow", "ươ"), ("uw", "ư"), ("ow", "ơ"),
                ("aw", "ă"))  # fmt: skip
_VOWELS = "aăâeêioôơuưy"
_MODIFIED = "ăâêôơư"
# English words a Vietnamese message often carries, that Telex would otherwise turn into a syllable.
_LOANWORDS = frozenset(
    [
        "bus",
        "gas",
        "yes",
        "has",
        "was",
        "is",
        "as",
        "us",
        "this",
        "its",
        "his",
        "visa",
        "sms",
        "wifi",
        "app",
        "web",
        "email",
        "ok",
    ]
)
# Words that mark an English question (none of them is a Vietnamese syllable).
_ENGLISH = frozenset(
    [
        "what",
        "which",
        "when",
        "where",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "the",
        "of",
        "for",
        "with",
        "about",
        "there",
        "any",
        "plan",
        "plans",
        "city",
        "please",
        "hello",
        "thanks",
        "thank",
        "you",
        "your",
        "my",
        "me",
        "it",
        "this",
        "that",
        "these",
        "those",
        "have",
        "has",
        "been",
        "being",
        "from",
        "into",
        "by",
        "get",
        "will",
        "people",
        "public",
        "government",
        "green",
        "smart",
        "transport",
        "traffic",
        "metro",
        "air",
        "pollution",
        "housing",
    ]
)
# Diacritic-stripped cues of a question sentence (a question mark is one too).
_QUESTION_CUES = (
    "gi", "bao nhieu", "bao gio", "khi nao", "the nao", "ra sao", "o dau", "tai sao", "vi sao", "lam sao",
    "co phai", "khong", "chua", "ai", "hoi", "muon biet", "lieu", "nao", "khong a", "the a", "nhi",
)  # fmt: skip
# Diacritic-stripped cues of a question asking for a number, an amount or a date.
_NUMBER_CUES = ("bao nhieu", "nam nao", "bao gio", "khi nao", "ty le", "phan tram", "how many",
                "how much", "when", "what year")  # fmt: skip
# Diacritic-stripped sentence-final particles of a yes/no question (general usage).
_YES_NO_TAILS = frozenset(["không", "chưa", "hả", "à", "chứ", "nhỉ", "hông", "hở"])
# Diacritic-stripped cues of a question asking for a date or a year: the answer must hold one.
_DATE_CUES = ("nam nao", "bao gio", "khi nao", "ngay nao", "thang nao", "luc nao", "thoi diem nao",
              "when", "what year")  # fmt: skip
# Units a question may ask its number in (diacritic-stripped cue → forms the answer would write).
_UNITS = {
    "usd": ("usd", "do la", "$"), "phan tram": ("%", "phan tram"),  # not "do la": "thủ đô là"
    "km": ("km", "ki lo met", "cay so"), "cay so": ("km", "ki lo met", "cay so"), "hec ta": ("ha", "hec ta"),
    "ty dong": ("ty",), "nghin ty": ("ty",), "trieu dong": ("trieu",), "m2": ("m2", "met vuong"),
    "met vuong": ("m2", "met vuong"), "percent": ("%", "phan tram"),
}  # fmt: skip
# Kinds of thing whose answer is a name ("huyện nào", "những nhà máy nào"): the answer must name one.
_NAMED_KINDS = ("huyen", "quan", "xa", "phuong", "tinh", "thanh pho", "nha may", "truong", "benh vien",
                "cong ty", "doanh nghiep", "du an", "tuyen", "duong", "cau", "khu", "co so", "which")  # fmt: skip
# Diacritic-stripped words after "bao nhiêu" / "mấy" that do not name what is counted: classifiers,
# time spans, money and people, which an answer writes in other words ("mấy năm" → "đến 2030").
_NOT_COUNTED = frozenset(
    ["cai", "con", "chiec", "thu", "loai", "lan", "nam", "ngay", "thang", "tuan", "gio", "tuoi", "tien",
     "phan", "muc", "so", "nguoi", "dong", "ty", "nghin", "van", "khoang", "thi", "la", "the", "vay", "a",
     "ha", "nhi", "nua", "roi", "duoc", "co", "khong", "chua", "tat", "ca", "cac", "nhung", "dau"]
)  # fmt: skip
_YEAR_RE = re.compile(r"\b(19|20)\d\d\b|\b\d{1,2}/\d{1,2}\b")
# A time written in words or as a day, month or hour number (diacritic-stripped), which answers "when"
# as well as a year: "chủ nhật cuối cùng của mỗi tháng", "hằng năm", "ngày 20", "từ 6 giờ".
_TIME_RE = re.compile(
    r"\b(?:ngay|thang|quy|gio|tuan)\s+\d|\bchu nhat\b|\bthu (?:hai|ba|tu|nam|sau|bay)\b"
    r"|\b(?:hang|moi) (?:ngay|tuan|thang|quy|nam)\b|\b(?:cuoi|dau) (?:tuan|thang|nam)\b"
)
# Diacritic-stripped words that frame a question without saying what it is about (general usage).
_FRAME = frozenset(
    ["cu", "the", "la", "gi", "nao", "vay", "sao", "ra", "co", "khong", "cho", "hoi", "toi", "minh", "em",
     "anh", "chi", "ban", "a", "nhe", "nhi", "xin", "duoc", "chua", "nhu", "day", "ay", "ha", "biet", "muon",
     "ai", "o", "dau", "khi", "bao", "gio", "nhieu", "thi"]
)  # fmt: skip
MIN_FOREIGN = 0.25  # share of non-Vietnamese words an English message has at least
FOCUS_MIN_SYLLABLES = 25
MAX_MARKED_SHARE = 0.2


@dataclass(frozen=True)
class ChatQuestion:
    """A resident's message made ready for retrieval."""

    text: str  # the whole message, normalised
    focus: str  # the sentence(s) that ask (the whole text for a short message)
    language: str  # "vi" or "en"
    unaccented: bool  # typed without diacritics (shorthand aside): worth restoring


@dataclass(frozen=True)
class ShorthandTable:
    """Chat shorthand: exact (capitalised) forms, case-insensitive forms, multi-token forms."""

    exact: dict[str, str]
    folded: dict[str, str]
    phrases: dict[tuple[str, ...], str]
    # Forms with several common meanings ("kh = không / kế hoạch"): all meanings, the usual one first.
    meanings: dict[str, tuple[str, ...]] = field(default_factory=dict)


# Picks one meaning of an ambiguous form: (words before it, its meanings, what the next token can mean).
Chooser = Callable[[Sequence[str], Sequence[str], Sequence[str]], str]


def parse_table(text: str) -> ShorthandTable:
    """Parse "short | short = full" lines (# comments)."""
    exact: dict[str, str] = {}
    folded: dict[str, str] = {}
    phrases: dict[tuple[str, ...], str] = {}
    meanings: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" not in line:
            continue
        left, right = (part.strip() for part in line.split("=", 1))
        options = tuple(o.strip() for o in right.split(" / ") if o.strip())
        full = options[0]
        for short in (s.strip() for s in left.split("|")):
            short = normalize(short)
            if len(options) > 1:
                meanings[short] = options  # capitalised as written, else already lower case
            if " " in short:
                phrases[tuple(short.lower().split())] = full
            elif short != short.lower():
                exact[short] = full
            elif short:
                folded[short] = full
    return ShorthandTable(exact, folded, phrases, meanings)


@lru_cache(maxsize=1)
def shorthand_table() -> ShorthandTable:
    """The table shipped with the package."""
    return parse_table(resources.files("bot.search").joinpath("chat_vi.txt").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def vietnamese_syllables() -> frozenset[str]:
    """Lower-case syllables (with marks) of underthesea's Vietnamese word list."""
    from bot.text import _underthesea

    module = _underthesea()
    path = resources.files(module.__name__).joinpath("corpus", "data", "Viet74K.txt")
    out: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        out.update(normalize(w) for w in line.lower().split() if w.isalpha())
    return frozenset(out)


@lru_cache(maxsize=1)
def plain_vietnamese_syllables() -> frozenset[str]:
    """The same syllables with diacritics stripped."""
    return frozenset(strip_diacritics(s) for s in vietnamese_syllables())


def is_syllable(word: str) -> bool:
    """True if the word is a Vietnamese syllable (compared without marks when typed without marks)."""
    low = normalize(word.lower())
    return low in vietnamese_syllables() if has_diacritics(low) else low in plain_vietnamese_syllables()


def tokens(text: str) -> list[str]:
    """Words (with inner dots or hyphens: TP.HCM, kt-xh, 1.000) and punctuation marks, in order."""
    out: list[str] = []
    for token in _TOKEN_RE.findall(text):
        if "." in token and not any(ch.isdigit() for ch in token) and token not in _known_dotted():
            for part in token.split("."):
                out.extend([part, "."] if part else ["."])
            out.pop()
        else:
            out.append(token)
    return out


def join_tokens(parts: list[str]) -> str:
    """Tokens back to text: one space between words, none before , . ; : ! ? or inside brackets."""
    joined = " ".join(p for p in parts if p)
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", joined))


def fix_spacing(text: str) -> str:
    """One space between words and after punctuation ("nhé.Cho hỏi" → "nhé. Cho hỏi")."""
    return join_tokens(tokens(text))


@lru_cache(maxsize=1)
def _known_dotted() -> frozenset[str]:
    """Shorthand forms that contain a dot (TP.HCM)."""
    table = shorthand_table()
    return frozenset(k for k in [*table.exact, *table.folded] if "." in k)


def _base(ch: str) -> str:
    """A letter without marks, lower-cased."""
    return strip_diacritics(ch).lower()


def squeeze_repeats(word: str) -> str:
    """Letters repeated three times or more for emphasis become one ("nhiềuuu" → "nhiều")."""
    out: list[str] = []
    run = 0
    for ch in word:
        same = bool(out) and _base(ch) == _base(out[-1])
        run = run + 1 if same else 1
        if run >= 3:
            continue
        out.append(ch)
    squeezed = "".join(out)
    if squeezed != word and len(squeezed) >= 2 and _base(squeezed[-1]) == _base(squeezed[-2]):
        shorter = squeezed[:-1]
        if is_syllable(shorter) and not is_syllable(squeezed):
            return shorter
    return squeezed


def _place_tone(base: str, tone: str) -> str:
    """Put the tone mark on the right vowel of an unmarked-tone syllable."""
    start = 2 if base.startswith(("qu", "gi")) and len(base) > 2 and base[2] in _VOWELS else 0
    vowels = [i for i in range(start, len(base)) if base[i] in _VOWELS]
    if not vowels:
        return base
    modified = [i for i in vowels if base[i] in _MODIFIED]
    if modified:
        pos = modified[-1]
    elif len(vowels) == 1:
        pos = vowels[0]
    elif vowels[-1] < len(base) - 1:  # a final consonant follows the vowels
        pos = vowels[-1]
    else:
        pos = vowels[-2] if len(vowels) >= 2 else vowels[0]
    return base[:pos] + unicodedata.normalize("NFC", base[pos] + tone) + base[pos + 1 :]


def untelex(word: str) -> str | None:
    """The syllable a Telex typing left behind ("laf" → "là"), or None if it is not one."""
    low = word.lower()
    if not low.isascii() or not low.isalpha() or len(low) < 2 or low in _LOANWORDS or is_syllable(low):
        return None
    tone = ""
    if low[-1] in _TONE_KEYS and any(ch in _VOWELS for ch in low[:-1]):
        tone, low = _TONE_KEYS[low[-1]], low[:-1]
    for pair, letter in _TELEX_PAIRS:
        low = low.replace(pair, letter)
    if low.endswith("w") and low[:-1] and low[-2] in "uo":
        low = low[:-2] + ("ư" if low[-2] == "u" else "ơ")
    if not tone and low == word.lower():
        return None
    syllable = normalize(_place_tone(low, tone) if tone else low)
    if not is_syllable(syllable):
        return None
    return syllable.capitalize() if word[0].isupper() else syllable


def _is_word(token: str) -> bool:
    """True for a word token (not punctuation)."""
    return token[0].isalnum() or token[0] == "_"


def _readings(tokens: list[str], i: int, table: ShorthandTable) -> tuple[str, ...]:
    """What token i can mean: its meanings if it is shorthand, else itself ((), past the end or at a mark)."""
    if i >= len(tokens) or not _is_word(tokens[i]):
        return ()
    token = tokens[i]
    return _meanings(token, table) or (_full(token, table) or token,)


def _full(token: str, table: ShorthandTable) -> str | None:
    """The usual expansion of a one-token shorthand (a capitalised form matched as written first)."""
    return table.exact.get(token) or table.folded.get(token.lower())


def _meanings(token: str, table: ShorthandTable) -> tuple[str, ...]:
    """The meanings of an ambiguous form as typed (a capitalised form matched as written comes first)."""
    if token in table.exact:
        return table.meanings.get(token, ())
    return table.meanings.get(token.lower(), ())


def _shorthand(
    tokens: list[str], i: int, table: ShorthandTable, before: Sequence[str] = (), choose: Chooser | None = None
) -> tuple[str | None, int]:
    """The expansion starting at token i and how many tokens it replaces (None, 1 if none). An ambiguous
    form takes its usual meaning, or the one `choose` picks from the words around it."""
    for size in (3, 2):
        gram = tuple(t.lower() for t in tokens[i : i + size])
        if len(gram) == size and gram in table.phrases:
            return table.phrases[gram], size
    token = tokens[i]
    full = _full(token, table)
    if full is None:
        return None, 1
    options = _meanings(token, table)
    if options and choose is not None:
        full = choose(before, options, _readings(tokens, i + 1, table))
    nxt = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
    low = token.lower()
    if low in {"v", "z"} and nxt and _is_word(nxt):
        return None, 1  # "v"/"z" mean "vậy" only at the end of a sentence
    if low == "bn" and strip_diacritics(nxt) in {"oi", "a"}:
        return "bạn", 1
    if low == "s" and (not nxt or not _is_word(nxt)) and i == 0:
        return None, 1
    if token[:1].isupper() and token[1:].islower() and full.islower():
        full = full[:1].upper() + full[1:]
    return full, 1


def expand(text: str, table: ShorthandTable | None = None, choose: Chooser | None = None) -> str:
    """Chat shorthand, repeated letters and Telex leftovers repaired, token by token. A form with several
    meanings ("kh": không / kế hoạch) takes the one `choose` picks, else its usual one."""
    table = table or shorthand_table()
    parts = tokens(text)
    out: list[str] = []
    i = 0
    while i < len(parts):
        token = parts[i]
        if not token or not _is_word(token):
            out.append(token)
            i += 1
            continue
        full, used = _shorthand(parts, i, table, out, choose)
        if full is not None:
            out.append(full)
            i += used
            continue
        word = token if any(ch.isdigit() for ch in token) else squeeze_repeats(token)
        out.append(untelex(word) or word)
        i += 1
    return join_tokens(out)


def detect_language(text: str) -> str:
    """ "en" for a message in English, else "vi" (typed with or without diacritics)."""
    words = [w for w in re.findall(r"[^\W\d_]+", text) if w]
    if not words or any(has_diacritics(w) for w in words):
        return "vi"
    lows = [w.lower() for w in words]
    english = len({w for w in lows if w in _ENGLISH})  # distinct: "can … can" is "cần … cần"
    foreign = sum(not is_syllable(w) for w in lows) / len(lows)
    # Unaccented Vietnamese reads as English words now and then ("can", "the", "me"): an English message
    # also has words that are no Vietnamese syllable at all.
    return "en" if (english >= 2 and foreign >= MIN_FOREIGN) or (english >= 1 and foreign >= 0.5) else "vi"


def _asks(sentence: str) -> bool:
    """True if the sentence reads as a question."""
    if "?" in sentence:
        return True
    padded = " " + " ".join(plain_syllables(sentence)) + " "
    return any(f" {cue} " in padded for cue in _QUESTION_CUES)


def asks_number(text: str) -> bool:
    """True if the question asks for a number, an amount or a date.

    "mấy" asks a number ("có mấy chỉ tiêu?") except in a yes/no question, where it is the plural
    determiner of everyday speech ("mấy tỉnh quanh đây có … không?", "mấy ông trên", "… hả?").
    """
    padded = " " + " ".join(plain_syllables(text)) + " "
    if any(f" {cue} " in padded for cue in _NUMBER_CUES):
        return True
    for sentence in _SENTENCE_RE.findall(text.lower()):
        if " mấy " in f" {sentence} " and not _yes_no(sentence):
            return True
    return False


def unmet_answer(question: str, answer: str, context: str = "") -> bool:
    """True when the question asks for something the answering text cannot hold: a number (no digit), a
    date (no year or day), an amount in a unit it never writes (USD, %, km …), which named
    district, plant, project … (no capitalised name), or how many of a thing it never names ("bao
    nhiêu camera" against a clause without "camera"). A date may stand in `context`, the passage around
    the answering clause: the year of a list is usually written once, at its head ("Đến năm 2030: …")."""
    padded = " " + " ".join(plain_syllables(question)) + " "
    text = " " + " ".join(plain_syllables(answer)) + " "
    around = " " + " ".join(plain_syllables(context)) + " "
    timed = bool(_YEAR_RE.search(f"{answer} {context}") or _TIME_RE.search(f"{text} {around}"))
    asks_date = any(f" {cue} " in padded for cue in _DATE_CUES)
    if asks_number(question) and not any(ch.isdigit() for ch in answer) and not (asks_date and timed):
        return True
    if asks_date and not timed:
        return True
    for cue, forms in _UNITS.items():
        if f" {cue} " in padded and not any(f" {f} " in text or (f in "%$" and f in answer) for f in forms):
            return True
    if any(f" {kind} nao " in padded for kind in _NAMED_KINDS) or " danh sach " in padded:
        return not _has_name(answer)
    counted = counted_thing(question)
    return counted is not None and f" {counted} " not in text and f" {counted} " not in around


def counted_thing(question: str) -> str | None:
    """What a number question counts, diacritics stripped: "bao nhiêu camera" → "camera", "mấy xã" →
    "xa", "bao nhiêu triệu người" → "trieu"; None for a classifier, a time span, money or people."""
    if not asks_number(question):
        return None
    marked = syllables(question)
    sylls = [strip_diacritics(s) for s in marked]
    for i in range(len(sylls)):
        after = sylls[i + 2] if sylls[i : i + 2] == ["bao", "nhieu"] and i + 2 < len(sylls) else None
        if after is None and marked[i] in ("mấy", "may") and i + 1 < len(sylls):  # not "máy" (xe máy)
            after = sylls[i + 1]
        if after is not None and after not in _NOT_COUNTED and not after.isdigit():
            return after
    return None


def _has_name(text: str) -> bool:
    """True if the text names something: two capitalised words in a row ("Gia Lâm", "Đông Anh")."""
    return any(a[:1].isupper() and b[:1].isupper() for a, b in itertools.pairwise(text.split()))


def _yes_no(sentence: str) -> bool:
    """True if the sentence is a yes/no question ("có … không", "… chưa", "… hả", "phải không")."""
    marked = syllables(sentence)
    padded = " " + " ".join(plain_syllables(sentence)) + " "
    if marked and marked[-1] in _YES_NO_TAILS:
        return True
    return " co " in padded and (" khong " in padded or " chua " in padded)


def find_focus(text: str) -> str:
    """The asking part of a long message: its last question sentence and what follows it."""
    if len(plain_syllables(text)) < FOCUS_MIN_SYLLABLES:
        return text
    sentences = [s.strip() for s in _SENTENCE_RE.findall(text) if s.strip()]
    if len(sentences) < 2:
        return text
    asking = [n for n, s in enumerate(sentences) if _asks(s)]
    start = asking[-1] if asking else len(sentences) - 1
    if start > 0 and sum(s not in _FRAME for s in plain_syllables(sentences[start])) < 3:
        start -= 1  # "Xin hỏi?", "Cụ thể là thế nào vậy?" alone say little: keep the sentence before
    return " ".join(sentences[start:])


def prepare(text: str, choose: Chooser | None = None) -> ChatQuestion:
    """Normalise a message and find its language and asking part (`choose`: see expand)."""
    spaced = fix_spacing(normalize(text))
    language = detect_language(spaced)
    cleaned = spaced if language == "en" else expand(spaced, choose=choose)
    return ChatQuestion(cleaned, find_focus(cleaned), language, _unaccented(spaced))


def _unaccented(text: str) -> bool:
    """True when at most a fifth of the typed words (shorthand aside) carry marks."""
    table = shorthand_table()
    typed = [
        w for w in re.findall(r"[^\W\d_]+", text) if w not in table.exact and w.lower() not in table.folded
    ]
    marked = sum(has_diacritics(w) for w in typed)
    return bool(typed) and marked / len(typed) <= MAX_MARKED_SHARE
