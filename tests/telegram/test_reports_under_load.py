"""An officer's /baocao over a large table while residents vote, through the real bot and the fake Bot API.

Reports read in read-only sessions, so they never hold SQLite's write lock: every vote cast while the
export runs is stored and acknowledged, none is told the database is unavailable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from bot.db import engine as db_engine
from bot.services.roles import Actor, Role
from tests.civic.test_exports import bulk_feedback
from tests.telegram.fake_bot_api import Call, FakeBotApi
from tests.telegram.test_bot import (
    OFFICER,
    QUICK,
    SLOW,
    bot_settings,
    buttons,
    consent,
    reply_to,
    say,
    visible,
)
from tests.telegram.test_bot_flows import running, service

ROWS = 20_000
VOTERS = [9301 + i for i in range(12)]
ADMIN_ACTOR = Actor("cli:test", Role.ADMIN)


def answering(query_id: str) -> Callable[[Call], bool]:
    """Matches the bot's answer to one button press."""
    return lambda call: call.params.get("callback_query_id") == query_id


def fill(*, session: Session) -> None:
    """ROWS feedback rows, inserted in bulk."""
    bulk_feedback(session, ROWS)


async def test_votes_are_recorded_while_an_officer_exports_a_large_table(
    fake: FakeBotApi, index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services import polls

    # A 3 s busy timeout instead of 30 s: a vote stuck behind the export's lock would fail, not just wait.
    monkeypatch.setattr(db_engine, "SQLITE_BUSY_TIMEOUT_MS", 3_000)
    settings = bot_settings(fake, tmp_path, index)  # SQLite, the default
    async with running(settings):
        poll = service(
            settings,
            polls.create_poll,
            actor=ADMIN_ACTOR,
            question="Mở rộng phố đi bộ?",
            options=["Có", "Không"],
        )
        service(settings, fill)
        cards: dict[int, Any] = {}
        for user in VOTERS:
            await consent(fake, user)
            cards[user] = await say(fake, user, "/khaosat")

        fake.send_text(OFFICER, "/baocao")
        assert "Đang xuất báo cáo" in visible(await reply_to(fake, OFFICER, SLOW))
        await fake.wait_for("sendChatAction", lambda c: c.chat_id == OFFICER, QUICK)
        query_ids = []
        for n, user in enumerate(VOTERS):
            data = buttons(cards[user])[n % 2][1] or ""
            query_ids.append(
                fake.update(fake.press_button(user, cards[user].result, data))["callback_query"]["id"]
            )
        acks = [await fake.wait_for("answerCallbackQuery", answering(q), SLOW) for q in query_ids]
        document = await fake.wait_for("sendDocument", lambda c: c.chat_id == OFFICER, 4 * SLOW)

    assert [a.params.get("text", "") for a in acks] == [
        f"Đã ghi nhận lựa chọn: {('Có', 'Không')[n % 2]}" for n in range(len(VOTERS))
    ]
    results = service(settings, polls.poll_results, poll_id=poll.id, actor=ADMIN_ACTOR)
    assert [c.count for c in results.by_option] == [6, 6]
    assert f"{ROWS} góp ý" in visible(document)
    order = [id(c) for c in fake.calls()]
    assert max(order.index(id(a)) for a in acks) < order.index(id(document))  # no vote waited for the export
