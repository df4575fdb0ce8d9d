"""Spoken numbers, decoding, silence, the per-resident budget and the bounded pool (no Telegram, no model)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from bot.voice.audio import decode, pieces
from bot.voice.errors import Problem, VoiceError
from bot.voice.numbers import spoken_numbers_to_digits
from bot.voice.service import ResidentBudget, VoiceService
from tests.voice.clips import QUESTION, long_speech, mp4_aac, opus, quiet, samples


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("tầm nhìn đến năm hai ngàn không trăm bốn mươi lăm là gì", "tầm nhìn đến năm 2045 là gì"),
        ("năm hai nghìn không trăm ba mươi", "năm 2030"),
        ("gồm mười chỉ tiêu", "gồm 10 chỉ tiêu"),
        ("hai mươi mốt phường", "21 phường"),
        ("hai trăm linh năm xã", "205 xã"),
        ("ba triệu hai trăm nghìn người", "3200000 người"),
        ("bốn mươi năm qua", "40 năm qua"),  # "năm" here is "years", not five
        ("một số ý kiến", "một số ý kiến"),  # a lone digit word is left alone
        ("trăm năm", "trăm năm"),
        ("không có gì", "không có gì"),
    ],
)
def test_spoken_numbers_become_digits(spoken: str, written: str) -> None:
    assert spoken_numbers_to_digits(spoken) == written


def test_telegram_opus_decodes_to_16khz_mono() -> None:
    clip = decode(QUESTION.read_bytes(), max_seconds=60)
    assert 4.0 < clip.seconds < 5.5
    assert clip.samples.dtype == np.int16
    assert not clip.is_silent()


def test_video_note_audio_decodes_through_pyav() -> None:
    clip = decode(mp4_aac(samples(QUESTION)), max_seconds=60)
    assert 4.0 < clip.seconds < 5.5
    assert not clip.is_silent()


def test_room_tone_is_silence() -> None:
    assert decode(opus(quiet(3.0)), max_seconds=60).is_silent()


def test_long_audio_is_refused_before_decoding() -> None:
    with pytest.raises(VoiceError) as caught:
        decode(opus(long_speech(QUESTION, 61.5)), max_seconds=60)
    assert caught.value.problem is Problem.TOO_LONG


@pytest.mark.parametrize("data", [b"", b"OggSfake", b"\xff\xd8 a jpeg"])
def test_not_audio_is_unreadable(data: bytes) -> None:
    with pytest.raises(VoiceError) as caught:
        decode(data, max_seconds=60)
    assert caught.value.problem is Problem.UNREADABLE


def test_budget_counts_per_resident_within_the_window() -> None:
    budget = ResidentBudget(limit=2, window=60)
    assert budget.take("a", 0) and budget.take("a", 1)
    assert not budget.take("a", 2)
    assert budget.take("b", 2)  # another resident is not affected
    assert budget.take("a", 61)  # the first one left the window


class GatedModel:
    """A deterministic speech model that waits for a gate, to hold workers busy."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def transcribe(self, samples: np.ndarray) -> str:
        """Say the same words once the gate opens."""
        self.gate.wait(30)
        return "thành phố thông minh"


async def test_pool_refuses_beyond_workers_and_queue_then_recovers() -> None:
    model = GatedModel()
    service = VoiceService(model, workers=1, queue=1, per_resident=5)
    data = QUESTION.read_bytes()
    try:
        first = asyncio.ensure_future(service.transcribe(data, resident="a"))
        second = asyncio.ensure_future(service.transcribe(data, resident="b"))
        await asyncio.sleep(0)
        with pytest.raises(VoiceError) as caught:
            await service.transcribe(data, resident="c")
        assert caught.value.problem is Problem.BUSY
        model.gate.set()
        assert (await first).text == (await second).text == "thành phố thông minh"
        assert (await service.transcribe(data, resident="c")).text == "thành phố thông minh"
    finally:
        model.gate.set()
        service.close()


async def test_resident_over_budget_is_limited() -> None:
    model = GatedModel()
    model.gate.set()
    service = VoiceService(model, per_resident=1)
    try:
        await service.transcribe(QUESTION.read_bytes(), resident="a")
        with pytest.raises(VoiceError) as caught:
            await service.transcribe(QUESTION.read_bytes(), resident="a")
        assert caught.value.problem is Problem.LIMITED
    finally:
        service.close()


async def test_hesitations_only_are_unclear() -> None:
    class Hesitant:
        def transcribe(self, samples: np.ndarray) -> str:
            """Only fillers."""
            return "à ờ"

    service = VoiceService(Hesitant())
    try:
        with pytest.raises(VoiceError) as caught:
            await service.transcribe(QUESTION.read_bytes(), resident="a")
        assert caught.value.problem is Problem.UNCLEAR
    finally:
        service.close()


def test_long_audio_is_cut_in_pauses_into_pieces_of_at_most_20_s() -> None:
    clip = decode(opus(long_speech(QUESTION, 50)), max_seconds=60)
    parts = pieces(clip)
    assert sum(len(part) for part in parts) == len(clip.samples)
    assert all(len(part) <= 20 * 16_000 for part in parts) and len(parts) >= 3
    for part in parts[1:]:  # each cut falls in a pause: the piece starts quieter than speech
        assert np.sqrt(np.mean(part[:160].astype(np.float32) ** 2)) < 0.05 * 32768
