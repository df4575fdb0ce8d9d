"""Ward matching speed: the first call (tables built from underthesea's mapping) and later calls.

    python bench/bench_wards.py [--repeat 20]

Each measurement runs in a fresh interpreter (so the first call really is the first). Baseline in the
same run: underthesea.convert_address, what normalize_ward called before, on full old addresses
("Phường X, Quận Y, Thành phố Hà Nội"). Inputs: every old Hà Nội ward with its district, and the same
typed loosely (no diacritics, no commas). Prints a markdown table and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_PROBE = r"""
import json, sys, time
sys.path.insert(0, {repo!r})
from bot.text import _underthesea, strip_diacritics
from bot.services.wards import _mapping_path, match_wards
rows = json.loads(_mapping_path().read_text(encoding="utf-8"))["ward_mapping"]
pairs = sorted({{(r["old_ward"], r["old_district"]) for r in rows if r["old_province"] == "Thành phố Hà Nội"}})
if {kind!r} == "convert_address":
    convert = _underthesea().convert_address
    call = lambda w, d: convert(f"{{w}}, {{d}}, Thành phố Hà Nội")
    inputs = pairs
elif {kind!r} == "match_wards":
    call = lambda w, d: match_wards(f"{{w}}, {{d}}")
    inputs = pairs
else:
    call = lambda w, d: match_wards(strip_diacritics(f"{{w}} {{d}}").lower())
    inputs = pairs
start = time.perf_counter()
call(*inputs[0])
first = time.perf_counter() - start
start = time.perf_counter()
for w, d in inputs:
    call(w, d)
later = (time.perf_counter() - start) / len(inputs)
print(json.dumps({{"first_ms": first * 1000, "later_ms": later * 1000, "n": len(inputs)}}))
"""


def probe(kind: str) -> dict[str, float]:
    """Run one measurement in a fresh interpreter; return its figures."""
    code = _PROBE.format(repo=str(REPO), kind=kind)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters per row (median reported)")
    args = parser.parse_args()
    rows = {}
    for kind in ("convert_address", "match_wards", "match_wards_loose"):
        runs = [probe(kind) for _ in range(args.repeat)]
        rows[kind] = (
            median([r["first_ms"] for r in runs]),
            median([r["later_ms"] for r in runs]),
            runs[0]["n"],
        )
    base_first, base_later, _ = rows["convert_address"]
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs\n")
    print("| what | inputs | first call (ms) | later calls (ms each) | first / baseline | later / baseline |")
    print("|---|---|---|---|---|---|")
    for kind, (first, later, n) in rows.items():
        print(
            f"| {kind} | {n} | {first:.1f} | {later:.3f} | {first / base_first:.2f} | {later / base_later:.2f} |"
        )
    print(
        "\nbaseline: underthesea.convert_address on 'Phường X, Quận Y, Thành phố Hà Nội' (the previous path)"
    )


if __name__ == "__main__":
    main()
