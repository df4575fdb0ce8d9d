"""Voice messages, video notes and audio files in private chats: transcribed offline, then answered as questions."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from telegram import Message, ReplyParameters, Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import Application, BaseHandler, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from bot.config import Settings
from bot.telegram import format as fmt
from bot.telegram import qa
from bot.telegram.common import reply
from bot.telegram.deps import pseudonym
from bot.voice.errors import Problem, VoiceError

if TYPE_CHECKING:
    from bot.voice.service import VoiceService

log = logging.getLogger(__name__)
T = TypeVar("T")
VOICE_KEY = "voice"
MEDIA = filters.VOICE | filters.VIDEO_NOTE | filters.AUDIO
ACTION_AFTER = 1.0  # seconds before "typing…" is shown (short clips are transcribed sooner)
ACTION_EVERY = 4.5  # Telegram shows a chat action for 5 s
NOTE_AFTER = 8.0  # seconds before a "still listening" message
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API's download limit


def install(application: Application, settings: Settings) -> bool:
    """Create the voice service when enabled and viet-asr is installed (the model loads on first use)."""
    from bot.voice.model import installed
    from bot.voice.service import VoiceService

    if not settings.voice_enabled or not installed():
        log.info("voice messages answered with 'please type' (VOICE_ENABLED=%s)", settings.voice_enabled)
        return False
    application.bot_data[VOICE_KEY] = VoiceService.from_settings(settings)
    return True


def close(application: Application) -> None:
    """Stop the transcription workers."""
    service = application.bot_data.pop(VOICE_KEY, None)
    if service is not None:
        service.close()


def voice_service(context: ContextTypes.DEFAULT_TYPE) -> VoiceService | None:
    """The voice service, or None when voice is disabled or not installed."""
    return context.bot_data.get(VOICE_KEY)


def _explain(exc: VoiceError, max_seconds: float) -> str:
    """What the resident reads when a voice message yields no text."""
    texts = {
        Problem.TOO_LONG: fmt.VOICE_TOO_LONG.format(seconds=f"{max_seconds:.0f}"),
        Problem.SILENT: fmt.VOICE_SILENT,
        Problem.UNCLEAR: fmt.VOICE_UNCLEAR,
        Problem.UNREADABLE: fmt.VOICE,
        Problem.BUSY: fmt.VOICE_BUSY,
        Problem.LIMITED: fmt.VOICE_LIMITED,
        Problem.UNAVAILABLE: fmt.VOICE,
    }
    return texts[exc.problem]


async def hear(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The words of this voice message, or None after telling the resident why there are none."""
    message = update.effective_message
    assert message is not None
    service = voice_service(context)
    if service is None:
        await reply(update, fmt.VOICE)
        return None
    try:
        data = await _download(message, service.max_seconds)
        work = service.transcribe(data, resident=pseudonym(update, context))
        transcript = await _listening(message, work)
    except VoiceError as exc:
        log.info("voice message not transcribed: %s (%s)", exc.problem.value, exc.detail)
        await reply(update, _explain(exc, service.max_seconds))
        return None
    return transcript.text


async def _download(message: Message, max_seconds: float) -> bytes:
    """The audio bytes (kept in memory only); too long or too big is refused before downloading."""
    media = message.voice or message.video_note or message.audio
    assert media is not None
    with warnings.catch_warnings():  # PTB 22 warns that `duration` will become a timedelta: both are handled
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        duration = media.duration
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration or 0)
    if seconds > max_seconds or (media.file_size or 0) > MAX_DOWNLOAD:
        raise VoiceError(Problem.TOO_LONG, f"{seconds:.0f} s, {media.file_size} bytes")
    file = await media.get_file()
    return bytes(await file.download_as_bytearray())


async def _listening(message: Message, work: Awaitable[T]) -> T:
    """Await the transcription; show "typing…" while it runs, and a note if it takes long."""
    task = asyncio.ensure_future(work)
    waited, timeout, noted = 0.0, ACTION_AFTER, False
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if done:
                return task.result()
            waited += timeout
            timeout = ACTION_EVERY
            if waited >= NOTE_AFTER and not noted:
                noted = True
                await message.reply_text(fmt.VOICE_LISTENING)
            await message.reply_chat_action(ChatAction.TYPING)
    finally:
        if not task.done():
            task.cancel()


async def ask_by_voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show what was heard ("🎙 Bạn hỏi: …"), then answer it like a typed question, in reply to that line."""
    message = update.effective_message
    assert message is not None
    text = await hear(update, context)
    if text is None:
        return
    heard = await message.reply_text(
        f"{fmt.VOICE_ASKED}{fmt.esc(text)}",
        parse_mode=ParseMode.HTML,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
    )
    await qa.answer_text(context, heard, text, spoken=True)


def media_filter() -> filters.BaseFilter:
    """Voice messages, video notes and audio files, in private chats."""
    return filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & MEDIA


def handlers(application: Application) -> list[BaseHandler]:
    """The spoken-question handler, only when the voice service is installed (else the fallback says "please type")."""
    if VOICE_KEY not in application.bot_data:
        return []
    return [MessageHandler(media_filter(), ask_by_voice)]
