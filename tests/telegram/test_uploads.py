"""Admin uploads through the real bot against the fake Bot API: hostile files are refused by name with a
reason and never reach knowledge/, residents are answered meanwhile, replacements need a confirmation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from bot.telegram import format as fmt
from bot.telegram.app import build_application
from tests.search.test_sandbox import pdf_with_pages, truncated_docx, zip_bomb_docx
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_bot import (
    ADMIN,
    QUICK,
    SLOW,
    Bot,
    admin_text,
    bot_settings,
    buttons,
    new_user,
    press,
    reply_to,
    say,
    shared_index,
    start_app,
    stop_app,
    visible,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_PAGES = 3
MAX_UPLOAD_MB = 1
QUESTION = "Hà Nội phát triển đô thị thông minh như thế nào?"
GOOD = (
    "Lịch tiêm chủng mở rộng ở Hà Nội\n\n"
    "Các trạm y tế phường tổ chức tiêm chủng mở rộng miễn phí cho trẻ em vào ngày 15 hằng tháng. "
    "Cha mẹ mang theo sổ tiêm chủng và đến trạm y tế từ 7 giờ 30 đến 11 giờ sáng."
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(fake: FakeBotApi, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bot]:
    from bot.db.engine import make_engine, upgrade
    from bot.search.service import SearchService

    index = await asyncio.to_thread(shared_index, tmp_path_factory.getbasetemp())
    settings = bot_settings(
        fake,
        tmp_path_factory.mktemp("uploads"),
        index,
        max_pdf_pages=MAX_PAGES,
        max_upload_mb=MAX_UPLOAD_MB,
        telegram_flood_limit=1000,  # this module's admin sends many files within a minute
    )
    engine = make_engine(settings)
    await asyncio.to_thread(upgrade, engine)
    app = build_application(settings, search=SearchService(settings), engine=engine)
    await start_app(app)
    await app.bot_data["deps"].search.ask(QUESTION)
    yield Bot(app, fake, settings)
    await stop_app(app)


def stored(bot: Bot) -> dict[str, bytes]:
    """Every file in knowledge/ (hidden ones too) and in the upload staging folder."""
    folders = [bot.settings.knowledge_dir, bot.settings.data_dir / "uploads"]
    return {str(p): p.read_bytes() for folder in folders if folder.is_dir() for p in folder.iterdir()}


def lying_document(fake: FakeBotApi, name: str, data: bytes, declared_size: int) -> None:
    """An admin's document message whose declared file_size is smaller than the real file."""
    file_id = fake.register_file(data, name=name)
    person = {"id": ADMIN, "is_bot": False, "first_name": "Admin"}
    fake.queue_update(
        {
            "message": {
                "message_id": 900_000 + int(time.time()) % 1000,
                "from": person,
                "chat": {"id": ADMIN, "type": "private", "first_name": "Admin"},
                "date": int(time.time()),
                "document": {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id[-12:]}",
                    "file_name": name,
                    "file_size": declared_size,
                },
            }
        }
    )


HOSTILE = [
    ("ke-hoach.docx", truncated_docx, "XML bên trong bị cắt cụt"),
    ("bao-cao.docx", lambda: zip_bomb_docx(200), "bom nén"),
    ("gia-mao.pdf", lambda: "Đây là văn bản, không phải PDF".encode(), "không phải tệp PDF thật"),
    ("qua-dai.pdf", lambda: pdf_with_pages(MAX_PAGES + 2), f"{MAX_PAGES + 2} trang"),
    ("trong.txt", lambda: b"  \n ", "không có nội dung"),
]


@pytest.mark.parametrize(("name", "build", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_document_is_refused_by_name_while_residents_are_answered(
    bot: Bot, name: str, build: object, reason: str
) -> None:
    fake, before = bot.fake, stored(bot)
    resident = new_user()
    fake.send_document(ADMIN, name, build())  # type: ignore[operator]
    answer = await say(fake, resident, QUESTION, SLOW)
    refused = visible(await reply_to(fake, ADMIN, SLOW))
    assert visible(answer) != fmt.ERROR and "Nguồn" in visible(answer)
    assert refused.startswith(f"❌ Không lưu tài liệu {name}:") and reason in refused
    assert "không thay đổi" in refused
    assert stored(bot) == before


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../knowledge/x.txt", fmt.UPLOAD_BAD_PATH),
        ("..\\ghi-de.md", fmt.UPLOAD_BAD_PATH),
        ("cai-dat.exe", admin_text("BAD_TYPE")),
        ("khong-duoi", admin_text("BAD_TYPE")),
        ("manifest.json", admin_text("BAD_TYPE")),
        (".an.txt", admin_text("BAD_NAME")),
    ],
)
async def test_bad_file_names_and_types_get_a_clear_message(bot: Bot, name: str, expected: str) -> None:
    fake, before = bot.fake, stored(bot)
    fake.send_document(ADMIN, name, GOOD.encode())
    assert visible(await reply_to(fake, ADMIN)) == expected
    assert stored(bot) == before


async def test_oversized_files_are_refused_by_declared_and_by_real_size(bot: Bot) -> None:
    fake, before = bot.fake, stored(bot)
    big = (GOOD + "\n") * (MAX_UPLOAD_MB * 1024 * 1024 // len(GOOD.encode()) + 50)
    fake.send_document(ADMIN, "lon.txt", big.encode())
    refused = visible(await reply_to(fake, ADMIN))
    assert refused.startswith("Tệp quá lớn") and f"tối đa {MAX_UPLOAD_MB} MB" in refused
    lying_document(fake, "noi-doi.txt", big.encode(), declared_size=1000)
    assert visible(await reply_to(fake, ADMIN)).startswith("Tệp quá lớn")
    assert stored(bot) == before


async def test_replacement_asks_first_and_both_answers_work(bot: Bot) -> None:
    fake, knowledge = bot.fake, bot.settings.knowledge_dir
    fake.send_document(ADMIN, "tiem-chung.txt", GOOD.encode())
    assert "tiem-chung.txt" in visible(await reply_to(fake, ADMIN, SLOW))
    await fake.wait_for("sendMessage", lambda c: c.chat_id == ADMIN and "Đã cập nhật chỉ mục" in c.text, 240)

    fake.send_document(ADMIN, "tiem-chung.txt", GOOD.encode())
    assert "tiem-chung.txt giống hệt bản đang có" in visible(await reply_to(fake, ADMIN, SLOW))

    newer = GOOD.replace("ngày 15", "ngày 20")
    fake.send_document(ADMIN, "tiem-chung.txt", newer.encode())
    ask = await reply_to(fake, ADMIN, SLOW)
    choices = buttons(ask)
    assert [text for text, _ in choices] == [fmt.UPLOAD_REPLACE, fmt.UPLOAD_KEEP]
    assert all(data and "tiem" not in data and len(data.encode()) <= 64 for _, data in choices)
    await press(fake, ADMIN, ask.result, choices[1][1] or "")
    assert "Đã giữ bản cũ" in visible(await reply_to(fake, ADMIN))
    assert (knowledge / "tiem-chung.txt").read_text(encoding="utf-8") == GOOD

    fake.send_document(ADMIN, "tiem-chung.txt", newer.encode())
    ask = await reply_to(fake, ADMIN, SLOW)
    await press(fake, ADMIN, ask.result, buttons(ask)[0][1] or "")
    assert "Đã thay thế tiem-chung.txt" in visible(await reply_to(fake, ADMIN))
    assert (knowledge / "tiem-chung.txt").read_text(encoding="utf-8") == newer
    await fake.wait_for("sendMessage", lambda c: c.chat_id == ADMIN and "Đã cập nhật chỉ mục" in c.text, 240)
    answer = await say(fake, new_user(), "Trẻ em được tiêm chủng mở rộng miễn phí vào ngày nào?", SLOW)
    assert "ngày 20" in visible(answer)

    await press(fake, ADMIN, ask.result, buttons(ask)[0][1] or "")
    assert visible(await reply_to(fake, ADMIN)) == fmt.UPLOAD_EXPIRED
    assert not [p for p in (bot.settings.data_dir / "uploads").iterdir()]


@pytest.mark.parametrize("data", ["up:r:AAAAAAAAAAAAAAAAAAAAAA", "up:k:../../etc", "up:x", "up:r:" + "A" * 16])
async def test_forged_replacement_buttons_get_a_clear_message(bot: Bot, data: str) -> None:
    fake, before = bot.fake, stored(bot)
    message = await say(fake, ADMIN, "/help", QUICK)
    await press(fake, ADMIN, message.result, data)
    assert visible(await reply_to(fake, ADMIN)) == fmt.UPLOAD_EXPIRED
    assert stored(bot) == before


async def test_residents_cannot_press_replacement_buttons(bot: Bot) -> None:
    fake, resident = bot.fake, new_user()
    message = await say(fake, resident, "/start")
    answer = await press(fake, resident, message.result, "up:r:" + "A" * 16)
    assert answer.params.get("text") == fmt.REFUSED


async def test_reindex_report_names_each_skipped_file_with_its_reason(bot: Bot) -> None:
    fake, knowledge = bot.fake, bot.settings.knowledge_dir
    (knowledge / "bom-cu.docx").write_bytes(zip_bomb_docx(150))
    (knowledge / "hong-cu.pdf").write_text("không phải PDF", encoding="utf-8")
    try:
        fake.send_command(ADMIN, "capnhat")
        assert visible(await reply_to(fake, ADMIN)) == admin_text("REINDEXING")
        report = await fake.wait_for(
            "sendMessage", lambda c: c.chat_id == ADMIN and "Đã cập nhật chỉ mục" in c.text, 240
        )
    finally:
        (knowledge / "bom-cu.docx").unlink()
        (knowledge / "hong-cu.pdf").unlink()
    lines = visible(report).splitlines()
    assert "Bỏ qua 2 tệp:" in lines
    assert any(line.startswith("• bom-cu.docx: ") and "bom nén" in line for line in lines)
    assert any(line.startswith("• hong-cu.pdf: ") and "không phải tệp PDF thật" in line for line in lines)
