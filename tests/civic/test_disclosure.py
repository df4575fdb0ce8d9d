"""Small-cell suppression of ward × option vote tables: no 1–4 cell shown, none recoverable from totals."""

from __future__ import annotations

import random

import pytest

from bot.services.disclosure import HIDDEN, SMALL, is_small, mask_table, shown


def test_counts_of_one_to_four_are_shown_as_below_five() -> None:
    assert [shown(n) for n in (0, 1, 4, 5, 120)] == [0, SMALL, SMALL, 5, 120]


def test_a_lone_small_cell_gets_a_complementary_hidden_cell() -> None:
    cells = {("A", 0): 20, ("A", 1): 3, ("B", 0): 30, ("B", 1): 40, ("C", 0): 50, ("C", 1): 60}
    marks = mask_table(cells, ["A", "B", "C"], [0, 1])
    # column 1 total is exact: 3 = total − 40 − 60 unless another cell of column 1 is hidden;
    # row A's total is shown: 3 = 23 − 20 unless A's other cell is hidden too
    assert marks[("A", 1)] == SMALL and marks[("A", 0)] == HIDDEN and marks[("B", 1)] == HIDDEN
    assert ("C", 0) not in marks and ("C", 1) not in marks


def test_every_cell_of_a_small_ward_is_hidden_even_zeros() -> None:
    marks = mask_table(
        {("A", 0): 2, ("B", 0): 9, ("B", 1): 9, ("C", 0): 9, ("C", 1): 9}, ["A", "B", "C"], [0, 1]
    )
    assert marks[("A", 0)] == SMALL and marks[("A", 1)] == SMALL  # 0 is "<5" too: which option is not told


@pytest.mark.parametrize("seed", range(40))
def test_no_line_keeps_exactly_one_hidden_cell(seed: int) -> None:
    rng = random.Random(seed)
    rows, cols = [f"w{i}" for i in range(rng.randint(2, 9))], list(range(rng.randint(2, 5)))
    cells = {(r, c): rng.choice([0, 1, 2, 3, 4, 5, 7, 12, 40]) for r in rows for c in cols}
    marks = mask_table(cells, rows, cols)
    assert all(key in marks for key, n in cells.items() if is_small(n))
    assert all(marks[key] == HIDDEN for key in marks if cells[key] >= 5)
    for c in cols:
        assert sum((r, c) in marks for r in rows) != 1
    for r in rows:
        if not is_small(sum(cells[(r, c)] for c in cols)):
            assert sum((r, c) in marks for c in cols) != 1
