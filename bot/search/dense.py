"""Dense vector index over faiss: exact inner product (flat) or approximate (HNSW)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 128


class DenseIndex:
    """A small interface over a faiss index: build, search, save, load."""

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat") -> DenseIndex:
        """Index L2-normalised vectors; `kind` is "flat" (exact) or "hnsw" (approximate)."""
        import faiss

        data = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = int(data.shape[1])
        index: Any
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = HNSW_EF_SEARCH
        elif kind == "flat":
            index = faiss.IndexFlatIP(dim)
        else:
            raise ValueError(f"unknown index type {kind!r} (flat or hnsw)")
        if len(data):
            index.add(data)
        return cls(index)

    @property
    def size(self) -> int:
        """Number of indexed vectors."""
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for one query vector, best first; ids -1 are dropped."""
        k = min(k, self.size)
        if k <= 0:
            return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def save(self, path: Path) -> None:
        """Write the index to a file."""
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        """Read an index written by `save`."""
        import faiss

        index = faiss.read_index(str(path))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index)
