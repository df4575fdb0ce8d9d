"""Colloquial → formal wording for the lexical side of a query (table in synonyms.txt)."""

from __future__ import annotations

from importlib import resources

from bot.text import plain_syllables

Rule = tuple[tuple[str, ...], str]


def parse_rules(text: str) -> list[Rule]:
    """Rules of a table: (diacritic-stripped colloquial syllables, formal wording)."""
    rules: list[Rule] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" not in line:
            continue
        left, formal = (part.strip() for part in line.split("=", 1))
        rules.extend((tuple(plain_syllables(c)), formal) for c in left.split("|") if plain_syllables(c))
    return rules


def load_rules() -> list[Rule]:
    """The table shipped with the package."""
    return parse_rules(resources.files("bot.search").joinpath("synonyms.txt").read_text(encoding="utf-8"))


def expansions(question: str, rules: list[Rule]) -> list[str]:
    """Formal wordings of the colloquial phrases the question uses (each once, in table order)."""
    padded = " " + " ".join(plain_syllables(question)) + " "
    found: list[str] = []
    for colloquial, formal in rules:
        if f" {' '.join(colloquial)} " in padded and formal not in found:
            found.append(formal)
    return found
