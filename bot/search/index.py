"""Index build: load → chunk → embed (only what changed) → BM25 tokens → faiss → atomic swap."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.search.calibration import calibrate_stored
from bot.search.chunker import chunk_document
from bot.search.dense import DenseIndex
from bot.search.encoders import Encoder, make_encoder
from bot.search.errors import NothingIndexableError, SearchError
from bot.search.lexical import word_tokens
from bot.search.loaders import ParseLimits, load_documents
from bot.search.models import BuildReport, Chunk, Document
from bot.search.store import FORMAT_VERSION, StoredIndex, library_versions, load_index, staging_dir, swap_in


def _previous_vectors(
    index_dir: Path, name: str, dim: int | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Vectors of the current index by text, and its document hashes (empty if unusable)."""
    try:
        old = load_index(index_dir)
    except SearchError:
        return {}, {}
    if old.manifest.get("encoder") != name or (dim is not None and old.manifest.get("dim") != dim):
        return {}, {}
    cache: dict[str, np.ndarray] = {}
    clause_row = 0
    for row, chunk in enumerate(old.chunks):
        cache[chunk.text] = old.passage_vectors[row]
        for a, b in chunk.clauses:
            cache[chunk.text[a:b]] = old.clause_vectors[clause_row]
            clause_row += 1
    hashes = {s: d["hash"] for s, d in old.manifest.get("documents", {}).items()}
    return cache, hashes


def _embed(
    texts: list[str], cache: dict[str, np.ndarray], encoder: Encoder, progress: bool
) -> tuple[np.ndarray, int]:
    """Vectors for texts, reusing cached ones; returns (vectors, number embedded now)."""
    missing = sorted({t for t in texts if t not in cache})
    if missing:
        fresh = encoder.encode_passages(missing, progress=progress)
        cache.update(zip(missing, fresh, strict=True))
    vectors = np.stack([cache[t] for t in texts]) if texts else np.empty((0, encoder.dim), np.float32)
    return vectors.astype(np.float32), len(missing)


def _manifest(
    settings: Settings, encoder: Encoder, documents: list[Document], chunks: list[Chunk]
) -> dict[str, object]:
    """The manifest of a new index."""
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[chunk.source] = counts.get(chunk.source, 0) + 1
    return {
        "format": FORMAT_VERSION,
        "encoder": encoder.name,
        "dim": encoder.dim,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "settings": {
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "index_type": settings.index_type,
        },
        "documents": {
            d.source: {"hash": d.content_hash, "title": d.title, "passages": counts.get(d.source, 0)}
            for d in documents
        },
    }


def build_index(
    settings: Settings,
    *,
    knowledge_dir: Path | None = None,
    index_dir: Path | None = None,
    progress: bool = False,
    encoder: Encoder | None = None,
    prior: dict[str, object] | None = None,
) -> BuildReport:
    """Build the index of knowledge_dir into index_dir, swapping it in atomically."""
    started = time.perf_counter()
    knowledge_dir = knowledge_dir or settings.knowledge_dir
    index_dir = index_dir or settings.index_dir
    documents, skipped = load_documents(knowledge_dir, ParseLimits.from_settings(settings))
    chunks = [c for d in documents for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap)]
    if not chunks:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped)
        raise NothingIndexableError(
            f"Không có tài liệu nào đọc được trong {knowledge_dir}; chỉ mục cũ vẫn được giữ nguyên."
            + (f" Tệp bị bỏ qua: {reasons}" if reasons else "")
        )
    encoder = encoder or make_encoder(settings)
    cache, old_hashes = _previous_vectors(index_dir, encoder.name, encoder.dim)
    clause_texts = [c.text[a:b] for c in chunks for a, b in c.clauses]
    passage_vectors, n1 = _embed([c.text for c in chunks], cache, encoder, progress)
    clause_vectors, n2 = _embed(clause_texts, cache, encoder, progress)
    stored = StoredIndex(
        manifest=_manifest(settings, encoder, documents, chunks),
        chunks=chunks,
        words=[word_tokens(c.text) for c in chunks],
        clause_words=[[word_tokens(c.text[a:b]) for a, b in c.clauses] for c in chunks],
        passage_vectors=passage_vectors,
        clause_vectors=clause_vectors,
        passage_index=DenseIndex.build(passage_vectors, settings.index_type),
        clause_index=DenseIndex.build(clause_vectors, settings.index_type),
    )
    stored.manifest["calibration"] = calibrate_stored(stored, encoder, settings, prior, index_dir)
    target = staging_dir(index_dir)
    try:
        write_and_swap(target, index_dir, stored)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    reused = sum(1 for d in documents if old_hashes.get(d.source) == d.content_hash)
    return BuildReport(
        documents=len(documents),
        passages=len(chunks),
        seconds=time.perf_counter() - started,
        skipped=skipped,
        reused=reused,
        embedded=n1 + n2,
    )


def write_and_swap(target: Path, index_dir: Path, stored: StoredIndex) -> None:
    """Write the new index beside the old one and swap it in."""
    from bot.search.store import write_index

    write_index(target, stored)
    swap_in(target, index_dir)


BUILD_NICE = 10  # a re-index only takes CPU the answering process leaves free


def _build_child(conn: Connection, settings: Settings) -> None:
    """Child entry point: build at a lower priority and send ("ok", report) or ("error", message) back."""
    import os

    os.nice(BUILD_NICE)
    try:
        result: tuple[str, object] = ("ok", build_index(settings))
    except SearchError as exc:
        result = ("error", exc.message)
    except Exception as exc:
        result = ("error", f"Lập chỉ mục thất bại ({type(exc).__name__}: {exc}); chỉ mục cũ vẫn được giữ nguyên.")
    conn.send(result)
    conn.close()


def build_index_in_child(settings: Settings) -> BuildReport:
    """build_index in a separate, lower-priority process: the caller keeps its CPU, GIL and memory."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_build_child, args=(sender, settings), name="citizenbot-index")
    process.start()
    sender.close()
    try:
        status, value = receiver.recv()
    except EOFError:
        process.join()
        raise SearchError(
            f"Tiến trình lập chỉ mục dừng bất thường (mã {process.exitcode}); chỉ mục cũ vẫn được giữ nguyên."
        ) from None
    finally:
        receiver.close()
    process.join()
    if status != "ok":
        raise SearchError(str(value))
    assert isinstance(value, BuildReport)
    return value
