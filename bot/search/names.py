"""Named places and bodies: a question naming one should be answered from a document naming it.

Names are the capitalised runs (2+ syllables) of the indexed documents plus Vietnam's large
cities, compared diacritic-stripped and lower-cased so "ha noi" matches "Hà Nội".
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.text import plain_syllables, strip_diacritics, syllables

# Large cities people ask about, diacritics stripped (unambiguous in unaccented questions).
CITIES = (
    "ha noi", "ho chi minh", "sai gon", "hai phong", "da nang", "can tho", "nha trang", "da lat",
    "vung tau", "ha long", "phu quoc", "bien hoa", "thu duc",
)  # fmt: skip
# Provinces and other cities a document may be about (used to tell which place a document is about only:
# "hòa bình", "thái bình" are left out, they are also everyday words).
PROVINCES = (
    "bac ninh", "hung yen", "hai duong", "vinh phuc", "thai nguyen", "bac giang", "ha nam", "nam dinh",
    "ninh binh", "phu tho", "quang ninh", "thanh hoa", "nghe an", "thua thien hue", "thanh pho hue",
    "quang nam", "khanh hoa", "lam dong", "binh duong", "dong nai", "long an", "kien giang", "an giang",
    "dong thap", "tien giang", "ben tre", "vinh long", "tra vinh", "soc trang", "bac lieu", "ca mau",
    "gia lai", "kon tum", "dak lak", "lao cai", "yen bai", "son la", "dien bien", "lai chau", "ha giang",
    "cao bang", "lang son", "tuyen quang", "bac kan", "ha tinh", "quang binh", "quang tri", "quang ngai",
    "binh dinh", "phu yen", "ninh thuan", "binh thuan", "binh phuoc", "tay ninh", "dak nong", "hau giang",
)  # fmt: skip
# One place under several names, counted and compared as the name on the right.
SAME_PLACE = {"sai gon": "ho chi minh", "thanh pho hue": "hue", "thua thien hue": "hue"}
_STRIP = ".,;:!?\"'“”()[]«»…"


def capitalised_runs(text: str, *, skip_initial: bool = False) -> list[tuple[str, ...]]:
    """Runs of 2+ consecutive capitalised words, as stripped lower-case syllable tuples.

    With skip_initial, a word opening a line or sentence never starts a run (it is capitalised anyway).
    """
    runs: list[tuple[str, ...]] = []
    for line in text.split("\n"):
        run: list[str] = []
        initial = True
        for token in [*line.split(), ""]:
            word = token.strip(_STRIP)
            capital = word[:1].isupper() and not (skip_initial and initial and not run)
            if capital:
                run.append(word)
            if not capital or token.endswith((".", ",", ";", ":", "!", "?")):
                if len(run) >= 2:
                    runs.append(tuple(plain_syllables(" ".join(run))))
                run = []
            initial = token.endswith((".", ":", ";", "!", "?")) or (initial and not word)
    return runs


def name_lexicon(texts: Iterable[str]) -> frozenset[tuple[str, ...]]:
    """Known names: capitalised runs of the documents plus the province list."""
    names = {tuple(p.split()) for p in CITIES}
    for text in texts:
        names.update(r for r in capitalised_runs(text, skip_initial=True) if 2 <= len(r) <= 5)
    return frozenset(names)


def names_in(question: str, lexicon: frozenset[tuple[str, ...]], *, plain: bool) -> list[tuple[str, ...]]:
    """Known names the question mentions: inside its capitalised runs, or anywhere if typed unaccented."""
    spans = [list(run) for run in capitalised_runs(question)] if not plain else [plain_syllables(question)]
    found: list[tuple[str, ...]] = []
    for sylls in spans:
        i = 0
        while i < len(sylls):
            for size in (5, 4, 3, 2):
                gram = tuple(sylls[i : i + size])
                if len(gram) == size and gram in lexicon:
                    found.append(gram)
                    i += size
                    break
            else:
                i += 1
    return found


def dominant_place(text: str) -> tuple[str, ...] | None:
    """The city or province the text mentions most (diacritics stripped), or None if it names none."""
    marked = syllables(text)
    plain = [strip_diacritics(s) for s in marked]
    padded = " " + " ".join(plain) + " "
    counts = {city: padded.count(f" {city} ") for city in (*CITIES, *PROVINCES)}
    # Huế, a centrally-run city named by one syllable: only with its marks ("huệ" is a flower), and not
    # again where it ends "Thừa Thiên Huế" / "Thành phố Huế" (counted above, with or without marks).
    longer = (["thua", "thien"], ["thanh", "pho"])
    counts["hue"] = sum(s == "huế" and plain[max(0, i - 2) : i] not in longer for i, s in enumerate(marked))
    for alias, place in SAME_PLACE.items():
        counts[place] += counts.pop(alias)
    best = max(counts, key=lambda city: counts[city])
    return tuple(best.split()) if counts[best] else None


def canonical_place(name: tuple[str, ...]) -> tuple[str, ...]:
    """One name for a place known under several (SAME_PLACE): "sai gon" → "ho chi minh"."""
    joined = " ".join(name)
    return tuple(SAME_PLACE.get(joined, joined).split())
