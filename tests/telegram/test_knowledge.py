"""The knowledge loop through the real bot and the fake Bot API: grouped /chuatraloi, an admin's answer,
the staff answer for a paraphrase, one notification per consenting asker, and /themtu taking effect.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.services._base import LOCAL_TZ
from bot.telegram import format as fmt
from bot.telegram import knowledge
from tests.telegram.fake_bot_api import Call, FakeBotApi
from tests.telegram.test_bot import (
    ADMIN,
    OFFICER,
    SLOW,
    bot_settings,
    buttons,
    consent,
    press,
    reply_to,
    say,
    visible,
)
from tests.telegram.test_bot_flows import running, service

PETS = [
    "Nuôi chó ở chung cư có phải đăng ký với phường không?",
    "nuôi chó trong chung cư thì có cần đăng ký với phường không",
    "Nuôi chó ở chung cư có cần đăng ký với phường không?",
]
GOLD = "Giá vàng SJC hôm nay bao nhiêu một lượng?"
ANSWER = "Có. Chủ nuôi chó đăng ký với UBND phường nơi cư trú và tiêm phòng dại hằng năm <miễn phí>."
SOURCE = "Quyết định 15/2026/QĐ-UBND"
EDITED = "Có phải đăng ký khi nuôi chó ở chung cư không?"
ASKER, ASKER2, NO_CONSENT, LATER = 9301, 9302, 9303, 9304


async def logged(settings: Settings, asks: int) -> None:
    """Wait (bounded) until the bot has recorded `asks` unanswered asks."""
    from bot.services import questions

    for _ in range(100):
        found = await asyncio.to_thread(service, settings, questions.top_unanswered)
        if sum(q.count for q in found) >= asks:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {asks} unanswered asks recorded")


async def chuatraloi(fake: FakeBotApi) -> list[Call]:
    """/chuatraloi as the admin: the header, then one message per group (until the last group's)."""
    header = await say(fake, ADMIN, "/chuatraloi", SLOW)
    if visible(header) == knowledge.NO_UNANSWERED:
        return [header]
    count = int(visible(header).split("(")[1].split(" nhóm")[0])
    return [header] + [await reply_to(fake, ADMIN) for _ in range(min(count, knowledge.MAX_GROUPS))]


async def test_admin_answers_a_group_and_residents_get_the_staff_answer(
    fake: FakeBotApi, index: Path, tmp_path: Path, database_url: str
) -> None:
    settings = bot_settings(fake, tmp_path, index, database_url=database_url, telegram_outbox_interval=0.5)
    async with running(settings, answers=True):
        await consent(fake, ASKER)
        await consent(fake, ASKER2)
        for user, question in ((ASKER, PETS[0]), (ASKER2, PETS[1]), (NO_CONSENT, PETS[2]), (ASKER, PETS[1])):
            assert visible(await say(fake, user, question, SLOW)) == fmt.NOT_COVERED
        assert visible(await say(fake, NO_CONSENT, GOLD, SLOW)) == fmt.NOT_COVERED
        await logged(settings, asks=5)  # the bot records a question just after replying

        header, *groups = await chuatraloi(fake)
        assert "2 nhóm" in visible(header)
        pets = visible(groups[0])  # the most asked group first, with its count and latest date
        assert "4 lượt hỏi" in pets and datetime.now(LOCAL_TZ).strftime("%d/%m/%Y") in pets
        assert all(q in pets for q in PETS) and GOLD not in pets and GOLD in visible(groups[1])
        (label, data), = buttons(groups[0])
        assert label == knowledge.ANSWER_BUTTON and data and data.startswith("fa:u") and len(data.encode()) <= 64

        await press(fake, ADMIN, groups[0].result, data)
        assert "nuôi chó trong chung cư" in visible(await reply_to(fake, ADMIN))  # the most asked wording
        source_prompt = await say(fake, ADMIN, ANSWER)
        assert [label for label, _ in buttons(source_prompt)] == [knowledge.SKIP]
        summary = await say(fake, ADMIN, SOURCE)
        assert ANSWER in visible(summary) and SOURCE in visible(summary)
        await press(fake, ADMIN, summary.result, "fc:edit")  # residents' wording may hold personal details
        assert visible(await reply_to(fake, ADMIN)) == knowledge.ASK_QUESTION
        summary = await say(fake, ADMIN, EDITED)
        assert f"Câu hỏi: {EDITED}" in visible(summary)
        await press(fake, ADMIN, summary.result, "fc:ok")
        saved = visible(await reply_to(fake, ADMIN, SLOW))
        assert "cho 3 câu hỏi" in saved and "cho 2 người dân" in saved

        for user in (ASKER, ASKER2):  # through the outbox, once each
            note = visible(await reply_to(fake, user, SLOW))
            assert "Cán bộ thành phố đã trả lời" in note and ANSWER in note and SOURCE in note
            assert f"«{PETS[1]}»" in note  # their own wording, never another resident's

        staff = visible(await say(fake, LATER, "Muốn nuôi chó ở chung cư thì phải đăng ký ở phường à?", SLOW))
        today = datetime.now(LOCAL_TZ).strftime("%d/%m/%Y")
        assert staff.startswith(f"💬 Trả lời của cán bộ thành phố (cập nhật {today})")
        assert ANSWER in staff and f"Nguồn: {SOURCE}" in staff

        header, *groups = await chuatraloi(fake)
        assert "1 nhóm" in visible(header) and GOLD in visible(groups[0])
        assert "Nuôi chó" not in visible(groups[0])
    notified = [c.chat_id or 0 for c in fake.calls("sendMessage") if "Cán bộ thành phố đã trả lời" in visible(c)]
    assert sorted(notified) == [ASKER, ASKER2]  # one each, none for the resident without consent


async def test_synonym_from_telegram_takes_effect_on_the_next_question(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    question = "Thành phố làm gì khi phố với quê chênh nhau quá?"  # not "bao giờ": no passage says when
    settings = bot_settings(fake, tmp_path, index)
    target = "chênh lệch mức sống"  # the passage the formal wording points at
    async with running(settings, answers=True):
        assert target not in visible(await say(fake, LATER, question, SLOW))
        added = visible(
            await say(fake, ADMIN, "/themtu phố với quê chênh nhau = chênh lệch mức sống giữa khu vực đô thị và nông thôn")
        )
        assert "Đã thêm từ đồng nghĩa số 1" in added
        assert target in visible(await say(fake, LATER, question, SLOW))
        assert "1. phố với quê chênh nhau = chênh lệch" in visible(await say(fake, ADMIN, "/dstu"))
        assert "Cách dùng" in visible(await say(fake, ADMIN, "/themtu không có dấu bằng"))
        assert "Đã xóa từ đồng nghĩa số 1" in visible(await say(fake, ADMIN, "/xoatu 1"))
        assert target not in visible(await say(fake, LATER, question, SLOW))
        assert "Không có từ đồng nghĩa số 1" in visible(await say(fake, ADMIN, "/xoatu 1"))


async def test_non_admins_are_refused_and_forged_buttons_get_a_clear_message(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    settings = bot_settings(fake, tmp_path, index)
    async with running(settings):
        for user in (LATER, OFFICER):
            for command in ("/chuatraloi", "/themtu a = b", "/dstu", "/xoatu 1"):
                assert visible(await say(fake, user, command)) == fmt.REFUSED
        message = (await say(fake, LATER, "/help")).result
        assert (await press(fake, LATER, message, "fa:u1")).params["text"] == fmt.REFUSED
        admin_message = (await say(fake, ADMIN, "/help")).result
        assert (await press(fake, ADMIN, admin_message, "fa:u999999")).params["text"] == knowledge.GONE
        assert (await press(fake, ADMIN, admin_message, "fa:x'; drop")).params["text"] == fmt.STALE_BUTTON
        assert (await press(fake, ADMIN, admin_message, "fc:ok")).params["text"] == fmt.STALE_BUTTON
        assert visible(await say(fake, ADMIN, "/chuatraloi")) == knowledge.NO_UNANSWERED
