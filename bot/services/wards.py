"""Ward/commune input: current (2025) Hà Nội units are recognised, old 3-level addresses converted."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from bot.services.errors import InvalidInputError
from bot.text import fold

HANOI = "Thành phố Hà Nội"
MAX_WARD_INPUT = 200
_PREFIXES = ("phuong", "xa", "thitran")
_ABBREVIATIONS = {"p": "phuong", "x": "xa", "tt": "thi tran"}
_ABBREVIATED = re.compile(r"^(p|x|tt)(?:\.\s*|\s+)")


@dataclass(frozen=True)
class WardResult:
    """A normalised ward: `verified` False when kept as typed (unknown)."""

    ward: str
    verified: bool
    typed: str


def _key(text: str) -> str:
    """Folded (bot.text.fold) to ASCII letters and digits only; 'P. X' and 'X. Y' abbreviations spelt out."""
    folded = _ABBREVIATED.sub(lambda m: _ABBREVIATIONS[m.group(1)] + " ", fold(text))
    return re.sub(r"[^a-z0-9]", "", folded)


@lru_cache(maxsize=1)
def _current_wards() -> dict[str, str]:
    """Key → name of every post-2025 Hà Nội ward/commune, with and without its 'Phường'/'Xã' prefix."""
    spec = find_spec("underthesea")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "address" / "data" / "mapping.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    names = {r["new_ward"] for r in data["ward_mapping"] if r["new_province"] == HANOI and r["new_ward"]}
    table: dict[str, str] = {}
    for name in sorted(names):
        key = _key(name)
        table[key] = name
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                table.setdefault(key[len(prefix) :], name)
    return table


def _variants(text: str) -> list[str]:
    """The address as typed, then with unit prefixes added when the resident left them out."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if parts and "hanoi" in _key(parts[-1]):
        parts = parts[:-1]
    variants = [", ".join(parts)]
    if len(parts) == 2 and not _key(parts[0]).startswith(_PREFIXES):
        for ward_prefix in ("Phường", "Xã", "Thị trấn"):
            for district_prefix in ("Quận", "Huyện", "Thị xã"):
                variants.append(f"{ward_prefix} {parts[0]}, {district_prefix} {parts[1]}")
    return [f"{v}, {HANOI}" for v in variants if v]


def _convert_old(text: str) -> str | None:
    """The current ward of an old (3-level) Hà Nội address, via underthesea.convert_address."""
    from underthesea import convert_address

    for address in _variants(text):
        result = convert_address(address)
        if result.status.value == "success" and result.new.province == HANOI and result.new.ward:
            return str(result.new.ward)
    return None


def normalize_ward(text: str) -> WardResult:
    """Recognise a current Hà Nội ward, convert an old address, or keep the input flagged as unverified."""
    typed = " ".join(unicodedata.normalize("NFC", text).split())
    if not _key(typed):
        raise InvalidInputError("Vui lòng nhập tên phường/xã.")
    if len(typed) > MAX_WARD_INPUT:
        raise InvalidInputError(f"Tên phường/xã dài tối đa {MAX_WARD_INPUT} ký tự.")
    wards = _current_wards()
    head = typed.split(",")[0]
    if "," not in typed or _key(typed.split(",", 1)[1]) == "hanoi":
        current = wards.get(_key(head))
        if current:
            return WardResult(current, True, typed)
    converted = _convert_old(typed)
    if converted:
        return WardResult(converted, True, typed)
    return WardResult(typed[:120], False, typed)
