"""Sentence-aware chunking of documents into overlapping passages.

Passages are exact substrings of the document text, packed from whole sentences up to
`chunk_size` characters (a longer sentence is cut at semicolons), consecutive passages sharing
`overlap` sentences. Each passage records the spans of its clauses (sentences split at "; ").
"""

from __future__ import annotations

from bot.search.models import Chunk, Document
from bot.text import clause_spans, sentence_spans

Span = tuple[int, int]


def _pieces(text: str, chunk_size: int) -> list[Span]:
    """Sentence spans, long sentences cut into groups of clauses no longer than chunk_size."""
    pieces: list[Span] = []
    for sentence in sentence_spans(text):
        if sentence[1] - sentence[0] <= chunk_size:
            pieces.append(sentence)
            continue
        group: list[Span] = []
        for clause in clause_spans(text, sentence):
            if group and clause[1] - group[0][0] > chunk_size:
                pieces.append((group[0][0], group[-1][1]))
                group = []
            group.append(clause)
        if group:
            pieces.append((group[0][0], group[-1][1]))
    return pieces


def _pack(pieces: list[Span], chunk_size: int, overlap: int) -> list[list[Span]]:
    """Greedy packing of consecutive pieces with `overlap` pieces carried into the next group."""
    groups: list[list[Span]] = []
    current: list[Span] = []
    for piece in pieces:
        if current and piece[1] - current[0][0] > chunk_size:
            groups.append(current)
            carried = current[-overlap:] if 0 < overlap < len(current) else []
            current = [p for p in carried if piece[1] - p[0] <= chunk_size]
        current.append(piece)
    if current:
        groups.append(current)
    return groups


def chunk_document(document: Document, chunk_size: int, overlap: int) -> list[Chunk]:
    """Split one document into passages keeping title, source and position."""
    text = document.text
    chunks: list[Chunk] = []
    for position, group in enumerate(_pack(_pieces(text, chunk_size), chunk_size, overlap)):
        start, end = group[0][0], group[-1][1]
        clauses = tuple(
            (a - start, b - start) for piece in group for a, b in clause_spans(text, piece) if b > a
        )
        chunks.append(
            Chunk(
                text=text[start:end],
                title=document.title,
                source=document.source,
                position=position,
                clauses=clauses,
            )
        )
    return chunks
