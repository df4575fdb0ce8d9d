"""The knowledge loop: /chuatraloi groups what the bot could not answer, admins answer a group
(«✍️ Trả lời» → answer → source or «Bỏ qua» → «Lưu»), and extend the synonyms (/themtu, /dstu, /xoatu).

Staff answers and synonyms live in the database; every process reloads them at start and whenever
their generation changes (checked every REFRESH_SECONDS by the JobQueue), so CLI changes need no restart.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.telegram import format as fmt
from bot.telegram.common import end_flow, reply
from bot.telegram.deps import DEPS_KEY, BotDeps, call, call_as, deps, user_draft

if TYPE_CHECKING:
    from bot.search.faq import FaqHit
    from bot.services.faq import PendingQuestion

log = logging.getLogger(__name__)
COMMANDS = ["chuatraloi", "themtu", "dstu", "xoatu"]
BUTTONS = ["fa"]  # «✍️ Trả lời» under a group (role checked by the staff gate)
ANSWER, SOURCE, CONFIRM, QUESTION = range(4)
DRAFT = "faq"
REFRESH_SECONDS = 30
GENERATION, REFRESH_LOCK = "knowledge_generation", "knowledge_lock"
MAX_GROUPS, MAX_LINES = 10, 5
DATE = "%d/%m/%Y"

NO_UNANSWERED = "Chưa có câu hỏi nào mà mình không trả lời được hoặc bị đánh giá là không có ích."
GROUPS_TITLE = (
    "<b>Câu hỏi chưa trả lời được và câu trả lời bị đánh giá «Chưa đúng»</b>, gộp theo ý nghĩa "
    "({n} nhóm, hỏi nhiều nhất trước). Bấm «✍️ Trả lời» dưới một nhóm để viết câu trả lời."
)
MORE_GROUPS = "… và {n} nhóm khác (trả lời các nhóm trên trước nhé)."
GROUP = "<b>Nhóm {n}</b> · {asks} lượt hỏi · gần nhất {last}"
ANSWER_BUTTON = "✍️ Trả lời"
GONE = "Nhóm câu hỏi này không còn trong danh sách (có thể đã được trả lời). Gõ /chuatraloi để xem lại."
ASK_ANSWER = (
    "Bạn đang trả lời nhóm câu hỏi:\n<i>{question}</i> ({n} câu hỏi)\n\n"
    "Hãy gõ câu trả lời (người dân sẽ đọc nguyên văn). Gõ /huy để hủy."
)
ANSWER_TOO_LONG = "Câu trả lời dài quá (tối đa {n} ký tự). Bạn hãy rút gọn rồi gửi lại."
ASK_SOURCE = "Nguồn của câu trả lời (ví dụ: số văn bản, đường dẫn), hoặc bấm «Bỏ qua»."
SKIP = "Bỏ qua"
SUMMARY = "<b>Xem lại</b>\nCâu hỏi: {question}\nTrả lời:\n<blockquote>{answer}</blockquote>\nNguồn: {source}"
NO_SOURCE = "(không ghi)"
SAVE, EDIT, CANCEL = "✅ Lưu", "✏️ Sửa câu hỏi", "✖️ Hủy"
PRESS_SAVE = "Bạn hãy bấm «Lưu», «Sửa câu hỏi» hoặc «Hủy» ở trên nhé (hoặc /huy để hủy)."
ASK_QUESTION = (
    "Gõ câu hỏi sẽ được lưu cùng câu trả lời (đây là lời của một người dân: hãy bỏ mọi chi tiết cá nhân "
    "như địa chỉ, tên, số điện thoại)."
)
SAVED = "✅ Đã lưu câu trả lời số {id} cho {linked} câu hỏi. Đã xếp hàng thông báo cho {notified} người dân đã hỏi."
CANCELLED = "Đã hủy, câu trả lời chưa được lưu."
STAFF_LABEL = "💬 <b>Trả lời của cán bộ thành phố</b> (cập nhật {date})"
SYNONYM_USAGE = "Cách dùng: <code>/themtu kẹt xe = ùn tắc giao thông</code> (cách nói thường ngày = cách nói trong văn bản)."
SYNONYM_ADDED = "✅ Đã thêm từ đồng nghĩa số {id}: «{everyday}» = «{formal}». Có hiệu lực từ câu hỏi tiếp theo."
SYNONYMS_TITLE = "Từ đồng nghĩa do quản trị viên thêm (xóa bằng /xoatu SỐ)"
NO_SYNONYMS = "Chưa có từ đồng nghĩa nào do quản trị viên thêm. Thêm bằng /themtu kẹt xe = ùn tắc giao thông."
REMOVE_USAGE = "Cách dùng: <code>/xoatu SỐ</code> (xem số bằng /dstu)."
SYNONYM_REMOVED = "Đã xóa từ đồng nghĩa số {id}: «{everyday}» = «{formal}»."


# --- staff answers, for the Q&A handler ------------------------------------------------------------


def staff_answer(hit: FaqHit) -> str:
    """The reply from a staff answer: label with its date, the answer, its source when named."""
    from bot.services._base import LOCAL_TZ

    entry = hit.entry
    label = STAFF_LABEL.format(date=entry.updated_at.astimezone(LOCAL_TZ).strftime(DATE))
    text = f"{label}\n<blockquote>{fmt.esc(entry.answer)}</blockquote>"
    return text + (f"\n📄 Nguồn: <i>{fmt.esc(entry.source)}</i>" if entry.source else "")


# --- /chuatraloi ----------------------------------------------------------------------------------


async def _groups(update: Update, context: ContextTypes.DEFAULT_TYPE) -> list[list[PendingQuestion]]:
    """Pending questions grouped by meaning, the most asked group first (the service checks the role)."""
    from bot.search.faq import group_by_meaning
    from bot.services import faq

    pending = await call_as(update, context, faq.pending_questions)
    if not pending:
        return []
    vectors = await deps(context).search.embed_queries([q.text for q in pending])
    clusters = await asyncio.to_thread(group_by_meaning, vectors)
    groups = [[pending[i] for i in cluster] for cluster in clusters]
    return sorted(groups, key=lambda g: (-sum(q.count for q in g), -max(q.last_seen.timestamp() for q in g)))


def _line(question: PendingQuestion) -> str:
    """One question of a group: its count (👎 for answers rated not helpful) and text."""
    mark = f"👎 {question.count}" if question.ref.startswith("r") else f"{question.count}×"
    return f"• ({mark}) {fmt.esc(question.text)}"


def _group_message(number: int, group: list[PendingQuestion]) -> str:
    """A group: its number, asks, latest date, and up to MAX_LINES of its questions."""
    from bot.services._base import LOCAL_TZ

    last = max(q.last_seen for q in group).astimezone(LOCAL_TZ).strftime(DATE)
    lines = [GROUP.format(n=number, asks=sum(q.count for q in group), last=last)]
    lines += [_line(q) for q in group[:MAX_LINES]]
    if len(group) > MAX_LINES:
        lines.append(f"… và {len(group) - MAX_LINES} câu hỏi tương tự khác")
    return "\n".join(lines)


async def unanswered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/chuatraloi: one message per group of similar questions, each with a «✍️ Trả lời» button."""
    from bot.search.errors import SearchError
    from bot.services.errors import ServiceError

    try:
        groups = await _groups(update, context)
    except (ServiceError, SearchError) as exc:
        await reply(update, fmt.esc(exc.message))
        return
    if not groups:
        await reply(update, NO_UNANSWERED)
        return
    await reply(update, GROUPS_TITLE.format(n=len(groups)))
    for number, group in enumerate(groups[:MAX_GROUPS], start=1):
        button = InlineKeyboardButton(ANSWER_BUTTON, callback_data=fmt.callback("fa", group[0].ref))
        await reply(update, _group_message(number, group), reply_markup=InlineKeyboardMarkup([[button]]))
    if len(groups) > MAX_GROUPS:
        await reply(update, MORE_GROUPS.format(n=len(groups) - MAX_GROUPS))


async def begin_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """«✍️ Trả lời»: find the group of the pressed question again and ask for the answer."""
    from bot.search.errors import SearchError
    from bot.services.errors import PermissionDeniedError, ServiceError

    query = update.callback_query
    assert query is not None and query.data is not None
    ref = query.data.split(":", 1)[1]
    try:
        groups = await _groups(update, context)
    except PermissionDeniedError:
        await query.answer(fmt.REFUSED, show_alert=True)
        return ConversationHandler.END
    except (ServiceError, SearchError) as exc:
        await query.answer(exc.message, show_alert=True)
        return ConversationHandler.END
    group = next((g for g in groups if ref in {q.ref for q in g}), None)
    if group is None:
        await query.answer(GONE, show_alert=True)
        return ConversationHandler.END
    await query.answer()
    draft = user_draft(context, DRAFT)
    draft.clear()
    draft.update(refs=[q.ref for q in group], question=group[0].text)
    await reply(update, ASK_ANSWER.format(question=fmt.esc(group[0].text), n=len(group)))
    return ANSWER


async def answer_typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """The answer: keep it and ask for a source."""
    from bot.services.faq import MAX_ANSWER

    message = update.effective_message
    assert message is not None and message.text is not None
    if len(message.text) > MAX_ANSWER:
        await reply(update, ANSWER_TOO_LONG.format(n=MAX_ANSWER))
        return ANSWER
    user_draft(context, DRAFT)["answer"] = message.text.strip()
    skip = InlineKeyboardButton(SKIP, callback_data=fmt.callback("fs", "skip"))
    await reply(update, ASK_SOURCE, reply_markup=InlineKeyboardMarkup([[skip]]))
    return SOURCE


async def source_typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """The source (typed) or «Bỏ qua»: show the summary."""
    draft = user_draft(context, DRAFT)
    query = update.callback_query
    if query is not None:
        await query.answer()
        await query.edit_message_reply_markup(reply_markup=None)
        draft["source"] = None
    else:
        assert update.effective_message is not None
        draft["source"] = (update.effective_message.text or "").strip() or None
    return await _summary(update, draft)


async def edit_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """«Sửa câu hỏi»: ask for the question's wording to store."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    await reply(update, ASK_QUESTION)
    return QUESTION


async def question_typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """The admin's wording of the question: show the summary again."""
    from bot.services.questions import MAX_TEXT

    message = update.effective_message
    assert message is not None and message.text is not None
    if len(message.text) > MAX_TEXT:
        await reply(update, ANSWER_TOO_LONG.format(n=MAX_TEXT))
        return QUESTION
    draft = user_draft(context, DRAFT)
    draft["question"] = " ".join(message.text.split())
    return await _summary(update, draft)


async def _summary(update: Update, draft: dict[str, Any]) -> int:
    """The draft to check, with «Lưu» / «Sửa câu hỏi» / «Hủy»."""
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(SAVE, callback_data=fmt.callback("fc", "ok"))],
            [
                InlineKeyboardButton(EDIT, callback_data=fmt.callback("fc", "edit")),
                InlineKeyboardButton(CANCEL, callback_data=fmt.callback("fc", "no")),
            ],
        ]
    )
    summary = SUMMARY.format(
        question=fmt.esc(draft.get("question", "")),
        answer=fmt.esc(draft.get("answer", "")),
        source=fmt.esc(draft["source"]) if draft.get("source") else NO_SOURCE,
    )
    await reply(update, summary, reply_markup=keyboard)
    return CONFIRM


async def save(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """«Lưu»: store the entry for the group, notify its askers once, reload the staff answers."""
    from bot.services import faq
    from bot.services.errors import DatabaseUnavailableError, ServiceError

    query = update.callback_query
    assert query is not None
    draft = user_draft(context, DRAFT)
    if "answer" not in draft:
        await query.answer(fmt.STALE_BUTTON, show_alert=True)
        return ConversationHandler.END
    try:
        result = await call_as(
            update,
            context,
            faq.answer_group,
            refs=draft.get("refs", []),
            answer=draft["answer"],
            source=draft.get("source"),
            question=draft.get("question"),
            idempotency_key=f"tg:{context.bot.id}:cbq:{query.id}",
        )
    except DatabaseUnavailableError:
        await query.answer()
        await reply(update, fmt.DB_DOWN)
        return CONFIRM
    except ServiceError as exc:
        await query.answer(exc.message, show_alert=True)
        _clear(context)
        return ConversationHandler.END
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    _clear(context)
    await refresh_knowledge(context.application)  # live in this process before the admin is told
    await reply(update, SAVED.format(id=result.entry.id, linked=result.linked, notified=result.notified))
    return ConversationHandler.END


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/huy or «Hủy»: drop the draft."""
    return await end_flow(update, context, DRAFT, CANCELLED)


def _clear(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Forget the draft."""
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


async def _nudge_save(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text while «Lưu» / «Hủy» is awaited."""
    await reply(update, PRESS_SAVE)


def conversation(admins: filters.BaseFilter) -> ConversationHandler:
    """The persistent answer flow, entered from a group's «✍️ Trả lời» button (private chats)."""
    text = admins & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # Buttons are tracked per chat and user, not per message: one draft per admin is intended.
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=[CallbackQueryHandler(begin_answer, pattern=r"^fa:[ur]\d{1,12}$")],
            states={
                ANSWER: [MessageHandler(text, answer_typed)],
                SOURCE: [
                    MessageHandler(text, source_typed),
                    CallbackQueryHandler(source_typed, pattern=r"^fs:skip$"),
                ],
                CONFIRM: [
                    CallbackQueryHandler(save, pattern=r"^fc:ok$"),
                    CallbackQueryHandler(edit_question, pattern=r"^fc:edit$"),
                    CallbackQueryHandler(cancel, pattern=r"^fc:no$"),
                    MessageHandler(text, _nudge_save),
                ],
                QUESTION: [MessageHandler(text, question_typed)],
            },
            fallbacks=[CommandHandler("huy", cancel)],
            name="faq_answer",
            persistent=True,
            allow_reentry=True,
        )


# --- synonyms -------------------------------------------------------------------------------------


def _command_text(update: Update) -> str:
    """What follows the command in the message."""
    message = update.effective_message
    text = message.text if message is not None and message.text else ""
    return text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""


async def add_synonym(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/themtu everyday = formal."""
    from bot.services import synonyms
    from bot.services.errors import ServiceError

    everyday, sep, formal = _command_text(update).partition("=")
    if not sep:
        await reply(update, SYNONYM_USAGE)
        return
    try:
        rule = await call_as(update, context, synonyms.add_synonym, everyday=everyday, formal=formal)
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    await refresh_knowledge(context.application)
    await reply(
        update, SYNONYM_ADDED.format(id=rule.id, everyday=fmt.esc(rule.everyday), formal=fmt.esc(rule.formal))
    )


async def list_synonyms(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/dstu: the admins' synonyms with their numbers."""
    from bot.services import synonyms
    from bot.services.errors import ServiceError

    try:
        rules = await call(context, synonyms.list_synonyms)
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    if not rules:
        await reply(update, NO_SYNONYMS)
        return
    await reply(update, fmt.bullet_list(SYNONYMS_TITLE, [f"{r.id}. {r.everyday} = {r.formal}" for r in rules]))


async def remove_synonym(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/xoatu ID."""
    from bot.services import synonyms
    from bot.services.errors import ServiceError

    number = _command_text(update).strip()
    if not number.isdigit() or len(number) > 12:
        await reply(update, REMOVE_USAGE)
        return
    try:
        rule = await call_as(update, context, synonyms.remove_synonym, rule_id=int(number))
    except ServiceError as exc:
        await reply(update, fmt.esc(exc.message))
        return
    await refresh_knowledge(context.application)
    await reply(
        update, SYNONYM_REMOVED.format(id=rule.id, everyday=fmt.esc(rule.everyday), formal=fmt.esc(rule.formal))
    )


def handlers(admins: filters.BaseFilter) -> list[BaseHandler]:
    """/chuatraloi and the synonym commands (the answer flow is `conversation()`, one of the app's flows)."""
    return [
        CommandHandler("chuatraloi", unanswered, filters=admins),
        CommandHandler("themtu", add_synonym, filters=admins),
        CommandHandler("dstu", list_synonyms, filters=admins),
        CommandHandler("xoatu", remove_synonym, filters=admins),
    ]


# --- reload in every process ----------------------------------------------------------------------


async def start_refresh(application: Application) -> None:
    """Load staff answers and synonyms now, then check for changes every REFRESH_SECONDS."""
    await refresh_knowledge(application)
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            _refresh_job, interval=REFRESH_SECONDS, first=REFRESH_SECONDS, name="knowledge"
        )


async def _refresh_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeating job: reload when the database's generation changed (e.g. `citizenbot faq add`)."""
    await refresh_knowledge(context.application)


async def refresh_knowledge(application: Application) -> None:
    """Reload staff answers and synonyms into the search service if they changed; a DB outage only logs."""
    from bot.search.errors import SearchError
    from bot.search.faq import FaqEntry
    from bot.services.errors import ServiceError

    bot_deps: BotDeps = application.bot_data[DEPS_KEY]
    if bot_deps.sessions is None:
        return
    lock = application.bot_data.setdefault(REFRESH_LOCK, asyncio.Lock())
    async with lock:
        known = application.bot_data.get(GENERATION)
        try:
            generation, loaded = await asyncio.to_thread(_load, bot_deps, known)
        except ServiceError as exc:
            log.warning("staff answers and synonyms not reloaded: %s", exc.message)
            return
        if loaded is None:
            return
        entries, rules = loaded
        try:
            await bot_deps.search.set_faq(
                [FaqEntry(e.id, e.question, e.answer, e.source, e.updated_at, e.variants) for e in entries]
            )
        except SearchError as exc:  # the encoder cannot load: documents are still answered
            log.error("staff answers not loaded: %s", exc.message)
            return
        bot_deps.search.set_extra_synonyms([(r.everyday, r.formal) for r in rules])
        application.bot_data[GENERATION] = generation
        log.info("loaded %d staff answers and %d admin synonyms", len(entries), len(rules))


def _load(bot_deps: BotDeps, known: str | None) -> tuple[str, tuple[Sequence[Any], Sequence[Any]] | None]:
    """(generation, (entries, synonyms)) from the database, or (generation, None) when unchanged (thread)."""
    from bot.services import faq, synonyms

    assert bot_deps.sessions is not None
    with bot_deps.sessions() as session:
        generation = faq.knowledge_generation(session=session)
        if generation == known:
            return generation, None
        return generation, (faq.list_entries(session=session), synonyms.list_synonyms(session=session))
