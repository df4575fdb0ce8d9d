"""Re-create the test clips: Vietnamese speech synthesised by Debian's espeak-ng, saved as OGG/Opus like Telegram.

    apt-get install -y espeak-ng && python tests/voice/data/make_clips.py

espeak-ng (GPL-3.0-or-later) ships its Vietnamese voice in the Debian package; the audio it
generates carries no licence restriction of its own. Its robotic voice is hard for viet-asr:
these sentences, voices and speeds were picked, out of about 30 tried, as ones it transcribes
well enough for the tests. They say nothing about accuracy on human speech.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import soundfile
from scipy.signal import resample_poly

HERE = Path(__file__).resolve().parent
CLIPS = {
    # name: (espeak-ng voice variant, words per minute, Opus sample rate, libsndfile compression level, text)
    "tam-nhin-2045": ("vi+m7", 110, 16_000, 0.5, "Tầm nhìn đến năm 2045 là gì?"),
    "thanh-pho-thong-minh": ("vi+klatt", 110, 48_000, 0.6, "Thành phố thông minh là gì?"),
    "xe-buyt-den-muon": ("vi+m3", 110, 16_000, 0.5, "Xe buýt đến muộn quá"),
}


def synthesise(voice: str, speed: int, opus_rate: int, level: float, text: str) -> bytes:
    """espeak-ng's WAV for `text` (22,050 Hz), resampled and encoded as OGG/Opus like a voice note."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True
    ).stdout
    audio, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    audio = resample_poly(audio, opus_rate // 50, rate // 50)
    out = io.BytesIO()
    soundfile.write(out, audio * 0.8, opus_rate, format="OGG", subtype="OPUS", compression_level=level)
    return out.getvalue()


def main() -> None:
    """Write every clip next to this script."""
    for name, (voice, speed, opus_rate, level, text) in CLIPS.items():
        path = HERE / f"{name}.ogg"
        path.write_bytes(synthesise(voice, speed, opus_rate, level, text))
        print(f"{path.name}: {path.stat().st_size} bytes  «{text}»")


if __name__ == "__main__":
    main()
