"""Feedback and voting on SQLite and PostgreSQL, a restart in the middle of /gopy, a database outage,
and webhook mode with its secret token: one Application per test, the real PTB against the fake server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from telegram.ext import Application

from bot.config import Settings
from bot.db.engine import make_engine, session_scope, upgrade
from bot.services.errors import DatabaseUnavailableError
from bot.services.residents import load_address_book
from bot.telegram import format as fmt
from bot.telegram.app import build_application
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_bot import (
    QUICK,
    SLOW,
    bot_settings,
    buttons,
    consent,
    press,
    reply_to,
    say,
    start_app,
    stop_app,
    visible,
)

USER = 9101
DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"


@asynccontextmanager
async def running(settings: Settings, *, answers: bool = False) -> AsyncIterator[Application]:
    """A started Application on its own engine; the retriever is started only when `answers`."""
    from bot.search.service import SearchService

    engine = make_engine(settings)
    with contextlib.suppress(DatabaseUnavailableError):  # an unreachable database is part of some tests
        await asyncio.to_thread(upgrade, engine)
    search = SearchService(settings)
    if answers:
        await search.start(build_if_missing=False)
    app = build_application(settings, search=search, engine=engine, manage_search=False)
    await start_app(app)
    try:
        yield app
    finally:
        await stop_app(app)
        await search.close()


def service(settings: Settings, fn: Any, **kwargs: Any) -> Any:
    """Call a civic service directly, to check what the bot stored."""
    engine: Engine = make_engine(settings)
    try:
        with session_scope(engine) as session:
            return fn(session=session, **kwargs)
    finally:
        engine.dispose()


def pseudonym(settings: Settings, user: int) -> str:
    """The resident key the bot derives for a Telegram user."""
    from bot.services.residents import load_pseudonymizer

    return load_pseudonymizer(settings)(user)


async def start_gopy(fake: FakeBotApi, user: int) -> None:
    """/gopy without consent: agree, pick «Giao thông», type a ward (not «Bỏ qua»); the bot asks for the content."""
    prompt = await say(fake, user, "/gopy")
    assert [data for _, data in buttons(prompt)] == ["cs:fb:1", "cs:fb:0"]
    await press(fake, user, prompt.result, "cs:fb:1")
    categories = await reply_to(fake, user)
    assert ("Giao thông", "gc:1") in buttons(categories)
    await press(fake, user, categories.result, "gc:1")
    ward_prompt = await reply_to(fake, user)
    assert "Bỏ qua" in [label for label, _ in buttons(ward_prompt)]
    asked = await say(fake, user, "Phường Hoàn Kiếm")
    assert "nội dung" in visible(asked)


async def test_feedback_with_photo_and_location_gets_a_ticket(
    fake: FakeBotApi, index: Path, tmp_path: Path, database_url: str
) -> None:
    from bot.services import feedback

    settings = bot_settings(fake, tmp_path, index, database_url=database_url)
    async with running(settings):
        await start_gopy(fake, USER)
        fake.send_location(USER, 21.0285, 105.8542)
        located = visible(await reply_to(fake, USER))
        assert "📍" in located and "không bắt buộc" in located  # a location alone is enough; more is optional
        fake.send_photo(USER, caption="Ổ gà lớn <nguy hiểm> & ngập nước trước số 12")
        summary = await reply_to(fake, USER)
        assert "Ổ gà lớn <nguy hiểm>" in visible(summary) and "📷" in visible(summary) and "📍" in visible(summary)
        await press(fake, USER, summary.result, "gs:send")
        sent = visible(await reply_to(fake, USER))
        ticket = sent.split("Mã phiếu: ")[1].split()[0]
    stored = service(settings, feedback.get_feedback, ticket=ticket)
    assert stored.category.value == "giao_thong" and stored.ward and "Hoàn Kiếm" in stored.ward
    assert stored.text == "Ổ gà lớn <nguy hiểm> & ngập nước trước số 12"
    assert stored.photo_file_id and stored.latitude == pytest.approx(21.0285)


async def test_skipped_ward_and_photo_without_caption_are_enough(
    fake: FakeBotApi, index: Path, tmp_path: Path, database_url: str
) -> None:
    from bot.services import feedback

    settings = bot_settings(fake, tmp_path, index, database_url=database_url)
    async with running(settings):
        await consent(fake, USER)
        categories = await say(fake, USER, "/gopy")
        await press(fake, USER, categories.result, "gc:0")
        ward_prompt = await reply_to(fake, USER)
        await press(fake, USER, ward_prompt.result, "gw:skip")
        assert "không ghi phường/xã" in visible(await reply_to(fake, USER))  # no ward saved: skipping is fine
        fake.send_photo(USER)
        summary = await reply_to(fake, USER)
        assert "📷" in visible(summary) and "Phường/xã: chưa rõ" in visible(summary)
        await press(fake, USER, summary.result, "gs:send")
        ticket = visible(await reply_to(fake, USER)).split("Mã phiếu: ")[1].split()[0]
    stored = service(settings, feedback.get_feedback, ticket=ticket)
    assert stored.ward is None and stored.text is None and stored.photo_file_id
    assert stored.category.value == "moi_truong"


async def test_cancel_at_any_step_stores_nothing(fake: FakeBotApi, index: Path, tmp_path: Path) -> None:
    from bot.services import feedback

    settings = bot_settings(fake, tmp_path, index)
    async with running(settings):
        await start_gopy(fake, USER)
        assert visible(await say(fake, USER, "/huy")) == "Đã hủy góp ý. Nội dung chưa được gửi."
        assert visible(await say(fake, USER, "/huy")) == fmt.NOTHING_TO_CANCEL
    assert service(settings, feedback.my_feedback, pseudonym=pseudonym(settings, USER)) == []


async def test_votes_change_and_withdraw(fake: FakeBotApi, index: Path, tmp_path: Path, database_url: str) -> None:
    from bot.services import polls
    from bot.services.roles import Actor, Role

    settings = bot_settings(fake, tmp_path, index, database_url=database_url)
    async with running(settings):
        poll = service(
            settings, polls.create_poll, actor=Actor("cli:test", Role.ADMIN),
            question="Có nên mở rộng phố đi bộ?", options=["Có", "Không"], visibility="after_close",
        )
        await consent(fake, USER)
        card = await say(fake, USER, "/khaosat")
        assert "Kết quả sẽ được công bố khi khảo sát kết thúc" in visible(card)
        yes, no = (data or "" for _, data in buttons(card))
        assert "Đã ghi nhận lựa chọn: Có" in (await press(fake, USER, card.result, yes)).params["text"]
        edit = await fake.wait_for("editMessageText", lambda c: c.chat_id == USER and c.status == 200, QUICK)
        assert "phiếu)" not in visible(edit)  # results stay hidden until the poll closes
        await press(fake, USER, edit.result, yes)  # the same choice twice: no error, no double count
        await press(fake, USER, edit.result, no)
        edit = await fake.wait_for("editMessageText", lambda c: c.chat_id == USER and c.status == 200, QUICK)
        assert "Bạn đã chọn: Không" in visible(edit)
        results = service(settings, polls.poll_results, poll_id=poll.id, actor=Actor("cli:test", Role.ADMIN))
        assert [c.count for c in results.by_option] == [0, 1]
        await press(fake, USER, edit.result, f"pw:{poll.id}")
        assert not fake.warnings
    results = service(settings, polls.poll_results, poll_id=poll.id, actor=Actor("cli:test", Role.ADMIN))
    assert results.total == 0


async def test_admin_poll_with_ward_scope_and_closing_time(
    fake: FakeBotApi, index: Path, tmp_path: Path, database_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.services import polls

    admin = 7001
    settings = bot_settings(fake, tmp_path, index, database_url=database_url, telegram_flood_limit=40)
    async with running(settings):
        await say(fake, admin, "/taokhaosat")
        await say(fake, admin, "Có nên cấm xe máy phố cổ vào cuối tuần?")
        assert "dấu phẩy" in visible(await say(fake, admin, "Có\nKhông"))
        assert "chưa hợp lệ" in visible(await say(fake, admin, "Phường " + "x" * 130))
        assert "dd/mm/yyyy" in visible(await say(fake, admin, "Phường Hoàn Kiếm, Phường Ba Đình ,"))
        assert "chưa hiểu" in visible(await say(fake, admin, "31/02/2026 10:00"))
        assert "chưa hiểu" in visible(await say(fake, admin, "0"))
        assert "tương lai" in visible(await say(fake, admin, "01/01/2020 08:00"))
        show = await say(fake, admin, "7")
        await press(fake, admin, show.result, "tv:after_close")
        created = visible(await reply_to(fake, admin))
        assert "Phạm vi: Phường Ba Đình, Phường Hoàn Kiếm; tự đóng lúc" in created
        poll_id = int(created.split("khảo sát số ")[1].split(":")[0])
        assert "03/03/2099 17:30" in visible(await _create_closing(fake, admin, "03/03/2099 17:30"))
    poll = service(settings, polls.get_poll, poll_id=poll_id)
    assert set(poll.wards) == {"Phường Hoàn Kiếm", "Phường Ba Đình"}
    assert poll.closes_at is not None
    assert abs(poll.closes_at - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=5)


async def _create_closing(fake: FakeBotApi, admin: int, closes: str) -> Any:
    """/taokhaosat for every ward with a typed closing time; return the confirmation."""
    await say(fake, admin, "/taokhaosat")
    await say(fake, admin, "Giờ mở cửa thư viện có phù hợp?")
    scope = await say(fake, admin, "Có\nKhông")
    await press(fake, admin, scope.result, "tw:skip")
    await reply_to(fake, admin)
    show = await say(fake, admin, closes)
    await press(fake, admin, show.result, "tv:after_vote")
    return await reply_to(fake, admin)


async def test_gopy_survives_a_restart(fake: FakeBotApi, index: Path, tmp_path: Path) -> None:
    settings = bot_settings(fake, tmp_path, index)
    async with running(settings):
        await start_gopy(fake, USER)
    async with running(settings):
        summary = await say(fake, USER, "Cây đổ chắn ngang đường Thanh Niên sau bão")
        assert "Cây đổ chắn ngang" in visible(summary) and "Hoàn Kiếm" in visible(summary)
        await press(fake, USER, summary.result, "gs:send")
        assert "Mã phiếu: GY-" in visible(await reply_to(fake, USER))
    from bot.db.models import ConversationState, UserDraft

    assert service(settings, _rows, model=ConversationState) == 0  # the finished flow leaves nothing behind
    assert service(settings, _rows, model=UserDraft) == 0
    assert not list((tmp_path / "data").glob("*.pickle"))


def _rows(*, session: Any, model: Any) -> int:
    """How many rows a table holds."""
    import sqlalchemy as sa

    return int(session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


async def test_database_down_questions_answered_feedback_refused(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    settings = bot_settings(fake, tmp_path, index, database_url=DEAD_DATABASE)
    async with running(settings, answers=True):
        answer = await say(fake, USER, "Hà Nội phát triển đô thị theo hướng nào?", SLOW)
        assert "Nguồn:" in visible(answer)
        refused = await say(fake, USER, "/gopy")
        assert "không truy cập được" in visible(refused)
        welcome = await say(fake, USER, "/start")
        notice = await reply_to(fake, USER)
        await press(fake, USER, notice.result, "cs:all:1")
        assert "không truy cập được" in visible(await reply_to(fake, USER))
        assert welcome.status == 200


async def test_outage_before_send_keeps_the_draft(fake: FakeBotApi, index: Path, tmp_path: Path) -> None:
    settings = bot_settings(fake, tmp_path, index)
    async with running(settings) as app:
        await start_gopy(fake, USER)
        summary = await say(fake, USER, "Nước sinh hoạt bị đục nhiều ngày")
        bot_deps = app.bot_data["deps"]
        healthy, dead = bot_deps.sessions, make_engine(DEAD_DATABASE)
        bot_deps.sessions = functools.partial(session_scope, dead)
        await press(fake, USER, summary.result, "gs:send")
        assert visible(await reply_to(fake, USER)) == fmt.DB_DOWN
        bot_deps.sessions = healthy
        dead.dispose()
        await press(fake, USER, summary.result, "gs:send")
        assert "Mã phiếu: GY-" in visible(await reply_to(fake, USER))


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_checks_the_secret_token(fake: FakeBotApi, index: Path, tmp_path: Path) -> None:
    settings = bot_settings(fake, tmp_path, index)
    app = build_application(settings, search=_idle_search(settings), engine=make_engine(settings), manage_search=False)
    port, secret = free_port(), "s3cret-Token_for-tests"
    await asyncio.to_thread(upgrade, settings.effective_database_url)
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    await app.updater.start_webhook(
        listen="127.0.0.1", port=port, url_path="hook", webhook_url=f"http://127.0.0.1:{port}/hook", secret_token=secret
    )
    await app.start()
    try:
        assert fake.webhook is not None and fake.webhook["secret_token"] == secret
        assert "/gopy" in visible(await say(fake, USER, "/help"))
        forged = {"update_id": 99999, "message": {"message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"},
                                                  "from": {"id": USER, "is_bot": False, "first_name": "x"},
                                                  "text": "/help"}}
        status = await asyncio.to_thread(fake.post_to_webhook, forged, "wrong-secret")
        assert status == 403
    finally:
        await stop_app(app)


def _idle_search(settings: Settings) -> Any:
    """A search service that is never started (these tests ask no questions)."""
    from bot.search.service import SearchService

    return SearchService(settings)


async def test_status_changes_queued_from_the_cli_reach_residents(
    fake: FakeBotApi, index: Path, tmp_path: Path, database_url: str
) -> None:
    from bot.services import feedback, notifications, residents
    from bot.services.roles import cli_actor

    settings = bot_settings(fake, tmp_path, index, database_url=database_url, telegram_outbox_interval=0.5)
    blocked, offline = USER + 1, USER + 2
    tickets = {}
    await asyncio.to_thread(upgrade, settings.effective_database_url)
    for number, user in enumerate((USER, blocked, offline), start=1):
        key = pseudonym(settings, user)
        service(settings, residents.ensure_resident, pseudonym=key)
        service(settings, residents.grant_consent, pseudonym=key, purpose="feedback", policy_version="2026-01")
        service(settings, residents.grant_consent, pseudonym=key, purpose="notifications", policy_version="2026-01",
                address=load_address_book(settings).seal(user))
        tickets[user] = service(
            settings, feedback.submit_feedback, pseudonym=key, category="moi_truong",
            text="Rác đổ trộm ở bãi đất trống", ward="Phường Hoàn Kiếm", idempotency_key=f"t:{number}",
        ).ticket
    async with running(settings):
        fake.fail_next("sendMessage", kind="forbidden")  # the first resident to be told blocked the bot
        for user in (blocked, USER):
            service(settings, feedback.change_status, ticket=tickets[user], status="tiep_nhan",
                    actor=cli_actor(), comment="Đội <môi trường> & phường sẽ dọn")
        told = await fake.wait_for("sendMessage", lambda c: c.chat_id == USER and c.status == 200, QUICK)
        assert tickets[USER] in visible(told) and "Đội <môi trường> & phường sẽ dọn" in visible(told)
        fake.fail_next("sendMessage", kind="server_error")  # a network failure: sent again on a later run
        service(settings, feedback.change_status, ticket=tickets[offline], status="tu_choi", actor=cli_actor())
        late = await fake.wait_for("sendMessage", lambda c: c.chat_id == offline and c.status == 200, QUICK)
        assert tickets[offline] in visible(late) and "Từ chối" in visible(late)
        for _ in range(50):  # a row is deleted just after Telegram accepted its message
            if service(settings, notifications.pending_count) == 0:
                break
            await asyncio.sleep(0.1)
        assert service(settings, notifications.pending_count) == 0
    assert fake.messages_to(blocked) == [] and len(fake.messages_to(USER)) == 1
