"""The command-line contract of issue 2: index build, ask (--json, stdin batch), bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings

KEYS = {"question", "abstained", "answer", "language", "intent", "passages"}


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _index(real_settings: Settings) -> list[str]:
    return ["--index", str(real_settings.index_dir)]


def test_build_prints_a_summary_with_skipped_files(
    runner: CliRunner, tmp_path: Path, knowledge: Path
) -> None:
    (knowledge / "hong.pdf").write_bytes(b"%PDF-1.4 broken")
    result = runner.invoke(
        app, ["index", "build", "--knowledge", str(knowledge), "--index", str(tmp_path / "ix")]
    )
    assert result.exit_code == 0, result.output
    assert "2 tài liệu" in result.output and "đoạn" in result.output and "giây" in result.output
    assert "hong.pdf" in result.output
    assert (tmp_path / "ix" / "manifest.json").is_file()


def test_build_without_documents_fails_cleanly(runner: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(
        app, ["index", "build", "--knowledge", str(empty), "--index", str(tmp_path / "ix")]
    )
    assert result.exit_code == 1
    assert "Không có tài liệu" in result.output and "Traceback" not in result.output


def test_ask_json_has_the_contract_shape(runner: CliRunner, real_settings: Settings) -> None:
    result = runner.invoke(
        app, ["ask", "Ba khâu đột phá là gì?", "--json", "--top-k", "3", *_index(real_settings)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == KEYS and payload["abstained"] is False
    assert len(payload["passages"]) == 3
    assert set(payload["passages"][0]) == {"text", "title", "source", "score"}


def test_ask_stdin_batch_answers_each_line_in_order(runner: CliRunner, real_settings: Settings) -> None:
    lines = "ba khau dot pha la gi\n\n😀\nGiá vàng hôm nay?\n"
    result = runner.invoke(app, ["ask", "--json", "-", *_index(real_settings)], input=lines)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["question"] for r in rows] == ["ba khau dot pha la gi", "", "😀", "Giá vàng hôm nay?"]
    assert rows[0]["abstained"] is False and len(rows[0]["passages"]) == 5
    assert rows[1]["abstained"] and "error" in rows[1] and rows[2]["abstained"] and "error" in rows[2]
    assert rows[3]["abstained"] and "error" not in rows[3] and len(rows[3]["passages"]) == 5


@pytest.mark.parametrize("question", ["", "   ", "x" * 10_000, "🙂🙂🙂", "Как дела?"])
def test_bad_questions_exit_2_without_traceback(runner: CliRunner, question: str) -> None:
    result = runner.invoke(app, ["ask", question])
    assert result.exit_code == 2
    assert "tiếng Việt" in result.output or "quá dài" in result.output
    assert "Traceback" not in result.output


def test_nfd_question_is_accepted(runner: CliRunner, real_settings: Settings) -> None:
    import unicodedata

    question = unicodedata.normalize("NFD", "Tầm nhìn đến năm 2045 là gì?")
    result = runner.invoke(app, ["ask", question, "--json", *_index(real_settings)])
    assert result.exit_code == 0
    assert json.loads(result.output)["question"] == unicodedata.normalize("NFC", question)


def test_missing_index_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", "Ba khâu đột phá?", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "citizenbot index build" in result.output


def test_chat_answers_until_the_user_leaves(runner: CliRunner, real_settings: Settings) -> None:
    result = runner.invoke(app, ["chat", *_index(real_settings)], input="ba khau dot pha\n😀\nthoát\n")
    assert result.exit_code == 0
    assert "Ba khâu đột phá" in result.output and "chưa có chữ" in result.output
