"""Vietnamese text handling: normalisation, diacritic stripping, segmentation, sentences.

underthesea is imported lazily, and without its optional pipelines (translate, classify, sentiment,
lang_detect, dependency_parse, agent): they import torch and transformers (4-8 s, ~250 MB RSS) and
download models at first use, which fails offline anyway. word_tokenize, sent_tokenize and
convert_address keep working.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache
from types import ModuleType

MAX_QUESTION_CHARS = 2000

_TONES = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng
_SYLLABLE_RE = re.compile(r"\w+", re.UNICODE)
_SPACE_RE = re.compile(r"\s+")
_CLAUSE_SPLIT_RE = re.compile(r";\s+")
_HEAVY_UNDERTHESEA = (
    "underthesea.pipeline.classification",
    "underthesea.pipeline.sentiment",
    "underthesea.pipeline.lang_detect",
    "underthesea.pipeline.dependency_parse",
    "underthesea.pipeline.translate",
    "underthesea.agent",
)


def _underthesea() -> ModuleType:
    """Import underthesea without the optional pipelines that pull torch in (if not imported yet)."""
    if "underthesea" not in sys.modules:
        for name in _HEAVY_UNDERTHESEA:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    import underthesea

    return underthesea


def _old_style_tone_pattern() -> re.Pattern[str]:
    """Regex for old-style marks on oa/oe/uy with no final consonant (hoà, khoẻ, thuỷ)."""
    seconds = "".join(unicodedata.normalize("NFC", base + tone) for base in "aeyAEY" for tone in _TONES)
    return re.compile(rf"(?<![qQ])([oOuU])([{seconds}])(?!\w)")


@lru_cache(maxsize=1)
def _tone_re() -> re.Pattern[str]:
    """Compiled once on first use (no work at import time)."""
    return _old_style_tone_pattern()


def _move_tone(match: re.Match[str]) -> str:
    """Move the tone mark from the second vowel to the first (hoà → hòa)."""
    first, second = match.group(1), match.group(2)
    decomposed = unicodedata.normalize("NFD", second)
    tone = "".join(ch for ch in decomposed if ch in _TONES)
    base = "".join(ch for ch in decomposed if ch not in _TONES)
    pair = unicodedata.normalize("NFC", first + tone) + unicodedata.normalize("NFC", base)
    if (first + base).lower() not in {"oa", "oe", "uy"}:
        return match.group(0)
    return pair


def normalize(text: str) -> str:
    """NFC plus one tone-mark placement (hoà → hòa, thuỷ → thủy); spacing is kept."""
    return _tone_re().sub(_move_tone, unicodedata.normalize("NFC", text))


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics, mapping đ/Đ to d/D (Hà Nội → Ha Noi)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def fold(text: str) -> str:
    """Lower-case, diacritics stripped (đ → d), spaces collapsed: for matching names typed loosely."""
    return " ".join(strip_diacritics(unicodedata.normalize("NFKC", text)).lower().split())


def has_diacritics(token: str) -> bool:
    """True if the token carries any Vietnamese mark (or đ)."""
    return strip_diacritics(token) != token


def syllables(text: str) -> list[str]:
    """Lower-cased syllables (letters and digits) of normalised text, marks kept."""
    return _SYLLABLE_RE.findall(normalize(text).lower())


def plain_syllables(text: str) -> list[str]:
    """Lower-cased syllables with diacritics stripped."""
    return [strip_diacritics(s) for s in syllables(text)]


def words(text: str) -> list[str]:
    """underthesea word segmentation, lower-cased, punctuation dropped ("Hà Nội" → "hà_nội")."""
    tokens = _underthesea().word_tokenize(normalize(text))
    return [t.lower().replace(" ", "_") for t in tokens if _SYLLABLE_RE.search(t)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of `text` (underthesea sent_tokenize), in order."""
    sent_tokenize = _underthesea().sent_tokenize
    spans: list[tuple[int, int]] = []
    cursor = 0
    for line_start, line in _lines(text):
        for sentence in sent_tokenize(line) if line.strip() else []:
            found = text.find(sentence.strip(), max(cursor, line_start))
            if found < 0:
                continue
            end = found + len(sentence.strip())
            spans.append((found, end))
            cursor = end
    return spans


def _lines(text: str) -> list[tuple[int, str]]:
    """Lines of text with their start offsets."""
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        out.append((offset, line))
        offset += len(line) + 1
    return out


def sentences(text: str) -> list[str]:
    """The sentences of `text`."""
    return [text[a:b] for a, b in sentence_spans(text)]


def clause_spans(text: str, span: tuple[int, int]) -> list[tuple[int, int]]:
    """Split one sentence span at semicolons into clause spans (these documents are long lists)."""
    start, end = span
    out: list[tuple[int, int]] = []
    cursor = start
    for match in _CLAUSE_SPLIT_RE.finditer(text, start, end):
        if match.start() > cursor:
            out.append((cursor, match.start() + 1))
        cursor = match.end()
    if end > cursor:
        out.append((cursor, end))
    return out


def clean_spaces(text: str) -> str:
    """Collapse runs of whitespace to single spaces and trim."""
    return _SPACE_RE.sub(" ", text).strip()


def _is_latin_letter(ch: str) -> bool:
    """True for Latin letters (a-z with any Vietnamese marks, đ)."""
    return ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN")


def validate_question(text: str) -> str:
    """Return the normalised question, or raise InvalidQuestionError with a Vietnamese message."""
    from bot.search.errors import InvalidQuestionError

    question = clean_spaces("".join(ch if ch.isprintable() else " " for ch in normalize(text or "")))
    if not question:
        raise InvalidQuestionError("Bạn chưa nhập câu hỏi. Xin hãy gõ câu hỏi bằng tiếng Việt.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"Câu hỏi quá dài ({len(question):,} ký tự; tối đa {MAX_QUESTION_CHARS:,}). "
            "Xin hãy hỏi ngắn gọn hơn.".replace(",", ".")
        )
    if not any(ch.isalpha() for ch in question):
        raise InvalidQuestionError("Câu hỏi chưa có chữ nào. Xin hãy đặt câu hỏi bằng tiếng Việt.")
    if not any(_is_latin_letter(ch) for ch in question):
        raise InvalidQuestionError("Xin hãy đặt câu hỏi bằng tiếng Việt.")
    return question
