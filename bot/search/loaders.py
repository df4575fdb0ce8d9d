"""Document loaders (.txt, .md, .html, .pdf, .docx) with web boilerplate removal.

`load_documents(knowledge_dir)` returns the readable documents and, for every file that could
not be read, its name and a Vietnamese reason; one bad file never stops a build. Each file is
parsed in a limited child process (bot.search.sandbox); `load_document` is the parser itself,
and it bounds what a hostile file can cost: decompressed size of a .docx, pages of a PDF.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.search.models import Document
from bot.text import clean_spaces, normalize

if TYPE_CHECKING:
    from bot.config import Settings

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
MANIFEST_NAME = "manifest.json"
LOADER_VERSION = "1"

_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)\s*\|?")
_TRAILING_PIPE_RE = re.compile(r"\s*\|\s*$")
_NAV_HEADINGS = frozenset(
    {
        "tin liên quan",
        "cùng chuyên mục",
        "tin cùng chuyên mục",
        "đọc thêm",
        "xem thêm",
        "bài viết liên quan",
        "tin khác",
        "các tin khác",
        "bài liên quan",
    }
)
_MD_LINK_RE = re.compile(r"(?<!!)\[([^\]]*)\]\([^)]*\)")
_MD_HEADING_RE = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+(?=\S))", re.MULTILINE)
_MD_EMPHASIS_RE = re.compile(r"(\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|`)")
_HTML_DROP = "script, style, noscript, nav, header, footer, aside, form, iframe, svg, figure figcaption"
_HTML_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre", "td", "th", "dt", "dd")
_MB = 1024 * 1024
MAX_ZIP_ENTRIES = 2000
MAX_ZIP_RATIO = 100  # deflate of Word XML is ~5-20x; a bomb is hundreds or a thousand
ZIP_RATIO_FLOOR_MB = 5  # entries smaller than this are never suspicious, whatever their ratio


@dataclass(frozen=True)
class RawText:
    """Text extracted from a file, and the title the file itself declares (if any)."""

    text: str
    title: str | None = None


class UnreadableDocumentError(Exception):
    """A file that cannot be read; the message is the reason shown to the admin."""


@dataclass(frozen=True)
class ParseLimits:
    """What parsing one file may cost; defaults match the settings' defaults."""

    timeout_seconds: float = 60.0
    memory_mb: int = 1024
    max_pdf_pages: int = 500
    max_unzipped_mb: float = 100.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        """The limits configured in settings."""
        return cls(
            timeout_seconds=settings.parse_timeout_seconds,
            memory_mb=settings.parse_memory_mb,
            max_pdf_pages=settings.max_pdf_pages,
            max_unzipped_mb=settings.max_unzipped_mb,
        )


def clean_boilerplate(text: str) -> str:
    """Drop image placeholders, caption pipes, blank lines and trailing navigation blocks."""
    lines: list[str] = []
    for raw in normalize(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _TRAILING_PIPE_RE.sub("", _IMAGE_RE.sub("", raw)).strip()
        if not line:
            continue
        if clean_spaces(line).lower().rstrip(":") in _NAV_HEADINGS:
            break
        lines.append(line)
    return "\n".join(lines)


def _read_text_file(path: Path, limits: ParseLimits) -> RawText:
    """Plain text or Markdown (UTF-8, with or without BOM)."""
    try:
        return RawText(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UnreadableDocumentError(f"không phải văn bản UTF-8 ({exc.reason})") from exc


def _read_markdown(path: Path, limits: ParseLimits) -> RawText:
    """Markdown with its markup removed (headings, emphasis, links keep their text)."""
    raw = _read_text_file(path, limits).text
    text = _MD_LINK_RE.sub(r"\1", raw)
    text = _MD_HEADING_RE.sub("", text)
    text = _MD_EMPHASIS_RE.sub("", text)
    return RawText(text)


def _read_html(path: Path, limits: ParseLimits) -> RawText:
    """Main text of an HTML page: <article>/<main> if present, without navigation and scripts."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(path.read_bytes().decode("utf-8", errors="replace"))
    title_node = tree.css_first("title")
    title = clean_spaces(title_node.text()) if title_node else None
    for node in tree.css(_HTML_DROP):
        node.decompose()
    root = tree.css_first("article") or tree.css_first("main") or tree.body
    if root is None:
        return RawText("", title or None)
    blocks = [
        clean_spaces(node.text(separator=" "))
        for node in root.css(", ".join(_HTML_BLOCKS))
        if not _has_block_ancestor(node, root)
    ]
    text = "\n".join(b for b in blocks if b) or root.text(separator="\n")
    return RawText(text, title or None)


def _has_block_ancestor(node: object, root: object) -> bool:
    """True if a block-level ancestor (below root) will already yield this node's text."""
    parent = getattr(node, "parent", None)
    while parent is not None and parent != root:
        if getattr(parent, "tag", None) in _HTML_BLOCKS:
            return True
        parent = getattr(parent, "parent", None)
    return False


def _read_pdf(path: Path, limits: ParseLimits) -> RawText:
    """The text layer of a PDF, up to max_pdf_pages (scanned PDFs without one are reported)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    with path.open("rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise UnreadableDocumentError("không phải tệp PDF thật (thiếu phần đầu %PDF); có thể tệp bị đổi đuôi")
    try:
        reader = PdfReader(str(path))
        pages = len(reader.pages)
        if pages > limits.max_pdf_pages:
            raise UnreadableDocumentError(
                f"tệp PDF có {pages} trang, quá giới hạn {limits.max_pdf_pages} trang; hãy tách thành tệp nhỏ hơn"
            )
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
        meta_title = reader.metadata.title if reader.metadata else None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, zlib.error) as exc:
        raise UnreadableDocumentError(f"tệp PDF hỏng hoặc không đọc được ({_brief(exc)})") from exc
    return RawText(text, str(meta_title) if meta_title else None)


def check_zip(path: Path, limits: ParseLimits) -> None:
    """Refuse a zip bomb before any XML is parsed: declared sizes, ratio, then the real inflated size."""
    cap = int(limits.max_unzipped_mb * _MB)
    too_big = f"giải nén ra quá lớn (trên {limits.max_unzipped_mb:g} MB); nghi là «bom nén», tệp không được dùng"
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise UnreadableDocumentError(f"tệp nén có {len(entries)} thành phần, quá nhiều cho một tệp Word")
            if sum(e.file_size for e in entries) > cap:
                raise UnreadableDocumentError(too_big)
            for entry in entries:
                ratio = entry.file_size / max(entry.compress_size, 1)
                if entry.file_size > ZIP_RATIO_FLOOR_MB * _MB and ratio > MAX_ZIP_RATIO:
                    raise UnreadableDocumentError(
                        f"tỉ lệ nén bất thường ({ratio:.0f} lần ở {entry.filename}); nghi là «bom nén»"
                    )
            inflated = 0
            for entry in entries:
                with archive.open(entry) as member:
                    while chunk := member.read(_MB):
                        inflated += len(chunk)
                        if inflated > cap:
                            raise UnreadableDocumentError(too_big)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise UnreadableDocumentError(f"tệp DOCX hỏng: không phải tệp nén zip hợp lệ ({_brief(exc)})") from exc


def _read_docx(path: Path, limits: ParseLimits) -> RawText:
    """Paragraphs and table cells of a .docx file (after the zip-bomb check)."""
    from docx import Document as DocxDocument
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    check_zip(path, limits)
    try:
        doc = DocxDocument(str(path))
        parts = [p.text for p in doc.paragraphs]
        for table in doc.tables:
            for row in table.rows:
                parts.append(" | ".join(cell.text for cell in row.cells))
        title = doc.core_properties.title or None
    except LxmlError as exc:
        raise UnreadableDocumentError(
            f"tệp DOCX hỏng: nội dung XML bên trong bị cắt cụt hoặc sai cú pháp ({_brief(exc)})"
        ) from exc
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, AttributeError, TypeError) as exc:
        raise UnreadableDocumentError(f"tệp DOCX hỏng hoặc không đọc được ({_brief(exc)})") from exc
    return RawText("\n".join(parts), title)


def _brief(exc: BaseException, limit: int = 160) -> str:
    """A short, single-line description of a parser error for the admin."""
    text = clean_spaces(str(exc)) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


_READERS: dict[str, Callable[[Path, ParseLimits], RawText]] = {
    ".txt": _read_text_file,
    ".md": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}


def read_manifest(knowledge_dir: Path) -> dict[str, dict[str, str]]:
    """Titles and sources by file name from knowledge/manifest.json (empty if absent or invalid)."""
    path = knowledge_dir / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    documents = data.get("documents", {}) if isinstance(data, dict) else {}
    return {str(k): v for k, v in documents.items() if isinstance(v, dict)}


def load_document(path: Path, meta: dict[str, str] | None = None, limits: ParseLimits | None = None) -> Document:
    """Parse one file in this process; raises UnreadableDocumentError with a reason."""
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise UnreadableDocumentError(f"định dạng {path.suffix or '(không đuôi)'} không được hỗ trợ")
    raw = reader(path, limits or ParseLimits())
    text = clean_boilerplate(raw.text)
    if not text.strip():
        raise UnreadableDocumentError("không có nội dung văn bản (PDF scan hoặc tệp rỗng?)")
    first_line = text.split("\n", 1)[0][:200]
    title = (meta or {}).get("title") or raw.title or first_line
    digest = hashlib.sha256(f"{LOADER_VERSION}\n{title}\n{text}".encode()).hexdigest()
    return Document(source=path.name, title=normalize(clean_spaces(title)), text=text, content_hash=digest)


def load_documents(
    knowledge_dir: Path, limits: ParseLimits | None = None
) -> tuple[list[Document], list[tuple[str, str]]]:
    """All readable documents of a directory (sorted by name, each parsed in the sandbox) and the
    skipped files with reasons."""
    from bot.search.sandbox import parse_file

    manifest = read_manifest(knowledge_dir)
    documents: list[Document] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(knowledge_dir.iterdir() if knowledge_dir.is_dir() else []):
        if path.name.startswith(".") or path.name == MANIFEST_NAME or not path.is_file():
            continue
        try:
            documents.append(parse_file(path, manifest.get(path.name), limits or ParseLimits()))
        except UnreadableDocumentError as exc:
            skipped.append((path.name, str(exc)))
    return documents, skipped
