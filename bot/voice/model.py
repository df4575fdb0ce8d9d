"""The offline speech model: viet-asr (optional extra `voice`), loaded lazily, one pipeline per worker thread."""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import TYPE_CHECKING, Any, Protocol

from bot.voice.audio import SAMPLE_RATE
from bot.voice.errors import Problem, VoiceError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)
QUIET_LOG_LEVEL = 3  # viet-asr's native log: 3 = warnings and errors only (its INFO lines go to stderr)


class SpeechModel(Protocol):
    """Turns 16 kHz mono int16 samples into lowercase Vietnamese words (blocking, CPU-bound)."""

    def transcribe(self, samples: np.ndarray) -> str:
        """The words heard, or "" when none."""
        ...


def installed() -> bool:
    """True when the `viet-asr` package is importable (the `voice` extra is installed)."""
    return importlib.util.find_spec("vietasr") is not None


class VietAsrModel:
    """viet-asr's pipeline preset (default "transcribe"): the model is inside its native library.

    Loading reads ~70 MB from the wheel (about 1 s, ~240 MB RSS); it neither downloads nor writes
    files, and runs single-threaded, so one pipeline per worker thread uses one core each.
    """

    def __init__(self, preset: str = "transcribe") -> None:
        self.preset = preset
        self._local = threading.local()
        self._failure: VoiceError | None = None

    def load(self) -> Any:
        """This thread's pipeline, built on first use; VoiceError(UNAVAILABLE) if the model cannot load."""
        pipeline = getattr(self._local, "pipeline", None)
        if pipeline is not None:
            return pipeline
        if self._failure is not None:
            raise self._failure
        try:
            import vietasr
            from vietasr.ffi import native

            native.lib.vietasr_set_log_level(QUIET_LOG_LEVEL)
            pipeline = vietasr.Pipeline.preset(self.preset)
        except (ImportError, OSError, RuntimeError) as exc:  # not installed, native library or preset missing
            log.error("speech model unavailable: %s", exc)
            self._failure = VoiceError(Problem.UNAVAILABLE, f"viet-asr: {exc}")
            raise self._failure from exc
        self._local.pipeline = pipeline
        return pipeline

    def transcribe(self, samples: np.ndarray) -> str:
        """The words viet-asr hears in the samples."""
        pipeline = self.load()
        try:
            result = pipeline.transcribe(samples, float(SAMPLE_RATE))
        except RuntimeError as exc:  # vietasr's PipelineError: the native decoder gave up on this audio
            raise VoiceError(Problem.UNCLEAR, f"viet-asr: {exc}") from exc
        return str(result.text).strip()
