"""`citizenbot faq ...` and `citizenbot synonyms ...` through Typer's CliRunner: exit 2 on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.civic.test_cli import Cli


@pytest.fixture(name="cli")
def cli_on_database(database_url: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`citizenbot` on a fresh database of each backend."""
    monkeypatch.chdir(tmp_path)
    return Cli(database_url, data_dir)


def test_faq_add_list_export_remove(cli: Cli, tmp_path: Path) -> None:
    out = cli("faq", "add", "Thư viện quận mở cửa mấy giờ?", "Từ 8 giờ đến 20 giờ.", "--source", "=HYPERLINK(x)")
    assert "Đã thêm câu trả lời số 1" in out
    listing = cli("faq", "list")
    assert "#1" in listing and "Từ 8 giờ đến 20 giờ." in listing and "Nguồn: =HYPERLINK(x)" in listing
    target = tmp_path / "faq.csv"
    assert "Đã xuất 1 câu trả lời" in cli("faq", "export", str(target))
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfquestion,answer,source,created\r\n")  # UTF-8 BOM for Excel
    assert "'=HYPERLINK(x)" in raw.decode("utf-8-sig")  # not run as a formula
    assert "Đã xóa câu trả lời số 1" in cli("faq", "remove", "1")
    assert "Chưa có câu trả lời" in cli("faq", "list")
    assert "Đã nhập 1 câu trả lời mới" in cli("faq", "import", str(target))
    assert "Nguồn: =HYPERLINK(x)" in cli("faq", "list")


def test_bad_faq_input_exits_2_and_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    assert "Câu hỏi không được để trống" in cli("faq", "add", " ", "Đáp", code=2)
    assert "Không có câu trả lời số 7" in cli("faq", "remove", "7", code=2)
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer,source,created\nHỏi?,Đáp,,\n,Thiếu,,\nHỏi 2?,Đáp,,2026-99-01\n", encoding="utf-8")
    out = cli("faq", "import", str(bad), code=2)
    assert "Dòng 3:" in out and "Dòng 4:" in out and "Dòng 2" not in out
    latin = tmp_path / "latin.csv"
    latin.write_bytes("question,answer,source,created\nHỏi?,Đáp,,\n".encode("cp1258", errors="replace") + b"\xff")
    assert "UTF-8" in cli("faq", "import", str(latin), code=2)
    assert "Không tìm thấy tệp" in cli("faq", "import", str(tmp_path / "none.csv"), code=2)
    assert "Chưa có câu trả lời" in cli("faq", "list")


def test_synonyms_add_list_remove(cli: Cli) -> None:
    assert "Đã thêm từ đồng nghĩa số 1: «kẹt xe» = «ùn tắc giao thông»" in cli(
        "synonyms", "add", "kẹt xe", "ùn tắc giao thông"
    )
    assert "Đã có từ đồng nghĩa này" in cli("synonyms", "add", "kẹt xe", "ùn tắc giao thông", code=2)
    assert "không được chứa" in cli("synonyms", "add", "a = b", "c", code=2)
    assert "1\tkẹt xe = ùn tắc giao thông" in cli("synonyms", "list")
    assert "Đã xóa từ đồng nghĩa số 1" in cli("synonyms", "remove", "1")
    assert "Không có từ đồng nghĩa số 1" in cli("synonyms", "remove", "1", code=2)
    assert "Chưa có từ đồng nghĩa" in cli("synonyms", "list")
