"""Ward/commune input: Hà Nội units recognised the way residents type them, old 3-level addresses converted.

Data: only underthesea's shipped mapping (address/data/mapping.json, old 3-level → 2025 2-level
units), read once on first use. The typed text is folded (diacritics stripped, lower case) and split
into words; unit markers ("p.", "ph", "phường", "x.", "tt", "q.", "h.", "tx.", ...), the city ("hn",
"tp", "Hà Nội") and filler words ("nhà em ở", "tại") are understood; the words are split into a ward
part and an optional old district part by trying the known names (commas are not needed); a word with
one typo is corrected when only one known word is that close. An old ward that was divided in 2025
converts to the unit the official mapping names as its default, as underthesea.convert_address does.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from bot.services.errors import InvalidInputError
from bot.text import normalize, strip_diacritics

HANOI = "Thành phố Hà Nội"
MAX_WARD_INPUT = 200
MAX_MATCHES = 5
MAX_NAME_WORDS = 6  # the longest unit name (Văn Miếu - Quốc Tử Giám) has 5 words
MAX_EXTRA_WORDS = 8  # unrecognised words (house number, street) tolerated around a name
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_PREFIXES = {
    "Phường": "phuong",
    "Xã": "xa",
    "Thị trấn": "thitran",
    "Quận": "quan",
    "Huyện": "huyen",
    "Thị xã": "thixa",
}
# Typed markers (folded words, their accented spelling, the unit kind they announce).
_WARD_MARKERS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("phuong",), "phường", "phuong"),
    (("p",), "p", "phuong"),
    (("ph",), "ph", "phuong"),
    (("xa",), "xã", "xa"),
    (("x",), "x", "xa"),
    (("thi", "tran"), "thị trấn", "thitran"),
    (("thitran",), "thịtrấn", "thitran"),
    (("tt",), "tt", "thitran"),
)
_DISTRICT_MARKERS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("quan",), "quận", "quan"),
    (("q",), "q", "quan"),
    (("huyen",), "huyện", "huyen"),
    (("h",), "h", "huyen"),
    (("thi", "xa"), "thị xã", "thixa"),
    (("thixa",), "thịxã", "thixa"),
    (("tx",), "tx", "thixa"),
)
# Words that may surround a name without being part of it: the city, the country, "nhà em ở", "tại".
_FILLER_WORDS = (
    "ha noi hn tp tphn thanh pho thu do viet nam vn o tai nha em toi minh tui to anh chi con chau "
    "song dang hien nay thuoc khu vuc dia chi la cua chung cu tru ve gan moi truoc day phuong xa "
    "quan huyen thi tran p ph q h x tt tx va"
)
_IGNORABLE = frozenset(_FILLER_WORDS.split())


@dataclass(frozen=True)
class WardResult:
    """A normalised ward: `verified` False when kept as typed (unknown or ambiguous)."""

    ward: str
    verified: bool
    typed: str


@dataclass(frozen=True)
class WardCandidate:
    """A current (2025) Hà Nội unit the input may mean; `old` is the old unit it was converted from."""

    ward: str
    old: str | None = None

    @property
    def label(self) -> str:
        """How the candidate is shown: the current name, with the old address it came from."""
        return f"{self.ward} (trước đây: {self.old})" if self.old else self.ward


@dataclass(frozen=True)
class _Unit:
    """A named unit: its full name, its kind (phuong, xa, thitran, quan, huyen, thixa), its bare name."""

    name: str
    kind: str
    bare: str  # lower case, accented, without the kind prefix and punctuation: "phúc xá"


@dataclass(frozen=True)
class _OldWard:
    """An old (pre-2025) ward, its old district and the current unit it became."""

    ward: _Unit
    district: _Unit
    current: str


@dataclass(frozen=True)
class _Tables:
    """Lookup tables keyed by the folded name without spaces ("phucxa")."""

    current: dict[str, list[_Unit]]
    old: dict[str, list[_OldWard]]
    districts: dict[str, list[_Unit]]
    vocabulary: frozenset[str]


@dataclass(frozen=True)
class _Word:
    """One typed word: folded and as typed (lower case, accents kept)."""

    key: str
    typed: str


def _fold(text: str) -> str:
    """Diacritics stripped (đ → d) and lower-cased: the matching key of a word or name."""
    return strip_diacritics(text).lower()


def _squash(bare: str) -> str:
    """The table key of a name: folded, without spaces ("phúc xá" → "phucxa")."""
    return _fold(bare).replace(" ", "")


def _unit(name: str) -> _Unit:
    """A _Unit from an official name such as 'Thị trấn Trâu Quỳ'."""
    for prefix, kind in sorted(_PREFIXES.items(), key=lambda item: -len(item[0])):
        if name.startswith(prefix + " "):
            bare = name[len(prefix) + 1 :]
            return _Unit(name, kind, " ".join(_WORD_RE.findall(normalize(bare).lower())))
    return _Unit(name, "", " ".join(_WORD_RE.findall(normalize(name).lower())))


def _mapping_path() -> Path | None:
    """underthesea's shipped mapping of old to current units (None when underthesea is missing)."""
    spec = find_spec("underthesea")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "address" / "data" / "mapping.json"


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Build the Hà Nội lookup tables once, on first use."""
    path = _mapping_path()
    rows = json.loads(path.read_text(encoding="utf-8"))["ward_mapping"] if path else []
    current: dict[str, list[_Unit]] = defaultdict(list)
    old: dict[str, list[_OldWard]] = defaultdict(list)
    districts: dict[str, list[_Unit]] = defaultdict(list)
    hanoi = [row for row in rows if row["new_province"] == HANOI and row["new_ward"]]
    chosen: dict[tuple[str, str], dict[str, object]] = {}
    for row in hanoi:
        pair = (row["old_district"], row["old_ward"])
        if pair not in chosen or row.get("is_default"):
            chosen[pair] = row  # a divided old ward converts to its default successor
    for name in sorted({str(row["new_ward"]) for row in hanoi}):
        unit = _unit(name)
        current[_squash(unit.bare)].append(unit)
    for (district_name, ward_name), row in sorted(chosen.items()):
        ward, district = _unit(ward_name), _unit(district_name)
        old[_squash(ward.bare)].append(_OldWard(ward, district, str(row["new_ward"])))
        if district not in districts[_squash(district.bare)]:
            districts[_squash(district.bare)].append(district)
    vocabulary = {
        w for units in (*current.values(), *districts.values()) for u in units for w in _fold(u.bare).split()
    }
    vocabulary |= {w for olds in old.values() for o in olds for w in _fold(o.ward.bare).split()}
    vocabulary |= {w for marker, _, _ in (*_WARD_MARKERS, *_DISTRICT_MARKERS) for w in marker} | _IGNORABLE
    return _Tables(dict(current), dict(old), dict(districts), frozenset(vocabulary))


def _clean(text: str) -> str:
    """The input on one line, NFC; InvalidInputError when empty or too long."""
    typed = " ".join(unicodedata.normalize("NFC", text).split())
    if not any(ch.isalnum() for ch in typed):
        raise InvalidInputError("Vui lòng nhập tên phường/xã bằng chữ, ví dụ: Phường Phúc Xá, Quận Ba Đình.")
    if len(typed) > MAX_WARD_INPUT:
        raise InvalidInputError(f"Tên phường/xã dài tối đa {MAX_WARD_INPUT} ký tự.")
    return typed


def _words(text: str) -> list[_Word]:
    """The typed words ("P.Phúc Xá" → p, phúc, xá), tone marks placed the standard way."""
    return [_Word(_fold(w), w) for w in _WORD_RE.findall(normalize(text).lower())]


def _accents_agree(typed: str, name: str) -> bool:
    """True when every mark the resident typed is in the name ("phuc xa" and "phúc xá" fit "phúc xá")."""
    if len(typed) != len(name):
        return _fold(typed) == _fold(name)
    return all(t == n or (t == _fold(t) and t == _fold(n)) for t, n in zip(typed, name, strict=True))


def _marker(
    words: list[_Word], at: int, markers: tuple[tuple[tuple[str, ...], str, str], ...], *, before: bool
) -> tuple[str, int] | None:
    """(kind, number of words) of a unit marker ending at word `at` (before=True) or starting there."""
    for folded, accented, kind in markers:
        size = len(folded)
        lo = at - size if before else at
        if lo < 0 or lo + size > len(words):
            continue
        span = words[lo : lo + size]
        if tuple(w.key for w in span) == folded and _accents_agree(
            "".join(w.typed for w in span), accented.replace(" ", "")
        ):
            return kind, size
    return None


@dataclass(frozen=True)
class _Hit:
    """One reading of the input: a candidate, the name it read, and how well the words support it."""

    candidate: WardCandidate
    name: str  # the accented bare name read ("xuân đỉnh")
    current: bool  # read as a current unit's name
    score: tuple[int, int, int, int]


def _extra(words: list[_Word], used: set[int]) -> int:
    """How many words outside the recognised parts are neither filler nor numbers."""
    return sum(
        1 for i, w in enumerate(words) if i not in used and w.key not in _IGNORABLE and not w.key.isdigit()
    )


def _hits(words: list[_Word], tables: _Tables) -> list[_Hit]:
    """Every reading: a ward name, optionally preceded by a marker and followed by an old district."""
    hits: list[_Hit] = []
    spans = _span_keys(words)
    districts = [(a, b) for (a, b), key in spans.items() if key in tables.districts]
    for (start, end), key in spans.items():
        if key not in tables.current and key not in tables.old:
            continue
        if any(a <= start and end <= b and b - a > end - start for a, b in districts):
            continue  # "Từ Liêm" inside "Nam Từ Liêm" is not a ward
        typed = "".join(w.typed for w in words[start:end])
        marker = _marker(words, start, _WARD_MARKERS, before=True)
        used = set(range(start - (marker[1] if marker else 0), end))
        strong = marker is not None or end - start > 1
        for district, district_used in _districts_after(words, end, tables):
            hits += _readings(tables, key, typed, marker, district, _extra(words, used | district_used), True)
        hits += _readings(tables, key, typed, marker, None, _extra(words, used), strong)
    return hits


def _span_keys(words: list[_Word]) -> dict[tuple[int, int], str]:
    """The table key of every run of up to MAX_NAME_WORDS words, by (start, end)."""
    keys: dict[tuple[int, int], str] = {}
    for start in range(len(words)):
        key = ""
        for end in range(start + 1, min(len(words), start + MAX_NAME_WORDS) + 1):
            key += words[end - 1].key
            keys[start, end] = key
    return keys


def _districts_after(words: list[_Word], end: int, tables: _Tables) -> list[tuple[list[_Unit], set[int]]]:
    """Old districts named right after a ward name (with or without 'Quận', 'Huyện', 'Thị xã')."""
    marker = _marker(words, end, _DISTRICT_MARKERS, before=False)
    start = end + (marker[1] if marker else 0)
    found = []
    for stop in range(start + 1, min(len(words), start + MAX_NAME_WORDS) + 1):
        units = tables.districts.get("".join(w.key for w in words[start:stop]), [])
        typed = "".join(w.typed for w in words[start:stop])
        units = [
            u
            for u in units
            if (not marker or u.kind == marker[0]) and _accents_agree(typed, u.bare.replace(" ", ""))
        ]
        if units:
            found.append((units, set(range(end, stop))))
    return found


def _readings(
    tables: _Tables,
    key: str,
    typed: str,
    marker: tuple[str, int] | None,
    districts: list[_Unit] | None,
    extra: int,
    strong: bool,
) -> list[_Hit]:
    """The candidates of one ward name (current units and old wards), scored.

    `extra` counts the unrecognised words around it; a weak reading (one word, no marker, no district)
    must stand alone.
    """
    if extra > MAX_EXTRA_WORDS or (extra and not strong):
        return []
    hits = []
    for unit in tables.current.get(key, []):
        level = 2 if districts else 1  # an old district after a current name: tolerated context
        hits.append(_hit(WardCandidate(unit.name), level, typed, unit, marker, extra, current=True))
    names = {d.name for d in districts or []}
    for old in tables.old.get(key, []):
        if districts is not None and old.district.name not in names:
            continue
        old_name = f"{old.ward.name}, {old.district.name}"
        hits.append(
            _hit(WardCandidate(old.current, old_name), 3 if districts else 1, typed, old.ward, marker, extra)
        )
    return hits


def _hit(
    candidate: WardCandidate,
    level: int,
    typed: str,
    unit: _Unit,
    marker: tuple[str, int] | None,
    extra: int,
    *,
    current: bool = False,
) -> _Hit:
    """Score: district confirmed > accents agree > kind agrees with the marker > fewer extra words."""
    accents = _accents_agree(typed, unit.bare.replace(" ", ""))
    kind = marker is None or marker[0] == unit.kind
    return _Hit(candidate, unit.bare, current, (level, int(accents), int(kind), -extra))


def _best(hits: list[_Hit], limit: int) -> list[WardCandidate]:
    """The candidates of the best-scored readings, one per current unit, in a stable order.

    Today's name wins over an old ward spelled the same way ("Xuân Đỉnh" is today's ward, not the old
    Phường Xuân Đỉnh), but not over a differently accented old name ("xuan dinh" may be Xã Xuân Đình).
    """
    if not hits:
        return []
    top = max(hit.score for hit in hits)
    tops = [hit for hit in hits if hit.score == top]
    today = {hit.name for hit in tops if hit.current}
    best: dict[str, WardCandidate] = {}
    for hit in sorted(tops, key=lambda h: (not h.current, h.candidate.old or "", h.candidate.ward)):
        if hit.current or hit.name not in today:
            best.setdefault(hit.candidate.ward, hit.candidate)
    return list(best.values())[:limit]


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap two neighbours)."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]


def _deletions(word: str) -> set[str]:
    """The word and every form of it with one letter removed (symmetric-delete typo lookup)."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


@lru_cache(maxsize=1)
def _deletion_index() -> dict[str, tuple[str, ...]]:
    """Each one-letter deletion of a known word → the known words it comes from."""
    index: dict[str, list[str]] = defaultdict(list)
    for word in sorted(_tables().vocabulary):
        for form in _deletions(word):
            index[form].append(word)
    return {form: tuple(words) for form, words in index.items()}


@lru_cache(maxsize=4096)
def _near(key: str) -> tuple[str, ...]:
    """The known words one edit (insert, delete, substitute, swap) away from an unknown word."""
    index = _deletion_index()
    found = {w for form in _deletions(key) for w in index.get(form, ())}
    return tuple(sorted(w for w in found if _distance(key, w) == 1))


def _corrected(words: list[_Word], vocabulary: frozenset[str]) -> list[_Word] | None:
    """Unknown words of 3+ letters replaced by the one known word one edit away (None: nothing to fix)."""
    fixed, changed = [], False
    for word in words:
        if word.key in vocabulary or len(word.key) < 3 or not word.key.isalpha():
            fixed.append(word)
            continue
        near = _near(word.key)
        if len(near) == 1:
            fixed.append(_Word(near[0], near[0]))
            changed = True
        else:
            fixed.append(word)
    return fixed if changed else None


def match_wards(text: str, limit: int = MAX_MATCHES) -> list[WardCandidate]:
    """The current Hà Nội units the typed ward may mean, best first (empty: not recognised).

    Several candidates when the name fits several units (a name shared by old wards of different
    districts, or unaccented words that fit differently accented names). A one-typo reading is
    returned only when it names exactly one unit. InvalidInputError for empty or over-long input.
    """
    typed = _clean(text)
    tables = _tables()
    words = _words(typed)
    found = _best(_hits(words, tables), limit)
    if found:
        return found
    corrected = _corrected(words, tables.vocabulary)
    if corrected is None:
        return []
    guessed = _best(_hits(corrected, tables), limit)
    return guessed if len(guessed) == 1 else []


def normalize_ward(text: str) -> WardResult:
    """The one unit the input names (verified), else the input kept as typed (unknown or ambiguous)."""
    typed = _clean(text)
    found = match_wards(typed, limit=2)
    if len(found) == 1:
        return WardResult(found[0].ward, True, typed)
    return WardResult(typed[:120], False, typed)
