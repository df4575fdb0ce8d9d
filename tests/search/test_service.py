"""SearchService: builds a missing index on start, answers off the loop, keeps answering during a rebuild."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import Settings
from bot.search.errors import IndexMissingError
from bot.search.service import SearchService


async def test_start_builds_a_missing_index_then_answers(settings: Settings) -> None:
    service = SearchService(settings)
    await service.start()
    answer = await service.ask("Hà Nội trồng thêm bao nhiêu cây xanh?")
    assert answer.passages[0].source == "moi-truong.md"
    await service.close()


async def test_start_without_building_reports_the_missing_index(settings: Settings) -> None:
    service = SearchService(settings)
    with pytest.raises(IndexMissingError):
        await service.start(build_if_missing=False)
    with pytest.raises(IndexMissingError):
        await service.ask("cây xanh")


async def test_rebuild_swaps_in_new_documents_while_questions_keep_being_answered(
    settings: Settings, knowledge: Path
) -> None:
    service = SearchService(settings)
    await service.start()
    (knowledge / "y-te.txt").write_text(
        "Y tế cơ sở\nHà Nội xây dựng thêm trạm y tế phường và bệnh viện đa khoa vệ tinh.", encoding="utf-8"
    )
    rebuild = asyncio.create_task(service.rebuild())
    during = await asyncio.gather(*(service.ask("đường sắt đô thị giảm ùn tắc") for _ in range(3)))
    report = await rebuild
    assert all(a.passages[0].source == "giao-thong.txt" for a in during)
    assert (report.documents, report.reused) == (3, 2)
    after = await service.ask("trạm y tế phường và bệnh viện vệ tinh")
    assert after.passages[0].source == "y-te.txt"
    await service.close()


async def test_questions_asked_together_each_get_their_own_answer(settings: Settings) -> None:
    service = SearchService(settings)
    await service.start()
    questions = {
        "Hà Nội trồng thêm bao nhiêu cây xanh?": "moi-truong.md",
        "đường sắt đô thị giảm ùn tắc": "giao-thong.txt",
        "Rác thải sinh hoạt được phân loại ở đâu?": "moi-truong.md",
        "bãi đỗ xe ngầm xây ở đâu": "giao-thong.txt",
        "Chào bạn!": None,
    }
    answers = await asyncio.gather(*(service.ask(q) for q in questions))
    for (question, source), answer in zip(questions.items(), answers, strict=True):
        assert answer.question == question
        assert (answer.passages[0].source if answer.passages else None) == source
    await service.close()


async def test_admin_synonyms_apply_now_and_after_a_rebuild(settings: Settings) -> None:
    service = SearchService(settings)
    await service.start()
    question = "mùi hôi từ bãi đổ mỗi sáng"
    assert (await service.ask(question)).passages[0].source == "giao-thong.txt"
    service.set_extra_synonyms([("bãi đổ", "rác thải sinh hoạt")])
    assert (await service.ask(question)).passages[0].source == "moi-truong.md"
    await service.rebuild()
    assert (await service.ask(question)).passages[0].source == "moi-truong.md"
    await service.close()
