"""Document loaders (.txt, .md, .html, .pdf, .docx) with web boilerplate removal.

`load_documents(knowledge_dir)` returns the readable documents and, for every file that could
not be read, its name and a Vietnamese reason; one bad file never stops a build.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.search.models import Document
from bot.text import clean_spaces, normalize

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


@dataclass(frozen=True)
class RawText:
    """Text extracted from a file, and the title the file itself declares (if any)."""

    text: str
    title: str | None = None


class UnreadableDocumentError(Exception):
    """A file that cannot be read; the message is the reason shown to the admin."""


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


def _read_text_file(path: Path) -> RawText:
    """Plain text or Markdown (UTF-8, with or without BOM)."""
    try:
        return RawText(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UnreadableDocumentError(f"không phải văn bản UTF-8 ({exc.reason})") from exc


def _read_markdown(path: Path) -> RawText:
    """Markdown with its markup removed (headings, emphasis, links keep their text)."""
    raw = _read_text_file(path).text
    text = _MD_LINK_RE.sub(r"\1", raw)
    text = _MD_HEADING_RE.sub("", text)
    text = _MD_EMPHASIS_RE.sub("", text)
    return RawText(text)


def _read_html(path: Path) -> RawText:
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


def _read_pdf(path: Path) -> RawText:
    """The text layer of a PDF (scanned PDFs without one are reported)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
        meta_title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableDocumentError(f"tệp PDF hỏng hoặc không đọc được ({exc})") from exc
    return RawText(text, str(meta_title) if meta_title else None)


def _read_docx(path: Path) -> RawText:
    """Paragraphs and table cells of a .docx file."""
    import zipfile

    from docx import Document as DocxDocument
    from docx.opc.exceptions import PackageNotFoundError

    try:
        doc = DocxDocument(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableDocumentError(f"tệp DOCX hỏng hoặc không đọc được ({exc})") from exc
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return RawText("\n".join(parts), doc.core_properties.title or None)


_READERS: dict[str, Callable[[Path], RawText]] = {
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


def load_document(path: Path, meta: dict[str, str] | None = None) -> Document:
    """Load one file; raises UnreadableDocumentError with a reason."""
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise UnreadableDocumentError(f"định dạng {path.suffix or '(không đuôi)'} không được hỗ trợ")
    raw = reader(path)
    text = clean_boilerplate(raw.text)
    if not text.strip():
        raise UnreadableDocumentError("không có nội dung văn bản (PDF scan hoặc tệp rỗng?)")
    first_line = text.split("\n", 1)[0][:200]
    title = (meta or {}).get("title") or raw.title or first_line
    digest = hashlib.sha256(f"{LOADER_VERSION}\n{title}\n{text}".encode()).hexdigest()
    return Document(source=path.name, title=normalize(clean_spaces(title)), text=text, content_hash=digest)


def load_documents(knowledge_dir: Path) -> tuple[list[Document], list[tuple[str, str]]]:
    """All readable documents of a directory (sorted by name) and the skipped files with reasons."""
    manifest = read_manifest(knowledge_dir)
    documents: list[Document] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(knowledge_dir.iterdir() if knowledge_dir.is_dir() else []):
        if path.name.startswith(".") or path.name == MANIFEST_NAME or not path.is_file():
            continue
        try:
            documents.append(load_document(path, manifest.get(path.name)))
        except UnreadableDocumentError as exc:
            skipped.append((path.name, str(exc)))
        except OSError as exc:
            skipped.append((path.name, f"không đọc được tệp ({exc.strerror or exc})"))
    return documents, skipped
