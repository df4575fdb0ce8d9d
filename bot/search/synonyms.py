"""Everyday → administrative wording for the lexical side of a query (starter list in synonyms.txt).

Rules keep their marks: a rule fires on the question's accented form (as typed, or restored when typed
without marks), so "mấy" never fires on "máy"; a rule of two or more syllables also fires on the
unaccented form of a question typed without marks (restoration may have guessed other marks). Admin-added pairs are rules too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources

from bot.text import has_diacritics, plain_syllables, strip_diacritics, syllables

Rule = tuple[tuple[str, ...], str]  # (everyday syllables, lower case with marks; formal wording)


def parse_rules(text: str) -> list[Rule]:
    """Rules of a table: "everyday | everyday = formal" lines (# comments)."""
    rules: list[Rule] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" not in line:
            continue
        left, formal = (part.strip() for part in line.split("=", 1))
        rules.extend(rules_from_pairs((everyday, formal) for everyday in left.split("|")))
    return rules


def rules_from_pairs(pairs: Iterable[tuple[str, str]]) -> list[Rule]:
    """Rules of (everyday, formal) pairs, e.g. those admins added (empty sides skipped)."""
    return [
        (tuple(syllables(everyday)), formal.strip())
        for everyday, formal in pairs
        if syllables(everyday) and formal.strip()
    ]


def load_rules(name: str = "synonyms.txt") -> list[Rule]:
    """A table shipped with the package (the starter list by default)."""
    return parse_rules(resources.files("bot.search").joinpath(name).read_text(encoding="utf-8"))


def expansions(question: str, rules: Sequence[Rule], *, accented: str | None = None) -> list[str]:
    """Formal wordings of the everyday phrases the question uses (each once, in table order).

    accented: the question's accented form when it was typed without marks (restored).
    """
    marked = " " + " ".join(syllables(accented if accented is not None else question)) + " "
    plain = " " + " ".join(plain_syllables(question)) + " "
    unmarked = not has_diacritics(question)
    found: list[str] = []
    for everyday, formal in rules:
        hit = f" {' '.join(everyday)} " in marked
        # Without marks only when typed without: "thành phố có" must not match "phố cổ".
        if not hit and unmarked and len(everyday) >= 2:
            hit = f" {strip_diacritics(' '.join(everyday))} " in plain
        if hit and formal not in found:
            found.append(formal)
    return found
