"""Loaders of every supported format, boilerplate removal and chunking invariants."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from bot.search.chunker import chunk_document
from bot.search.loaders import load_documents

REPO = Path(__file__).resolve().parents[2]
SENTENCE = "Hà Nội xây dựng đô thị thông minh, xanh và bền vững."


def _write_pdf(path: Path, text: str) -> None:
    """A one-page PDF with a real text layer (matplotlib writes one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    fig.text(0.05, 0.5, text)
    fig.savefig(path)
    plt.close(fig)


def _write_docx(path: Path, title: str, paragraphs: list[str]) -> None:
    """A .docx with a core-properties title."""
    from docx import Document

    doc = Document()
    doc.core_properties.title = title
    for paragraph in paragraphs:
        doc.add_paragraph(paragraph)
    doc.save(str(path))


def test_every_format_is_read_with_its_title(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(f"Tiêu đề văn bản\n{SENTENCE}", encoding="utf-8")
    (tmp_path / "b.md").write_text(
        f"# Kế hoạch **xanh**\n\n{SENTENCE} Xem [chi tiết](http://x.vn).", encoding="utf-8"
    )
    (tmp_path / "c.html").write_text(
        "<html><head><title>Trang tin</title><script>var x = 1;</script></head><body>"
        "<nav>Trang chủ | Thời sự</nav><article><h1>Bài viết</h1><p>" + SENTENCE + "</p></article>"
        "<footer>Bản quyền</footer></body></html>",
        encoding="utf-8",
    )
    _write_pdf(tmp_path / "d.pdf", SENTENCE)
    _write_docx(tmp_path / "e.docx", "Văn bản Word", [SENTENCE])
    documents, skipped = load_documents(tmp_path)
    by_name = {d.source: d for d in documents}
    assert skipped == []
    assert set(by_name) == {"a.txt", "b.md", "c.html", "d.pdf", "e.docx"}
    assert all(SENTENCE in d.text for d in documents)
    assert by_name["a.txt"].title == "Tiêu đề văn bản"
    assert by_name["b.md"].text.startswith("Kế hoạch xanh\n")
    assert "chi tiết." in by_name["b.md"].text and "http" not in by_name["b.md"].text
    assert by_name["c.html"].title == "Trang tin"
    assert "var x" not in by_name["c.html"].text and "Trang chủ" not in by_name["c.html"].text
    assert "Bản quyền" not in by_name["c.html"].text
    assert by_name["e.docx"].title == "Văn bản Word"


def test_corrupt_files_are_skipped_by_name_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text(SENTENCE, encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Hà Nội".encode("latin-1", errors="replace") + b"\xff\xfe")
    documents, skipped = load_documents(tmp_path)
    assert [d.source for d in documents] == ["ok.txt"]
    reasons = dict(skipped)
    assert set(reasons) == {"broken.pdf", "broken.docx", "empty.txt", "latin1.txt"}
    assert "PDF" in reasons["broken.pdf"] and "DOCX" in reasons["broken.docx"]


def test_manifest_titles_win(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(f"Dòng đầu\n{SENTENCE}", encoding="utf-8")
    manifest = {"documents": {"a.txt": {"title": "Tiêu đề trong manifest"}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    documents, skipped = load_documents(tmp_path)
    assert [d.title for d in documents] == ["Tiêu đề trong manifest"] and skipped == []


def test_web_boilerplate_of_the_real_corpus_is_not_indexed() -> None:
    documents, skipped = load_documents(REPO / "knowledge")
    assert len(documents) == 2 and skipped == []
    smart_city = next(d for d in documents if d.source.startswith("ha-noi-do-thi"))
    for junk in (
        "![]()",
        "Tin liên quan",
        "Cùng chuyên mục",
        "Đọc thêm",
        "Phó Chủ tịch Quốc hội tiếp xúc cử tri",
    ):
        assert junk not in smart_city.text
    assert not any(line.endswith("|") for line in smart_city.text.splitlines())
    assert smart_city.text.rstrip().endswith("báo cáo kết quả với Ban Thường vụ Thành ủy...")
    assert smart_city.title.startswith("Đẩy mạnh công tác quy hoạch")


@pytest.mark.parametrize(("size", "overlap"), [(300, 0), (700, 1), (1500, 2)])
def test_chunks_are_exact_bounded_and_cover_the_document(size: int, overlap: int) -> None:
    documents, _ = load_documents(REPO / "knowledge")
    for document in documents:
        chunks = chunk_document(document, size, overlap)
        assert [c.position for c in chunks] == list(range(len(chunks)))
        covered: set[int] = set()
        cursor = 0
        for chunk in chunks:
            start = document.text.find(chunk.text, max(0, cursor - size))
            assert start >= 0, "a passage must be an exact substring of its document"
            assert chunk.title == document.title and chunk.source == document.source
            longest_clause = max(b - a for a, b in chunk.clauses)
            assert len(chunk.text) <= max(size, longest_clause)
            for a, b in chunk.clauses:
                assert 0 <= a < b <= len(chunk.text)
            covered.update(range(start, start + len(chunk.text)))
            cursor = start + len(chunk.text)
        words = [i for i, ch in enumerate(document.text) if ch.isalnum()]
        assert all(i in covered for i in words), "every word of the document is in some passage"


def test_consecutive_passages_share_the_overlap_sentence() -> None:
    documents, _ = load_documents(REPO / "knowledge")
    chunks = chunk_document(documents[1], 700, 1)
    shared = sum(1 for a, b in itertools.pairwise(chunks) if a.text[-40:] in b.text)
    assert shared >= len(chunks) // 2
