"""Voice message → question text, off the event loop: a bounded worker pool and a per-resident budget."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.voice.audio import decode, pieces
from bot.voice.errors import Problem, VoiceError
from bot.voice.model import SpeechModel, VietAsrModel
from bot.voice.numbers import spoken_numbers_to_digits

if TYPE_CHECKING:
    from bot.config import Settings

WORKER_NICE = 10  # transcription threads yield the CPU to typed questions (Linux: niceness is per thread)
# Hesitations and backchannels: a transcript made only of these carries no question.
FILLERS = frozenset({"à", "a", "ờ", "ơ", "ừ", "ư", "ừm", "ờm", "ạ", "hả", "hử", "ơi", "alo", "ê", "ô", "ồ", "ậy"})


@dataclass(frozen=True)
class Transcript:
    """What the resident said: `text` with numbers as digits (what is answered), `raw` as heard."""

    text: str
    raw: str
    seconds: float


class ResidentBudget:
    """At most `limit` voice messages per resident in any `window` seconds (in memory, keyed by pseudonym)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}

    def take(self, resident: str, now: float) -> bool:
        """Count one message; False (nothing counted) when the resident is over the limit."""
        times = self._seen.setdefault(resident, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        if len(self._seen) > 10_000:
            self._seen = {key: value for key, value in self._seen.items() if value and now - value[-1] < self.window}
        return True


def lower_priority() -> None:
    """Run this worker thread at a lower CPU priority than the event loop (a no-op where unsupported)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)


def meaningful(words: list[str]) -> bool:
    """True when the transcript has at least one word that is not a hesitation."""
    return any(word.lower() not in FILLERS for word in words)


class VoiceService:
    """Decodes and transcribes on `workers` threads; beyond `workers + queue` jobs, new ones are refused."""

    def __init__(
        self,
        model: SpeechModel,
        *,
        max_seconds: float = 60.0,
        workers: int = 1,
        queue: int = 8,
        per_resident: int = 10,
        window: float = 600.0,
    ) -> None:
        self.model = model
        self.max_seconds = max_seconds
        self.capacity = workers + queue
        self.budget = ResidentBudget(per_resident, window)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="voice", initializer=lower_priority)
        self._pending = 0

    @classmethod
    def from_settings(cls, settings: Settings, model: SpeechModel | None = None) -> VoiceService:
        """A service with the VOICE_* settings and, by default, the viet-asr model (loaded on first use)."""
        return cls(
            model or VietAsrModel(settings.voice_preset),
            max_seconds=settings.voice_max_seconds,
            workers=settings.voice_workers,
            queue=settings.voice_queue,
            per_resident=settings.voice_per_resident,
            window=settings.voice_window,
        )

    @property
    def pending(self) -> int:
        """Jobs running or waiting for a worker."""
        return self._pending

    async def transcribe(self, data: bytes, *, resident: str) -> Transcript:
        """The question in a recording; VoiceError when busy, over the resident's budget, or no words."""
        if self._pending >= self.capacity:
            raise VoiceError(Problem.BUSY)
        if not self.budget.take(resident, time.monotonic()):
            raise VoiceError(Problem.LIMITED)
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self.transcribe_now, data)
        finally:
            self._pending -= 1

    def transcribe_now(self, data: bytes) -> Transcript:
        """Decode, reject silence, transcribe, turn spoken numbers into digits (blocking: a worker's job)."""
        clip = decode(data, max_seconds=self.max_seconds)
        if clip.seconds > self.max_seconds + 0.5:
            raise VoiceError(Problem.TOO_LONG, f"{clip.seconds:.1f} s")
        if clip.is_silent():
            raise VoiceError(Problem.SILENT, f"{clip.loudness_dbfs():.0f} dBFS")
        raw = " ".join(" ".join(self.model.transcribe(piece).split()) for piece in pieces(clip)).strip()
        if not meaningful(raw.split()):
            raise VoiceError(Problem.UNCLEAR, f"{len(raw.split())} words, only hesitations")  # no text in logs
        return Transcript(spoken_numbers_to_digits(raw), raw, clip.seconds)

    def close(self) -> None:
        """Stop the workers (jobs not started are cancelled)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
