"""`citizenbot transcribe FILE`: what an admin sees for a good recording, silence, a missing file or model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from tests.voice.clips import QUESTION, opus, quiet


def test_transcribes_a_recording_with_numbers_as_digits() -> None:
    result = CliRunner().invoke(app, ["transcribe", "--json", str(QUESTION)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout.splitlines()[0])
    assert "tầm nhìn" in shown["text"] and "2045" in shown["text"]
    assert "hai" in shown["raw"]  # as heard: the number in words
    assert 4.0 < shown["seconds"] < 5.5


def test_silence_and_a_missing_file_exit_2_with_a_message(tmp_path: Path) -> None:
    silent = tmp_path / "im-lang.ogg"
    silent.write_bytes(opus(quiet(2.0)))
    result = CliRunner().invoke(app, ["transcribe", str(silent)])
    assert result.exit_code == 2 and "Không nghe thấy tiếng nói" in result.stderr
    result = CliRunner().invoke(app, ["transcribe", str(tmp_path / "khong-co.ogg")])
    assert result.exit_code == 2 and "không đọc được tệp" in result.stderr


def test_a_model_that_cannot_load_exits_1_with_the_install_hint() -> None:
    env = {**os.environ, "VIETASR_LIBRARY_PATH": "/nonexistent/libvietasr.so"}  # viet-asr's own override
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "transcribe", str(QUESTION)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "pip install -e '.[voice]'" in result.stderr and "Traceback" not in result.stderr
