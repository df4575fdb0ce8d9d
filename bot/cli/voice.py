"""`citizenbot transcribe FILE`: try a recording with the bot's offline speech model, as the bot would hear it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from bot.voice.errors import Problem, VoiceError

INSTALL_HINT = "Cài bản có giọng nói (install the voice extra): pip install -e '.[voice]'"
PROBLEMS = {
    Problem.TOO_LONG: "Bản ghi dài quá (tối đa {max_seconds:.0f} giây, VOICE_MAX_SECONDS).",
    Problem.SILENT: "Không nghe thấy tiếng nói (silence).",
    Problem.UNCLEAR: "Mô hình không nhận ra lời nào (no words recognised).",
    Problem.UNREADABLE: "Không đọc được tệp âm thanh này (unreadable audio).",
    Problem.UNAVAILABLE: f"Không tải được mô hình nhận dạng giọng nói. {INSTALL_HINT}",
}


def transcribe(
    file: Annotated[Path, typer.Argument(help="Tệp âm thanh: ogg/opus (tin nhắn thoại), mp3, wav, flac, mp4, m4a")],
    as_json: Annotated[bool, typer.Option("--json", help="In một đối tượng JSON")] = False,
) -> None:
    """Chuyển một bản ghi âm thành chữ (transcribe a recording) như bot nghe tin nhắn thoại."""
    from bot.config import Settings
    from bot.voice.service import VoiceService

    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(f"Lỗi: không đọc được tệp '{file}' ({exc.strerror or exc}).", err=True)
        raise typer.Exit(2) from exc
    settings = Settings()
    service = VoiceService.from_settings(settings)
    started = time.perf_counter()
    try:
        transcript = service.transcribe_now(data)
    except VoiceError as exc:
        typer.echo(f"Lỗi: {PROBLEMS[exc.problem].format(max_seconds=settings.voice_max_seconds)}", err=True)
        raise typer.Exit(1 if exc.problem is Problem.UNAVAILABLE else 2) from exc
    finally:
        service.close()
    elapsed = time.perf_counter() - started
    if as_json:
        payload = {"text": transcript.text, "raw": transcript.raw, "seconds": round(transcript.seconds, 2)}
        typer.echo(json.dumps({**payload, "elapsed": round(elapsed, 2)}, ensure_ascii=False))
        return
    typer.echo(transcript.text)
    typer.echo(f"({transcript.seconds:.1f} s âm thanh, {elapsed:.1f} s kể cả nạp mô hình)", err=True)


def register(app: typer.Typer) -> None:
    """Add `transcribe` to the CLI."""
    app.command()(transcribe)
