"""Search commands: `index build`, `ask`, `chat` (see issue 2 for the exact contract).

`ask --json -` reads one question per line and writes one JSON object per line, in order. A line
that is not a valid question yields {"question", "abstained": true, "answer": "", "passages": [],
"error": "<Vietnamese message>"} and processing goes on; the exit status is then still 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.search.models import Answer
    from bot.search.retriever import Retriever

EXIT_ERROR = 1
EXIT_BAD_INPUT = 2

index_app = typer.Typer(help="Chỉ mục tài liệu tri thức.", no_args_is_help=True)

KnowledgeOpt = Annotated[
    Path | None, typer.Option("--knowledge", help="Thư mục tài liệu (mặc định KNOWLEDGE_DIR).")
]
IndexOpt = Annotated[Path | None, typer.Option("--index", help="Thư mục chỉ mục (mặc định INDEX_DIR).")]


def _settings(
    knowledge: Path | None = None, index: Path | None = None, index_type: str | None = None
) -> Settings:
    """Settings from the environment, with command-line overrides."""
    from bot.config import Settings

    overrides: dict[str, Any] = {"index_type": index_type} if index_type else {}
    if knowledge is not None:
        overrides["knowledge_dir"] = knowledge
    if index is not None:
        overrides["index_dir"] = index
    return Settings(**overrides)


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print a message on stderr and return the exit to raise."""
    typer.echo(message, err=True)
    return typer.Exit(code)


@index_app.command("build")
def build(
    knowledge: KnowledgeOpt = None,
    index: IndexOpt = None,
    index_type: Annotated[
        str | None,
        typer.Option("--index-type", help="flat (chính xác, mặc định) hoặc hnsw (gần đúng, kho lớn)."),
    ] = None,
) -> None:
    """Xây dựng (lại) chỉ mục từ thư mục tài liệu; chỉ nhúng lại tài liệu đã thay đổi."""
    from bot.search.errors import SearchError
    from bot.search.index import build_index

    if index_type not in (None, "flat", "hnsw"):
        raise _fail("--index-type phải là 'flat' hoặc 'hnsw'.", EXIT_BAD_INPUT)
    settings = _settings(knowledge, index, index_type)
    if not settings.knowledge_dir.is_dir():
        raise _fail(f"Không tìm thấy thư mục tài liệu: {settings.knowledge_dir}")
    try:
        report = build_index(settings, progress=sys.stderr.isatty())
    except SearchError as exc:
        raise _fail(exc.message) from None
    typer.echo(
        f"Đã lập chỉ mục {report.documents} tài liệu, {report.passages} đoạn trong {report.seconds:.1f} giây "
        f"({report.reused} tài liệu không đổi, {report.embedded} đoạn/mệnh đề được nhúng) → {settings.index_dir}"
    )
    for name, reason in report.skipped:
        typer.echo(f"Bỏ qua {name}: {reason}")


@index_app.command("calibrate")
def calibrate(index: IndexOpt = None) -> None:
    """Khớp lại quyết định từ chối trả lời cho chỉ mục hiện có (tự chạy sau mỗi lần `index build`)."""
    from bot.search.calibration import recalibrate_index
    from bot.search.errors import SearchError

    settings = _settings(index=index)
    try:
        cal = recalibrate_index(settings)
    except SearchError as exc:
        raise _fail(exc.message) from None
    typer.echo(
        f"Đã hiệu chỉnh trên {cal.in_scope} câu trong phạm vi (sinh từ tài liệu) và {cal.out_of_scope} câu "
        f"ngoài phạm vi (danh sách chung); ngưỡng {cal.threshold:.3f} → {settings.index_dir}"
    )


def _to_json(answer: Answer) -> dict[str, Any]:
    """The JSON shape of the CLI contract."""
    return {
        "question": answer.question,
        "abstained": answer.abstained,
        "answer": answer.answer,
        "language": answer.language,
        "intent": answer.intent,
        "passages": [
            {"text": p.text, "title": p.title, "source": p.source, "score": p.score} for p in answer.passages
        ],
    }


def _format(answer: Answer) -> str:
    """Human-readable answer for the terminal."""
    lines = [answer.answer]
    if answer.abstained:
        return lines[0]
    for n, passage in enumerate(answer.passages[:3], start=1):
        lines.append(f"\n[{n}] {passage.title} ({passage.source}, điểm {passage.score:.2f})\n{passage.text}")
    return "\n".join(lines)


def _load(settings: Settings) -> Retriever:
    """Load the retriever or exit with the error's message."""
    from bot.search.errors import SearchError
    from bot.search.retriever import Retriever

    try:
        return Retriever.load(settings)
    except SearchError as exc:
        raise _fail(exc.message) from None


def _batch(retriever: Retriever, top_k: int | None, as_json: bool) -> None:
    """One question per stdin line → one answer per line (JSON) or block (text)."""
    from bot.search.errors import InvalidQuestionError

    for line in sys.stdin:
        question = line.rstrip("\n")
        try:
            answer = retriever.ask(question, top_k)
        except InvalidQuestionError as exc:
            row: dict[str, Any] = {
                "question": question,
                "abstained": True,
                "answer": "",
                "passages": [],
                "error": exc.message,
            }
            typer.echo(json.dumps(row, ensure_ascii=False) if as_json else exc.message)
            continue
        typer.echo(json.dumps(_to_json(answer), ensure_ascii=False) if as_json else _format(answer) + "\n")
        sys.stdout.flush()


def ask(
    question: Annotated[str, typer.Argument(help="Câu hỏi, hoặc '-' để đọc mỗi dòng một câu hỏi từ stdin.")],
    top_k: Annotated[
        int | None, typer.Option("--top-k", min=1, max=50, help="Số đoạn trả về (mặc định 5).")
    ] = None,
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="In kết quả dạng JSON.")] = False,
) -> None:
    """Hỏi một câu về các tài liệu của chương trình."""
    from bot.search.errors import InvalidQuestionError
    from bot.text import validate_question

    if question != "-":
        try:
            validate_question(question)
        except InvalidQuestionError as exc:
            raise _fail(exc.message, EXIT_BAD_INPUT) from None
    retriever = _load(_settings(index=index))
    if question == "-":
        _batch(retriever, top_k, as_json)
        return
    answer = retriever.ask(question, top_k)
    typer.echo(json.dumps(_to_json(answer), ensure_ascii=False) if as_json else _format(answer))


def chat(index: IndexOpt = None) -> None:
    """Hỏi đáp tương tác trong terminal (gõ 'thoát' hoặc Ctrl-D để dừng)."""
    from bot.search.errors import InvalidQuestionError

    retriever = _load(_settings(index=index))
    typer.echo("Hỏi đáp về chương trình Hà Nội thông minh, xanh, bền vững. Gõ 'thoát' để dừng.")
    while True:
        try:
            question = input("\nBạn hỏi: ")
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return
        if question.strip().lower() in {"thoát", "thoat", "exit", "quit"}:
            return
        try:
            typer.echo(_format(retriever.ask(question)))
        except InvalidQuestionError as exc:
            typer.echo(exc.message)


def register(app: typer.Typer) -> None:
    """Add this layer's commands to the main app."""
    app.add_typer(index_app, name="index")
    app.command("ask")(ask)
    app.command("chat")(chat)
