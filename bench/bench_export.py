"""Export benchmark: time and peak memory of XLSX and CSV exports of N feedback rows (default 100,000).

    python bench/bench_export.py [--rows 100000] [--backends sqlite,postgresql] [--pg-url URL]

Seeds each database with a fast bulk insert (one multi-row INSERT per 5,000 rows), then runs every
export in a fresh child process twice: once plain (wall time, RSS high-water mark from
resource.getrusage, before and after the export) and once under tracemalloc (peak bytes allocated by
Python). Wall time depends on what else runs on the machine; CPU time (user + system, from getrusage)
is the steadier figure. XLSX time includes the summary PNG. Prints a markdown table. Every child has a timeout, so the run is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BATCH = 5_000
WARDS = [
    "Phường Hoàn Kiếm",
    "Phường Ba Đình",
    "Phường Đống Đa",
    "Phường Cầu Giấy",
    "Phường Tây Hồ",
    "Phường Hai Bà Trưng",
    "Phường Hoàng Mai",
    "Phường Long Biên",
    "Phường Thanh Xuân",
    "Phường Hà Đông",
    "Phường Từ Liêm",
    "Phường Tương Mai",
    "Phường Yên Hòa",
    "Phường Láng",
    "Phường Kim Liên",
    "Xã Sóc Sơn",
    "Xã Đông Anh",
    "Xã Gia Lâm",
    "Xã Thanh Trì",
    "Xã Ba Vì",
]
SENTENCES = [
    "Đề nghị thành phố sớm sửa chữa mặt đường bị hư hỏng trên tuyến phố.",
    "Rác thải sinh hoạt tập kết sai giờ gây mùi hôi cho cả khu dân cư.",
    "Vỉa hè bị lấn chiếm để kinh doanh, người đi bộ phải xuống lòng đường.",
    "Đèn tín hiệu giao thông ở ngã tư thường xuyên bị hỏng vào giờ cao điểm.",
    "Trạm y tế phường cần bố trí thêm giờ khám buổi tối cho người đi làm.",
    "Đề nghị tăng cường kiểm tra tiếng ồn từ công trình xây dựng ban đêm.",
    "Thủ tục hành chính trực tuyến còn khó dùng đối với người cao tuổi.",
    "Cây xanh trên phố bị sâu bệnh, có nguy cơ gãy đổ khi mưa bão.",
]


def _text(rng: random.Random) -> str:
    """A feedback text of 1-8 sentences (about 70-560 characters)."""
    return " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 8)))


def _batches(rows: int, resident_ids: list[int], rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    """Feedback rows as insert parameters, BATCH at a time, spread over 2026."""
    from bot.services.feedback import Category, Status

    categories, statuses = [c.value for c in Category], [s.value for s in Status]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(0, rows, BATCH):
        yield [
            {
                "ticket": f"GY-2026-{i + 1:06d}",
                "year": 2026,
                "seq": i + 1,
                "resident_id": resident_ids[i % len(resident_ids)],
                "category": rng.choice(categories),
                "ward": rng.choice(WARDS),
                "text": _text(rng),
                "status": rng.choice(statuses),
                "latitude": 21.0 + rng.random() / 10 if i % 3 == 0 else None,
                "longitude": 105.8 + rng.random() / 10 if i % 3 == 0 else None,
                "created_at": start + timedelta(seconds=300 * i),
                "updated_at": start + timedelta(seconds=300 * i),
            }
            for i in range(first, min(first + BATCH, rows))
        ]


def seed(url: str, rows: int) -> float:
    """Migrate and fill a database with `rows` feedback, 1,000 residents and 2 polls; return seconds."""
    import sqlalchemy as sa
    from sqlmodel import col

    from bot.db.engine import make_engine, upgrade
    from bot.db.models import Feedback, Poll, PollOption, Resident, Vote

    rng = random.Random(42)
    engine = make_engine(url)
    upgrade(engine)
    began = time.perf_counter()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Resident),
            [
                {
                    "pseudonym": uuid.uuid4().hex * 2,
                    "ward": rng.choice(WARDS),
                    "ward_verified": True,
                    "created_at": now,
                }
                for _ in range(1_000)
            ],
        )
        resident_ids: list[int] = list(conn.execute(sa.text("SELECT id FROM resident ORDER BY id")).scalars())
        for batch in _batches(rows, resident_ids, rng):
            conn.execute(sa.insert(Feedback), batch)
        for question in ("Bạn có đồng ý sáp nhập hai xã?", "Nên ưu tiên đầu tư vào lĩnh vực nào?"):
            poll_id = conn.execute(
                sa.insert(Poll).returning(col(Poll.id)),
                {
                    "question": question,
                    "wards": [],
                    "opens_at": now,
                    "visibility": "officers",
                    "created_by": "bench",
                    "created_at": now,
                },
            ).scalar_one()
            option_ids = [
                conn.execute(
                    sa.insert(PollOption).returning(col(PollOption.id)),
                    {"poll_id": poll_id, "position": i, "text": text},
                ).scalar_one()
                for i, text in enumerate(["Đồng ý", "Không đồng ý", "Ý kiến khác"])
            ]
            conn.execute(
                sa.insert(Vote),
                [
                    {
                        "poll_id": poll_id,
                        "option_id": rng.choice(option_ids),
                        "resident_id": rid,
                        "ward": rng.choice(WARDS),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for rid in resident_ids
                ],
            )
    engine.dispose()
    return time.perf_counter() - began


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    """This process's RSS high-water mark in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, fmt: str, out: Path, traced: bool) -> dict[str, Any]:
    """Run one export in this (fresh) process and measure it."""
    import tracemalloc

    import matplotlib.figure  # noqa: F401  (imports outside the measure, as in a running bot)
    import xlsxwriter  # noqa: F401

    from bot.db.engine import make_engine, session_scope
    from bot.services.exports import export_feedback
    from bot.services.roles import cli_actor

    engine = make_engine(url)
    rss_before = _rss_mb()
    if traced:
        tracemalloc.start()
    began, cpu = time.perf_counter(), _cpu_seconds()
    with session_scope(engine, read_only=True) as session:
        result = export_feedback(session=session, out=out, fmt=fmt, actor=cli_actor())  # type: ignore[arg-type]
    seconds, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    engine.dispose()
    size = sum(p.stat().st_size for p in result.paths)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": result.rows,
        "rss_before_mb": rss_before,
        "rss_peak_mb": _rss_mb(),
        "tracemalloc_peak_mb": peak / 1e6,
        "size_mb": size / 1e6,
    }


def measure(url: str, fmt: str, folder: Path, traced: bool, timeout: float) -> dict[str, Any]:
    """Run `child` in a new interpreter and return its measurements."""
    out = folder / f"export.{fmt}"
    cmd = [sys.executable, __file__, "--child", url, fmt, str(out), "1" if traced else "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _pg_schema_url(base: str) -> tuple[str, str]:
    """Create a fresh schema for the run; return (url using it, schema)."""
    import sqlalchemy as sa

    schema = f"bench_export_{os.getpid()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return f"{base}?options=-csearch_path%3D{schema}", schema


def _drop_schema(base: str, schema: str) -> None:
    """Drop the run's schema."""
    import sqlalchemy as sa

    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def run_backend(backend: str, args: argparse.Namespace, folder: Path) -> list[str]:
    """Seed one backend, measure both formats, return markdown table lines."""
    schema = None
    if backend == "postgresql":
        url, schema = _pg_schema_url(args.pg_url)
    else:
        url = f"sqlite:///{folder / 'bench.db'}"
    try:
        seconds = seed(url, args.rows)
        print(f"{backend}: seeded {args.rows:,} rows in {seconds:.1f} s", file=sys.stderr)
        lines = []
        for fmt in ("csv", "xlsx"):
            plain = measure(url, fmt, folder, traced=False, timeout=args.timeout)
            traced = measure(url, fmt, folder, traced=True, timeout=args.timeout)
            lines.append(
                f"| {backend} | {fmt} | {plain['rows']:,} | {plain['seconds']:.1f} | {plain['cpu_seconds']:.1f} | "
                f"{plain['rows'] / plain['cpu_seconds']:,.0f} | {traced['tracemalloc_peak_mb']:.1f} | "
                f"{plain['rss_before_mb']:.0f} → {plain['rss_peak_mb']:.0f} | {plain['size_mb']:.1f} |"
            )
            print(lines[-1], file=sys.stderr)
        return lines
    finally:
        if schema:
            _drop_schema(args.pg_url, schema)


def main() -> None:
    """Parse arguments, run the selected backends, print the table."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        url, fmt, out, traced = sys.argv[2:6]
        print(json.dumps(child(url, fmt, Path(out), traced == "1")))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("TEST_POSTGRES_URL", PG_URL))
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per export")
    args = parser.parse_args()
    header = [
        "| backend | format | rows | wall (s) | CPU (s) | rows per CPU-s | tracemalloc peak (MB) "
        "| RSS before → peak (MB) | files (MB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        for backend in args.backends.split(","):
            folder = Path(tmp) / backend
            folder.mkdir()
            lines += run_backend(backend.strip(), args, folder)
    print("\n".join(header + lines))


if __name__ == "__main__":
    main()
