"""The parsing sandbox: hostile files (zip bomb, truncated XML, fake or huge PDF) and parsers that hang
or eat memory are refused with a reason, in a child process, and never take the caller down.

The builders of hostile files here are also used by tests/telegram/test_uploads.py.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import pytest

from bot.config import Settings
from bot.search.loaders import ParseLimits, UnreadableDocumentError
from bot.search.sandbox import parse_file, run_limited

SENTENCE = "Hà Nội phát triển giao thông công cộng và không gian xanh cho người dân."


def docx_bytes(paragraphs: list[str]) -> bytes:
    """A real .docx made by python-docx."""
    from docx import Document

    doc = Document()
    for paragraph in paragraphs:
        doc.add_paragraph(paragraph)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def truncated_docx() -> bytes:
    """A .docx whose word/document.xml is cut in the middle of a tag (a valid zip otherwise)."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes([SENTENCE] * 20)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data[: data.index(b"<w:t>", len(data) // 2) + 3]
            target.writestr(item, data)
    return out.getvalue()


def zip_bomb_docx(inflated_mb: int) -> bytes:
    """A small .docx whose document.xml inflates to `inflated_mb` MB (streamed: never held or written)."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes([SENTENCE])))
    out = io.BytesIO()
    chunk = b"a" * (1024 * 1024)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                target.writestr(item, source.read(item))
        with target.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b'<?xml version="1.0"?><w:document xmlns:w="x"><w:body><w:p><w:r><w:t>')
            for _ in range(inflated_mb):
                member.write(chunk)
            member.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return out.getvalue()


def pdf_with_pages(pages: int) -> bytes:
    """A well-formed PDF of blank pages."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def allocate(mb: int) -> int:
    """A 'parser' that needs `mb` MB at once."""
    return len(bytearray(mb * 1024 * 1024))


def reason_of(path: Path, limits: ParseLimits | None = None) -> str:
    """The reason the sandbox gives for refusing a file."""
    with pytest.raises(UnreadableDocumentError) as caught:
        parse_file(path, None, limits)
    return str(caught.value)


def test_a_good_docx_is_parsed_in_the_sandbox(tmp_path: Path) -> None:
    path = tmp_path / "tot.docx"
    path.write_bytes(docx_bytes([SENTENCE]))
    document = parse_file(path)
    assert document.source == "tot.docx" and SENTENCE in document.text


def test_truncated_docx_xml_is_refused_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "cut.docx"
    path.write_bytes(truncated_docx())
    assert "XML" in reason_of(path)


@pytest.mark.parametrize(("inflated_mb", "expected"), [(150, "quá lớn"), (40, "tỉ lệ nén")])
def test_zip_bomb_docx_is_refused_before_it_is_inflated(tmp_path: Path, inflated_mb: int, expected: str) -> None:
    path = tmp_path / "bomb.docx"
    path.write_bytes(zip_bomb_docx(inflated_mb))
    assert path.stat().st_size < 1024 * 1024
    reason = reason_of(path, ParseLimits(max_unzipped_mb=100))
    assert expected in reason and "bom nén" in reason


def test_fake_and_oversized_pdfs_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.pdf"
    fake.write_text(SENTENCE, encoding="utf-8")
    assert "không phải tệp PDF thật" in reason_of(fake)
    long = tmp_path / "long.pdf"
    long.write_bytes(pdf_with_pages(5))
    assert "5 trang" in reason_of(long, ParseLimits(max_pdf_pages=3))
    assert "không có nội dung" in reason_of(long, ParseLimits(max_pdf_pages=10))


def test_a_parser_that_hangs_is_killed_at_the_time_limit() -> None:
    """time.sleep stands for a parser stuck on a file; run_limited returns only once the child is reaped."""
    limits = ParseLimits.from_settings(Settings(parse_timeout_seconds=1, _env_file=None))
    with pytest.raises(UnreadableDocumentError, match="quá 1 giây"):
        run_limited(time.sleep, 3600, limits=limits)


def test_a_parser_that_needs_too_much_memory_is_stopped_and_the_caller_lives() -> None:
    with pytest.raises(UnreadableDocumentError, match="bộ nhớ"):
        run_limited(allocate, 600, limits=ParseLimits(memory_mb=256))
    assert run_limited(allocate, 16, limits=ParseLimits(memory_mb=256)) == 16 * 1024 * 1024


def test_parsing_happens_in_another_process() -> None:
    assert run_limited(os.getpid, limits=ParseLimits()) != os.getpid()
