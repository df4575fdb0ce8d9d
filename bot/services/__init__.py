"""Civic services: every rule about residents, consent, feedback, polls, roles and audit lives here.

No Telegram imports. All functions are SYNCHRONOUS and take a keyword-only `session`
(`bot.db.engine.session_scope(engine)`); the bot calls them through `asyncio.to_thread`.
Each write commits its own transaction (all or nothing) and returns frozen dataclasses, never ORM rows.
Errors (bot.services.errors) subclass ServiceError and carry a Vietnamese `.message` to show as is:
InvalidInputError (InvalidTransitionError), NotFoundError, ConsentRequiredError(.purpose),
PollClosedError, PollNotOpenError, OutOfScopeError, ResultsHiddenError, PermissionDeniedError,
DatabaseUnavailableError (database unreachable or locked; nothing written).

Setup (in main): `engine = bot.db.engine.make_engine(settings)`; `ensure_schema(engine)`;
`pseudo = residents.load_pseudonymizer(settings)`; `roles.bootstrap_roles(session=, admin_ids=, officer_ids=)`.
A resident is addressed by `pseudonym = pseudo(telegram_user_id)` (HMAC-SHA256, 64 hex chars).
Writes from a transport pass `idempotency_key` (e.g. "tg:update:<update_id>"): a replay returns the
original result and writes nothing.

residents: Purpose (feedback|polls|notifications), PURPOSE_LABELS; ensure_resident(pseudonym, chat_id,
    language) -> ResidentInfo; get_resident; set_ward(pseudonym, ward) -> WardResult(ward, verified, typed);
    grant_consent(pseudonym, purpose, policy_version, chat_id) / withdraw_consent / has_consent /
    list_consents; forget(pseudonym, actor) -> ErasureReport.
feedback: Category (+ .label, CATEGORY_LABELS, parse_category: code or label), Status (+ .label,
    TRANSITIONS, parse_status); submit_feedback(pseudonym, category, text, idempotency_key, ward=None,
    photo_file_id=None, latitude=None, longitude=None) -> FeedbackView(ticket GY-YYYY-NNNNNN...)
    (ward: given, else the profile's, else None = unknown; text may be None/blank beside a photo or location);
    get_feedback(ticket); feedback_of_resident(pseudonym, ticket); my_feedback(pseudonym);
    list_feedback(filters=FeedbackFilter(date_from, date_to, category, ward, status)); feedback_query(filters)
    (a SELECT to stream); change_status(ticket, status, actor, comment=None, idempotency_key=None) ->
    StatusChangeResult(feedback, notification: Notification(chat_id, text) | None); status_history(ticket).
    With queue=True (the CLI) the notification goes to an outbox instead of being sent by the caller.
notifications: Notification; take_pending_notifications(limit=50) -> list[Notification]: the bot drains
    the outbox every TELEGRAM_OUTBOX_INTERVAL s (bot.telegram.outbox); requeue_notifications(notifications)
    puts back those Telegram could not take (network error, flood limit), except for erased residents;
    erasure drops a resident's queued ones.
polls: Visibility (after_vote|after_close|officers), PollState; create_poll(actor, question, options,
    wards=(), opens_at=None, closes_at=None, visibility) -> PollView; get_poll; list_polls(state=None);
    polls_for_resident(pseudonym); cast_vote(pseudonym, poll_id, option_id, idempotency_key) -> VoteResult;
    withdraw_vote(pseudonym, poll_id, idempotency_key); my_vote(pseudonym, poll_id) -> option id | None;
    close_poll(poll_id, actor); poll_results(poll_id, actor) (officers) and
    results_for_resident(pseudonym, poll_id) (visibility rules) -> PollResults(by_option, by_ward).
roles: Role (admin|officer), Actor(label, role) with .require(...); cli_actor(); actor_for(telegram_id);
    role_of(telegram_id) -> Role | None; bootstrap_roles; grant_role / revoke_role(telegram_id, role, actor);
    list_roles.
audit: AuditAction; record_audit(session, actor, action, target, details) adds to the caller's
    transaction (commit it with your write); list_audit(limit, action).
questions: record_unanswered(text, pseudonym=None) -> count (the asker is linked only with the notifications
    consent; forget_asks(session, resident_id) on erasure); top_unanswered(limit) -> [UnansweredView(text, count, ...)];
    record_rating(text, helpful, idempotency_key) -> RatingView(text, helpful, not_helpful, last_seen)
    (anonymous, per normalised question); top_unhelpful(limit) -> [RatingView] (not_helpful > 0).
faq: pending_questions(actor) -> [PendingQuestion(ref 'u<id>'|'r<id>', text, count, last_seen)] (not yet
    answered); answer_group(actor, refs, answer, source=None, question=None, idempotency_key) -> AnswerResult
    (entry, linked, notified: each consenting asker once, via notifications.queue_notification_text);
    add_entry / remove_entry / list_entries -> FaqView(..., variants); import_csv / export_csv;
    knowledge_generation() (changes whenever staff answers, their links or synonyms change).
synonyms: add_synonym(actor, everyday, formal) / remove_synonym(actor, rule_id) / list_synonyms -> SynonymView.
wards: match_wards(text, limit=5) -> list[WardCandidate(ward, old)] (every current Hà Nội unit the typed
    text may mean: no diacritics, abbreviations, no commas, filler words, one typo; old 3-level addresses
    converted with underthesea's mapping); normalize_ward(text) -> WardResult (the one match, verified;
    else, when none or several match, the input kept as typed with verified=False).

Decisions: a status change notifies the feedback's author whenever a chat id is on file (updates on one's
own feedback are part of the feedback purpose); the `notifications` consent covers unsolicited messages
(new polls). Erasure keeps vote rows on an anonymised resident (random pseudonym) so totals by option and
ward stay correct, and keeps ticket rows (category, ward, status) without text, photo or location.
"""
