"""Spoken Vietnamese numbers to digits: "năm hai nghìn không trăm bốn mươi lăm" -> "năm 2045".

The speech model writes numbers as words, while the programme's documents use digits
("đến năm 2045", "10 chỉ tiêu"). Only phrases with a multiplier word (mười, mươi, trăm, nghìn,
ngàn, triệu, tỷ) are converted: a lone "một" or "năm" is as often an article or "year" as a number.
"""

from __future__ import annotations

import math

DIGITS = {
    "không": 0, "một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "lăm": 5,
    "sáu": 6, "bảy": 7, "bẩy": 7, "tám": 8, "chín": 9,
}  # fmt: skip
SCALES = {"nghìn": 1_000, "ngàn": 1_000, "triệu": 1_000_000, "tỷ": 1_000_000_000, "tỉ": 1_000_000_000}
TENS = ("mươi", "mười")
FILLERS = ("linh", "lẻ")
MULTIPLIERS = frozenset({*TENS, "trăm", *SCALES})
MAX_WORDS = 16


class _Number:
    """Accumulates one spoken number word by word; `add` is False when the word cannot continue it."""

    def __init__(self) -> None:
        self.total = 0
        self.group = 0
        self.digit: int | None = None
        self.previous = ""
        self.last_scale = math.inf

    def add(self, word: str) -> bool:
        """Take one more word; False (state unchanged in meaning) when it does not fit."""
        if word in DIGITS:
            ok = self._digit(word)
        elif word == "mười":
            ok = self.digit is None and self.group % 100 < 10
            self.group += 10 if ok else 0
        elif word == "mươi":
            ok = self.digit is not None and self.digit >= 2 and self.group % 100 < 10
            if ok:
                self.group += 10 * (self.digit or 0)
                self.digit = None
        elif word == "trăm":
            ok = self.digit is not None and self.group == 0
            if ok:
                self.group, self.digit = 100 * (self.digit or 0), None
        elif word in FILLERS:
            ok = self.previous == "trăm"
        elif word in SCALES:
            ok = self._scale(SCALES[word])
        else:
            ok = False
        if ok:
            self.previous = word
        return ok

    def _digit(self, word: str) -> bool:
        """A units digit; "mốt", "tư", "lăm" only after the tens; "năm" after the tens only in a larger number."""
        if self.digit is not None:
            return False
        after_tens = self.previous in TENS
        if word in ("mốt", "tư") and self.previous != "mươi":
            return False
        if word == "lăm" and not after_tens:
            return False
        if word == "năm" and after_tens and self.total == 0 and self.group < 100:
            return False  # "bốn mươi năm" is forty years; "hai nghìn không trăm bốn mươi năm" is 2045
        if word == "không" and after_tens:
            return False
        self.digit = DIGITS[word]
        return True

    def _scale(self, scale: int) -> bool:
        """nghìn, triệu, tỷ: close the current group."""
        value = self.group + (self.digit or 0)
        if value == 0 or scale >= self.last_scale:
            return False
        self.total += value * scale
        self.group, self.digit, self.last_scale = 0, None, scale
        return True

    def value(self) -> int | None:
        """The number, or None when the words so far do not end a number."""
        if self.previous in FILLERS or self.previous == "không":
            return None
        return self.total + self.group + (self.digit or 0)


def _longest(words: list[str], start: int) -> tuple[int, int] | None:
    """(value, end) of the longest number with a multiplier starting at `start`, if any."""
    number = _Number()
    best: tuple[int, int] | None = None
    has_multiplier = False
    for end in range(start, min(len(words), start + MAX_WORDS)):
        if not number.add(words[end]):
            break
        has_multiplier = has_multiplier or words[end] in MULTIPLIERS
        value = number.value()
        if has_multiplier and value:
            best = (value, end + 1)
    return best


def spoken_numbers_to_digits(text: str) -> str:
    """Replace spoken numbers by digits; every other word is kept as it is."""
    words = text.split()
    out: list[str] = []
    index = 0
    while index < len(words):
        found = _longest([w.lower() for w in words], index)
        if found is None:
            out.append(words[index])
            index += 1
        else:
            out.append(str(found[0]))
            index = found[1]
    return " ".join(out)
