"""Answers written by the city's staff (FAQ): from a group of /chuatraloi questions or the CLI, CSV too.

An entry answers the questions linked to it (faq_link): they leave /chuatraloi and become variants the
search matches against. Answering a group queues one message (once) for each resident who asked one of
its questions and still consents to notifications.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.models import (
    AnswerRating,
    Consent,
    FaqEntry,
    FaqLink,
    Resident,
    SynonymRule,
    UnansweredAsk,
    UnansweredQuestion,
    utcnow,
)
from bot.services._base import LOCAL_TZ, check_key, commit_once, guarded, replayed, table_of, upsert
from bot.services.audit import AuditAction, record_audit
from bot.services.errors import InvalidInputError, NotFoundError
from bot.services.notifications import queue_notification
from bot.services.questions import MAX_TEXT, question_key
from bot.services.residents import Purpose
from bot.services.roles import Actor, Role

MAX_ANSWER, MAX_SOURCE = 3500, 500
CSV_HEADER = ("question", "answer", "source", "created")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
UNANSWERED, RATING = "unanswered", "rating"
REF = re.compile(r"^([ur])(\d{1,12})$")
NOTIFY = "💬 Cán bộ thành phố đã trả lời câu hỏi bạn gửi trước đây:\n«{question}»\n\n{answer}"


@dataclass(frozen=True)
class FaqView:
    """A staff answer, with the residents' wordings (variants) it was given for."""

    id: int
    question: str
    answer: str
    source: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class PendingQuestion:
    """A question for /chuatraloi: ref is 'u<id>' (unanswered) or 'r<id>' (rated not helpful)."""

    ref: str
    text: str
    count: int
    last_seen: datetime


@dataclass(frozen=True)
class AnswerResult:
    """What answering a group did: the entry, how many questions it covers, residents notified."""

    entry: FaqView
    linked: int
    notified: int


@dataclass(frozen=True)
class ImportReport:
    """Rows added and rows that replaced the answer of an existing question."""

    added: int
    updated: int


def _optional(text: str | None, limit: int, what: str, *, lines: bool = False) -> str | None:
    """Spaces collapsed (line breaks kept when `lines`), None when blank; InvalidInputError when too long."""
    if lines:
        value = "\n".join(" ".join(line.split()) for line in (text or "").strip().splitlines())
    else:
        value = " ".join((text or "").split())
    if len(value) > limit:
        raise InvalidInputError(f"{what} quá dài (tối đa {limit} ký tự).")
    return value or None


def _required(text: str | None, limit: int, what: str, *, lines: bool = False) -> str:
    """Like `_optional`, but blank is an InvalidInputError."""
    value = _optional(text, limit, what, lines=lines)
    if value is None:
        raise InvalidInputError(f"{what} không được để trống.")
    return value


def _views(session: Session, rows: Sequence[FaqEntry]) -> list[FaqView]:
    """Entries with their variants (texts of the linked questions)."""
    ids = [row.id for row in rows]
    variants: dict[int, list[str]] = {}
    for kind, model in ((UNANSWERED, UnansweredQuestion), (RATING, AnswerRating)):
        table = table_of(model)
        stmt = (
            sa.select(col(FaqLink.faq_id), table.c.text)
            .join(table, table.c.id == col(FaqLink.question_id))
            .where(col(FaqLink.kind) == kind, col(FaqLink.faq_id).in_(ids))
            .order_by(col(FaqLink.id))
        )
        for faq_id, text in session.execute(stmt):
            variants.setdefault(faq_id, []).append(text)
    return [
        FaqView(
            row.id or 0, row.question, row.answer, row.source, row.created_by, row.created_at, row.updated_at,
            tuple(dict.fromkeys(v for v in variants.get(row.id or 0, []) if v != row.question)),
        )
        for row in rows
    ]


@guarded
def list_entries(*, session: Session) -> list[FaqView]:
    """Every FAQ entry, oldest first, with its variants."""
    rows = session.execute(sa.select(FaqEntry).order_by(col(FaqEntry.id))).scalars().all()
    return _views(session, rows)


def _get(session: Session, faq_id: int) -> FaqEntry:
    """The entry, or NotFoundError."""
    row = session.get(FaqEntry, faq_id)
    if row is None:
        raise NotFoundError(f"Không có câu trả lời số {faq_id}.")
    return row


@guarded
def add_entry(
    *, session: Session, actor: Actor, question: str, answer: str, source: str | None = None
) -> FaqView:
    """Add a staff answer to a question (the CLI): matched like any other entry from now on."""
    actor.require(Role.ADMIN)
    entry = _new_entry(session, actor, question, answer, source, utcnow())
    session.commit()
    return _views(session, [entry])[0]


def _new_entry(
    session: Session, actor: Actor, question: str, answer: str, source: str | None, created: datetime
) -> FaqEntry:
    """Validate and insert an entry, audited, in the caller's transaction."""
    entry = FaqEntry(
        question=_required(question, MAX_TEXT, "Câu hỏi"),
        answer=_required(answer, MAX_ANSWER, "Câu trả lời", lines=True),
        source=_optional(source, MAX_SOURCE, "Nguồn"),
        created_by=actor.label,
        created_at=created,
        updated_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    record_audit(session=session, actor=actor, action=AuditAction.FAQ_ADD, target=f"faq:{entry.id}")
    return entry


@guarded
def remove_entry(*, session: Session, actor: Actor, faq_id: int) -> FaqView:
    """Delete an entry; the questions it answered come back to /chuatraloi."""
    actor.require(Role.ADMIN)
    row = _get(session, faq_id)
    view = _views(session, [row])[0]
    session.execute(sa.delete(FaqLink).where(col(FaqLink.faq_id) == faq_id))
    session.delete(row)
    record_audit(session=session, actor=actor, action=AuditAction.FAQ_REMOVE, target=f"faq:{faq_id}")
    session.commit()
    return view


@guarded
def pending_questions(
    *, session: Session, actor: Actor, unanswered: int = 200, unhelpful: int = 100
) -> list[PendingQuestion]:
    """Questions still waiting for an answer: abstained on, or rated not helpful (most asked first).

    A question answered by an entry leaves the list, unless residents asked it (or rated it 👎) again since.
    """
    actor.require(Role.ADMIN)
    found: list[PendingQuestion] = []
    for prefix, kind, model, count_column, limit in (
        ("u", UNANSWERED, UnansweredQuestion, "count", unanswered),
        ("r", RATING, AnswerRating, "not_helpful", unhelpful),
    ):
        table = table_of(model)
        link = sa.and_(col(FaqLink.kind) == kind, col(FaqLink.question_id) == table.c.id)
        answered = sa.exists().where(link, col(FaqLink.seen_count) >= table.c[count_column])
        stmt = (
            sa.select(table.c.id, table.c.text, table.c[count_column], table.c.last_seen)
            .where(table.c[count_column] > 0, ~answered)
            .order_by(table.c[count_column].desc(), table.c.last_seen.desc())
            .limit(limit)
        )
        found += [PendingQuestion(f"{prefix}{i}", text, n, last) for i, text, n, last in session.execute(stmt)]
    return sorted(found, key=lambda q: (-q.count, -q.last_seen.timestamp()))


def parse_refs(refs: Sequence[str]) -> list[tuple[str, int]]:
    """('unanswered'|'rating', id) of each 'u12' / 'r5' (InvalidInputError on anything else)."""
    parsed: list[tuple[str, int]] = []
    for ref in refs:
        match = REF.match(ref)
        if match is None:
            raise InvalidInputError("Mã câu hỏi không hợp lệ.")
        parsed.append((UNANSWERED if match[1] == "u" else RATING, int(match[2])))
    return parsed


@guarded
def answer_group(
    *,
    session: Session,
    actor: Actor,
    refs: Sequence[str],
    answer: str,
    source: str | None = None,
    question: str | None = None,
    idempotency_key: str | None = None,
) -> AnswerResult:
    """Answer a group of questions; notify their askers once.

    The entry's question is `question` (the admin's wording) or else the first ref's text.
    """
    actor.require(Role.ADMIN)
    check_key(idempotency_key)
    earlier = replayed(session, idempotency_key, "faq_answer")
    if earlier is not None:
        return _result(session, earlier)
    parsed = parse_refs(refs)
    found = {ref: _question(session, *ref) for ref in parsed}
    existing = [ref for ref in parsed if found[ref] is not None]
    if not existing:
        raise NotFoundError("Các câu hỏi của nhóm này không còn trong danh sách.")
    now = utcnow()
    first = found[existing[0]]
    entry = _new_entry(session, actor, question or (first[0] if first else ""), answer, source, now)
    for ref in existing:
        count = (found[ref] or ("", 0))[1]
        values = {"faq_id": entry.id, "kind": ref[0], "question_id": ref[1], "seen_count": count, "linked_at": now}
        update = {"faq_id": entry.id, "seen_count": count, "linked_at": now}
        upsert(session, table_of(FaqLink), values, ["kind", "question_id"], update)
    notified = _notify_askers(session, [qid for kind, qid in existing if kind == UNANSWERED], entry, now)
    result = {"faq_id": entry.id, "linked": len(existing), "notified": notified}
    return _result(session, commit_once(session, idempotency_key, "faq_answer", result))


def _result(session: Session, stored: dict[str, int]) -> AnswerResult:
    """The AnswerResult of a stored result."""
    return AnswerResult(_views(session, [_get(session, stored["faq_id"])])[0], stored["linked"], stored["notified"])


def _question(session: Session, kind: str, question_id: int) -> tuple[str, int] | None:
    """(text, asks or 👎 count) of a listed question (None when it is gone)."""
    if kind == UNANSWERED:
        table, count = table_of(UnansweredQuestion), "count"
    else:
        table, count = table_of(AnswerRating), "not_helpful"
    row = session.execute(sa.select(table.c.text, table.c[count]).where(table.c.id == question_id)).first()
    return None if row is None else (row[0], int(row[1]))


def _notify_askers(session: Session, question_ids: list[int], entry: FaqEntry, now: datetime) -> int:
    """Queue the answer once for each consenting resident who asked one of the questions (quoting their
    own wording, never another resident's); mark them notified."""
    if not question_ids:
        return 0
    consenting = sa.exists().where(
        col(Consent.resident_id) == col(UnansweredAsk.resident_id),
        col(Consent.purpose) == Purpose.NOTIFICATIONS.value,
        col(Consent.withdrawn_at).is_(None),
    )
    stmt = (
        sa.select(col(UnansweredAsk.resident_id), col(UnansweredQuestion.text))
        .join(Resident, col(Resident.id) == col(UnansweredAsk.resident_id))
        .join(UnansweredQuestion, col(UnansweredQuestion.id) == col(UnansweredAsk.question_id))
        .where(
            col(UnansweredAsk.question_id).in_(question_ids),
            col(UnansweredAsk.notified_at).is_(None),
            col(Resident.erased_at).is_(None),
            consenting,
        )
        .order_by(col(UnansweredAsk.resident_id), col(UnansweredAsk.last_asked).desc())
    )
    asked: dict[int, str] = {}
    for resident_id, text in session.execute(stmt):
        asked.setdefault(resident_id, text)
    for resident_id, text in asked.items():
        queue_notification(
            session, resident_id, notification_text(entry, text), dedupe_key=f"faq:{entry.id}:{resident_id}"
        )
    if asked:
        session.execute(
            sa.update(UnansweredAsk)
            .where(col(UnansweredAsk.question_id).in_(question_ids), col(UnansweredAsk.resident_id).in_(list(asked)))
            .values(notified_at=now)
        )
    return len(asked)


def notification_text(entry: FaqEntry | FaqView, asked: str) -> str:
    """The plain-text message a resident receives when the question they `asked` is answered."""
    text = NOTIFY.format(question=asked, answer=entry.answer)
    return text + (f"\nNguồn: {entry.source}" if entry.source else "")


@guarded
def knowledge_generation(*, session: Session) -> str:
    """A value that changes whenever FAQ entries, their links or admin synonyms change (cheap to poll)."""
    parts: list[object] = []
    for model, stamp in (
        (FaqEntry, FaqEntry.updated_at),
        (FaqLink, FaqLink.linked_at),
        (SynonymRule, SynonymRule.created_at),
    ):
        table = table_of(model)
        parts += session.execute(
            sa.select(sa.func.count(), sa.func.max(table.c.id), sa.func.max(col(stamp)))
        ).one()
    return "|".join(str(p) for p in parts)


# --- CSV ----------------------------------------------------------------------------------------


def _cell(value: str) -> str:
    """A cell that spreadsheets will not run as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _uncell(value: str) -> str:
    """Undo `_cell` on import."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


@guarded
def export_csv(*, session: Session) -> str:
    """Every entry as CSV text (question, answer, source, created date); the caller writes it with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for entry in list_entries(session=session):
        created = entry.created_at.astimezone(LOCAL_TZ).date().isoformat()
        writer.writerow([_cell(entry.question), _cell(entry.answer), _cell(entry.source or ""), created])
    return out.getvalue()


def _parse_created(text: str) -> datetime:
    """YYYY-MM-DD or DD/MM/YYYY (Hà Nội date) → that day's local midnight; empty → now."""
    text = text.strip()
    if not text:
        return utcnow()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return datetime.combine(day, time(), LOCAL_TZ)
    raise InvalidInputError(f"Ngày «{text}» không hợp lệ (dùng YYYY-MM-DD hoặc DD/MM/YYYY)")


@guarded
def import_csv(*, session: Session, actor: Actor, text: str) -> ImportReport:
    """Add the CSV's entries (a question already present gets the new answer); all or nothing.

    Every bad row is reported by its line number in one InvalidInputError, and nothing is written.
    """
    actor.require(Role.ADMIN)
    rows = _numbered_rows(text.lstrip("\ufeff"))
    if not rows or tuple(c.strip().lower() for c in rows[0][1][:4]) != CSV_HEADER:
        raise InvalidInputError("Dòng 1 phải là tiêu đề: " + ",".join(CSV_HEADER))
    parsed, errors = _parse_rows(rows[1:])
    if errors:
        raise InvalidInputError("Không nhập dòng nào vì có dòng lỗi:\n" + "\n".join(errors))
    existing = {question_key(e.question): e.id for e in session.execute(sa.select(FaqEntry)).scalars()}
    added = updated = 0
    for question, answer, source, created in parsed:
        faq_id = existing.get(question_key(question))
        if faq_id is None:
            entry = _new_entry(session, actor, question, answer, source, created)
            existing[question_key(question)] = entry.id
            added += 1
            continue
        row = _get(session, faq_id)
        row.answer, row.source, row.updated_at = answer, source, utcnow()
        record_audit(session=session, actor=actor, action=AuditAction.FAQ_ADD, target=f"faq:{faq_id}")
        updated += 1
    session.commit()
    return ImportReport(added, updated)


def _numbered_rows(text: str) -> list[tuple[int, list[str]]]:
    """CSV rows with the file line each starts on (a quoted cell may span lines); bad quoting → error."""
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInputError(f"Dòng {start}: tệp CSV hỏng ({exc}). Không nhập dòng nào.") from None
    return rows


def _parse_rows(
    rows: list[tuple[int, list[str]]],
) -> tuple[list[tuple[str, str, str | None, datetime]], list[str]]:
    """Valid rows and, for the others, 'Dòng N: reason' (line numbers as in the file)."""
    parsed: list[tuple[str, str, str | None, datetime]] = []
    errors: list[str] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        cells = [_uncell(c) for c in row] + [""] * (4 - len(row))
        try:
            if len(row) > 4:
                raise InvalidInputError("có nhiều hơn 4 cột")
            question = _required(cells[0], MAX_TEXT, "Câu hỏi")
            answer = _required(cells[1], MAX_ANSWER, "Câu trả lời", lines=True)
            source = _optional(cells[2], MAX_SOURCE, "Nguồn")
            parsed.append((question, answer, source, _parse_created(cells[3])))
        except InvalidInputError as exc:
            errors.append(f"Dòng {line}: {exc.message}")
    return parsed, errors

