"""A fake Telegram Bot API server on 127.0.0.1 for tests and benchmarks.

The real, unmodified python-telegram-bot talks to it through `base_url`/`base_file_url`::

    with FakeBotApi() as fake:
        app = fake.application_builder().build()   # token, base_url, base_file_url set
        ...
        fake.send_text(111, "Xin chào")
        call = await fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == 111)

The server runs in its own thread with its own event loop (tornado). Every request is recorded as a
`Call`; tests inject updates as a user would (`send_text`, `press_button`, ...), served by long
polling (`getUpdates`) or POSTed to the webhook the bot set. Like Telegram, it parses HTML
`parse_mode` (a bad tag or an unescaped `<` is a 400 "can't parse entities"), rejects texts over
4,096 characters and callback data over 64 bytes, and answers "message is not modified".
All public methods are thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

JSON = dict[str, Any]
Predicate = Callable[["Call"], bool]

DEFAULT_TOKEN = "123456789:FAKE-token_for-tests"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_DOWNLOAD = 20 * 1024 * 1024

# Parameters that are strings in the Bot API: never JSON-decoded (a text "123" stays "123").
# fmt: off
_STRING_KEYS = frozenset({
    "text", "caption", "parse_mode", "url", "secret_token", "callback_query_id", "file_id",
    "inline_message_id", "action", "language_code", "title", "description", "short_description", "name",
    "query", "ip_address", "emoji", "question", "explanation", "address", "first_name", "last_name",
    "phone_number", "custom_title", "business_connection_id", "document", "photo", "voice", "audio",
    "video", "animation", "sticker", "thumbnail", "certificate",
})
# fmt: on
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_ERRORS: dict[str, tuple[int, str]] = {
    "retry_after": (429, "Too Many Requests: retry after {retry_after}"),
    "server_error": (500, "Internal Server Error"),
    "bad_request": (400, _NOT_MODIFIED),
    "forbidden": (403, "Forbidden: bot was blocked by the user"),
}
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# fmt: off
_TRIVIAL_TRUE = frozenset({
    "sendChatAction", "close", "logOut", "setChatMenuButton", "setMyDescription", "setMyShortDescription",
    "setMyName", "setMyDefaultAdministratorRights", "leaveChat", "pinChatMessage", "unpinChatMessage",
})
# fmt: on


class ApiError(Exception):
    """A Telegram-shaped error answer (HTTP status, description, optional parameters)."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        """The JSON body Telegram sends with this error."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class _Abandoned(Exception):
    """The client of a long poll hung up."""


@dataclass(frozen=True)
class UploadedFile:
    """A file the bot uploaded in a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    """One Bot API request and its answer: `index` in answer order, `time` (monotonic) of arrival."""

    index: int
    method: str
    params: JSON
    files: dict[str, UploadedFile]
    time: float
    status: int = 0
    response: Any = None

    @property
    def text(self) -> str:
        """The `text` (or `caption`) parameter as sent, markup included ('' when absent)."""
        return str(self.params.get("text", self.params.get("caption", "")))

    @property
    def chat_id(self) -> int | None:
        """The `chat_id` parameter as an int (None when absent or a @username)."""
        value = self.params.get("chat_id")
        return int(str(value)) if str(value).lstrip("-").isdigit() else None

    @property
    def result(self) -> Any:
        """The `result` of a successful answer (a Message dict for sends and edits), else None."""
        return self.response.get("result") if isinstance(self.response, dict) else None


@dataclass(frozen=True)
class Delivery:
    """One attempt to POST an update to the bot's webhook."""

    update_id: int
    attempt: int
    status: int
    secret_token: str | None
    time: float


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    path: str
    data: bytes


@dataclass
class _State:
    """Everything the server remembers; guarded by `FakeBotApi._lock`."""

    calls: list[Call] = field(default_factory=list)
    consumed: set[int] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    pending: list[JSON] = field(default_factory=list)
    history: list[JSON] = field(default_factory=list)
    queued_at: dict[int, float] = field(default_factory=dict)
    served: set[int] = field(default_factory=set)
    confirmed_upto: int = 0
    messages: dict[tuple[int, int], JSON] = field(default_factory=dict)
    bot_order: dict[int, list[int]] = field(default_factory=dict)
    deleted: set[tuple[int, int]] = field(default_factory=set)
    next_message_id: dict[int, int] = field(default_factory=dict)
    chats: dict[int, JSON] = field(default_factory=dict)
    keyboards: dict[int, JSON | None] = field(default_factory=dict)
    callback_ids: dict[str, bool] = field(default_factory=dict)
    files: dict[str, _StoredFile] = field(default_factory=dict)
    commands: dict[tuple[str, str], list[JSON]] = field(default_factory=dict)
    faults: dict[str, list[ApiError]] = field(default_factory=dict)
    webhook: JSON | None = None
    webhook_route: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    poll_generation: int = 0


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# --- HTML parse mode ------------------------------------------------------------------------

_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)>")
_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))""")
_HTML_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _unescape(name: str) -> str:
    """Decode one HTML entity name (without & and ;)."""
    if name in _NAMED:
        return _NAMED[name]
    return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))


def _open_entity(tag: str, attrs: str, offset: int) -> JSON:
    """Start an entity for an opening tag (length filled in at the end tag)."""
    values = {m[1].lower(): m[2] or m[3] or m[4] or "" for m in _ATTR_RE.finditer(attrs)}
    entity: JSON = {"type": _HTML_TYPES[tag], "offset": offset}
    if tag == "a":
        entity["url"] = values.get("href", "")
    if tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    if tag == "tg-emoji":
        entity["custom_emoji_id"] = values.get("emoji-id", "")
    if tag == "code" and values.get("class", "").startswith("language-"):
        entity["language"] = values["class"][len("language-") :]
    return entity


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Telegram's HTML parse mode: plain text and entities; ApiError(400) on malformed markup."""
    out: list[str] = []
    offset = 0
    stack: list[tuple[str, JSON]] = []
    entities: list[JSON] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "<":
            match = _TAG_RE.match(source, i)
            tag = match[2].lower() if match else ""
            if not match or tag not in _HTML_TYPES:
                where = len(source[:i].encode())
                raise ApiError(
                    400,
                    f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}" '
                    f"at byte offset {where}",
                )
            if match[1]:
                _close_tag(stack, entities, tag, offset, len(source[:i].encode()))
            else:
                stack.append((tag, _open_entity(tag, match[3], offset)))
            i = match.end()
            continue
        if char == "&" and (entity_match := _ENTITY_RE.match(source, i)):
            piece = _unescape(entity_match[1])
            i = entity_match.end()
        else:
            piece = char
            i += 1
        out.append(piece)
        offset += _utf16_len(piece)
    if stack:
        raise ApiError(
            400,
            "Bad Request: can't parse entities: Can't find end tag corresponding to "
            f'start tag "{stack[-1][0]}"',
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_tag(
    stack: list[tuple[str, JSON]], entities: list[JSON], tag: str, offset: int, where: int
) -> None:
    """Close the innermost open tag, which must be `tag`."""
    if not stack or stack[-1][0] != tag:
        expected = f'"</{stack[-1][0]}>"' if stack else "no end tag"
        raise ApiError(
            400,
            f"Bad Request: can't parse entities: Unmatched end tag at byte offset {where}, "
            f'expected {expected}, found "</{tag}>"',
        )
    _, entity = stack.pop()
    entity["length"] = offset - entity["offset"]
    if entity["type"] == "code" and stack and stack[-1][0] == "pre":
        if "language" in entity:
            stack[-1][1]["language"] = entity["language"]
        return
    if entity["type"] == "code":
        entity.pop("language", None)
    if entity["length"] > 0 and not (entity["type"] == "text_link" and not entity.get("url")):
        entities.append(entity)


# --- request decoding -----------------------------------------------------------------------


def _decode_value(key: str, raw: str) -> Any:
    """A form field as the Bot API means it: JSON for numbers, booleans, objects; strings as-is."""
    if key in _STRING_KEYS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _decode_request(request: tornado.httputil.HTTPServerRequest) -> tuple[JSON, dict[str, UploadedFile]]:
    """Parameters (query, form, multipart or JSON body) and uploaded files of a request."""
    params: JSON = {}
    for key, values in request.query_arguments.items():
        params[key] = _decode_value(key, values[-1].decode())
    if request.headers.get("Content-Type", "").startswith("application/json") and request.body:
        params.update(json.loads(request.body))
    else:
        for key, values in request.body_arguments.items():
            params[key] = _decode_value(key, values[-1].decode())
    files = {
        key: UploadedFile(key, item[-1].filename, item[-1].content_type, bytes(item[-1].body))
        for key, item in request.files.items()
    }
    return params, files


class _MethodHandler(tornado.web.RequestHandler):
    """POST/GET /bot<token>/<method>."""

    def initialize(self, api: FakeBotApi) -> None:
        self.api = api
        self.gone = asyncio.Event()

    def on_connection_close(self) -> None:
        """The client hung up (e.g. a bot cancelled its long poll while stopping)."""
        self.gone.set()
        self.api._wake()

    async def post(self, token: str, method: str) -> None:
        params, files = _decode_request(self.request)
        status, body = await self.api._handle(token, method, params, files, self.gone)
        if self.gone.is_set():
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))

    get = post

    def check_xsrf_cookie(self) -> None:
        """The Bot API has no XSRF protection."""


class _FileHandler(tornado.web.RequestHandler):
    """GET /file/bot<token>/<file_path>."""

    def initialize(self, api: FakeBotApi) -> None:
        self.api = api

    def get(self, token: str, path: str) -> None:
        data = self.api._file_bytes(token, path)
        if data is None:
            self.set_status(404)
            self.finish(json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}))
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(data)


class FakeBotApi:
    """The fake Bot API server. Use as a context manager, or call `start()` and `stop()`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "hanoi_citizen_test_bot",
        bot_first_name: str = "Trợ lý Hà Nội",
        webhook_max_attempts: int = 3,
        webhook_retry_delay: float = 0.2,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self.port = 0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._state = _State()
        self._listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._updates_event: asyncio.Event | None = None
        self._closing = False

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)`: PTB appends the token and the method."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For `ApplicationBuilder().base_file_url(...)`."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    def env(self) -> dict[str, str]:
        """Environment variables that point the real bot (Settings) at this server."""
        return {
            "TELEGRAM_BOT_TOKEN": self.token,
            "TELEGRAM_API_BASE_URL": self.base_url,
            "TELEGRAM_API_BASE_FILE_URL": self.base_file_url,
        }

    def application_builder(self) -> Any:
        """A PTB `ApplicationBuilder` with token, base_url and base_file_url set to this server."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder().token(self.token).base_url(self.base_url).base_file_url(self.base_file_url)
        )

    def start(self) -> FakeBotApi:
        """Start serving on a free port of 127.0.0.1 in a background thread."""
        if self._thread is not None:
            raise RuntimeError("FakeBotApi already started")
        self._ready = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="fake-bot-api", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("FakeBotApi did not start")
        return self

    def stop(self) -> None:
        """Release waiting long polls, close the server and join its thread."""
        if self._thread is None or self._loop is None:
            return
        self._closing = True
        stopping = self._stopping
        if stopping is not None:
            self._loop.call_soon_threadsafe(stopping.set)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        """Thread body: own event loop, tornado server, webhook delivery task."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        """Serve until `stop()`."""
        self._stopping = asyncio.Event()
        self._updates_event = asyncio.Event()
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port = sockets[0].getsockname()[1]
        app = tornado.web.Application(
            [
                (r"/bot([^/]+)/([A-Za-z]+)", _MethodHandler, {"api": self}),
                (r"/file/bot([^/]+)/(.+)", _FileHandler, {"api": self}),
            ],
            log_function=_no_access_log,
        )
        server = tornado.httpserver.HTTPServer(app, max_body_size=64 * 1024 * 1024)
        server.add_sockets(sockets)
        delivery = asyncio.create_task(self._deliver_forever())
        self._ready.set()
        await self._stopping.wait()
        self._wake()
        server.stop()
        delivery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivery
        await asyncio.sleep(0.05)
        await server.close_all_connections()

    # --- notification between threads -----------------------------------------------------

    def _wake(self) -> None:
        """On the server loop: wake long polls and the webhook deliverer."""
        old = self._updates_event
        self._updates_event = asyncio.Event()
        if old is not None:
            old.set()

    def _notify_updates(self) -> None:
        """From any thread: new updates are pending (or the webhook changed)."""
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake)

    def _notify_calls(self) -> None:
        """Under the lock: a call was recorded; wake sync and async waiters."""
        self._changed.notify_all()
        for loop, event in list(self._listeners):
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    # --- recorded calls --------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls in the order they were answered, optionally of one method."""
        with self._lock:
            return [c for c in self._state.calls if method is None or c.method == method]

    def last_index(self) -> int:
        """The index of the latest recorded call (-1 when none): wait for calls after it."""
        with self._lock:
            return len(self._state.calls) - 1

    @property
    def warnings(self) -> list[str]:
        """Warnings such as unknown methods or undeliverable webhooks."""
        with self._lock:
            return list(self._state.warnings)

    def deliveries(self) -> list[Delivery]:
        """Webhook delivery attempts, oldest first."""
        with self._lock:
            return list(self._state.deliveries)

    def _take(self, match: Predicate, cursor: list[int]) -> Call | None:
        """Under the lock: the oldest matching call no wait took yet, from cursor[0] on; now taken.

        Calls are recorded once answered and never change, so each wait scans each call once.
        """
        calls = self._state.calls
        while cursor[0] < len(calls):
            call = calls[cursor[0]]
            cursor[0] += 1
            if call.index not in self._state.consumed and match(call):
                self._state.consumed.add(call.index)
                return call
        return None

    def _timeout_error(self, method: str, timeout: float) -> TimeoutError:
        """A readable failure listing what the bot did call."""
        seen = [f"{c.method}({c.params.get('chat_id', '')}): {c.text[:60]!r}" for c in self.calls()[-15:]]
        return TimeoutError(f"no {method} call within {timeout}s; last calls: {seen}")

    async def _wait(self, match: Predicate, what: str, timeout: float) -> Call:  # noqa: ASYNC109
        """Wait for an answered call matching `match` that no earlier wait returned; take it."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        listener = (loop, event)
        deadline = loop.time() + timeout
        cursor = [0]
        with self._lock:
            self._listeners.add(listener)
        try:
            while True:
                event.clear()
                with self._lock:
                    call = self._take(match, cursor)
                if call is not None:
                    return call
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise self._timeout_error(what, timeout)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            with self._lock:
                self._listeners.discard(listener)

    async def wait_for(self, method: str, predicate: Predicate | None = None, timeout: float = 10.0) -> Call:  # noqa: ASYNC109
        """Wait for a `method` call (matching `predicate`) that no earlier wait returned; return it.

        Each call is returned at most once, so successive waits walk through the replies in order.
        """
        return await self._wait(_matcher(method, predicate), method, timeout)

    def wait_for_sync(self, method: str, predicate: Predicate | None = None, timeout: float = 10.0) -> Call:
        """Blocking variant of `wait_for` for code outside an event loop."""
        match = _matcher(method, predicate)
        deadline = time.monotonic() + timeout
        cursor = [0]
        with self._changed:
            while True:
                call = self._take(match, cursor)
                if call is not None:
                    return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timeout_error(method, timeout)
                self._changed.wait(remaining)

    async def wait_for_reply(self, chat_id: int, timeout: float = 10.0) -> Call:  # noqa: ASYNC109
        """The next successful sendMessage/sendDocument/sendPhoto/editMessage* to `chat_id`."""

        def match(call: Call) -> bool:
            return (
                call.method in _REPLY_METHODS
                and call.status == 200
                and _same_chat(call.params.get("chat_id"), chat_id)
            )

        return await self._wait(match, f"reply to {chat_id}", timeout)

    # --- what the user sees ---------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[str]:
        """The texts of the bot's messages in a chat, in order, as the user sees them now.

        HTML is rendered to plain text, edits are applied, deleted messages are left out;
        a document or photo appears as its caption, or `[document: name]` / `[photo]`.
        """
        with self._lock:
            ids = self._state.bot_order.get(chat_id, [])
            return [
                _visible_text(self._state.messages[(chat_id, mid)])
                for mid in ids
                if (chat_id, mid) not in self._state.deleted
            ]

    def bot_messages(self, chat_id: int) -> list[JSON]:
        """The bot's messages in a chat (Telegram Message objects, current state), in order."""
        with self._lock:
            ids = self._state.bot_order.get(chat_id, [])
            return [
                copy.deepcopy(self._state.messages[(chat_id, mid)])
                for mid in ids
                if (chat_id, mid) not in self._state.deleted
            ]

    def last_message(self, chat_id: int) -> JSON | None:
        """The bot's latest (not deleted) message in a chat, or None."""
        messages = self.bot_messages(chat_id)
        return messages[-1] if messages else None

    def reply_keyboard(self, chat_id: int) -> JSON | None:
        """The reply keyboard the bot currently shows in a chat (None when removed or never set)."""
        with self._lock:
            return copy.deepcopy(self._state.keyboards.get(chat_id))

    @staticmethod
    def buttons(message: JSON) -> list[tuple[str, str | None]]:
        """(text, callback_data) of every inline button of a message, row by row."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data")) for row in rows for b in row]

    def documents_to(self, chat_id: int) -> list[UploadedFile]:
        """Files the bot uploaded to a chat (sendDocument/sendPhoto), in order."""
        with self._lock:
            return [
                f
                for c in self._state.calls
                if c.status == 200 and _same_chat(c.params.get("chat_id"), chat_id)
                for f in c.files.values()
            ]

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[str]:
        """Command names set with setMyCommands for a scope (default scope when None)."""
        key = (_scope_key(scope), language_code)
        with self._lock:
            return [c["command"] for c in self._state.commands.get(key, [])]

    def register_file(self, data: bytes, *, kind: str = "documents", name: str = "file") -> str:
        """Store bytes so getFile and a download under base_file_url serve them; return file_id."""
        with self._lock:
            n = next(self._ids)
            file_id = f"BQACAgIAAxkBAAI{n:06d}fake"
            path = f"{kind}/file_{n}_{name}"
            self._state.files[file_id] = _StoredFile(file_id, f"AgAD{n:06d}", path, data)
            return file_id

    def _file_bytes(self, token: str, path: str) -> bytes | None:
        """Bytes of a stored file by path, for the download handler."""
        if token != self.token:
            return None
        with self._lock:
            for stored in self._state.files.values():
                if stored.path == path:
                    return stored.data
        return None

    # --- fault injection and reset ----------------------------------------------------------

    def fail_next(
        self,
        method: str,
        times: int = 1,
        kind: str = "retry_after",
        *,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with a Telegram error.

        kind: "retry_after" (429 with parameters.retry_after), "server_error" (500),
        "bad_request" (400, "message is not modified" unless `description`), "forbidden" (403).
        """
        status, template = _ERRORS[kind]
        text = description or template.format(retry_after=retry_after)
        params = {"retry_after": retry_after} if kind == "retry_after" else None
        with self._lock:
            self._state.faults.setdefault(method, []).extend(
                ApiError(status, text, params) for _ in range(times)
            )

    def reset(self) -> None:
        """Forget calls, updates, messages, faults, warnings and deliveries.

        What the bot configured (webhook, commands, files) and the running long poll are kept.
        """
        with self._lock:
            old = self._state
            self._state = _State(
                files=old.files,
                commands=old.commands,
                webhook=old.webhook,
                webhook_route=old.webhook_route,
                poll_generation=old.poll_generation,
            )
        self._notify_updates()

    # --- webhook --------------------------------------------------------------------------

    def route_webhook_to(self, url: str | None) -> None:
        """Deliver webhook updates to this loopback URL, like a reverse proxy in front of the bot."""
        if url is not None:
            _require_loopback(url)
        with self._lock:
            self._state.webhook_route = url
        self._notify_updates()

    @property
    def webhook(self) -> JSON | None:
        """The parameters of the last setWebhook (None when polling)."""
        with self._lock:
            return copy.deepcopy(self._state.webhook)

    def post_to_webhook(self, update: JSON, secret_token: str | None = None, timeout: float = 10.0) -> int:
        """POST an update to the current webhook target with any secret; return the HTTP status."""
        target = self._webhook_target()
        if target is None:
            raise RuntimeError("no webhook set (or it is not on 127.0.0.1: use route_webhook_to)")
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        client = tornado.httpclient.HTTPClient()
        try:
            response = client.fetch(
                target,
                method="POST",
                body=json.dumps(update),
                headers=headers,
                raise_error=False,
                request_timeout=timeout,
            )
        finally:
            client.close()
        return response.code

    def _webhook_target(self) -> str | None:
        """Where deliveries go: the route set by the test, else the webhook URL if on loopback."""
        with self._lock:
            hook = self._state.webhook
            if hook is None:
                return None
            if self._state.webhook_route:
                return self._state.webhook_route
            url = str(hook["url"])
        host = urlsplit(url).hostname
        return url if host in {"127.0.0.1", "localhost"} else None

    async def _deliver_forever(self) -> None:
        """Server loop task: POST pending updates, in order, to the webhook while one is set."""
        client = tornado.httpclient.AsyncHTTPClient()
        while True:
            event = self._updates_event
            target = self._webhook_target()
            with self._lock:
                update = self._state.pending[0] if target and self._state.pending else None
                secret = (self._state.webhook or {}).get("secret_token")
            if update is None or target is None:
                if event is not None:
                    await event.wait()
                continue
            await self._deliver(client, target, update, secret)

    async def _deliver(
        self, client: tornado.httpclient.AsyncHTTPClient, target: str, update: JSON, secret: str | None
    ) -> None:
        """Deliver one update, retrying non-2xx answers a bounded number of times."""
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        for attempt in range(1, self.webhook_max_attempts + 1):
            try:
                response = await client.fetch(
                    target,
                    method="POST",
                    body=json.dumps(update),
                    headers=headers,
                    raise_error=False,
                    request_timeout=10,
                )
                status = response.code
            except OSError:
                status = 599
            with self._lock:
                self._state.deliveries.append(
                    Delivery(update["update_id"], attempt, status, secret, time.monotonic())
                )
                self._notify_calls()
            if 200 <= status < 300:
                break
            await asyncio.sleep(self.webhook_retry_delay * attempt)
        else:
            with self._lock:
                self._state.warnings.append(f"webhook gave up on update {update['update_id']}")
        with self._lock:
            self._state.served.add(update["update_id"])
            self._drop_upto(update["update_id"] + 1)

    # --- injecting updates ----------------------------------------------------------------

    def _user(self, user_id: int, first_name: str | None = None, username: str | None = None) -> JSON:
        """A Telegram User object for a (human) resident."""
        user: JSON = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or f"Cư dân {user_id}",
            "language_code": "vi",
        }
        if username:
            user["username"] = username
        return user

    def bot_user(self) -> JSON:
        """The bot's own User object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _chat(self, user_id: int, chat_id: int | None, chat_type: str, first_name: str | None) -> JSON:
        """The Chat object of an injected message (remembered for the bot's replies)."""
        if chat_type == "private":
            chat: JSON = {
                "id": user_id if chat_id is None else chat_id,
                "type": "private",
                "first_name": first_name or f"Cư dân {user_id}",
            }
        else:
            chat = {
                "id": chat_id if chat_id is not None else -1000000000000 - user_id,
                "type": chat_type,
                "title": "Nhóm cư dân phường",
            }
        with self._lock:
            self._state.chats[chat["id"]] = chat
        return chat

    def _new_message_id(self, chat_id: int) -> int:
        """Under the lock: message ids increase per chat (user and bot messages share them)."""
        n = self._state.next_message_id.get(chat_id, 1)
        self._state.next_message_id[chat_id] = n + 1
        return n

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        chat_type: str,
        first_name: str | None,
        username: str | None = None,
        **content: Any,
    ) -> JSON:
        """A Message from a user, stored, with `content` (text, photo, ...) merged in."""
        chat = self._chat(user_id, chat_id, chat_type, first_name)
        with self._lock:
            message: JSON = {
                "message_id": self._new_message_id(chat["id"]),
                "from": self._user(user_id, first_name, username),
                "chat": chat,
                "date": int(time.time()),
            }
            message.update({k: v for k, v in content.items() if v is not None})
            self._state.messages[(chat["id"], message["message_id"])] = message
        return message

    def queue_update(self, payload: JSON) -> int:
        """Queue a raw update body (without update_id); return its new update id."""
        with self._lock:
            update_id = next(self._update_ids)
            update = {"update_id": update_id, **copy.deepcopy(payload)}
            self._state.pending.append(update)
            self._state.history.append(update)
            self._state.queued_at[update_id] = time.monotonic()
        self._notify_updates()
        return update_id

    def text_entities(self, text: str) -> list[JSON]:
        """bot_command entity for a leading /command, mention entities for @usernames."""
        entities: list[JSON] = []
        for match in re.finditer(
            r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?|@[A-Za-z0-9_]{5,32}", text
        ):
            kind = "bot_command" if match[0].startswith("/") else "mention"
            if kind == "bot_command" and match.start() != 0:
                continue
            entities.append(
                {"type": kind, "offset": _utf16_len(text[: match.start()]), "length": _utf16_len(match[0])}
            )
        return entities

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str | None = None,
        entities: list[JSON] | None = None,
        reply_to: JSON | None = None,
        username: str | None = None,
    ) -> int:
        """A user types `text` (commands and @mentions get their entities); return the update id."""
        found = self.text_entities(text) if entities is None else entities
        message = self._user_message(
            user_id,
            chat_id,
            chat_type,
            first_name,
            username,
            text=text,
            entities=found or None,
            reply_to_message=reply_to,
        )
        return self.queue_update({"message": message})

    def send_command(self, user_id: int, command: str, args: str = "", **kwargs: Any) -> int:
        """A user sends `/command args` (command given with or without the slash)."""
        text = "/" + command.lstrip("/") + (f" {args}" if args else "")
        return self.send_text(user_id, text, **kwargs)

    def mention_bot(self, user_id: int, text: str, *, chat_id: int, chat_type: str = "supergroup") -> int:
        """In a group, a user writes `@bot text`."""
        return self.send_text(user_id, f"@{self.bot_username} {text}", chat_id=chat_id, chat_type=chat_type)

    def press_button(
        self, user_id: int, message: JSON | int, data: str, *, chat_id: int | None = None
    ) -> int:
        """A user presses an inline button with `data` under a bot message (dict or message id)."""
        if isinstance(message, int):
            key = (chat_id if chat_id is not None else user_id, message)
            with self._lock:
                if key not in self._state.messages:
                    raise KeyError(f"no message {key[1]} in chat {key[0]}")
                message = copy.deepcopy(self._state.messages[key])
        with self._lock:
            query_id = f"{next(self._ids)}{user_id}"
            self._state.callback_ids[query_id] = False
        query = {
            "id": query_id,
            "from": self._user(user_id),
            "message": message,
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
        }
        return self.queue_update({"callback_query": query})

    def press_button_text(self, user_id: int, message: JSON, text: str) -> int:
        """Press the inline button labelled `text` (exact match) under a bot message."""
        for label, data in self.buttons(message):
            if label == text and data is not None:
                return self.press_button(user_id, message, data)
        raise KeyError(f"no button {text!r} in {self.buttons(message)}")

    def send_photo(
        self,
        user_id: int,
        caption: str | None = None,
        *,
        data: bytes = b"\xff\xd8fake-jpeg",
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> int:
        """A user sends a photo (three sizes, bytes downloadable) with an optional caption."""
        sizes = []
        for width in (90, 320, 1280):
            file_id = self.register_file(data, kind="photos", name=f"{width}.jpg")
            with self._lock:
                unique = self._state.files[file_id].file_unique_id
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": unique,
                    "width": width,
                    "height": width * 3 // 4,
                    "file_size": len(data),
                }
            )
        return self.queue_update(
            {"message": self._user_message(user_id, chat_id, chat_type, None, photo=sizes, caption=caption)}
        )

    def send_location(
        self,
        user_id: int,
        latitude: float = 21.0285,
        longitude: float = 105.8542,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> int:
        """A user shares a location (default: Hoàn Kiếm lake)."""
        location = {"latitude": latitude, "longitude": longitude}
        return self.queue_update(
            {"message": self._user_message(user_id, chat_id, chat_type, None, location=location)}
        )

    def send_document(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        mime_type: str = "application/octet-stream",
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> int:
        """A user sends a file; its bytes are served by getFile and the file URL."""
        file_id = self.register_file(data, kind="documents", name=file_name)
        with self._lock:
            unique = self._state.files[file_id].file_unique_id
        document = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        return self.queue_update(
            {
                "message": self._user_message(
                    user_id, chat_id, chat_type, None, document=document, caption=caption
                )
            }
        )

    def send_sticker(self, user_id: int, emoji: str = "😀", *, chat_id: int | None = None) -> int:
        """A user sends a sticker."""
        file_id = self.register_file(b"RIFFwebp", kind="stickers", name="s.webp")
        sticker = {
            "file_id": file_id,
            "file_unique_id": f"st{file_id[-10:]}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self.queue_update(
            {"message": self._user_message(user_id, chat_id, "private", None, sticker=sticker)}
        )

    def send_voice(
        self, user_id: int, duration: int = 3, *, data: bytes = b"OggSfake", chat_id: int | None = None
    ) -> int:
        """A user sends a voice message."""
        file_id = self.register_file(data, kind="voice", name="v.oga")
        voice = {
            "file_id": file_id,
            "file_unique_id": f"vo{file_id[-10:]}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        return self.queue_update(
            {"message": self._user_message(user_id, chat_id, "private", None, voice=voice)}
        )

    def send_video_note(self, user_id: int, data: bytes, duration: int = 3, *, chat_id: int | None = None) -> int:
        """A user sends a round video message (MP4; the bot may download its bytes)."""
        file_id = self.register_file(data, kind="video_notes", name="v.mp4")
        note = {
            "file_id": file_id,
            "file_unique_id": f"vn{file_id[-10:]}",
            "length": 240,
            "duration": duration,
            "file_size": len(data),
        }
        return self.queue_update(
            {"message": self._user_message(user_id, chat_id, "private", None, video_note=note)}
        )

    def edit_message(self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None) -> int:
        """A user edits one of their earlier text messages (an `edited_message` update)."""
        key = (chat_id if chat_id is not None else user_id, message_id)
        with self._lock:
            if key not in self._state.messages:
                raise KeyError(f"no message {message_id} in chat {key[0]}")
            message = self._state.messages[key]
            message.update(text=text, edit_date=int(time.time()))
            entities = self.text_entities(text)
            message.pop("entities", None)
            if entities:
                message["entities"] = entities
            edited = copy.deepcopy(message)
        return self.queue_update({"edited_message": edited})

    def forward_text(
        self, user_id: int, text: str, *, from_user_id: int = 999, chat_id: int | None = None
    ) -> int:
        """A user forwards someone else's text message to the bot."""
        origin = {"type": "user", "date": int(time.time()) - 60, "sender_user": self._user(from_user_id)}
        return self.queue_update(
            {
                "message": self._user_message(
                    user_id, chat_id, "private", None, text=text, forward_origin=origin
                )
            }
        )

    def user_message_id(self, update_id: int) -> int:
        """The message id of the message carried by an injected update."""
        with self._lock:
            for update in self._state.history:
                if update["update_id"] == update_id:
                    body = update.get("message") or update.get("edited_message") or {}
                    return int(body["message_id"])
        raise KeyError(f"no message update {update_id}")

    def update(self, update_id: int) -> JSON:
        """An injected update as it was queued (e.g. to read a callback query's id)."""
        with self._lock:
            for update in self._state.history:
                if update["update_id"] == update_id:
                    return copy.deepcopy(update)
        raise KeyError(f"no update {update_id}")

    def queued_at(self, update_id: int) -> float:
        """time.monotonic() when an update was queued (for latency measurements)."""
        with self._lock:
            return self._state.queued_at[update_id]

    def pending_updates(self) -> int:
        """Updates queued but not yet confirmed by the bot (getUpdates offset) or delivered."""
        with self._lock:
            return len(self._state.pending)

    def _drop_upto(self, offset: int) -> None:
        """Under the lock: confirm (forget) every update with an id below `offset`."""
        self._state.confirmed_upto = max(self._state.confirmed_upto, offset)
        self._state.pending = [u for u in self._state.pending if u["update_id"] >= offset]

    # --- request handling -----------------------------------------------------------------

    async def _handle(
        self, token: str, method: str, params: JSON, files: dict[str, UploadedFile], gone: asyncio.Event
    ) -> tuple[int, JSON]:
        """Record a call, apply faults, dispatch; return (HTTP status, JSON body).

        A long poll whose client hung up is not recorded (nothing was delivered by it).
        """
        call = Call(-1, method, params, files, time.monotonic())
        with self._lock:
            faults = self._state.faults.get(method)
            fault = faults.pop(0) if faults else None
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if fault is not None:
                raise fault
            result = await self._dispatch(method, params, files, gone)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as err:
            status, body = err.status, err.payload()
        except _Abandoned:
            return 499, {}
        with self._lock:
            call.status, call.response = status, body
            call.index = len(self._state.calls)
            self._state.calls.append(call)
            self._notify_calls()
        return status, body

    async def _dispatch(
        self, method: str, params: JSON, files: dict[str, UploadedFile], gone: asyncio.Event
    ) -> Any:
        """Answer one method like Telegram would."""
        if method == "getUpdates":
            return await self._get_updates(params, gone)
        handler = _SYNC_METHODS.get(method)
        if handler is not None:
            with self._lock:
                return handler(self, params, files)
        if method not in _TRIVIAL_TRUE:
            with self._lock:
                self._state.warnings.append(f"unknown method {method}")
        return True

    async def _get_updates(self, params: JSON, gone: asyncio.Event) -> list[JSON]:
        """Long polling with Telegram's offset, limit, timeout and allowed_updates semantics."""
        with self._lock:
            if self._state.webhook is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._state.poll_generation += 1
            generation = self._state.poll_generation
        self._wake()  # an older long poll now ends with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while True:
            event = self._updates_event
            if gone.is_set():
                raise _Abandoned
            with self._lock:
                if self._state.poll_generation != generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                ready = self._ready_updates(params)
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing or event is None:
                return ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _ready_updates(self, params: JSON) -> list[JSON]:
        """Under the lock: confirm below `offset`, then the next updates (up to `limit`)."""
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        if offset > 0:
            self._drop_upto(offset)
        pending = self._state.pending
        if offset < 0:
            pending = pending[offset:]
        allowed = params.get("allowed_updates") or []
        if allowed:
            kept = [u for u in pending if _update_type(u) in allowed]
            skipped = [u["update_id"] for u in pending if _update_type(u) not in allowed]
            self._state.pending = [u for u in self._state.pending if u["update_id"] not in skipped]
            pending = kept
        batch = copy.deepcopy(pending[:limit])
        self._state.served.update(u["update_id"] for u in batch)
        return batch

    # --- sync method implementations (called under the lock) ---------------------------------

    def _chat_for(self, chat_id: Any) -> JSON:
        """The Chat object for a chat id the bot sends to."""
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit():
            raise ApiError(400, "Bad Request: chat not found")
        numeric = int(chat_id)
        return copy.deepcopy(
            self._state.chats.get(numeric)
            or {"id": numeric, "type": "private", "first_name": f"Cư dân {numeric}"}
        )

    def _rendered(self, params: JSON, key: str, limit: int) -> tuple[str, list[JSON]]:
        """Text/caption of a request as Telegram renders it: (plain text, entities)."""
        source = params.get(key)
        if source is None:
            return "", []
        source = str(source)
        mode = str(params.get("parse_mode") or "").lower()
        if mode == "html":
            text, entities = parse_html(source)
        else:
            text, entities = (
                source,
                list(params.get("entities" if key == "text" else "caption_entities") or []),
            )
        if _utf16_len(text.strip()) == 0 and key == "text":
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > limit:
            raise ApiError(
                400,
                "Bad Request: message caption is too long"
                if key == "caption"
                else "Bad Request: message is too long",
            )
        return text, entities

    def _markup(self, params: JSON, chat_id: int) -> JSON | None:
        """Validate reply_markup; remember reply keyboards; return an inline keyboard for the Message."""
        markup = params.get("reply_markup")
        if not isinstance(markup, dict):
            return None
        if "inline_keyboard" in markup:
            for row in markup["inline_keyboard"]:
                for button in row:
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                    if not str(button.get("text", "")).strip():
                        raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            return markup
        if "keyboard" in markup:
            self._state.keyboards[chat_id] = markup
        elif markup.get("remove_keyboard"):
            self._state.keyboards[chat_id] = None
        return None

    def _store_bot_message(self, chat_id: Any, params: JSON, **content: Any) -> JSON:
        """Create, store and return a bot Message in a chat."""
        chat = self._chat_for(chat_id)
        inline = self._markup(params, chat["id"])
        message: JSON = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self.bot_user(),
            "chat": chat,
            "date": int(time.time()),
        }
        message.update({k: v for k, v in content.items() if v not in (None, [], "")})
        if inline is not None:
            message["reply_markup"] = inline
        reply_to = params.get("reply_to_message_id") or (params.get("reply_parameters") or {}).get(
            "message_id"
        )
        if reply_to and (chat["id"], int(reply_to)) in self._state.messages:
            message["reply_to_message"] = copy.deepcopy(self._state.messages[(chat["id"], int(reply_to))])
        self._state.messages[(chat["id"], message["message_id"])] = message
        self._state.bot_order.setdefault(chat["id"], []).append(message["message_id"])
        return copy.deepcopy(message)

    def _m_get_me(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_send_message(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        text, entities = self._rendered(params, "text", MAX_TEXT)
        return self._store_bot_message(params.get("chat_id"), params, text=text, entities=entities)

    def _bot_message(self, params: JSON) -> tuple[tuple[int, int], JSON]:
        """The stored bot message an edit/delete refers to."""
        chat = self._chat_for(params.get("chat_id"))
        key = (chat["id"], int(params.get("message_id") or 0))
        if key not in self._state.messages or key in self._state.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        message = self._state.messages[key]
        if message["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return key, message

    def _apply_edit(self, message: JSON, changes: JSON, params: JSON) -> JSON:
        """Apply an edit (raising 'not modified' when nothing changes); return the new Message."""
        inline = self._markup(params, message["chat"]["id"])
        changes["reply_markup"] = inline
        current = {k: message.get(k) or None for k in changes}
        if current == {k: v or None for k, v in changes.items()}:
            raise ApiError(400, _NOT_MODIFIED)
        for key, value in changes.items():
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _m_edit_message_text(self, params: JSON, files: dict[str, UploadedFile]) -> JSON | bool:
        text, entities = self._rendered(params, "text", MAX_TEXT)
        if params.get("inline_message_id"):
            return True
        _, message = self._bot_message(params)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._apply_edit(message, {"text": text, "entities": entities}, params)

    def _m_edit_message_caption(self, params: JSON, files: dict[str, UploadedFile]) -> JSON | bool:
        caption, entities = self._rendered(params, "caption", MAX_CAPTION)
        if params.get("inline_message_id"):
            return True
        _, message = self._bot_message(params)
        return self._apply_edit(message, {"caption": caption, "caption_entities": entities}, params)

    def _m_edit_message_reply_markup(self, params: JSON, files: dict[str, UploadedFile]) -> JSON | bool:
        if params.get("inline_message_id"):
            return True
        _, message = self._bot_message(params)
        return self._apply_edit(message, {}, params)

    def _m_delete_message(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        chat = self._chat_for(params.get("chat_id"))
        key = (chat["id"], int(params.get("message_id") or 0))
        if key not in self._state.messages or key in self._state.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        self._state.deleted.add(key)
        return True

    def _m_answer_callback_query(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self._state.callback_ids.get(query_id, True):
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        self._state.callback_ids[query_id] = True
        return True

    def _upload(
        self, params: JSON, files: dict[str, UploadedFile], key: str
    ) -> tuple[str, str, int, str, str]:
        """(file_id, unique id, size, file name, mime type) of a sent document/photo."""
        upload = files.get(key)
        if upload is not None:
            file_id = self.register_file(upload.data, kind=f"{key}s", name=upload.filename or key)
            stored = self._state.files[file_id]
            return file_id, stored.file_unique_id, len(upload.data), upload.filename, upload.content_type
        ref = str(params.get(key) or "")
        stored_ref = self._state.files.get(ref)
        if stored_ref is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        name = stored_ref.path.rsplit("/", 1)[-1]
        return ref, stored_ref.file_unique_id, len(stored_ref.data), name, "application/octet-stream"

    def _m_send_document(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        caption, entities = self._rendered(params, "caption", MAX_CAPTION)
        file_id, unique, size, name, mime = self._upload(params, files, "document")
        document = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_name": name,
            "mime_type": mime,
            "file_size": size,
        }
        return self._store_bot_message(
            params.get("chat_id"), params, document=document, caption=caption, caption_entities=entities
        )

    def _m_send_photo(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        caption, entities = self._rendered(params, "caption", MAX_CAPTION)
        file_id, unique, size, _, _ = self._upload(params, files, "photo")
        photo = [
            {"file_id": file_id, "file_unique_id": unique, "width": 800, "height": 600, "file_size": size}
        ]
        return self._store_bot_message(
            params.get("chat_id"), params, photo=photo, caption=caption, caption_entities=entities
        )

    def _m_get_file(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        stored = self._state.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }

    def _m_set_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description is empty or too long")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._state.commands[key] = list(commands)
        return True

    def _m_delete_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self._state.commands.pop(
            (_scope_key(params.get("scope")), str(params.get("language_code") or "")), None
        )
        return True

    def _m_get_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        return list(
            self._state.commands.get(
                (_scope_key(params.get("scope")), str(params.get("language_code") or "")), []
            )
        )

    def _m_set_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if not url:
            self._state.webhook = None
        else:
            if urlsplit(url).scheme not in {"http", "https"}:
                raise ApiError(
                    400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                )
            self._state.webhook = {
                "url": url,
                "secret_token": secret,
                "max_connections": params.get("max_connections", 40),
                "allowed_updates": params.get("allowed_updates"),
            }
        if params.get("drop_pending_updates"):
            self._state.pending.clear()
        self._notify_updates()
        return True

    def _m_delete_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self._state.webhook = None
        if params.get("drop_pending_updates"):
            self._state.pending.clear()
        self._notify_updates()
        return True

    def _m_get_webhook_info(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        hook = self._state.webhook or {}
        info: JSON = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._state.pending),
        }
        if hook:
            info["max_connections"] = hook.get("max_connections", 40)
        return info

    def _m_get_chat(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {**self._chat_for(params.get("chat_id")), "accent_color_id": 0, "max_reaction_count": 11}


_SYNC_METHODS: dict[str, Callable[[FakeBotApi, JSON, dict[str, UploadedFile]], Any]] = {
    "getMe": FakeBotApi._m_get_me,
    "sendMessage": FakeBotApi._m_send_message,
    "editMessageText": FakeBotApi._m_edit_message_text,
    "editMessageCaption": FakeBotApi._m_edit_message_caption,
    "editMessageReplyMarkup": FakeBotApi._m_edit_message_reply_markup,
    "deleteMessage": FakeBotApi._m_delete_message,
    "answerCallbackQuery": FakeBotApi._m_answer_callback_query,
    "sendDocument": FakeBotApi._m_send_document,
    "sendPhoto": FakeBotApi._m_send_photo,
    "getFile": FakeBotApi._m_get_file,
    "setMyCommands": FakeBotApi._m_set_my_commands,
    "deleteMyCommands": FakeBotApi._m_delete_my_commands,
    "getMyCommands": FakeBotApi._m_get_my_commands,
    "setWebhook": FakeBotApi._m_set_webhook,
    "deleteWebhook": FakeBotApi._m_delete_webhook,
    "getWebhookInfo": FakeBotApi._m_get_webhook_info,
    "getChat": FakeBotApi._m_get_chat,
}


_REPLY_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    }
)


def _matcher(method: str, predicate: Predicate | None) -> Predicate:
    """A predicate for calls of `method` that also satisfy `predicate`."""
    return lambda call: call.method == method and (predicate is None or predicate(call))


def _same_chat(value: Any, chat_id: int) -> bool:
    """Whether a chat_id parameter (int or numeric string) names `chat_id`."""
    return str(value) == str(chat_id)


def _scope_key(scope: Any) -> str:
    """A canonical key for a BotCommandScope (default scope when absent)."""
    if not scope:
        return json.dumps({"type": "default"})
    if isinstance(scope, str):
        scope = json.loads(scope)
    return json.dumps(scope, sort_keys=True)


def _update_type(update: JSON) -> str:
    """The kind of an update ('message', 'callback_query', ...)."""
    return next(k for k in update if k != "update_id")


def _visible_text(message: JSON) -> str:
    """What a user reads for a bot message."""
    if "text" in message:
        return str(message["text"])
    if message.get("caption"):
        return str(message["caption"])
    if "document" in message:
        return f"[document: {message['document'].get('file_name', '')}]"
    if "photo" in message:
        return "[photo]"
    return ""


def _no_access_log(handler: tornado.web.RequestHandler) -> None:
    """Calls are recorded; tornado's access log would only add noise to test output."""


def _require_loopback(url: str) -> None:
    """The fake only ever talks to 127.0.0.1."""
    if urlsplit(url).hostname not in {"127.0.0.1", "localhost"}:
        raise ValueError(f"webhook route must be on 127.0.0.1, not {url}")


@contextlib.contextmanager
def running_fake(**kwargs: Any) -> Iterator[FakeBotApi]:
    """`with running_fake() as fake:` — a started server, stopped afterwards."""
    fake = FakeBotApi(**kwargs)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
