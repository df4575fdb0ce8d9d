"""Decode a voice message (OGG/Opus, MP3, WAV, FLAC; MP4/M4A through PyAV) to 16 kHz mono int16."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.voice.errors import Problem, VoiceError

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 16_000  # what the speech model expects
FRAME_SECONDS = 0.03
SILENCE_DBFS = -45.0  # the loud end of a recording (95th percentile frame) below this is silence
SLACK_SECONDS = 0.5  # containers round durations: 60.4 s is still "60 s"


@dataclass(frozen=True)
class Clip:
    """Decoded audio: int16 samples, mono, SAMPLE_RATE."""

    samples: np.ndarray

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return len(self.samples) / SAMPLE_RATE

    def loudness_dbfs(self) -> float:
        """The 95th-percentile RMS of 30 ms frames, in dB below full scale (-inf for digital silence)."""
        import numpy as np

        size = int(SAMPLE_RATE * FRAME_SECONDS)
        count = len(self.samples) // size
        if count == 0:
            return -math.inf
        frames = self.samples[: count * size].astype(np.float32).reshape(count, size) / 32768.0
        rms = float(np.percentile(np.sqrt((frames**2).mean(axis=1)), 95))
        return 20 * math.log10(rms) if rms > 0 else -math.inf

    def is_silent(self) -> bool:
        """True when nothing in the recording is louder than quiet background noise."""
        return self.loudness_dbfs() < SILENCE_DBFS


def pieces(clip: Clip, *, longest: float = 20.0) -> list[np.ndarray]:
    """The samples cut into pieces of at most `longest` seconds, each cut at the quietest 30 ms of its last third.

    viet-asr keeps only the last segments of a long buffer (a 60 s message came back as its last ~25 s),
    so long messages are transcribed piece by piece, cut in pauses rather than inside words.
    """
    import numpy as np

    size, frame = int(longest * SAMPLE_RATE), int(FRAME_SECONDS * SAMPLE_RATE)
    out: list[np.ndarray] = []
    start, total = 0, len(clip.samples)
    while total - start > size:
        lo, hi = start + 2 * size // 3, start + size
        window = clip.samples[lo:hi].astype(np.float32)
        energy = np.convolve(window**2, np.ones(frame, dtype=np.float32), mode="valid")
        cut = lo + int(np.argmin(energy)) + frame // 2
        out.append(clip.samples[start:cut])
        start = cut
    out.append(clip.samples[start:])
    return out


def decode(data: bytes, *, max_seconds: float) -> Clip:
    """Decode and resample; VoiceError(TOO_LONG) before decoding a long file, UNREADABLE if not audio."""
    import soundfile

    try:
        with soundfile.SoundFile(io.BytesIO(data)) as source:
            if source.frames > (max_seconds + SLACK_SECONDS) * source.samplerate:
                raise VoiceError(Problem.TOO_LONG, f"{source.frames / source.samplerate:.1f} s")
            audio = source.read(dtype="float32", always_2d=True)
            rate = source.samplerate
    except soundfile.LibsndfileError:
        return _decode_with_av(data, max_seconds=max_seconds)
    return Clip(_to_int16(_resample(audio.mean(axis=1), rate)))


def _resample(mono: np.ndarray, rate: int) -> np.ndarray:
    """Polyphase resampling (anti-aliased) to SAMPLE_RATE."""
    if rate == SAMPLE_RATE:
        return mono
    from scipy.signal import resample_poly

    divisor = math.gcd(SAMPLE_RATE, rate)
    return resample_poly(mono, SAMPLE_RATE // divisor, rate // divisor)


def _to_int16(audio: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16, clipped."""
    import numpy as np

    return np.asarray(np.clip(audio, -1.0, 1.0) * 32767.0, dtype=np.int16)


def _decode_with_av(data: bytes, *, max_seconds: float) -> Clip:
    """Containers libsndfile cannot read (a video note's MP4/AAC, M4A) through PyAV, if installed."""
    import numpy as np

    try:
        import av
    except ImportError as exc:
        raise VoiceError(Problem.UNREADABLE, "not readable by libsndfile, and PyAV is not installed") from exc
    limit = int((max_seconds + SLACK_SECONDS) * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise VoiceError(Problem.UNREADABLE, "no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                if total > limit:
                    raise VoiceError(Problem.TOO_LONG, f"over {max_seconds:.0f} s")
    except av.FFmpegError as exc:
        raise VoiceError(Problem.UNREADABLE, str(exc)) from exc
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return Clip(samples.astype(np.int16, copy=False))
