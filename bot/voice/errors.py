"""Why a voice message could not be turned into text (the Telegram layer words it for the resident)."""

from __future__ import annotations

from enum import Enum


class Problem(Enum):
    """What went wrong, as the resident would understand it."""

    TOO_LONG = "too_long"  # over VOICE_MAX_SECONDS
    SILENT = "silent"  # nothing louder than background noise
    UNCLEAR = "unclear"  # the model heard no words
    UNREADABLE = "unreadable"  # not an audio file we can decode
    BUSY = "busy"  # too many voice messages waiting for the workers
    LIMITED = "limited"  # this resident sent too many voice messages lately
    UNAVAILABLE = "unavailable"  # the speech model is not installed or failed to load


class VoiceError(Exception):
    """A voice message that yields no question; `problem` says why."""

    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(detail or problem.value)
        self.problem = problem
        self.detail = detail or problem.value
