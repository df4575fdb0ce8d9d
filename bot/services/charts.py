"""PNG charts of an export summary, for sharing in Telegram chats.

matplotlib is imported lazily (inside `render_summary_png`) and drawn on a bare `Figure` (Agg canvas,
no pyplot, no global state), so importing this module costs nothing; DejaVu Sans, which ships with matplotlib, renders Vietnamese diacritics.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

FONT = "DejaVu Sans"
TOP_WARDS = 15


def _shorten(label: str, width: int = 28) -> str:
    """Cut a long label so it fits on an axis."""
    return label if len(label) <= width else label[: width - 1] + "…"


def _barh(ax: Any, labels: Sequence[str], values: Sequence[int], title: str, color: str) -> None:
    """Horizontal bar chart with the value printed at the end of each bar."""
    from matplotlib.ticker import MaxNLocator

    positions = list(range(len(labels)))
    ax.barh(positions, values, color=color)
    ax.set_yticks(positions, [_shorten(label) for label in labels])
    ax.invert_yaxis()
    ax.set_title(title, fontsize=12, fontweight="bold")
    ax.set_xlabel("Số góp ý")
    for y, value in zip(positions, values, strict=True):
        ax.text(value, y, f" {value:,}".replace(",", "."), va="center", fontsize=8)
    ax.margins(x=0.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _pie(ax: Any, labels: Sequence[str], values: Sequence[int], title: str) -> None:
    """Pie chart of the non-zero values, or a note when there are none."""
    pairs = [(label, value) for label, value in zip(labels, values, strict=True) if value > 0]
    ax.set_title(title, fontsize=12, fontweight="bold")
    if not pairs:
        ax.text(0.5, 0.5, "Chưa có dữ liệu", ha="center", va="center")
        ax.axis("off")
        return
    ax.pie(
        [value for _, value in pairs],
        labels=[f"{label} ({value})" for label, value in pairs],
        autopct="%1.0f%%",
        startangle=90,
        textprops={"fontsize": 9},
    )
    ax.axis("equal")


def render_summary_png(
    out: Path,
    *,
    title: str,
    by_category: Sequence[tuple[str, int]],
    by_ward: Sequence[tuple[str, int]],
    by_status: Sequence[tuple[str, int]],
) -> Path:
    """Draw counts by category, top wards and status into one PNG at `out`; return `out`."""
    import matplotlib
    from matplotlib.figure import Figure

    wards = list(by_ward)[:TOP_WARDS]
    with matplotlib.rc_context({"font.family": FONT}):
        fig = Figure(figsize=(14, 10), dpi=100, layout="constrained")
        fig.suptitle(title, fontsize=14, fontweight="bold")
        grid = fig.add_gridspec(2, 2)
        _barh(fig.add_subplot(grid[0, 0]), *_unzip(by_category), "Theo lĩnh vực", "#2b7bba")
        _pie(fig.add_subplot(grid[0, 1]), *_unzip(by_status), "Theo trạng thái")
        ward_title = f"{len(wards)} phường/xã nhiều góp ý nhất" if wards else "Theo phường/xã"
        _barh(fig.add_subplot(grid[1, :]), *_unzip(wards), ward_title, "#e07b39")
        fig.savefig(out, format="png")
    return out


def _unzip(pairs: Sequence[tuple[str, int]]) -> tuple[list[str], list[int]]:
    """Split (label, value) pairs into two lists."""
    return [label for label, _ in pairs], [value for _, value in pairs]
