"""Spoken questions and spoken feedback through the real bot, the fake Bot API and the real viet-asr model.

One Application (so one speech model, loaded on the first voice message) serves this module; each
test uses its own residents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from telegram import Update

from bot.services import feedback, questions
from bot.telegram import format as fmt
from bot.telegram.voice import VOICE_KEY
from bot.voice.model import VietAsrModel
from bot.voice.service import VoiceService
from tests.telegram.fake_bot_api import Call, FakeBotApi
from tests.telegram.test_bot import (
    SLOW,
    Bot,
    bot_settings,
    buttons,
    consent,
    new_user,
    press,
    reply_to,
    say,
    visible,
)
from tests.telegram.test_bot_flows import running, service
from tests.voice.clips import FEEDBACK, QUESTION, SMART_CITY, long_speech, mp4_aac, opus, quiet, samples

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def bot_reply(fake: FakeBotApi, user: int, wait: float = SLOW) -> Call:
    """The bot's next message to the resident, past the "still listening" note a slow machine may show."""
    while True:
        call = await reply_to(fake, user, wait)
        if visible(call) != fmt.VOICE_LISTENING:
            return call


async def test_spoken_question_shows_the_transcript_then_the_sourced_answer(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    fake.send_voice(user, duration=5, data=QUESTION.read_bytes())
    heard = await bot_reply(fake, user)
    assert visible(heard).startswith(fmt.VOICE_ASKED)
    assert "2045" in visible(heard)  # «hai ngàn không trăm bốn mươi lăm» written as in the documents
    answer = await bot_reply(fake, user)
    assert "kết nối toàn cầu" in visible(answer)  # the programme's vision for 2045
    assert [data for _, data in buttons(answer)] == ["qa:1", "qa:0"]


async def test_thumbs_down_on_a_spoken_answer_is_recorded_as_a_possible_wrong_transcript(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    fake.send_voice(user, duration=3, data=SMART_CITY.read_bytes())
    heard = await bot_reply(fake, user)
    transcript = visible(heard).removeprefix(fmt.VOICE_ASKED)
    assert "thành phố" in transcript
    answer = await bot_reply(fake, user)
    assert "thông minh" in visible(answer)
    rated = await press(fake, user, answer.result, "qa:0")
    assert rated.params.get("text") == fmt.HELPFUL_THANKS
    sessions = bot.app.bot_data["deps"].sessions
    with sessions() as session:
        unhelpful = questions.top_unhelpful(session=session)
    assert any(view.text == f"[giọng nói] {transcript}" and view.not_helpful == 1 for view in unhelpful)


async def test_video_note_is_heard_too(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    fake.send_video_note(user, mp4_aac(samples(SMART_CITY)), duration=3)
    heard = await bot_reply(fake, user)
    assert visible(heard).startswith(fmt.VOICE_ASKED) and "thành phố" in visible(heard)
    await bot_reply(fake, user)  # the answer (AAC re-encoding blurs espeak's voice: not always the right one)


async def test_a_long_message_is_heard_to_the_end(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    speech = np.concatenate([long_speech(QUESTION, 25), long_speech(SMART_CITY, 25)])
    fake.send_voice(user, duration=50, data=opus(speech))
    heard = visible(await bot_reply(fake, user, 4 * SLOW))
    assert "nhìn" in heard and "thành phố" in heard  # «tầm nhìn» from the first 25 s, the city from the last


async def test_silence_gets_a_speak_closer_message(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    fake.send_voice(user, duration=3, data=opus(quiet(3.0)))
    assert visible(await bot_reply(fake, user)) == fmt.VOICE_SILENT


async def test_over_a_minute_gets_a_shorter_please(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    fake.send_voice(user, duration=62, data=opus(long_speech(QUESTION, 62)))
    assert visible(await bot_reply(fake, user)) == fmt.VOICE_TOO_LONG.format(seconds="60")


async def test_typed_question_is_answered_while_a_long_voice_message_is_transcribed(bot: Bot) -> None:
    fake, speaker, typist = bot.fake, new_user(), new_user()
    fake.send_voice(speaker, duration=30, data=opus(long_speech(QUESTION, 30)))
    answer = await say(fake, typist, "Tầm nhìn đến năm 2045 của Thủ đô Hà Nội là gì?", SLOW)
    assert "kết nối toàn cầu" in visible(answer)
    heard = await bot_reply(fake, speaker, 4 * SLOW)
    assert visible(heard).startswith(fmt.VOICE_ASKED)


async def test_spoken_feedback_is_confirmed_then_stored_as_text(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    await consent(fake, user)
    category = await say(fake, user, "/gopy")
    await press(fake, user, category.result, buttons(category)[0][1] or "")
    await reply_to(fake, user)  # which ward?
    await say(fake, user, "Phường Cầu Giấy")  # then: send the content
    fake.send_voice(user, duration=3, data=FEEDBACK.read_bytes())
    heard = await bot_reply(fake, user)
    assert visible(heard).startswith("🎙 Mình nghe được:") and "không được lưu" in visible(heard)
    summary = await bot_reply(fake, user)
    assert "đến muộn quá" in visible(summary)  # «Xe buýt đến muộn quá»
    await press(fake, user, summary.result, "gs:send")
    sent = await reply_to(fake, user)
    ticket = visible(sent).split("Mã phiếu: ")[1].split()[0]
    stored = service(bot.settings, feedback.get_feedback, ticket=ticket)
    assert "đến muộn quá" in (stored.text or "")
    assert stored.photo_file_id is None  # the audio is not kept, not even as a Telegram file id


async def test_a_model_that_fails_to_load_gets_please_type(bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    working = bot.app.bot_data[VOICE_KEY]
    broken = VoiceService(VietAsrModel(preset="no-such-preset"))  # viet-asr itself refuses to build it
    bot.app.bot_data[VOICE_KEY] = broken
    try:
        fake.send_voice(user, duration=3, data=SMART_CITY.read_bytes())
        assert visible(await bot_reply(fake, user)) == fmt.VOICE
    finally:
        bot.app.bot_data[VOICE_KEY] = working
        broken.close()


async def test_without_voice_the_resident_is_asked_to_type(tmp_path: Path, bot: Bot) -> None:
    fake, user = bot.fake, new_user()
    index = Path(bot.settings.index_dir)
    settings = bot_settings(fake, tmp_path, index, voice_enabled=False)
    await bot.app.updater.stop()  # type: ignore[union-attr]  # one getUpdates consumer at a time
    try:
        async with running(settings) as app:
            assert VOICE_KEY not in app.bot_data
            fake.send_voice(user, duration=3, data=SMART_CITY.read_bytes())
            assert visible(await bot_reply(fake, user)) == fmt.VOICE
    finally:
        await bot.app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=Update.ALL_TYPES)  # type: ignore[union-attr]
