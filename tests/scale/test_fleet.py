"""One ingress and three workers as separate processes, on PostgreSQL, against the fake Bot API (webhook).

100 residents consent, check per-chat order with a burst of commands, ask, vote and send feedback
concurrently; one worker is SIGKILLed midway and restarted. Every update is answered, each chat's
replies come in order, and the tally and tickets are exact.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.db.engine import make_engine, session_scope
from tests.scale.conftest import ADMIN, Fleet
from tests.telegram.fake_bot_api import Call, FakeBotApi
from tests.telegram.test_bot import buttons
from tests.telegram.test_bot_flows import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio, pytest.mark.timeout(900)]
START = 300.0  # a cold worker loads the encoder and the index on a busy machine
STEP = 150.0  # one reply, allowing for a killed worker's jobs to be picked up (≤ 60 s) on a busy machine
RESIDENTS = 100
FIRST_RESIDENT = 20_001
POLL_QUESTION = "Có nên mở rộng không gian đi bộ quanh Hồ Gươm?"


async def expect(fake: FakeBotApi, user: int, match: Callable[[Call], bool]) -> Call:
    """The next sendMessage to `user` that `match` accepts."""
    return await fake.wait_for("sendMessage", lambda c: c.chat_id == user and c.status == 200 and match(c), STEP)


def has_button(prefix: str) -> Callable[[Call], bool]:
    """A message with a button whose data starts with `prefix`."""
    return lambda call: any((data or "").startswith(prefix) for _, data in buttons(call))


async def press(fake: FakeBotApi, user: int, message: dict[str, Any], data: str) -> Call:
    """Press a button; the bot's answerCallbackQuery."""
    query = fake.update(fake.press_button(user, message, data))["callback_query"]["id"]
    return await fake.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query, STEP)


async def resident(fake: FakeBotApi, user: int, consented: asyncio.Event | None) -> dict[str, Any]:
    """One resident's whole visit; what they saw."""
    from bot.telegram import format as fmt
    from bot.telegram.feedback import ASK_CONTENT

    fake.send_command(user, "start")
    notice = await expect(fake, user, has_button("cs:all:1"))
    await press(fake, user, notice.result, "cs:all:1")
    await expect(fake, user, lambda c: c.text == fmt.CONSENT_THANKS)
    if consented is not None:
        consented.set()
    for command in ("help", "theodoi", "khaosat"):  # a burst: handled one at a time, in order
        fake.send_command(user, command)
    help_ = await expect(fake, user, lambda c: c.text.startswith("<b>Các lệnh</b>"))
    track = await expect(fake, user, lambda c: "chưa gửi góp ý" in c.text)
    card = await expect(fake, user, lambda c: POLL_QUESTION in c.text)
    order = [help_.index, track.index, card.index]
    fake.send_text(user, "Hà Nội có kế hoạch gì cho giao thông công cộng?")
    answer = await expect(fake, user, lambda c: has_button("qa:")(c) or fmt.NOT_COVERED in c.text)
    options = [data or "" for _, data in buttons(card) if (data or "").startswith("pv:")]
    choice = options[user % 2]
    voted = await press(fake, user, card.result, choice)
    fake.send_command(user, "gopy")
    category = await expect(fake, user, has_button("gc:"))
    await press(fake, user, category.result, buttons(category)[1][1] or "")
    await expect(fake, user, has_button("gw:skip"))
    fake.send_text(user, "Phường Hoàn Kiếm")
    await expect(fake, user, lambda c: ASK_CONTENT in c.text)
    fake.send_text(user, f"Đèn đường ngõ {user} bị hỏng")
    summary = await expect(fake, user, has_button("gs:send"))
    await press(fake, user, summary.result, "gs:send")
    sent = await expect(fake, user, lambda c: "Mã phiếu: " in c.text)
    ticket = sent.text.split("Mã phiếu: ")[1].split()[0]
    return {"order": order, "answer": answer.text, "vote": voted.params.get("text", ""), "choice": choice,
            "ticket": ticket}


async def test_a_fleet_answers_everyone_in_order_and_exactly_once_through_a_killed_worker(
    fake: FakeBotApi, fleet: Fleet, postgres_url: str
) -> None:
    from bot.services import polls
    from bot.services.roles import Actor, Role

    port = free_port()
    fleet.start("ingress", "ingress", "--webhook-url", f"http://127.0.0.1:{port}/hook", "--port", str(port))
    await asyncio.to_thread(fleet.wait, fake, "setWebhook", None, START)
    workers = {f"w{i}": fleet.start(f"w{i}", "worker", "--concurrency", "4", "--health-port", "0") for i in range(3)}
    await _ready(fleet, list(workers))
    admin = Actor("cli:test", Role.ADMIN)
    engine = make_engine(postgres_url)
    with session_scope(engine) as session:
        poll = polls.create_poll(session=session, actor=admin, question=POLL_QUESTION,
                                 options=["Đồng ý", "Không đồng ý"], visibility="after_vote")

    halfway = asyncio.Event()
    users = [FIRST_RESIDENT + i for i in range(RESIDENTS)]
    consents = [asyncio.Event() for _ in users]
    visits = [asyncio.create_task(resident(fake, user, consents[i])) for i, user in enumerate(users)]

    async def kill_midway() -> float:
        await asyncio.gather(*(event.wait() for event in consents[: RESIDENTS // 2]))
        workers["w1"].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        workers["w1"].wait()
        fleet.start("w1", "worker", "--concurrency", "4", "--health-port", "0")
        halfway.set()
        return killed_at

    killer = asyncio.create_task(kill_midway())
    seen = await asyncio.gather(*visits)
    await killer
    assert halfway.is_set()

    for user, visit in zip(users, seen, strict=True):
        assert visit["order"] == sorted(visit["order"]), user  # per-chat order kept
        assert "Đã ghi nhận lựa chọn" in visit["vote"] or "Bạn đã chọn" in visit["vote"], visit
    with session_scope(engine) as session:
        results = polls.poll_results(session=session, poll_id=poll.id, actor=admin)
    expected = [sum(1 for v in seen if v["choice"] == option) for option in sorted({v["choice"] for v in seen})]
    assert results.total == RESIDENTS  # no vote lost, none counted twice
    assert sorted(c.count for c in results.by_option) == sorted(expected)
    import sqlalchemy as sa

    tickets = [v["ticket"] for v in seen]
    assert len(set(tickets)) == RESIDENTS
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one() == RESIDENTS
    await _upload_is_answered_by_every_worker(fake, engine)
    engine.dispose()
    assert not [w for w in fake.warnings if "gave up" in w]
    assert "Traceback" not in fleet.log("ingress")


async def _ready(fleet: Fleet, names: list[str]) -> None:
    """Wait until every worker says it handles updates."""
    deadline = time.monotonic() + START
    while not all("handling updates" in fleet.log(name) for name in names):
        assert time.monotonic() < deadline, {name: fleet.log(name)[-2000:] for name in names}
        assert all(p.poll() is None for p in fleet.processes), {name: fleet.log(name)[-2000:] for name in names}
        await asyncio.sleep(1)


async def _upload_is_answered_by_every_worker(fake: FakeBotApi, engine: Any) -> None:
    """An admin's upload is indexed once; every live worker moves to the new generation and answers from it."""
    import sqlalchemy as sa

    document = (
        "Lịch thu gom rác cồng kềnh ở Hà Nội\n\n"
        "Thành phố Hà Nội tổ chức thu gom rác cồng kềnh miễn phí vào sáng chủ nhật cuối cùng của mỗi tháng "
        "tại các điểm tập kết do ủy ban phường công bố. Người dân mang tủ, giường, nệm cũ đến điểm tập kết "
        "từ 6 giờ đến 10 giờ sáng."
    )
    fake.send_document(ADMIN, "thu-gom-rac.txt", document.encode(), "text/plain")
    await expect(fake, ADMIN, lambda c: "chỉ mục" in c.text)
    live = "SELECT index_generation FROM replica WHERE kind = 'worker' AND last_seen > :t"
    deadline = time.monotonic() + 60
    while True:
        with engine.connect() as connection:
            since = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=20)
            generations = connection.execute(sa.text(live), {"t": since}).scalars().all()
        if len(generations) == 3 and set(generations) == {1}:
            break
        assert time.monotonic() < deadline, generations  # every worker follows within 60 s
        await asyncio.sleep(2)
    asking = [FIRST_RESIDENT + RESIDENTS + i for i in range(9)]
    for user in asking:
        fake.send_text(user, "Khi nào thành phố thu gom rác cồng kềnh miễn phí?")
    for user in asking:
        answer = await expect(fake, user, lambda c: has_button("qa:")(c) or "Xin lỗi" in c.text)
        assert "Lịch thu gom rác cồng kềnh" in answer.text
