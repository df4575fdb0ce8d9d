"""Export files: a writable target, written under a temporary name and renamed, text safe for spreadsheets."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.services.exports.filters import ExportError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """Drop control characters that XML and spreadsheets reject (keeps newlines and tabs)."""
    return _CONTROL.sub("", value)


def check_writable(out: Path) -> None:
    """Raise ExportError unless `out` can be created (its folder exists and is writable)."""
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise ExportError(f"'{out}' là một thư mục, cần một tên tệp (file name).")
    if not parent.is_dir():
        raise ExportError(f"Thư mục '{parent}' không tồn tại (folder does not exist).")
    if not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ExportError(f"Không có quyền ghi vào '{out}' (path is not writable).")


@contextmanager
def atomic(out: Path) -> Iterator[Path]:
    """Yield a temporary path beside `out`; rename it to `out` only if the block succeeds."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def chart_path_for(out: Path) -> Path:
    """Where the PNG chart of an XLSX export goes: beside it, same name, .png."""
    png = out.with_suffix(".png")
    return png if png != out else out.with_name(out.name + ".chart.png")
