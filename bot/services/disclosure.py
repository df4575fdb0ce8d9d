"""Small-cell suppression for ward × option vote tables shown to officers (a vote must not point to a household).

Rule: a cell with 1–4 votes is shown as "<5"; so are all cells of a ward with 1–4 votes in total (and
that total). A table also prints exact totals by option (and by ward, for wards of 5 or more), so a
single hidden cell in a column or row could be recovered by subtraction: the smallest other cell of
that line is hidden too ("ẩn", or "<5" when it really is below 5), repeated until no line has exactly
one hidden cell. Totals by option stay exact.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

MIN_COUNT = 5
SMALL = "<5"
HIDDEN = "ẩn"
NOTE = (
    f"Ô có 1–4 phiếu hiện «{SMALL}», ô «{HIDDEN}» được che thêm để không suy ra được ô nhỏ từ tổng; "
    "tổng theo phương án là số chính xác."
)

R = TypeVar("R", bound=Hashable)
C = TypeVar("C", bound=Hashable)


def is_small(count: int) -> bool:
    """1–4: too few to show."""
    return 0 < count < MIN_COUNT


def shown(count: int) -> int | str:
    """A count as it may be shown: the number, or "<5"."""
    return SMALL if is_small(count) else count


def mask_table(
    cells: Mapping[tuple[R, C], int], rows: Sequence[R], cols: Sequence[C]
) -> dict[tuple[R, C], str]:
    """The cells of a rows × cols table to hide, with their mark ("<5" or "ẩn"); missing cells count 0."""
    totals = {r: sum(cells.get((r, c), 0) for c in cols) for r in rows}
    marks: dict[tuple[R, C], str] = {
        (r, c): SMALL for r in rows for c in cols if is_small(totals[r]) or is_small(cells.get((r, c), 0))
    }
    lines = [[(r, c) for r in rows] for c in cols]
    lines += [[(r, c) for c in cols] for r in rows if not is_small(totals[r])]
    changed = True
    while changed:
        changed = False
        for line in lines:
            visible = [key for key in line if key not in marks]
            if len(line) - len(visible) == 1 and visible:
                key = min(visible, key=lambda k: (cells.get(k, 0), str(k)))
                marks[key] = SMALL if cells.get(key, 0) < MIN_COUNT else HIDDEN
                changed = True
    return marks
