"""Privacy and operations through the real bot: nothing on disk links a vote or a feedback to a Telegram
account, erasure reaches drafts and conversation state, an abandoned /gopy ends, revocations take effect
at once, and a flow begun in one process continues in another.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.services.roles import Actor, Role
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_bot import ADMIN, QUICK, buttons, press, reply_to, say, visible
from tests.telegram.test_bot_flows import pseudonym as pseudonym_of
from tests.telegram.test_bot_flows import running, service, start_gopy

RESIDENT = 4_817_305_226  # a Telegram id long enough not to occur by chance in a file
NAME = "Nguyễn Thị Phương Lan"
USERNAME = "lanphuong_hn88"
FEEDBACK = "Cống thoát nước trước nhà số 17 ngõ Huế bị tắc suốt tuần"
CLI = Actor("cli:test", Role.ADMIN)


def settings_for(fake: FakeBotApi, tmp_path: Path, index: Path, **overrides: Any) -> Any:
    """The module's bot settings (SQLite in tmp_path unless overridden)."""
    from tests.telegram.test_bot import bot_settings

    return bot_settings(fake, tmp_path, index, **overrides)


def on_disk(root: Path) -> bytes:
    """Every byte the bot keeps under its data directory and database (SQLite file, WAL, secrets...)."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".faiss")


def identifying(text: str) -> list[bytes]:
    """The encodings a Telegram id, name or text could take in a file."""
    return [text.encode("utf-8"), text.encode("utf-16-le")]


def say_as(fake: FakeBotApi, text: str) -> int:
    """The resident (with a real name and a username) types `text`."""
    return fake.send_text(RESIDENT, text, first_name=NAME, username=USERNAME)


async def test_nothing_on_disk_links_a_resident_and_erasure_reaches_everything(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    from bot.services import polls

    settings = settings_for(fake, tmp_path, index)
    async with running(settings):
        poll = service(settings, polls.create_poll, actor=CLI, question="Có nên sáp nhập hai xã?", options=["Có", "Không"])
        say_as(fake, "/start")
        await reply_to(fake, RESIDENT)
        notice = await reply_to(fake, RESIDENT)
        await press(fake, RESIDENT, notice.result, "cs:all:1")
        await reply_to(fake, RESIDENT)
        say_as(fake, "/khaosat")
        card = await reply_to(fake, RESIDENT)
        await press(fake, RESIDENT, card.result, buttons(card)[0][1] or "")
        say_as(fake, "/gopy")
        categories = await reply_to(fake, RESIDENT)
        await press(fake, RESIDENT, categories.result, "gc:1")
        await reply_to(fake, RESIDENT)
        say_as(fake, "Phường Hoàn Kiếm")
        await reply_to(fake, RESIDENT)
        say_as(fake, FEEDBACK)
        summary = await reply_to(fake, RESIDENT)
        await press(fake, RESIDENT, summary.result, "gs:send")
        assert "Mã phiếu" in visible(await reply_to(fake, RESIDENT))
        say_as(fake, "/gopy")  # a second feedback left as a draft
        categories = await reply_to(fake, RESIDENT)
        await press(fake, RESIDENT, categories.result, "gc:2")
        await reply_to(fake, RESIDENT)
        say_as(fake, "Phường Hoàn Kiếm")
        await reply_to(fake, RESIDENT)
        say_as(fake, "Bản nháp: đèn đường hỏng ở ngõ Huế")
        await reply_to(fake, RESIDENT)

        stored = on_disk(tmp_path)
        for secret in (str(RESIDENT), NAME, USERNAME):
            assert not any(form in stored for form in identifying(secret)), secret
        assert FEEDBACK.encode() in stored  # the feedback itself is kept (with consent), under a pseudonym

        say_as(fake, "/xoadulieu")
        confirm = await reply_to(fake, RESIDENT)
        await press(fake, RESIDENT, confirm.result, "er:1")
        assert "Đã xóa dữ liệu" in visible(await reply_to(fake, RESIDENT))
        await asyncio.sleep(0.5)
    results = service(settings, polls.poll_results, poll_id=poll.id, actor=CLI)
    assert results.total == 1  # the vote is kept, anonymised: totals stay exact
    stored = on_disk(tmp_path)
    for erased in (FEEDBACK, "đèn đường hỏng", str(RESIDENT), NAME, USERNAME):
        assert not any(form in stored for form in identifying(erased)), erased


async def test_an_abandoned_gopy_ends_and_a_later_question_is_answered(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path, index, conversation_timeout_minutes=0.05)  # 3 s
    user = 61_001
    async with running(settings, answers=True):
        await start_gopy(fake, user)
        ended = await fake.wait_for(
            "sendMessage", lambda c: c.chat_id == user and "⌛" in c.text and c.status == 200, QUICK
        )
        assert "/gopy" in visible(ended)
        answer = await say(fake, user, "Hà Nội phát triển đô thị theo hướng nào?", 60)
        assert "Nguồn:" in visible(answer) or "không đề cập" in visible(answer)
        assert "phường" not in visible(answer).lower()[:40]


async def test_a_late_resident_is_told_once_when_the_sweep_has_not_run(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    """The resident's next message ends a timed-out flow even before the periodic sweep."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from bot.db.models import ConversationState
    from bot.telegram import feedback

    settings = settings_for(fake, tmp_path, index)
    user = 61_002
    async with running(settings):
        await start_gopy(fake, user)

        def age(*, session: Any) -> int:
            """Make the resident's step an hour old (once the bot has written the content step)."""
            rows = session.execute(sa.select(ConversationState)).scalars().all()
            for row in rows:
                if row.state == feedback.CONTENT:
                    row.updated_at = datetime.now(UTC) - timedelta(hours=1)
            session.commit()
            return sum(1 for row in rows if row.state == feedback.CONTENT)

        for _ in range(50):  # the step is flushed just after the bot's reply
            if service(settings, age):
                break
            await asyncio.sleep(0.1)
        told = await say(fake, user, "/theodoi")
        assert "⌛" in visible(told)
        listing = await reply_to(fake, user)
        assert "chưa gửi góp ý" in visible(listing)
        assert len([t for t in fake.messages_to(user) if "⌛" in t]) == 1


async def test_a_flow_begun_in_one_process_continues_in_another(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    """Two bot processes on one database (as two workers would be): the draft and step are shared."""
    from bot.services import feedback

    settings = settings_for(fake, tmp_path, index)
    user = 61_003
    async with running(settings):
        await start_gopy(fake, user)
    async with running(settings):  # another process: nothing in its memory
        summary = await say(fake, user, "Vỉa hè phố Bà Triệu bị chiếm làm bãi xe")
        assert "Vỉa hè phố Bà Triệu" in visible(summary) and "Hoàn Kiếm" in visible(summary)
        await press(fake, user, summary.result, "gs:send")
        assert "Mã phiếu" in visible(await reply_to(fake, user))
    [ticket] = service(settings, feedback.my_feedback, pseudonym=pseudonym_of(settings, user))
    assert ticket.text == "Vỉa hè phố Bà Triệu bị chiếm làm bãi xe"


async def test_a_revoked_admin_is_refused_at_once_and_a_new_one_admitted(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    from bot.services import roles

    settings = settings_for(fake, tmp_path, index)
    deputy = 61_004
    async with running(settings):
        assert "chỉ dành cho" in visible(await say(fake, deputy, "/chuatraloi"))
        service(settings, roles.grant_role, telegram_id=deputy, role=Role.ADMIN, actor=CLI)  # from the CLI
        assert "chỉ dành cho" not in visible(await say(fake, deputy, "/chuatraloi"))
        service(settings, roles.revoke_role, telegram_id=deputy, role=Role.ADMIN, actor=CLI)
        assert "chỉ dành cho" in visible(await say(fake, deputy, "/chuatraloi"))
        fake.send_document(deputy, "moi.txt", "Tài liệu mới về cây xanh.".encode())
        assert "chỉ quản trị viên" in visible(await reply_to(fake, deputy))
        assert not (settings.knowledge_dir / "moi.txt").exists()
        assert "chỉ dành cho" not in visible(await say(fake, ADMIN, "/chuatraloi"))
