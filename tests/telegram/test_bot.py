"""End to end: the real PTB Application built by build_application, against the fake Bot API server.

One Application (SQLite in tmp, real retriever over a copy of knowledge/) serves every test of this
module; each test uses its own Telegram user ids, so state never leaks between tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.telegram import format as fmt
from bot.telegram.app import build_application
from tests.telegram.fake_bot_api import Call, FakeBotApi

pytestmark = pytest.mark.asyncio(loop_scope="module")

REPO = Path(__file__).resolve().parents[2]
ADMIN, OFFICER = 7001, 7002
SLOW = 60.0  # an answer under a loaded CI machine (retrieval, export, re-index)
QUICK = 15.0
_users = itertools.count(8001)


def new_user() -> int:
    """A fresh resident id for one test."""
    return next(_users)


# --- shared helpers (also imported by the other test modules of this package) -----------------


def shared_index(base: Path) -> Path:
    """The index of the real knowledge/, built once per test session under pytest's base temp dir."""
    index = base / "telegram-shared-index"
    if (index / "manifest.json").exists():
        return index
    from bot.search.service import SearchService

    settings = Settings(knowledge_dir=REPO / "knowledge", index_dir=index, data_dir=base / "telegram-shared-data")

    async def build() -> None:
        service = SearchService(settings)
        await service.start(build_if_missing=True)
        await service.close()

    asyncio.run(build())
    return index


def bot_settings(fake: FakeBotApi, root: Path, index: Path, **overrides: Any) -> Settings:
    """Settings pointing at the fake server, a private copy of knowledge/ and of the shared index."""
    knowledge = root / "knowledge"
    if not knowledge.exists():
        shutil.copytree(REPO / "knowledge", knowledge)
        shutil.copytree(index, root / "index")
    values: dict[str, Any] = {
        "knowledge_dir": knowledge,
        "index_dir": root / "index",
        "data_dir": root / "data",
        "database_url": f"sqlite:///{root / 'bot.db'}",
        "admin_ids": [ADMIN],
        "officer_ids": [OFFICER],
        "telegram_bot_token": fake.token,
        "telegram_api_base_url": fake.base_url,
        "telegram_api_base_file_url": fake.base_file_url,
        "pseudonym_secret": "test-secret-0123456789abcdef",
        "telegram_flood_limit": 15,
    }
    values.update(overrides)
    return Settings(**values)


async def start_app(app: Application) -> None:
    """What run_polling does before idling: initialize, post_init, poll, start."""
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=Update.ALL_TYPES)
    await app.start()


async def stop_app(app: Application) -> None:
    """What run_polling does on SIGTERM: stop polling, stop, shut down."""
    assert app.updater is not None
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


async def reply_to(fake: FakeBotApi, chat_id: int, wait: float = QUICK) -> Call:
    """The next message the bot sends to a chat."""
    return await fake.wait_for("sendMessage", lambda c: c.chat_id == chat_id and c.status == 200, wait)


async def say(fake: FakeBotApi, user: int, text: str, wait: float = QUICK) -> Call:
    """The user types `text`; return the bot's first reply."""
    fake.send_text(user, text)
    return await reply_to(fake, user, wait)


async def press(fake: FakeBotApi, user: int, message: dict[str, Any], data: str) -> Call:
    """The user presses a button; return the bot's answerCallbackQuery."""
    update_id = fake.press_button(user, message, data)
    query_id = fake.update(update_id)["callback_query"]["id"]
    return await fake.wait_for(
        "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query_id, QUICK
    )


def visible(call: Call) -> str:
    """The text the user reads (HTML rendered by the fake)."""
    return str(call.result["text"] if "text" in call.result else call.result.get("caption", ""))


def buttons(call: Call) -> list[tuple[str, str | None]]:
    """The inline buttons of a sent message."""
    return FakeBotApi.buttons(call.result)


async def consent(fake: FakeBotApi, user: int) -> None:
    """/start then «Đồng ý»."""
    fake.send_command(user, "start")
    await reply_to(fake, user)
    notice = await reply_to(fake, user)
    await press(fake, user, notice.result, "cs:all:1")
    thanks = await reply_to(fake, user)
    assert visible(thanks) == fmt.CONSENT_THANKS


async def submit_feedback(fake: FakeBotApi, user: int, text: str, ward: str = "Phường Hoàn Kiếm") -> str:
    """Run /gopy to the end for a consenting resident; return the ticket."""
    category = await say(fake, user, "/gopy")
    await press(fake, user, category.result, buttons(category)[1][1] or "")
    ward_prompt = await reply_to(fake, user)
    assert "phường/xã" in visible(ward_prompt)
    await say(fake, user, ward)
    summary = await say(fake, user, text)
    await press(fake, user, summary.result, "gs:send")
    sent = await reply_to(fake, user)
    ticket = visible(sent).split("Mã phiếu: ")[1].split()[0]
    return ticket


async def admin_listing(fake: FakeBotApi) -> str:
    """/chuatraloi as the admin: the texts of the header and of every group message, joined."""
    header = visible(await say(fake, ADMIN, "/chuatraloi", SLOW))
    groups = int(header.split(" nhóm")[0].rsplit("(", 1)[1]) if " nhóm" in header else 0
    return "\n".join([header] + [visible(await reply_to(fake, ADMIN)) for _ in range(min(groups, 10))])


# --- fixtures ---------------------------------------------------------------------------------


@dataclass
class Bot:
    """The running bot of this module."""

    app: Application
    fake: FakeBotApi
    settings: Settings


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(fake: FakeBotApi, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bot]:
    from bot.db.engine import make_engine, upgrade
    from bot.search.service import SearchService

    index = await asyncio.to_thread(shared_index, tmp_path_factory.getbasetemp())
    settings = bot_settings(fake, tmp_path_factory.mktemp("bot"), index)
    engine = make_engine(settings)
    await asyncio.to_thread(upgrade, engine)
    app = build_application(settings, search=SearchService(settings), engine=engine)
    await start_app(app)
    await app.bot_data["deps"].search.ask("Hà Nội phát triển đô thị thế nào?")  # warm up the lazy models
    yield Bot(app, fake, settings)
    await stop_app(app)


# --- residents: start, help, consent ------------------------------------------------------------


async def test_start_welcomes_and_asks_consent(bot: Bot) -> None:
    user = new_user()
    welcome = await say(bot.fake, user, "/start")
    assert "/gopy" in visible(welcome) and "/khaosat" in visible(welcome)
    notice = await reply_to(bot.fake, user)
    assert "dữ liệu cá nhân" in visible(notice)
    assert [label for label, _ in buttons(notice)] == [fmt.AGREE, fmt.DISAGREE]
    await press(bot.fake, user, notice.result, "cs:all:0")
    assert visible(await reply_to(bot.fake, user)) == fmt.CONSENT_DECLINED


async def test_help_and_command_menus_follow_roles(bot: Bot) -> None:
    user = new_user()
    resident_help = visible(await say(bot.fake, user, "/help"))
    assert "/gopy" in resident_help and "/baocao" not in resident_help and "/capnhat" not in resident_help
    admin_help = visible(await say(bot.fake, ADMIN, "/help"))
    assert "/baocao" in admin_help and "/capnhat" in admin_help
    assert "gopy" in bot.fake.commands() and "capnhat" not in bot.fake.commands()
    assert "capnhat" in bot.fake.commands({"type": "chat", "chat_id": ADMIN})
    officer_menu = bot.fake.commands({"type": "chat", "chat_id": OFFICER})
    assert "xuly" in officer_menu and "capnhat" not in officer_menu


# --- questions ----------------------------------------------------------------------------------


async def test_question_quotes_passage_with_bold_sentence_and_source(bot: Bot) -> None:
    user = new_user()
    answer = await say(bot.fake, user, "Hà Nội phát triển đô thị theo hướng nào?", SLOW)
    assert "<blockquote>" in answer.text and "<b>" in answer.text
    assert "Nguồn:" in visible(answer)
    assert [data for _, data in buttons(answer)] == ["qa:1", "qa:0"]
    rated = await press(bot.fake, user, answer.result, "qa:1")
    assert rated.params.get("text") == fmt.HELPFUL_THANKS


class SlowSearch:
    """The real search service, answering `delay` seconds late (a machine under load)."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner, self.delay = inner, delay

    async def ask(self, question: str, top_k: int | None = None) -> Any:
        await asyncio.sleep(self.delay)
        return await self.inner.ask(question, top_k)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_typing_is_shown_only_when_an_answer_is_slow(bot: Bot) -> None:
    fast_user, slow_user = new_user(), new_user()
    await say(bot.fake, fast_user, "Hà Nội có bao nhiêu nhiệm vụ trọng tâm?", SLOW)
    assert not [c for c in bot.fake.calls("sendChatAction") if c.chat_id == fast_user]
    deps = bot.app.bot_data["deps"]
    bot.app.bot_data["deps"] = dataclasses.replace(deps, search=SlowSearch(deps.search, 1.5))
    try:
        answer = await say(bot.fake, slow_user, "Hà Nội có bao nhiêu khâu đột phá?", SLOW)
    finally:
        bot.app.bot_data["deps"] = deps
    assert "Nguồn:" in visible(answer)
    actions = [c for c in bot.fake.calls("sendChatAction") if c.chat_id == slow_user]
    assert [c.params.get("action") for c in actions] == ["typing"]


async def test_ratings_are_counted_and_not_helpful_answers_listed_for_admins(bot: Bot) -> None:
    user = new_user()
    answer = await say(bot.fake, user, "Hà Nội có kế hoạch gì cho vùng Thủ đô?", SLOW)
    rated = await press(bot.fake, user, answer.result, "qa:0")
    assert rated.params.get("text") == fmt.HELPFUL_THANKS
    await bot.fake.wait_for("editMessageReplyMarkup", lambda c: c.chat_id == user, QUICK)
    other = new_user()
    again = await say(bot.fake, other, "Hà Nội có kế hoạch gì cho vùng thủ đô", SLOW)
    await press(bot.fake, other, again.result, "qa:1")
    await bot.fake.wait_for("editMessageReplyMarkup", lambda c: c.chat_id == other, QUICK)
    listing = await admin_listing(bot.fake)  # counted per question, anonymously
    assert "(👎 1) Hà Nội có kế hoạch gì cho vùng Thủ đô?" in listing


async def test_question_typed_without_diacritics_is_answered(bot: Bot) -> None:
    answer = await say(bot.fake, new_user(), "ha noi xay dung do thi thong minh nhu the nao", SLOW)
    assert "Nguồn:" in visible(answer)


async def test_out_of_scope_question_abstains_offers_feedback_and_is_logged(bot: Bot) -> None:
    answer = await say(bot.fake, new_user(), "Giá vàng SJC hôm nay bao nhiêu một lượng?", SLOW)
    assert visible(answer) == fmt.NOT_COVERED
    assert "Giá vàng SJC hôm nay" in await admin_listing(bot.fake)


async def test_small_talk_and_questions_about_commands_get_the_bots_own_reply(bot: Bot) -> None:
    greeting = await say(bot.fake, new_user(), "Chào bạn!", SLOW)
    assert visible(greeting) == fmt.SMALL_TALK["greeting"]
    help_reply = visible(await say(bot.fake, new_user(), "Làm sao để góp ý?", SLOW))
    assert "/gopy" in help_reply and "Nguồn" not in help_reply


async def test_english_question_gets_a_vietnamese_reply_with_one_english_line(bot: Bot) -> None:
    reply = visible(await say(bot.fake, new_user(), "How will Hanoi build smart and green urban areas?", SLOW))
    assert reply.startswith("You asked in English")
    assert reply.count("English") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("😀😀😀", "Câu hỏi chưa có chữ nào"), ("Привет, как дела?", "tiếng Việt"), ("hỏi " * 900, "quá dài")],
    ids=["emoji", "cyrillic", "too-long"],
)
async def test_bad_questions_get_a_clear_message(bot: Bot, text: str, expected: str) -> None:
    answer = await say(bot.fake, new_user(), text, SLOW)
    assert expected in visible(answer)


async def test_html_in_questions_is_escaped(bot: Bot) -> None:
    answer = await say(bot.fake, new_user(), "<b>giá vàng</b> & <script>", SLOW)
    assert answer.status == 200


# --- things the bot does not handle ------------------------------------------------------------


async def test_stickers_voice_files_edits_and_forwards_get_friendly_answers(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    fake.send_sticker(user)
    assert visible(await reply_to(fake, user)) == fmt.STICKER
    fake.send_voice(user)
    assert visible(await reply_to(fake, user)) == fmt.VOICE
    fake.send_document(user, "ghi-chu.txt", b"noi dung")
    assert visible(await reply_to(fake, user)) == fmt.FILE_REFUSED
    fake.forward_text(user, "Tin chuyển tiếp về giao thông")
    assert visible(await reply_to(fake, user)) == fmt.FORWARDED
    update_id = fake.send_text(user, "/xyz")
    assert visible(await reply_to(fake, user)) == fmt.UNKNOWN_COMMAND
    fake.edit_message(user, fake.user_message_id(update_id), "câu đã sửa")
    assert visible(await reply_to(fake, user)) == fmt.EDITED
    fake.send_location(user)
    assert visible(await reply_to(fake, user)) == fmt.MEDIA
    assert visible(await say(fake, user, "/huy")) == fmt.NOTHING_TO_CANCEL


async def test_forged_and_stale_buttons_are_answered_politely(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    message = (await say(fake, user, "/help")).result
    assert (await press(fake, user, message, "not-ours")).params["text"] == fmt.STALE_BUTTON
    assert (await press(fake, user, message, "gs:send")).params["text"] == fmt.STALE_BUTTON
    unknown_poll = await press(fake, user, message, "pv:999999:1")
    assert "Không tìm thấy khảo sát" in unknown_poll.params["text"]


async def test_groups_answer_only_commands_and_mentions(bot: Bot) -> None:
    fake, user, group = bot.fake, new_user(), -100777
    chatter = fake.send_text(user, "xin chào cả nhóm, hôm nay trời đẹp", chat_id=group, chat_type="supergroup")
    fake.edit_message(user, fake.user_message_id(chatter), "xin chào cả nhóm!", chat_id=group)
    fake.send_text(user, "/gopy", chat_id=group, chat_type="supergroup")
    first = await reply_to(fake, group)
    assert visible(first) == fmt.PRIVATE_ONLY
    fake.mention_bot(user, "Hà Nội phát triển đô thị theo hướng nào?", chat_id=group)
    answer = await reply_to(fake, group, SLOW)
    assert "Nguồn:" in visible(answer)
    assert len(fake.messages_to(group)) == 2  # the chatter got no reply


async def test_flood_of_messages_is_cut_with_one_warning(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    for _ in range(bot.settings.telegram_flood_limit + 5):
        fake.send_sticker(user)
    for _ in range(bot.settings.telegram_flood_limit + 1):
        await reply_to(fake, user)
    await say(fake, new_user(), "/help")  # later updates of someone else are handled
    texts = fake.messages_to(user)
    assert texts.count(fmt.FLOOD) == 1
    assert texts.count(fmt.STICKER) == bot.settings.telegram_flood_limit


async def test_telegram_errors_reach_the_error_handler_and_retry_after_is_waited_out(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    fake.fail_next("sendMessage", kind="retry_after", retry_after=1)
    assert "/gopy" in visible(await say(fake, user, "/help"))
    fake.fail_next("sendMessage", kind="bad_request", description="Bad Request: chat not found")
    fake.send_text(user, "/help")
    assert visible(await reply_to(fake, user)) == fmt.ERROR
    assert "/gopy" in visible(await say(fake, user, "/help"))  # still running


# --- roles ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", ["baocao", "xuly GY-2026-000001 da_xu_ly", "capnhat", "taokhaosat", "dongkhaosat 1", "chuatraloi"]
)
async def test_residents_are_refused_staff_commands(bot: Bot, command: str) -> None:
    fake, user = bot.fake, new_user()
    assert visible(await say(fake, user, f"/{command}")) == fmt.REFUSED
    assert not fake.documents_to(user)


async def test_officer_cannot_use_admin_commands(bot: Bot) -> None:
    assert visible(await say(bot.fake, OFFICER, "/capnhat")) == fmt.REFUSED


# --- feedback, tracking, officers -----------------------------------------------------------------


async def test_feedback_status_change_notifies_resident_and_shows_in_tracking(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    await consent(fake, user)
    ticket = await submit_feedback(fake, user, "Đèn đường ngõ 5 phố Huế hỏng <3 tuần")
    assert ticket.startswith("GY-") and len(ticket) == len("GY-2026-000001")
    tracked = visible(await say(fake, user, "/theodoi"))
    assert ticket in tracked and "Mới" in tracked
    done = await say(fake, OFFICER, f"/xuly {ticket} tiep_nhan Đã chuyển cho phường")
    assert "Đã tiếp nhận" in visible(done) and "Đã báo cho người gửi" in visible(done)
    notice = await reply_to(fake, user)
    assert ticket in visible(notice) and "Đã chuyển cho phường" in visible(notice)
    assert "Đã tiếp nhận" in visible(await say(fake, user, "/theodoi"))
    wrong = await say(fake, OFFICER, f"/xuly {ticket} moi")
    assert "Không thể chuyển" in visible(wrong)
    assert "Cách dùng" in visible(await say(fake, OFFICER, "/xuly"))


async def test_officer_report_sends_xlsx_and_png(bot: Bot) -> None:
    from openpyxl import load_workbook

    fake = bot.fake
    assert "Ngày" in visible(await say(fake, OFFICER, "/baocao 31/02/2026"))
    await say(fake, OFFICER, "/baocao")
    first = await fake.wait_for("sendDocument", lambda c: c.chat_id == OFFICER, SLOW)
    second = await fake.wait_for("sendDocument", lambda c: c.chat_id == OFFICER, SLOW)
    files = {f.filename: f.data for call in (first, second) for f in call.files.values()}
    xlsx = next(data for name, data in files.items() if name.endswith(".xlsx"))
    png = next(data for name, data in files.items() if name.endswith(".png"))
    assert png.startswith(b"\x89PNG")
    assert "Góp ý" in load_workbook(io.BytesIO(xlsx), read_only=True).sheetnames


async def test_erasure_needs_confirmation_then_forgets_the_resident(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    await consent(fake, user)
    await submit_feedback(fake, user, "Rác thải tồn đọng ở chợ")
    ask = await say(fake, user, "/xoadulieu")
    await press(fake, user, ask.result, "er:0")
    assert "giữ nguyên" in visible(await reply_to(fake, user))
    ask = await say(fake, user, "/xoadulieu")
    await press(fake, user, ask.result, "er:1")
    assert "Đã xóa dữ liệu" in visible(await reply_to(fake, user))
    assert "chưa gửi góp ý nào" in visible(await say(fake, user, "/theodoi"))


# --- polls ----------------------------------------------------------------------------------------


async def test_admin_creates_poll_residents_vote_change_withdraw_and_admin_closes(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    await say(fake, ADMIN, "/taokhaosat")
    await say(fake, ADMIN, "Bạn có đồng ý sáp nhập phường A và phường B?")
    scope = await say(fake, ADMIN, "Đồng ý\nKhông đồng ý\nÝ kiến khác")
    await press(fake, ADMIN, scope.result, "tw:skip")  # open to every ward
    assert "dd/mm/yyyy" in visible(await reply_to(fake, ADMIN))
    show = await say(fake, ADMIN, "Bỏ qua")  # typed instead of pressed: closed by hand
    await press(fake, ADMIN, show.result, "tv:after_vote")
    created = visible(await reply_to(fake, ADMIN))
    assert "Phạm vi: mọi phường/xã; đóng bằng tay." in created
    poll_id = int(created.split("khảo sát số ")[1].split(":")[0])

    card = await say(fake, user, "/khaosat")
    while f"số {poll_id}" not in visible(card):
        card = await reply_to(fake, user)
    options = [data or "" for _, data in buttons(card)]
    assert options[0] == f"pv:{poll_id}:{options[0].split(':')[2]}" and all(len(d.encode()) <= 64 for d in options)

    needs_consent = await press(fake, user, card.result, options[0])
    assert needs_consent.params.get("text") is None
    prompt = await reply_to(fake, user)
    await press(fake, user, prompt.result, "cs:pl:1")
    await reply_to(fake, user)

    voted = await press(fake, user, card.result, options[0])
    assert "Đã ghi nhận lựa chọn: Đồng ý" in voted.params["text"]
    edit = await fake.wait_for("editMessageText", lambda c: c.chat_id == user, QUICK)
    assert "Bạn đã chọn: Đồng ý" in visible(edit) and "(1 phiếu)" in visible(edit)
    changed = await press(fake, user, edit.result, options[1])
    assert "Không đồng ý" in changed.params["text"]
    edit = await fake.wait_for("editMessageText", lambda c: c.chat_id == user, QUICK)
    assert "Bạn đã chọn: Không đồng ý" in visible(edit)
    withdrawn = await press(fake, user, edit.result, f"pw:{poll_id}")
    assert withdrawn.params["text"] == "Đã rút phiếu của bạn."

    closed = await say(fake, ADMIN, f"/dongkhaosat {poll_id}")
    assert f"Đã đóng khảo sát số {poll_id}" in visible(closed)
    late = await press(fake, user, edit.result, options[0])
    assert "kết thúc" in late.params["text"]
    assert "Cách dùng" in visible(await say(fake, ADMIN, "/dongkhaosat abc"))


# --- admins: documents and re-indexing --------------------------------------------------------------


async def test_admin_document_upload_is_indexed_and_answered(bot: Bot) -> None:
    fake = bot.fake
    fake.send_document(ADMIN, "virus.exe", b"MZ")
    assert visible(await reply_to(fake, ADMIN)) == admin_text("BAD_TYPE")
    document = (
        "Lịch thu gom rác cồng kềnh ở Hà Nội\n\n"
        "Thành phố Hà Nội tổ chức thu gom rác cồng kềnh miễn phí vào sáng chủ nhật cuối cùng của mỗi tháng "
        "tại các điểm tập kết do ủy ban phường công bố. Người dân mang tủ, giường, nệm cũ đến điểm tập kết "
        "từ 6 giờ đến 10 giờ sáng."
    )
    fake.send_document(ADMIN, "thu-gom-rac.txt", document.encode(), "text/plain")
    saved = await reply_to(fake, ADMIN)
    assert "thu-gom-rac.txt" in visible(saved)
    assert (bot.settings.knowledge_dir / "thu-gom-rac.txt").read_text() == document
    report = await fake.wait_for("sendMessage", lambda c: c.chat_id == ADMIN and "chỉ mục" in c.text, 240)
    assert "3 tài liệu" in visible(report)
    answer = await say(fake, new_user(), "Khi nào thành phố thu gom rác cồng kềnh miễn phí?", SLOW)
    assert "Lịch thu gom rác cồng kềnh" in visible(answer)


def admin_text(name: str) -> str:
    """A fixed text of the admin module."""
    from bot.telegram import admin

    return str(getattr(admin, name))
