"""Officer exports: XLSX (sheets, counts, native charts, PNG), CSV (BOM, columns), filters, audit, CLI."""

from __future__ import annotations

import csv
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col
from typer.testing import CliRunner

from bot.cli import app
from bot.db.models import AuditLog, Feedback, Poll, PollOption, Resident, Vote
from bot.services.errors import InvalidInputError, PermissionDeniedError
from bot.services.exports import (
    CSV_COLUMNS,
    ERASED_TEXT,
    FEEDBACK_HEADERS,
    FEEDBACK_SHEET,
    SUMMARY_SHEET,
    ExportError,
    ExportResult,
    FeedbackRow,
    Summary,
    export_feedback,
    iter_feedback,
    write_csv,
    write_xlsx,
)
from bot.services.feedback import Category, FeedbackFilter
from bot.services.residents import forget
from bot.services.roles import Actor, Role

OFFICER = Actor(label="tg:5550001", role=Role.OFFICER)
ADMIN = Actor(label="cli:test", role=Role.ADMIN)
CHAT_ID = 731_246_985_113  # a resident's chat id: must never appear in an export
PSEUDONYM = "f3a9c1d2e4b5a6978812ab34cd56ef7890aa11bb22cc33dd44ee55ff66778899"
ICT = timedelta(hours=7)


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    """An aware UTC datetime for a Hà Nội local wall-clock time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - ICT


def add_resident(session: Session, n: int = 0, *, ward: str = "Phường Hoàn Kiếm") -> Resident:
    resident = Resident(
        pseudonym=PSEUDONYM[:60] + f"{n:04d}", ward=ward, created_at=datetime.now(UTC)
    )
    session.add(resident)
    session.flush()
    return resident


def add_feedback(
    session: Session,
    resident: Resident,
    seq: int,
    *,
    category: str,
    ward: str | None,
    text: str,
    created: datetime,
    status: str = "moi",
) -> None:
    session.add(
        Feedback(
            ticket=f"GY-{created.year}-{seq:06d}",
            year=created.year,
            seq=seq,
            resident_id=resident.id or 0,
            category=category,
            ward=ward,
            text=text,
            status=status,
            created_at=created,
            updated_at=created,
        )
    )


@pytest.fixture
def seeded(session: Session) -> Session:
    """Six feedback (3 wards, 3 categories, 3 statuses) and one poll with votes from two wards."""
    alice, bob = add_resident(session, 1), add_resident(session, 2, ward="Phường Ba Đình")
    d1, d2, d3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 10)
    add_feedback(
        session,
        alice,
        1,
        category="giao_thong",
        ward="Phường Hoàn Kiếm",
        text="Đường Đinh Tiên Hoàng ùn tắc giờ cao điểm, đề nghị phân luồng.",
        created=at_local(d1, 23, 30),
    )
    add_feedback(
        session,
        alice,
        2,
        category="moi_truong",
        ward="Phường Hoàn Kiếm",
        text='=HYPERLINK("http://x")  rác thải ở hồ',
        created=at_local(d2, 0, 15),
        status="tiep_nhan",
    )
    add_feedback(
        session,
        bob,
        3,
        category="giao_thong",
        ward="Phường Ba Đình",
        text="Vỉa hè bị lấn chiếm, người đi bộ phải xuống lòng đường.",
        created=at_local(d2, 9),
    )
    add_feedback(
        session,
        bob,
        4,
        category="y_te",
        ward="Phường Ba Đình",
        text="Trạm y tế phường đông, cần thêm giờ khám buổi tối.",
        created=at_local(d3, 14),
        status="da_xu_ly",
    )
    add_feedback(
        session,
        bob,
        5,
        category="giao_thong",
        ward=None,
        text="Đèn tín hiệu hỏng ở ngã tư.",
        created=at_local(d3, 15),
    )
    add_feedback(
        session,
        alice,
        6,
        category="khac",
        ward="Xã Sóc Sơn",
        text="Cảm ơn cán bộ đã hỗ trợ nhiệt tình.",
        created=at_local(d3, 16),
        status="da_xu_ly",
    )
    poll = Poll(
        question="Bạn có đồng ý sáp nhập hai xã?",
        wards=[],
        opens_at=at_local(d1, 8),
        closes_at=at_local(d3, 20),
        created_by="cli:test",
        created_at=at_local(d1, 7),
    )
    session.add(poll)
    session.flush()
    options = [
        PollOption(poll_id=poll.id or 0, position=i, text=t) for i, t in enumerate(["Đồng ý", "Không đồng ý"])
    ]
    session.add_all(options)
    session.flush()
    voters = [add_resident(session, 10 + i) for i in range(5)]
    choices = [
        (0, "Phường Hoàn Kiếm"),
        (0, "Phường Hoàn Kiếm"),
        (1, "Phường Hoàn Kiếm"),
        (0, "Phường Ba Đình"),
        (1, "Phường Ba Đình"),
    ]
    for voter, (choice, ward) in zip(voters, choices, strict=True):
        session.add(
            Vote(
                poll_id=poll.id or 0,
                option_id=options[choice].id or 0,
                resident_id=voter.id or 0,
                ward=ward,
                created_at=at_local(d2, 10),
                updated_at=at_local(d2, 10),
            )
        )
    session.commit()
    return session


def export(session: Session, out: Path, **kwargs: Any) -> ExportResult:
    """export_feedback as an officer."""
    return export_feedback(session=session, out=out, actor=OFFICER, **kwargs)


def file_text(path: Path) -> str:
    """Every XML part of an XLSX (or the bytes of any file), decoded, for searching."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as zf:
            return "\n".join(zf.read(name).decode("utf-8") for name in zf.namelist())
    return path.read_bytes().decode("utf-8-sig")


def test_xlsx_has_feedback_summary_and_poll_sheets_with_charts(seeded: Session, tmp_path: Path) -> None:
    out = tmp_path / "baocao.xlsx"
    result = export(seeded, out)

    assert result.rows == 6 and result.polls == 1
    assert result.paths == [out, tmp_path / "baocao.png"]
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:2] == [FEEDBACK_SHEET, SUMMARY_SHEET] and len(wb.sheetnames) == 3
    feedback = wb[FEEDBACK_SHEET]
    rows = list(feedback.iter_rows(values_only=True))
    assert rows[0] == FEEDBACK_HEADERS
    assert [r[0] for r in rows[1:]] == [f"GY-2026-{i:06d}" for i in range(1, 7)]
    assert rows[1][1] == datetime(2026, 3, 1, 23, 30)  # local time, not UTC
    assert rows[1][2:5] == ("Giao thông", "Phường Hoàn Kiếm", "Mới")
    assert rows[5][3] == "Chưa xác định"
    assert feedback.freeze_panes == "A2" and feedback.auto_filter.ref == "A1:F7"

    summary = {r[0]: r[1:] for r in wb[SUMMARY_SHEET].iter_rows(values_only=True) if r[0]}
    assert summary["Tổng số góp ý"][0] == 6
    assert [summary[s][0] for s in ("Mới", "Đã tiếp nhận", "Đang xử lý", "Đã xử lý", "Từ chối")] == [
        3,
        1,
        0,
        2,
        0,
    ]
    assert summary["Giao thông"][0] == 3
    header = summary["Phường/Xã"]
    hoan_kiem = dict(zip(header, summary["Phường Hoàn Kiếm"], strict=False))
    assert hoan_kiem["Giao thông"] == 1 and hoan_kiem["Môi trường"] == 1 and hoan_kiem["Tổng"] == 2
    assert dict(zip(header, summary["Tổng cộng"], strict=False))["Tổng"] == 6

    poll = {r[0]: r[1:] for r in wb[wb.sheetnames[2]].iter_rows(values_only=True) if r[0]}
    assert poll["Đồng ý"][0] == 3 and poll["Không đồng ý"][0] == 2
    assert poll["Đồng ý"][1] == pytest.approx(0.6)
    by_ward = dict(zip(poll["Phường/Xã"], poll["Phường Hoàn Kiếm"], strict=False))
    assert by_ward == {"Đồng ý": "<5", "Không đồng ý": "<5", "Tổng": "<5"}  # 1–4 votes: suppressed

    with zipfile.ZipFile(out) as zf:
        charts = [n for n in zf.namelist() if n.startswith("xl/charts/chart") and n.endswith(".xml")]
    assert len(charts) >= 5  # 3 on the summary, 2 on the poll sheet
    assert (tmp_path / "baocao.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_exports_are_pseudonymous(seeded: Session, tmp_path: Path) -> None:
    xlsx, csv_out = export(seeded, tmp_path / "a.xlsx"), export(seeded, tmp_path / "a.csv", fmt="csv")
    for path in (xlsx.path, csv_out.path):
        text = file_text(path)
        assert str(CHAT_ID)[:9] not in text and "5550001" not in text
        assert PSEUDONYM not in text  # at most a truncated pseudonym
    assert PSEUDONYM[:12] in file_text(csv_out.path)


def test_erased_residents_feedback_keeps_counts_but_not_text(seeded: Session, tmp_path: Path) -> None:
    alice = seeded.execute(sa.select(Resident).where(col(Resident.pseudonym) == PSEUDONYM[:60] + "0001")).scalars().one()
    forget(session=seeded, pseudonym=alice.pseudonym)

    result = export(seeded, tmp_path / "e.csv", fmt="csv")
    with result.path.open(encoding="utf-8-sig", newline="") as fh:
        records = {r["ticket"]: r for r in csv.DictReader(fh)}
    assert result.rows == 6
    erased = records["GY-2026-000001"]
    assert erased["text"] == ERASED_TEXT and erased["resident"] == "" and erased["category"] == "Giao thông"
    assert "Đinh Tiên Hoàng" not in file_text(result.path)
    assert records["GY-2026-000003"]["resident"] != ""


def test_csv_has_bom_fixed_columns_and_keeps_vietnamese(seeded: Session, tmp_path: Path) -> None:
    out = tmp_path / "gopy.csv"
    result = export(seeded, out, fmt="csv")

    assert result.rows == 6 and result.chart_path is None
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh))
    assert tuple(records[0]) == CSV_COLUMNS
    first = records[0]
    assert first["text"] == "Đường Đinh Tiên Hoàng ùn tắc giờ cao điểm, đề nghị phân luồng."
    assert first["created_at"] == "2026-03-01T23:30:00+07:00"
    assert (first["category"], first["status"], first["status_label"]) == ("Giao thông", "moi", "Mới")
    assert records[1]["text"].startswith("'=HYPERLINK")  # a spreadsheet will not run it


@pytest.mark.parametrize(
    ("filters", "tickets"),
    [
        ({"date_to": date(2026, 3, 1)}, [1]),  # 23:30 local on 1 March is 16:30 UTC
        ({"date_from": date(2026, 3, 2), "date_to": date(2026, 3, 2)}, [2, 3]),
        ({"category": "giao thong"}, [1, 3, 5]),
        ({"ward": "ba dinh"}, [3, 4]),
        ({"status": "da_xu_ly", "date_from": date(2026, 3, 10)}, [4, 6]),
    ],
)
def test_filters_select_matching_feedback(
    seeded: Session, tmp_path: Path, filters: dict[str, object], tickets: list[int]
) -> None:
    out = tmp_path / "f.csv"
    result = export(seeded, out, fmt="csv", **filters)

    with out.open(encoding="utf-8-sig", newline="") as fh:
        found = [r["ticket"] for r in csv.DictReader(fh)]
    assert found == [f"GY-2026-{i:06d}" for i in tickets]
    assert result.rows == len(tickets)


def test_summary_follows_the_filters(seeded: Session, tmp_path: Path) -> None:
    out = tmp_path / "f.xlsx"
    export(seeded, out, category="giao thông", date_from=date(2026, 3, 2))

    summary = {
        r[0]: r[1] for r in openpyxl.load_workbook(out)[SUMMARY_SHEET].iter_rows(values_only=True) if r[0]
    }
    assert summary["Tổng số góp ý"] == 2
    assert summary["Giao thông"] == 2 and summary["Môi trường"] == 0


def test_polls_outside_the_dates_are_left_out(seeded: Session, tmp_path: Path) -> None:
    inside = export(seeded, tmp_path / "in.xlsx", date_from=date(2026, 3, 10), date_to=date(2026, 3, 31))
    after = export(seeded, tmp_path / "after.xlsx", date_from=date(2026, 3, 11))

    assert inside.polls == 1 and after.polls == 0
    assert openpyxl.load_workbook(after.path).sheetnames == [FEEDBACK_SHEET, SUMMARY_SHEET]


def test_empty_database_gives_a_valid_report(session: Session, tmp_path: Path) -> None:
    result = export(session, tmp_path / "empty.xlsx")

    assert result.rows == 0 and result.chart_path is not None and result.chart_path.exists()
    sheet = openpyxl.load_workbook(result.path)[FEEDBACK_SHEET]
    assert [c.value for c in sheet[1]] == list(FEEDBACK_HEADERS) and sheet.max_row == 1


def test_each_export_is_audited(seeded: Session, tmp_path: Path) -> None:
    export(seeded, tmp_path / "a.csv", fmt="csv", ward="Phường Ba Đình")

    entry = seeded.execute(sa.select(AuditLog).where(col(AuditLog.action) == "export")).scalars().one()
    assert entry.actor == OFFICER.label
    assert entry.details["format"] == "csv" and entry.details["rows"] == 2
    assert entry.details["filters"]["ward"] == "Phường Ba Đình"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"date_from": date(2026, 3, 5), "date_to": date(2026, 3, 1)}, "Ngày kết thúc phải sau"),
        ({"category": "thời tiết"}, "Lĩnh vực không hợp lệ"),
        ({"status": "xong"}, "Trạng thái không hợp lệ"),
    ],
)
def test_bad_filters_are_refused_and_nothing_written(
    seeded: Session, tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    (folder := tmp_path / "out").mkdir()
    with pytest.raises(InvalidInputError, match=message):
        export(seeded, folder / "x.xlsx", **kwargs)
    assert list(folder.iterdir()) == []
    assert seeded.execute(sa.select(sa.func.count()).select_from(AuditLog)).scalar_one() == 0


def test_missing_folder_and_non_officer_are_refused(seeded: Session, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="không tồn tại"):
        export(seeded, tmp_path / "missing" / "x.xlsx")
    (folder := tmp_path / "out").mkdir()
    resident = Actor(label="tg:42", role=None)
    with pytest.raises(PermissionDeniedError):
        export_feedback(session=seeded, out=folder / "x.xlsx", actor=resident)
    assert list(folder.iterdir()) == []


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """Run `citizenbot ...` against the test database; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    return run


def test_cli_exports_with_local_date_filters(seeded: Session, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "baocao.xlsx"
    code, stdout, _ = cli(
        "export", "--format", "xlsx", "--from", "01/03/2026", "--to", "2026-03-02", "--out", str(out)
    )

    assert code == 0, stdout
    assert "Đã xuất 3 góp ý" in stdout and str(out) in stdout
    assert out.exists() and (tmp_path / "baocao.png").exists()
    assert openpyxl.load_workbook(out)[FEEDBACK_SHEET].max_row == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13-01"], "không hợp lệ"),
        (["--to", "hôm qua"], "không hợp lệ"),
        (["--category", "thời tiết"], "Lĩnh vực không hợp lệ"),
        (["--format", "pdf"], "xlsx hoặc csv"),
        (["--out", "missing/dir/x.csv"], "không tồn tại"),
        (["--out", "."], "thư mục"),
    ],
)
def test_cli_bad_input_exits_non_zero_with_a_message(cli: Cli, args: list[str], message: str) -> None:
    full = ["export", "--out", "x.csv", "--format", "csv", *args]
    code, stdout, stderr = cli(*full)

    assert code != 0
    assert message in stderr and "Traceback" not in stderr + stdout
    assert not Path("x.csv").exists()


STREAM_ROWS = 20_000
TEXT = (
    "Đề nghị thành phố sớm sửa chữa mặt đường bị hư hỏng, lắp thêm đèn chiếu sáng và trồng cây xanh. " * 11
)[:1000]


def bulk_feedback(session: Session, count: int) -> None:
    """Insert `count` feedback of about 2,000 Vietnamese characters each, in batches."""
    residents = [add_resident(session, 100 + i) for i in range(20)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    categories = [c.value for c in Category]
    for first in range(0, count, 2_000):
        batch = [
            {
                "ticket": f"GY-2026-{i + 1:06d}",
                "year": 2026,
                "seq": i + 1,
                "resident_id": residents[i % 20].id,
                "category": categories[i % len(categories)],
                "ward": f"Phường {i % 30}",
                "text": f"{i} {TEXT}",
                "status": "moi",
                "created_at": start + timedelta(minutes=i),
                "updated_at": start + timedelta(minutes=i),
            }
            for i in range(first, min(first + 2_000, count))
        ]
        session.execute(sa.insert(Feedback), batch)
    session.commit()


def traced_peak(work: Callable[[], object]) -> int:
    """Peak bytes allocated by Python while `work` runs."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_rows_stream_from_the_database_in_chunks(session: Session) -> None:
    """10,000 rows hold 40 MB of text as Python strings (2 bytes a character); streaming peaks far below."""
    bulk_feedback(session, STREAM_ROWS)
    seen = []
    peak = traced_peak(
        lambda: seen.append(sum(1 for _ in iter_feedback(session, FeedbackFilter(), chunk_size=500)))
    )
    assert seen == [STREAM_ROWS]
    assert peak < 10_000_000, peak


def fresh_rows(count: int) -> Iterator[FeedbackRow]:
    """Rows with a new 2,000-character text each, made one at a time."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        yield FeedbackRow(f"GY-2026-{i:06d}", when, "Giao thông", "Phường 1", "moi", "Mới", f"{i} {TEXT}")


def test_writers_keep_memory_flat(tmp_path: Path) -> None:
    """5,000 rows are 20 MB of strings; neither writer may keep them (xlsxwriter in constant_memory mode)."""
    summary = Summary(["Giao thông"], [("moi", "Mới")], {("Phường 1", "Giao thông"): 5_000}, {"moi": 5_000})
    write_xlsx(fresh_rows(10), tmp_path / "warm.xlsx", summary=summary)  # imports outside the measure
    xlsx_peak = traced_peak(lambda: write_xlsx(fresh_rows(5_000), tmp_path / "a.xlsx", summary=summary))
    csv_peak = traced_peak(lambda: write_csv(fresh_rows(5_000), tmp_path / "a.csv"))
    assert xlsx_peak < 5_000_000 and csv_peak < 5_000_000, (xlsx_peak, csv_peak)
    assert openpyxl.load_workbook(tmp_path / "a.xlsx", read_only=True)[FEEDBACK_SHEET].max_row == 5_001


# --- poll sheets: the ward filter and small cells --------------------------------------------

WARD_VOTES = {  # ward → votes for option 0 ("Đồng ý") and option 1 ("Không đồng ý")
    "Phường Hoàn Kiếm": (7, 2),
    "Phường Ba Đình": (5, 6),
    "Phường Long Biên": (8, 9),
    "Xã Sóc Sơn": (1, 0),
}


@pytest.fixture
def voted(session: Session, make_resident: Any) -> tuple[Session, int]:
    """A city-wide poll with votes cast through the services by residents who typed their ward loosely."""
    from bot.services import polls

    typed = {"Phường Hoàn Kiếm": "p. hoàn kiếm", "Phường Ba Đình": "ba dinh", "Phường Long Biên": "Long Biên"}
    poll = polls.create_poll(
        session=session, actor=ADMIN, question="Sáp nhập tổ dân phố?", options=["Đồng ý", "Không đồng ý"]
    )
    voter = 1000
    for ward, counts in WARD_VOTES.items():
        for option, n in enumerate(counts):
            for _ in range(n):
                voter += 1
                key = make_resident(voter, ward=typed.get(ward, ward))
                polls.cast_vote(
                    session=session,
                    pseudonym=key,
                    poll_id=poll.id,
                    option_id=poll.options[option].id,
                    idempotency_key=f"v{voter}",
                )
    return session, poll.id


def poll_sheet(path: Path) -> dict[str, tuple[Any, ...]]:
    """The first poll sheet of an export, as first-column label → the other cells."""
    wb = openpyxl.load_workbook(path, read_only=True)
    return {r[0]: r[1:] for r in wb[wb.sheetnames[2]].iter_rows(values_only=True) if r[0]}


def test_poll_sheet_suppresses_small_ward_cells_and_keeps_option_totals(
    voted: tuple[Session, int], tmp_path: Path
) -> None:
    session, _ = voted
    export(session, tmp_path / "r.xlsx")
    sheet = poll_sheet(tmp_path / "r.xlsx")

    assert sheet["Tổng số phiếu"][0] == 38
    assert sheet["Đồng ý"][:2] == (21, pytest.approx(21 / 38)) and sheet["Không đồng ý"][0] == 17
    assert sheet["Phường Long Biên"][:3] == (8, 9, 17)
    assert sheet["Phường Hoàn Kiếm"][:3] == ("ẩn", "<5", 9)  # 2 votes: "<5"; 7 hidden so 2 = 9 − 7 fails
    assert sheet["Phường Ba Đình"][:3] == ("ẩn", "ẩn", 11)
    assert sheet["Xã Sóc Sơn"][:3] == ("<5", "<5", "<5")  # one voter in the ward: nothing about them


@pytest.mark.parametrize("typed", ["p. hoàn kiếm", "Phường Hoàn Kiếm", "phuong hoan kiem", "P.Hoàn Kiếm"])
def test_ward_filter_resolves_like_a_resident_ward_and_applies_to_poll_sheets(
    voted: tuple[Session, int], tmp_path: Path, typed: str
) -> None:
    session, _ = voted
    result = export(session, tmp_path / "hk.xlsx", ward=typed)

    assert result.filters.ward == "Phường Hoàn Kiếm" and result.polls == 1
    sheet = poll_sheet(tmp_path / "hk.xlsx")
    assert set(sheet) >= {"Phường Hoàn Kiếm"} and not set(sheet) & {
        "Phường Ba Đình",
        "Phường Long Biên",
        "Xã Sóc Sơn",
    }
    assert "Chỉ phiếu của: Phường Hoàn Kiếm" in str(sheet)
    assert sheet["Tổng số phiếu"][0] == 9
    # under a ward filter the totals by option are that ward's cells: suppressed like them
    assert sheet["Đồng ý"][0] == "ẩn" and sheet["Không đồng ý"][0] == "<5"


def test_ward_filter_shows_exact_counts_of_a_large_enough_ward(
    voted: tuple[Session, int], tmp_path: Path
) -> None:
    session, _ = voted
    export(session, tmp_path / "lb.xlsx", ward="p. long biên")
    sheet = poll_sheet(tmp_path / "lb.xlsx")
    assert sheet["Đồng ý"][:2] == (8, pytest.approx(8 / 17)) and sheet["Không đồng ý"][0] == 9
    assert sheet["Phường Long Biên"][:3] == (8, 9, 17) and sheet["Tổng số phiếu"][0] == 17


def test_polls_of_other_wards_are_left_out_of_a_ward_export(
    voted: tuple[Session, int], tmp_path: Path
) -> None:
    from bot.services import polls

    session, _ = voted
    polls.create_poll(
        session=session,
        actor=ADMIN,
        question="Chỉ Ba Đình?",
        options=["Có", "Không"],
        wards=["Phường Ba Đình"],
    )
    assert export(session, tmp_path / "hk.xlsx", ward="Phường Hoàn Kiếm").polls == 1
    assert export(session, tmp_path / "bd.xlsx", ward="Phường Ba Đình").polls == 2


def test_cli_poll_results_suppress_small_ward_cells(voted: tuple[Session, int], cli: Cli) -> None:
    _, poll_id = voted
    code, out, err = cli("poll", "results", str(poll_id))
    assert code == 0, err
    assert "Đồng ý: 21" in out and "Không đồng ý: 17" in out
    assert "Phường Long Biên (17): Đồng ý: 8, Không đồng ý: 9" in out
    assert "Phường Hoàn Kiếm (9): Đồng ý: ẩn, Không đồng ý: <5" in out
    assert "Xã Sóc Sơn (<5): Đồng ý: <5, Không đồng ý: <5" in out
