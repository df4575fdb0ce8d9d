"""Audio for the voice tests: the espeak-ng clips of tests/voice/data, and silence, long and MP4 audio made here."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile

DATA = Path(__file__).resolve().parent / "data"
QUESTION = DATA / "tam-nhin-2045.ogg"  # «Tầm nhìn đến năm 2045 là gì?»
SMART_CITY = DATA / "thanh-pho-thong-minh.ogg"  # «Thành phố thông minh là gì?»
FEEDBACK = DATA / "xe-buyt-den-muon.ogg"  # «Xe buýt đến muộn quá»
RATE = 16_000


def samples(path: Path) -> np.ndarray:
    """A clip as float32 mono samples at 16 kHz (the clips are stored at 16 or 48 kHz)."""
    from scipy.signal import resample_poly

    audio, rate = soundfile.read(path, dtype="float32")
    return np.asarray(resample_poly(audio, RATE, rate) if rate != RATE else audio, dtype=np.float32)


def opus(audio: np.ndarray, rate: int = RATE) -> bytes:
    """OGG/Opus bytes, like a Telegram voice note (fastest encoder setting: long clips encode in seconds)."""
    out = io.BytesIO()
    soundfile.write(out, audio, rate, format="OGG", subtype="OPUS", compression_level=1.0)
    return out.getvalue()


def quiet(seconds: float) -> np.ndarray:
    """Room tone far below speech (about -66 dBFS)."""
    return np.random.default_rng(7).normal(0.0, 0.0005, int(seconds * RATE)).astype(np.float32)


def long_speech(path: Path, seconds: float) -> np.ndarray:
    """A clip repeated, with short pauses, to `seconds`."""
    one = np.concatenate([samples(path), quiet(0.5)])
    return np.tile(one, int(np.ceil(seconds * RATE / len(one))))[: int(seconds * RATE)]


def mp4_aac(audio: np.ndarray, rate: int = RATE) -> bytes:
    """MP4 with AAC audio, like the sound track of a Telegram video note (encoded with PyAV)."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        for start in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, start : start + 1024], format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()
