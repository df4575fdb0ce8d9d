"""Self-test of the fake Bot API: the real python-telegram-bot Application talks to it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from telegram import BotCommand, BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.telegram.fake_bot_api import FakeBotApi, parse_html

USER = 4242


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the same text."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(update.effective_message.text or "")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet in HTML with two buttons."""
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Đồng ý", callback_data="c:1"),
                InlineKeyboardButton("Không", callback_data="c:0"),
            ]
        ]
    )
    await update.effective_message.reply_html("<b>Chào</b> bạn &amp; gia đình", reply_markup=keyboard)


async def choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press and edit the message to show the choice."""
    query = update.callback_query
    assert query is not None
    await query.answer("Đã ghi nhận")
    await query.edit_message_text(f"Bạn chọn {query.data}")


async def size_of_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download the sent document and send it back with its size."""
    message = update.effective_message
    assert message is not None and message.document is not None
    data = await (await message.document.get_file()).download_as_bytearray()
    await message.reply_document(bytes(data), filename="lai.txt", caption=f"{len(data)} byte")


def build_app(fake: FakeBotApi, *, rate_limited: bool = False) -> Application:
    """An Application with the test handlers, pointed at the fake server."""
    builder = fake.application_builder()
    if rate_limited:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    app = builder.build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(choose))
    app.add_handler(MessageHandler(filters.Document.ALL, size_of_file))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


@asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    """Run the app with long polling until the block ends."""
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=2)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_polling_echo_and_confirmed_updates(fake: FakeBotApi) -> None:
    async with polling(build_app(fake)):
        fake.send_text(USER, "Xin chào Hà Nội")
        fake.send_text(USER, "Câu thứ hai")
        first = await fake.wait_for_reply(USER)
        second = await fake.wait_for_reply(USER)
    assert first.response["result"]["text"] == "Xin chào Hà Nội"
    assert first.response["result"]["from"]["is_bot"] is True
    assert second.response["result"]["message_id"] > first.response["result"]["message_id"]
    assert fake.messages_to(USER) == ["Xin chào Hà Nội", "Câu thứ hai"]
    assert fake.pending_updates() == 0  # the bot confirmed both through the offset
    assert {c.method for c in fake.calls()} >= {"getMe", "deleteWebhook", "getUpdates"}


async def test_reset_forgets_records_but_not_the_running_bot(fake: FakeBotApi) -> None:
    async with polling(build_app(fake)):
        fake.send_text(USER, "trước")
        await fake.wait_for_reply(USER)
        fake.reset()
        assert fake.messages_to(USER) == []
        fake.send_text(USER, "sau")
        await fake.wait_for_reply(USER)
    assert fake.messages_to(USER) == ["sau"]
    assert all(c.status == 200 for c in fake.calls())  # the long poll was not cut off with a 409


async def test_html_buttons_and_edits(fake: FakeBotApi) -> None:
    async with polling(build_app(fake)):
        fake.send_command(USER, "start")
        await fake.wait_for("sendMessage")
        greeting = fake.last_message(USER)
        assert greeting is not None
        assert greeting["text"] == "Chào bạn & gia đình"
        assert greeting["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
        assert fake.buttons(greeting) == [("Đồng ý", "c:1"), ("Không", "c:0")]
        fake.press_button_text(USER, greeting, "Đồng ý")
        await fake.wait_for("answerCallbackQuery")
        await fake.wait_for("editMessageText")
    assert fake.messages_to(USER) == ["Bạn chọn c:1"]
    edited = fake.last_message(USER)
    assert edited is not None and "reply_markup" not in edited  # an edit without markup drops the keyboard


async def test_telegram_rules_are_enforced(fake: FakeBotApi) -> None:
    async with build_app(fake) as app:
        with pytest.raises(BadRequest, match=r"(?i)can.t parse entities"):
            await app.bot.send_message(USER, "1 < 2 và <br> không hợp lệ", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="too long"):
            await app.bot.send_message(USER, "a" * 4097)
        long_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="đ" * 40)]])
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await app.bot.send_message(USER, "nút", reply_markup=long_data)
        sent = await app.bot.send_message(USER, "giữ nguyên")
        with pytest.raises(BadRequest, match="not modified"):
            await sent.edit_text("giữ nguyên")
        assert await app.bot.do_api_request("sendFancyThing", api_kwargs={"chat_id": USER}) is True
    assert fake.warnings == ["unknown method sendFancyThing"]
    assert fake.messages_to(USER) == ["giữ nguyên"]


def test_html_parser_counts_utf16_and_nesting() -> None:
    text, entities = parse_html('😀 <b>đậm <i>nghiêng</i></b> <a href="https://hanoi.gov.vn">link</a>')
    assert text == "😀 đậm nghiêng link"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 11},
        {"type": "italic", "offset": 7, "length": 7},
        {"type": "text_link", "offset": 15, "length": 4, "url": "https://hanoi.gov.vn"},
    ]


async def test_document_download_and_upload(fake: FakeBotApi) -> None:
    async with polling(build_app(fake)):
        fake.send_document(USER, "gopy.txt", "góp ý".encode(), "text/plain")
        reply = await fake.wait_for("sendDocument")
    assert reply.files["document"].data == "góp ý".encode()
    assert fake.messages_to(USER) == ["7 byte"]
    assert [f.filename for f in fake.documents_to(USER)] == ["lai.txt"]
    assert [c.method for c in fake.calls("getFile")] == ["getFile"]


async def test_retry_after_is_waited_out_by_rate_limiter(fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", 1, "retry_after", retry_after=1)
    async with polling(build_app(fake, rate_limited=True)):
        fake.send_text(USER, "vẫn đến nơi")
        reply = await fake.wait_for_reply(USER)
    assert [c.status for c in fake.calls("sendMessage")] == [429, 200]
    assert fake.calls("sendMessage")[0].response["parameters"] == {"retry_after": 1}
    assert reply.response["result"]["text"] == "vẫn đến nơi"


@pytest.mark.parametrize(
    ("kind", "error", "text"),
    [
        ("server_error", NetworkError, "Internal Server Error"),
        ("forbidden", Forbidden, "bot was blocked by the user"),
        ("bad_request", BadRequest, "not modified"),
    ],
)
async def test_injected_errors_surface_once(
    fake: FakeBotApi, kind: str, error: type[Exception], text: str
) -> None:
    fake.fail_next("sendMessage", 1, kind)
    async with build_app(fake) as app:
        with pytest.raises(error, match=text):
            await app.bot.send_message(USER, "lỗi")
        await app.bot.send_message(USER, "lần sau được")
    assert fake.messages_to(USER) == ["lần sau được"]


async def test_webhook_mode_with_secret_token(fake: FakeBotApi) -> None:
    port = free_port()
    app = build_app(fake)
    async with app:
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="tg",
            webhook_url=f"http://127.0.0.1:{port}/tg",
            secret_token="bi-mat_123",
        )
        await app.start()
        try:
            update_id = fake.send_text(USER, "qua webhook")
            reply = await fake.wait_for_reply(USER)
            forged = {
                "update_id": 999,
                "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}},
            }
            refused = await asyncio.to_thread(fake.post_to_webhook, forged, "sai-bi-mat")
        finally:
            await app.updater.stop()
            await app.stop()
    assert reply.response["result"]["text"] == "qua webhook"
    assert fake.webhook is not None and fake.webhook["secret_token"] == "bi-mat_123"
    delivered = [d for d in fake.deliveries() if d.update_id == update_id]
    assert [(d.status, d.secret_token) for d in delivered] == [(200, "bi-mat_123")]
    assert refused == 403
    assert not fake.calls("getUpdates")


async def test_webhook_retries_until_the_bot_answers(fake: FakeBotApi) -> None:
    fake.webhook_retry_delay = 0.05
    port = free_port()
    async with build_app(fake) as app:
        await app.bot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="s")
        update_id = fake.send_text(USER, "không ai nghe")
        await asyncio.sleep(0.5)
    attempts = [d for d in fake.deliveries() if d.update_id == update_id]
    assert [d.attempt for d in attempts] == [1, 2, 3]
    assert all(d.status >= 500 for d in attempts)  # nothing listens: connection refused
    assert fake.warnings == [f"webhook gave up on update {update_id}"]


async def test_get_updates_long_poll_and_offset(fake: FakeBotApi) -> None:
    async with build_app(fake) as app:
        waiting = asyncio.create_task(app.bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        first = fake.send_text(USER, "một")
        got = await waiting
        assert [u.update_id for u in got] == [first]
        second = fake.send_text(USER, "hai")
        again = await app.bot.get_updates(timeout=0)
        assert [u.update_id for u in again] == [first, second]  # not confirmed yet
        after = await app.bot.get_updates(offset=first + 1, timeout=0)
        assert [u.update_id for u in after] == [second]
        assert await app.bot.get_updates(offset=second + 1, timeout=0) == ()


async def test_commands_per_scope_and_update_shapes(fake: FakeBotApi) -> None:
    async with build_app(fake) as app:
        await app.bot.set_my_commands([BotCommand("start", "Bắt đầu"), BotCommand("help", "Trợ giúp")])
        await app.bot.set_my_commands([BotCommand("baocao", "Báo cáo")], scope=BotCommandScopeChat(USER))
        scoped = await app.bot.get_my_commands(scope=BotCommandScopeChat(USER))
        fake.mention_bot(7, "ơi, hỏi chút", chat_id=-100123)
        fake.send_command(7, "khaosat", "2")
        fake.send_sticker(7)
        fake.forward_text(7, "tin chuyển tiếp")
        updates = await app.bot.get_updates(timeout=0)
    assert fake.commands() == ["start", "help"]
    assert fake.commands({"type": "chat", "chat_id": USER}) == ["baocao"]
    assert [c.command for c in scoped] == ["baocao"]
    mention, command, sticker, forwarded = (u.message for u in updates)
    assert mention is not None and mention.chat.type == "supergroup"
    assert mention.parse_entities(["mention"]) and list(mention.parse_entities(["mention"]).values()) == [
        "@" + fake.bot_username
    ]
    assert command is not None and command.text == "/khaosat 2" and command.entities[0].type == "bot_command"
    assert sticker is not None and sticker.sticker is not None
    assert forwarded is not None and forwarded.forward_origin is not None


async def test_wrong_token_is_unauthorized(fake: FakeBotApi) -> None:
    app = (
        Application.builder()
        .token("1:wrong")
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    with pytest.raises(InvalidToken):
        await app.bot.get_me()
