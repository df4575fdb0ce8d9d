"""What an export reads: feedback rows streamed in chunks, counts by SQL GROUP BY, poll results by ward."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.dates import local_day_end, local_day_start, to_local
from bot.db.models import Feedback, Poll, PollOption, Resident, Vote
from bot.services.disclosure import mask_table, shown
from bot.services.feedback import Category, FeedbackFilter, Status, feedback_query
from bot.services.polls import UNKNOWN_WARD

CHUNK_SIZE = 1000
PSEUDONYM_CHARS = 12
ERASED_TEXT = "(nội dung đã xóa theo yêu cầu của người dân)"


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One exported feedback: pseudonymous, times in local time."""

    ticket: str
    created_at: datetime
    category: str
    ward: str
    status: str
    status_label: str
    text: str
    latitude: float | None = None
    longitude: float | None = None
    has_photo: bool = False
    resident: str = ""


@dataclass(frozen=True)
class Summary:
    """Counts for the summary sheet and chart, from SQL GROUP BY."""

    categories: Sequence[str]
    statuses: Sequence[tuple[str, str]]
    cells: Mapping[tuple[str, str], int]
    by_status: Mapping[str, int]

    @property
    def total(self) -> int:
        """Number of feedback rows counted."""
        return sum(self.cells.values())

    def by_category(self) -> list[tuple[str, int]]:
        """(category label, count) in the fixed category order."""
        totals = {c: 0 for c in self.categories}
        for (_, cat), n in self.cells.items():
            totals[cat] = totals.get(cat, 0) + n
        return list(totals.items())

    def by_ward(self) -> list[tuple[str, int]]:
        """(ward, count), most feedback first, then by name."""
        totals: dict[str, int] = {}
        for (ward, _), n in self.cells.items():
            totals[ward] = totals.get(ward, 0) + n
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    def status_counts(self) -> list[tuple[str, int]]:
        """(status label, count) in workflow order."""
        return [(label, self.by_status.get(code, 0)) for code, label in self.statuses]


@dataclass(frozen=True)
class PollReport:
    """Results of one poll: votes by option and by ward × option (option index).

    `ward` is the export's ward filter: then only that ward's votes are counted, and the totals by
    option are ward cells, suppressed like them (bot.services.disclosure).
    """

    poll_id: int
    question: str
    options: Sequence[str]
    votes: Sequence[int]
    by_ward: Mapping[tuple[str, int], int]
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    ward: str | None = None

    @property
    def total(self) -> int:
        """Number of votes."""
        return sum(self.votes)

    def wards(self) -> list[str]:
        """Wards with votes, most votes first."""
        totals: dict[str, int] = {}
        for (ward, _), n in self.by_ward.items():
            totals[ward] = totals.get(ward, 0) + n
        return [w for w, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))]

    def ward_cells(self) -> list[tuple[str, list[int | str], int | str]]:
        """(ward, cells by option, ward total) as shown to officers: 1–4 votes suppressed."""
        wards, columns = self.wards(), range(len(self.options))
        marks = mask_table(self.by_ward, wards, columns)
        rows: list[tuple[str, list[int | str], int | str]] = []
        for ward in wards:
            cells = [self.by_ward.get((ward, i), 0) for i in columns]
            rows.append((ward, [marks.get((ward, i), n) for i, n in enumerate(cells)], shown(sum(cells))))
        return rows

    def option_cells(self) -> list[int | str]:
        """Totals by option as shown: exact, unless a ward filter makes them ward cells."""
        if self.ward is None:
            return list(self.votes)
        rows = self.ward_cells()
        return rows[0][1] if rows else list(self.votes)

    def shown_total(self) -> int | str:
        """The number of votes as shown (suppressed when 1–4 under a ward filter)."""
        return self.total if self.ward is None else shown(self.total)


def _where(filters: FeedbackFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE clause of the feedback service's own filter query (one definition of the filters)."""
    clause = feedback_query(filters).whereclause
    return [] if clause is None else [clause]


def label(kind: type[Category] | type[Status], code: str) -> str:
    """The Vietnamese label of a stored code (the code itself if unknown)."""
    try:
        return kind(code).label
    except ValueError:
        return code


def iter_feedback(
    session: Session, filters: FeedbackFilter, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[FeedbackRow]:
    """Stream matching feedback, oldest first, fetching `chunk_size` rows at a time."""
    stmt = (
        sa.select(
            col(Feedback.ticket),
            col(Feedback.created_at),
            col(Feedback.category),
            col(Feedback.ward),
            col(Feedback.status),
            col(Feedback.text),
            col(Feedback.latitude),
            col(Feedback.longitude),
            col(Feedback.photo_file_id).is_not(None),
            col(Feedback.erased_at),
            col(Resident.pseudonym),
            col(Resident.erased_at),
        )
        .join(Resident, col(Resident.id) == col(Feedback.resident_id))
        .where(*_where(filters))
        .order_by(col(Feedback.created_at), col(Feedback.id))
        .execution_options(yield_per=chunk_size)
    )
    for rec in session.execute(stmt):
        yield FeedbackRow(
            ticket=rec[0],
            created_at=to_local(rec[1]),
            category=label(Category, rec[2]),
            ward=rec[3] or UNKNOWN_WARD,
            status=rec[4],
            status_label=label(Status, rec[4]),
            text=ERASED_TEXT if rec[9] is not None else (rec[5] or ""),
            latitude=rec[6],
            longitude=rec[7],
            has_photo=bool(rec[8]),
            resident="" if rec[11] is not None else rec[10][:PSEUDONYM_CHARS],
        )


def summarize(session: Session, filters: FeedbackFilter) -> Summary:
    """Counts by ward × category and by status, with SQL GROUP BY."""
    where = _where(filters)
    count = sa.func.count()
    cells: dict[tuple[str, str], int] = {}
    by_cell = sa.select(col(Feedback.ward), col(Feedback.category), count).where(*where)
    for ward, cat, n in session.execute(by_cell.group_by(col(Feedback.ward), col(Feedback.category))):
        key = (ward or UNKNOWN_WARD, label(Category, cat))
        cells[key] = cells.get(key, 0) + n
    by_status_stmt = sa.select(col(Feedback.status), count).where(*where).group_by(col(Feedback.status))
    by_status = {code: n for code, n in session.execute(by_status_stmt)}
    labels = [c.label for c in Category]
    extra = sorted({cat for _, cat in cells} - set(labels))
    return Summary(labels + extra, [(s.value, s.label) for s in Status], cells, by_status)


def poll_reports(session: Session, filters: FeedbackFilter) -> list[PollReport]:
    """Polls whose voting window overlaps the dates (and open to the filter's ward), votes by option and ward."""
    stmt = sa.select(Poll).order_by(col(Poll.id))
    if filters.date_to:
        stmt = stmt.where(col(Poll.opens_at) < local_day_end(filters.date_to))
    if filters.date_from:
        end = sa.func.coalesce(col(Poll.closed_at), col(Poll.closes_at))
        stmt = stmt.where(sa.or_(end.is_(None), end >= local_day_start(filters.date_from)))
    polls = [
        p
        for p in session.execute(stmt).scalars()
        if not (filters.ward and p.wards and filters.ward not in p.wards)
    ]
    if not polls:
        return []
    ids = [p.id for p in polls]
    options: dict[int, list[PollOption]] = {}
    opt_stmt = (
        sa.select(PollOption).where(col(PollOption.poll_id).in_(ids)).order_by(col(PollOption.position))
    )
    for opt in session.execute(opt_stmt).scalars():
        options.setdefault(opt.poll_id, []).append(opt)
    vote_stmt = sa.select(col(Vote.poll_id), col(Vote.ward), col(Vote.option_id), sa.func.count()).where(
        col(Vote.poll_id).in_(ids)
    )
    if filters.ward:
        vote_stmt = vote_stmt.where(col(Vote.ward) == filters.ward)
    counts: dict[int, dict[tuple[str, int], int]] = {}
    for poll_id, ward, option_id, n in session.execute(
        vote_stmt.group_by(col(Vote.poll_id), col(Vote.ward), col(Vote.option_id))
    ):
        counts.setdefault(poll_id, {})[(ward or UNKNOWN_WARD, option_id)] = n
    return [
        _poll_report(p, options.get(p.id or 0, []), counts.get(p.id or 0, {}), filters.ward) for p in polls
    ]


def _poll_report(
    poll: Any, options: Sequence[Any], counts: Mapping[tuple[str, int], int], ward: str | None
) -> PollReport:
    """Assemble a PollReport from rows (option ids mapped to positions)."""
    index = {opt.id: i for i, opt in enumerate(options)}
    votes = [0] * len(options)
    by_ward: dict[tuple[str, int], int] = {}
    for (where, option_id), n in counts.items():
        i = index.get(option_id)
        if i is None:
            continue
        votes[i] += n
        by_ward[(where, i)] = by_ward.get((where, i), 0) + n
    return PollReport(
        poll_id=poll.id,
        question=poll.question,
        options=[opt.text for opt in options],
        votes=votes,
        by_ward=by_ward,
        opens_at=poll.opens_at,
        closes_at=poll.closed_at or poll.closes_at,
        ward=ward,
    )
