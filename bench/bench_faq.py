"""What the staff answers (FAQ) add to a question's time, against the encoder's own embedding time.

    python bench/bench_faq.py [--entries 50] [--rounds 30]

Builds the index of knowledge/ in a temporary folder, loads N staff answers (8 everyday questions repeated
with numbers), then times per question (median, ms):
the encoder alone, `match_faq` (one more query embedding plus a dot product), `ask`, and both in
sequence as the bot runs them. Prints the ratios to the encoder time and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.config import Settings  # noqa: E402
from bot.search.faq import FaqEntry  # noqa: E402
from bot.search.service import SearchService  # noqa: E402

STAFF_QUESTIONS = [
    "Thư viện quận mở cửa mấy giờ?",
    "Làm căn cước công dân ở đâu?",
    "Vé tháng xe buýt giá bao nhiêu?",
    "Cây đổ trước nhà thì báo cho ai?",
    "Tiêm phòng cho trẻ ở đâu miễn phí?",
    "Học phí trường công năm nay bao nhiêu?",
    "Nhà tôi bị mất nước sinh hoạt thì gọi số nào?",
    "Quán karaoke hát to sau 22 giờ thì báo ai?",
]
QUESTIONS = [
    "Hà Nội phát triển đô thị thông minh như thế nào?",
    "Thành phố làm gì để giảm ùn tắc giao thông?",
    "Mục tiêu đến năm 2030 của Thủ đô là gì?",
    "Vùng Thủ đô gồm những tỉnh nào?",
]


async def _median_ms(work: object, rounds: int) -> float:
    """Median wall time of `await work(question)` over the questions, in ms."""
    times = []
    for n in range(rounds):
        start = time.perf_counter()
        await work(QUESTIONS[n % len(QUESTIONS)])  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def main(entries: int, rounds: int) -> None:
    """Print a markdown table of the timings."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(knowledge_dir=REPO / "knowledge", index_dir=Path(tmp) / "index", _env_file=None)
        service = SearchService(settings)
        await service.start(build_if_missing=True)
        now = datetime.now(UTC)
        staff = [f"{STAFF_QUESTIONS[n % len(STAFF_QUESTIONS)]} (số {n})" for n in range(entries)]
        await service.set_faq([FaqEntry(n, q, "…", None, now) for n, q in enumerate(staff)])

        async def encode(q: str) -> object:
            return await service.embed_queries([q])

        async def both(q: str) -> object:
            return await service.match_faq(q) or await service.ask(q)

        for warm in QUESTIONS:
            await service.ask(warm)
        rows = [
            ("encoder alone (embed_queries)", await _median_ms(encode, rounds)),
            (f"match_faq ({entries} entries)", await _median_ms(service.match_faq, rounds)),
            ("ask (documents)", await _median_ms(service.ask, rounds)),
            ("match_faq then ask (the bot)", await _median_ms(both, rounds)),
        ]
        await service.close()
    base = rows[0][1]
    print("| step | median ms | × encoder |")
    print("|---|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} | {ms / base:.2f} |")
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.entries, args.rounds))
