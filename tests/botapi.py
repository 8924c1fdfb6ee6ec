"""A local stand-in for the Telegram Bot API, served over real HTTP on 127.0.0.1.

Why it exists: the project tests nothing through mocks that can run for real here, and the real
Bot API cannot be reached from tests. So the bot (python-telegram-bot v22) talks HTTP to this
server instead, through ``ApplicationBuilder().base_url(server.base_url)
.base_file_url(server.base_file_url)``. The bot's own request code, JSON handling, retries and
error mapping all run unchanged.

What it imitates (the parts a group-chat bot touches), with the Bot API's own rules where they
tend to catch bugs: long-polling ``getUpdates`` with ``offset`` confirmation and
``allowed_updates``; messages with unique ids, replies, inline keyboards, edits and deletes;
uploads and downloads of files; polls; chats, members and administrators; the error answers
(``chat not found``, ``message is not modified``, ``BUTTON_DATA_INVALID``, text over 4096
characters, bad HTML, bot kicked or blocked, ...), and injected faults (429, 5xx, 403, delays,
and outages: every call failing for some seconds).

What it does not: deliver to webhooks (``setWebhook`` is only recorded), inline mode, payments,
forum topics, MarkdownV2 formatting (only its unescaped reserved characters are refused; the
text is stored as sent), rate limits on its own (inject them with :meth:`BotApiServer.fail`).

Typical use in an async test::

    async with BotApiServer(token="123:TEST", bot_username="driverhome_bot") as server:
        app = (ApplicationBuilder().token(server.token).base_url(server.base_url)
               .base_file_url(server.base_file_url).build())
        ...
        group = server.group(-1001, "车队")
        driver = server.user(42, "老王")
        server.send_text(group, driver, "龙溪大道限高多少")
        [reply] = await server.wait_for("sendMessage", chat_id=group)

A bot running as a subprocess is served from a thread instead: ``server =
BotApiServer().start_in_thread()`` ... ``server.stop()`` (or ``with BotApiServer() as server:``),
and ``server.wait_for_sync(...)`` waits from synchronous test code.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dtm
import inspect
import itertools
import json
import mimetypes
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

__all__ = ["BotApiServer", "Call", "StoredFile", "Upload"]

JSONDict = dict[str, Any]

# Update types Telegram leaves out while a bot has not asked for them in allowed_updates.
NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Form parameters that are text even when they look like JSON ("123", "true"): PTB sends strings
# unencoded and everything else JSON-encoded, so only these must not go through json.loads.
TEXT_PARAMS = frozenset({
    "text", "caption", "question", "explanation", "description", "title", "callback_query_id",
    "inline_message_id", "url", "parse_mode", "explanation_parse_mode", "question_parse_mode",
    "description_parse_mode", "file_id", "business_connection_id", "secret_token", "ip_address",
    "language_code", "name", "short_description", "emoji", "custom_title", "message_effect_id",
    "first_name", "last_name", "phone_number", "vcard", "address", "payload", "currency",
    "start_parameter", "game_short_name", "result_id", "web_app_query_id", "sticker_set_name",
})

# The description Telegram sends with each HTTP status when fail() is not given one.
DEFAULT_ERRORS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
         "make sure that only one bot instance is running",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

TEXT_LIMIT = 4096      # characters of a message text, after entity parsing
CAPTION_LIMIT = 1024   # characters of a caption
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses bigger files to bots
UPLOAD_LIMIT = 50 * 1024 * 1024    # largest multipart body accepted

NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message")


@dataclass
class Call:
    """One request the bot made, as the server understood it.

    ``params`` are decoded: JSON values (reply_markup, entities, numbers, ...) are Python
    objects and uploaded files are :class:`Upload`. ``result`` is what the server answered
    (``None`` for a failed call, whose error body is in ``error``).
    """

    method: str
    params: JSONDict
    time: float
    result: Any = None
    failed: bool = False
    error: JSONDict | None = None

    def summary(self, width: int = 160) -> str:
        """A one-line form for assertion messages."""
        state = ""
        if self.failed and self.error:
            state = f" -> FAILED {self.error.get('description')!r}"
        text = f"{self.method}({self.params!r}){state}"
        return text if len(text) <= width else text[: width - 3] + "..."


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content: bytes
    content_type: str | None = None

    def __repr__(self) -> str:  # the bytes would flood assertion messages
        return f"Upload({self.filename!r}, {len(self.content)} bytes, {self.content_type!r})"


@dataclass
class StoredFile:
    """A file known to the server: uploaded by the bot or sent by a user in a test."""

    file_id: str
    file_unique_id: str
    file_path: str
    file_name: str | None
    content: bytes = field(repr=False)
    mime_type: str | None = None
    duration: int = 0  # seconds, for voice notes

    def as_file(self) -> JSONDict:
        """The Bot API ``File`` object (what getFile answers)."""
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": len(self.content), "file_path": self.file_path}

    def as_voice(self) -> JSONDict:
        """The Bot API ``Voice`` object."""
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "duration": self.duration,
                "mime_type": self.mime_type or "audio/ogg", "file_size": len(self.content)}

    def as_video(self) -> JSONDict:
        """The Bot API ``Video`` object (a fixed 1280x720 frame: the stand-in does not decode)."""
        return {**self.as_voice(), "width": 1280, "height": 720, "mime_type": self.mime_type or "video/mp4"}

    def as_document(self) -> JSONDict:
        """The Bot API ``Document`` object."""
        document = {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                    "file_size": len(self.content)}
        if self.file_name:
            document["file_name"] = self.file_name
        if self.mime_type:
            document["mime_type"] = self.mime_type
        return document


class ApiError(Exception):
    """An error answer of the Bot API; raising it inside a method handler sends it."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class _Outage:
    """A time-based fault window (see :meth:`BotApiServer.outage`)."""

    until: float  # time.monotonic()
    kinds: tuple[str, ...]
    methods: frozenset[str] | None
    spare: frozenset[str]
    retry_after: int
    hang: float
    calls: int = 0


class BotApiServer:
    """The stand-in server: Bot API methods, an update queue and a record of every call.

    All state is guarded by one lock, so test code may inject updates and read calls from
    another thread than the one serving HTTP (see :meth:`start_in_thread`).
    """

    def __init__(
        self,
        token: str = "123:TEST",
        bot_id: int | None = None,
        bot_username: str = "driverhome_bot",
        bot_first_name: str = "司机之家助手",
        *,
        privacy_mode: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        """``privacy_mode=True`` delivers only commands, mentions of the bot and replies to it
        from groups where the bot is not an administrator, as Telegram does for such bots."""
        self.token = token
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.privacy_mode = privacy_mode
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.bot: JSONDict = {
            "id": self.bot_id, "is_bot": True, "first_name": bot_first_name,
            "username": bot_username, "can_join_groups": True,
            "can_read_all_group_messages": not privacy_mode, "supports_inline_queries": False,
            "can_connect_to_business": False, "has_main_web_app": False,
        }

        self.calls: list[Call] = []
        self.files: dict[str, StoredFile] = {}
        self.downloads: list[str] = []  # file paths the bot fetched, in order
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}  # (scope JSON, language)
        self.webhook: JSONDict = {"url": ""}

        self._lock = threading.RLock()
        self._ids = {name: itertools.count(1) for name in ("update", "message", "file", "query",
                                                           "poll")}
        self._updates: list[JSONDict] = []
        self._allowed: frozenset[str] | None = None  # None: Telegram's default set
        self._poll_generation = 0
        self._users: dict[int, JSONDict] = {self.bot_id: self.bot}
        self._chats: dict[int, JSONDict] = {}
        self._bot_status: dict[int, str] = {}  # group chat id -> the bot's member status
        self._members: dict[int, dict[int, str]] = {}  # chat id -> user id -> status
        self._blocked: set[int] = set()  # users who blocked the bot
        self._migrated: dict[int, int] = {}  # group id -> the supergroup it became
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._queries: dict[str, bool] = {}  # callback query id -> answered
        self._polls: dict[str, tuple[int, int]] = {}  # poll id -> (chat id, message id)
        self._votes: dict[str, dict[int, list[int]]] = {}  # poll id -> user id -> options
        self._faults: dict[str, list[ApiError]] = {}
        self._delays: dict[str, float] = {}
        self._outage: _Outage | None = None  # a time-based fault window, see outage()

        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._closing: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None  # set whenever the update queue grows

        self._handlers: dict[str, Callable[[JSONDict], Any]] = {
            "getMe": lambda params: self.bot,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendVoice": self._send_voice,
            "sendVideo": self._send_video,
            "sendPoll": self._send_poll,
            "stopPoll": self._stop_poll,
            "getFile": self._get_file,
            "close": lambda params: True,
            "logOut": lambda params: True,
        }
        # Telegram matches method names case-insensitively; calls are recorded by canonical name.
        self._canonical = {name.lower(): name for name in self._handlers}

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url()`` / ``Bot(base_url=...)``; PTB appends the
        token."""
        return f"http://{self.host}:{self._bound_port()}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url()`` / ``Bot(base_file_url=...)``."""
        return f"http://{self.host}:{self._bound_port()}/file/bot"

    def _bound_port(self) -> int:
        if self.port is None:
            raise RuntimeError("the server is not started")
        return self.port

    async def start(self) -> BotApiServer:
        """Serve on the running event loop (a free port unless one was given)."""
        if self._runner is not None:
            raise RuntimeError("the server is already started")
        self._loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=UPLOAD_LIMIT)
        app.router.add_route("*", "/bot{token}/{method}", self._serve_method)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._serve_file)
        # A short shutdown timeout: long polls and delays end themselves when closing is set.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        # Binding the socket ourselves gives the free port without reaching into aiohttp.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, self._requested_port))
        await web.SockSite(runner, sock).start()
        self.port = sock.getsockname()[1]
        self._runner = runner
        return self

    async def close(self) -> None:
        """Stop serving; pending long polls and delayed calls answer at once."""
        if self._runner is None:
            return
        self._closing.set()
        self._changed.set()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self.port = None

    async def __aenter__(self) -> BotApiServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start_in_thread(self, timeout: float = 10.0) -> BotApiServer:
        """Serve from a daemon thread with its own event loop, for synchronous tests (e.g. a
        bot run as a subprocess). Pair with :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError("the server is already running in a thread")
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=serve, name="botapi-standin", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the Bot API stand-in did not start in time")
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a server started with :meth:`start_in_thread` (async code uses ``close()``)."""
        if self._thread is None:
            raise RuntimeError("stop() is for start_in_thread(); in async code await close()")
        loop = self._loop
        asyncio.run_coroutine_threadsafe(self.close(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> BotApiServer:
        return self.start_in_thread()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ recorded calls

    def sent(self, method: str | None = None, chat_id: int | JSONDict | None = None, *,
             failed: bool | None = False) -> list[Call]:
        """Calls of ``method`` (any when None) to ``chat_id`` (a chat dict or id), in order.

        By default only calls that succeeded, i.e. what really happened; ``failed=True`` gives
        the failed ones, ``failed=None`` all of them.
        """
        wanted_method = method.lower() if method else None
        wanted_chat = _chat_key(chat_id)
        with self._lock:
            calls = list(self.calls)
        return [
            call for call in calls
            if (wanted_method is None or call.method.lower() == wanted_method)
            and (wanted_chat is None or _chat_key(call.params.get("chat_id")) == wanted_chat)
            and (failed is None or call.failed == failed)
        ]

    async def wait_for(self, method: str, predicate: Callable[[Call], bool] | None = None,
                       timeout: float = 5.0, count: int = 1, *,
                       chat_id: int | JSONDict | None = None,
                       failed: bool | None = False) -> list[Call]:
        """Wait until at least ``count`` matching calls were made; return all matching calls.

        Filters as :meth:`sent`, plus ``predicate(call)``. Polls every few milliseconds so it
        works whichever loop or thread serves the requests. On timeout it raises an
        AssertionError that lists the most recent calls.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self._matching(method, predicate, chat_id, failed)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_report(method, count, len(found), timeout))
            await asyncio.sleep(0.005)

    def wait_for_sync(self, method: str, predicate: Callable[[Call], bool] | None = None,
                      timeout: float = 5.0, count: int = 1, *,
                      chat_id: int | JSONDict | None = None,
                      failed: bool | None = False) -> list[Call]:
        """:meth:`wait_for` for synchronous code (the server runs in its own thread)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._matching(method, predicate, chat_id, failed)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_report(method, count, len(found), timeout))
            time.sleep(0.005)

    def _matching(self, method: str, predicate: Callable[[Call], bool] | None,
                  chat_id: int | JSONDict | None, failed: bool | None) -> list[Call]:
        calls = self.sent(method, chat_id, failed=failed)
        return [call for call in calls if predicate is None or predicate(call)]

    def _timeout_report(self, method: str, count: int, found: int, timeout: float) -> str:
        with self._lock:
            recent = self.calls[-15:]
        lines = "\n".join(f"  {call.summary()}" for call in recent) or "  (no calls at all)"
        return (f"timed out after {timeout}s waiting for {count} matching {method} call(s), "
                f"{found} matched; last calls:\n{lines}")

    # ------------------------------------------------------------------ fault injection

    def fail(self, method: str, status: int = 500, times: int = 1, retry_after: int = 1,
             description: str | None = None) -> None:
        """Make the next ``times`` calls of ``method`` answer with a Bot API error.

        429 carries ``parameters.retry_after`` (PTB raises RetryAfter); 403 says the bot was
        blocked; 5xx are server errors (PTB raises NetworkError). The call is recorded with
        ``failed=True`` and has no effect.
        """
        text = description or DEFAULT_ERRORS.get(status, f"Error {status}")
        text = text.format(retry_after=retry_after)
        parameters = {"retry_after": retry_after} if status == 429 else None
        with self._lock:
            queue = self._faults.setdefault(self._name(method), [])
            queue.extend(ApiError(status, text, parameters) for _ in range(times))

    def delay(self, method: str, seconds: float) -> None:
        """Answer every later call of ``method`` only after ``seconds`` (0 removes the delay),
        to drive the bot into its timeouts. The call still takes effect, as on Telegram."""
        with self._lock:
            if seconds > 0:
                self._delays[self._name(method)] = seconds
            else:
                self._delays.pop(self._name(method), None)

    def outage(self, seconds: float, kinds: tuple[str, ...] = ("429", "5xx", "timeout"), *,
               methods: tuple[str, ...] | None = None, spare: tuple[str, ...] = ("getUpdates",),
               retry_after: int = 1, hang: float = 10.0) -> None:
        """For the next ``seconds``, every call of ``methods`` (None: all but ``spare``) fails.

        ``kinds`` take turns call by call: ``"429"`` answers Too Many Requests with
        ``retry_after``; ``"5xx"`` answers 500, 502, 503 in turn; ``"timeout"`` holds the
        request for ``hang`` seconds (longer than PTB's 5 s read timeout, so the bot gives up
        first) and then answers 504 without carrying it out, like a gateway whose upstream
        never answered. No failed call takes effect. ``getUpdates`` is spared by default, so
        the bot still receives messages and must answer them despite the outage.
        """
        for kind in kinds:
            if kind not in ("429", "5xx", "timeout"):
                raise ValueError(f"unknown outage kind {kind!r}")
        with self._lock:
            self._outage = _Outage(
                until=time.monotonic() + seconds, kinds=tuple(kinds),
                methods=None if methods is None else frozenset(self._name(m) for m in methods),
                spare=frozenset(self._name(m) for m in spare), retry_after=retry_after, hang=hang)

    @property
    def outage_active(self) -> bool:
        with self._lock:
            return self._outage is not None and time.monotonic() < self._outage.until

    def end_outage(self) -> None:
        with self._lock:
            self._outage = None

    def _outage_fault(self, method: str) -> tuple[ApiError, float] | None:
        """The error (and how long to hold the request first) while an outage covers it."""
        with self._lock:
            outage = self._outage
            if outage is None or time.monotonic() >= outage.until or method in outage.spare:
                return None
            if outage.methods is not None and method not in outage.methods:
                return None
            kind = outage.kinds[outage.calls % len(outage.kinds)]
            outage.calls += 1
            if kind == "429":
                text = DEFAULT_ERRORS[429].format(retry_after=outage.retry_after)
                return ApiError(429, text, {"retry_after": outage.retry_after}), 0.0
            if kind == "5xx":
                status = (500, 502, 503)[(outage.calls // len(outage.kinds)) % 3]
                return ApiError(status, DEFAULT_ERRORS[status]), 0.0
            return ApiError(504, DEFAULT_ERRORS[504]), outage.hang

    def _name(self, method: str) -> str:
        return self._canonical.get(method.lower(), method)

    # ------------------------------------------------------------------ HTTP

    async def _serve_method(self, request: web.Request) -> web.Response:
        """One Bot API request: decode, delay, inject faults, run, record, answer."""
        arrived = time.time()
        method = self._name(request.match_info["method"])
        try:
            params = await _read_params(request)
        except ApiError as exc:
            params, decode_error = {}, exc
        else:
            decode_error = None

        with self._lock:
            delay = self._delays.get(method, 0.0)
        if delay:
            await self._pause(delay)

        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if decode_error:
                raise decode_error
            with self._lock:
                faults = self._faults.get(method)
                if faults:
                    raise faults.pop(0)
            outage = self._outage_fault(method)
            if outage is not None:
                error, hang = outage
                if hang:  # the bot times out meanwhile; recorded now, as it may disconnect
                    self._record(Call(method, params, arrived, failed=True, error=error.payload()))
                    await self._pause(hang)
                    return web.json_response(error.payload(), status=error.status)
                raise error
            handler = self._handlers.get(method)
            if handler is None:
                result: Any = True  # an unknown method: recorded, answered as done
            elif inspect.iscoroutinefunction(handler):
                result = await handler(params)
            else:
                with self._lock:
                    result = handler(params)
        except ApiError as exc:
            self._record(Call(method, params, arrived, failed=True, error=exc.payload()))
            return web.json_response(exc.payload(), status=exc.status)
        result = copy.deepcopy(result)  # later edits must not change what was answered
        self._record(Call(method, params, arrived, result=result))
        return web.json_response({"ok": True, "result": result})

    async def _serve_file(self, request: web.Request) -> web.Response:
        """A file download, as ``api.telegram.org/file/bot<token>/<file_path>``."""
        path = request.match_info["file_path"]
        with self._lock:
            stored = next((f for f in self.files.values() if f.file_path == path), None)
            if request.match_info["token"] != self.token or stored is None:
                return web.json_response(ApiError(404, "Not Found").payload(), status=404)
            self.downloads.append(path)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but not past close()."""
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    # ------------------------------------------------------------------ the update queue

    def add_update(self, update: JSONDict) -> JSONDict:
        """Queue an update for getUpdates (an ``update_id`` is given when it has none)."""
        update = copy.deepcopy(update)
        with self._lock:
            if "update_id" not in update:
                update["update_id"] = next(self._ids["update"])
            self._updates.append(update)
        self._wake_pollers()
        return update

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(self._updates)

    @property
    def pending_count(self) -> int:
        """How many updates are queued and not yet confirmed (no copies: cheap to poll)."""
        with self._lock:
            return len(self._updates)

    def _wake_pollers(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed() and self._changed is not None:
            loop.call_soon_threadsafe(self._changed.set)

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        """Long polling as Telegram does it: confirm by offset, return at once when updates
        are queued, else wait up to ``timeout`` seconds. A newer poll ends an older one with
        409 Conflict."""
        with self._lock:
            if self.webhook["url"]:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                    "active; use deleteWebhook to delete the webhook first")
            if params.get("allowed_updates") is not None:
                self._allowed = frozenset(params["allowed_updates"]) or None
            self._confirm(int(params.get("offset") or 0))
            self._poll_generation += 1
            generation = self._poll_generation
        self._wake_pollers()  # an older long poll, if any, ends with a conflict

        limit = min(max(int(params.get("limit") or 100), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(params.get("timeout") or 0), 0.0)
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(409, DEFAULT_ERRORS[409])
                batch = self._deliverable()[:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing.is_set():
                return batch
            # Clearing and waiting without an await in between loses no wake-up: add_update
            # sets the event through the loop, after this point.
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    def _confirm(self, offset: int) -> None:
        """Forget updates before ``offset``; a negative offset keeps only the last -offset."""
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _deliverable(self) -> list[JSONDict]:
        """Queued updates of allowed types; others are dropped, as Telegram never sends them."""
        def allowed(update: JSONDict) -> bool:
            kind = _update_type(update)
            if self._allowed is None:
                return kind not in NOT_SENT_BY_DEFAULT
            return kind in self._allowed

        self._updates = [u for u in self._updates if allowed(u)]
        return self._updates

    # ------------------------------------------------------------------ test-side builders

    def user(self, id: int, first_name: str, username: str | None = None, is_bot: bool = False,
             *, last_name: str | None = None, language_code: str | None = None) -> JSONDict:
        """A Telegram user (``User``) known to the server."""
        user: JSONDict = {"id": id, "is_bot": is_bot, "first_name": first_name}
        for key, value in (("last_name", last_name), ("username", username),
                           ("language_code", language_code)):
            if value is not None:
                user[key] = value
        with self._lock:
            self._users[id] = user
        return copy.deepcopy(user)

    def group(self, chat_id: int, title: str, *, type: str = "group",
              bot_status: str = "member", username: str | None = None) -> JSONDict:
        """A group (or ``type="supergroup"``) chat the bot is in with ``bot_status``."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat: JSONDict = {"id": chat_id, "type": type, "title": title}
        if username:
            chat["username"] = username
        with self._lock:
            self._chats[chat_id] = chat
            self._bot_status[chat_id] = bot_status
            self._members.setdefault(chat_id, {})
        return copy.deepcopy(chat)

    def migrate(self, chat: JSONDict, user: JSONDict, *, announce: bool = True) -> JSONDict:
        """``user`` upgrades group ``chat`` to a supergroup, as Telegram does when a group grows:
        it gets a new id; sends to the old one answer 400 with ``migrate_to_chat_id`` (PTB's
        ChatMigrated). With ``announce``, both chats get their service message, which bots
        receive whatever the privacy mode. Returns the new chat."""
        old_id = chat["id"]
        new_id = -1_000_000_000_000 + old_id
        with self._lock:
            status = self._bot_status.get(old_id, "member")
        new = self.group(new_id, chat.get("title", ""), type="supergroup", bot_status=status)
        with self._lock:
            self._members[new_id] = dict(self._members.get(old_id, {}))
            self._migrated[old_id] = new_id
        if announce:
            for where, key, value in ((chat, "migrate_to_chat_id", new_id), (new, "migrate_from_chat_id", old_id)):
                message = self._user_message(where, user, None, None)
                message[key] = value
                with self._lock:
                    self._messages[(where["id"], message["message_id"])] = message
                self.add_update({"message": message})
        return new

    def private(self, user: JSONDict) -> JSONDict:
        """The private chat of ``user`` with the bot (it exists once the user started the bot;
        before that, Telegram refuses to let the bot write to them)."""
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        with self._lock:
            self._users.setdefault(user["id"], copy.deepcopy(user))
            self._chats[user["id"]] = chat
        return copy.deepcopy(chat)

    def block(self, user: JSONDict, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: sending to them answers 403."""
        with self._lock:
            (self._blocked.add if blocked else self._blocked.discard)(user["id"])

    def set_member(self, chat: JSONDict, user: JSONDict, status: str) -> None:
        """Set a user's status in a group: creator, administrator, member, restricted, left,
        kicked (what getChatMember and getChatAdministrators answer)."""
        with self._lock:
            self._users.setdefault(user["id"], copy.deepcopy(user))
            if user["id"] == self.bot_id:
                self._bot_status[chat["id"]] = status
            else:
                self._members.setdefault(chat["id"], {})[user["id"]] = status

    def send_text(self, chat: JSONDict, user: JSONDict, text: str,
                  reply_to: JSONDict | int | None = None, entities: list[JSONDict] | None = None,
                  date: int | float | dtm.datetime | None = None) -> JSONDict:
        """A user writes ``text`` in ``chat``; returns the message.

        Commands and @mentions get their entities unless ``entities`` is given. ``date`` makes
        old (stale) messages. In groups the update is queued only if the bot would receive it
        (the bot is in the group; with privacy mode, only commands, mentions and replies).
        """
        message = self._user_message(chat, user, date, reply_to)
        message["text"] = text
        entities = _auto_entities(text) if entities is None else entities
        if entities:
            message["entities"] = entities
        return self._deliver_user_message(message)

    def send_document(self, chat: JSONDict, user: JSONDict, filename: str, content: bytes,
                      caption: str | None = None, *, mime_type: str | None = None,
                      reply_to: JSONDict | int | None = None,
                      date: int | float | dtm.datetime | None = None) -> JSONDict:
        """A user sends a file; it can then be fetched with getFile and downloaded."""
        message = self._user_message(chat, user, date, reply_to)
        with self._lock:
            stored = self._store_file(content, filename, mime_type, "documents")
        message["document"] = stored.as_document()
        return self._deliver_user_message(self._user_caption(message, caption))

    def send_voice(self, chat: JSONDict, user: JSONDict, content: bytes, duration: int,
                   caption: str | None = None, reply_to: JSONDict | int | None = None,
                   date: int | float | dtm.datetime | None = None) -> JSONDict:
        """A user sends a voice note (OGG/Opus as Telegram stores them)."""
        return self._user_media(chat, user, content, duration, caption, reply_to, date, "voice", "audio/ogg")

    def send_video(self, chat: JSONDict, user: JSONDict, content: bytes, duration: int,
                   caption: str | None = None, reply_to: JSONDict | int | None = None,
                   date: int | float | dtm.datetime | None = None) -> JSONDict:
        """A user sends a video (a dashcam clip, say)."""
        return self._user_media(chat, user, content, duration, caption, reply_to, date, "video", "video/mp4")

    def _user_media(self, chat: JSONDict, user: JSONDict, content: bytes, duration: int, caption: str | None,
                    reply_to, date, kind: str, mime_type: str) -> JSONDict:
        message = self._user_message(chat, user, date, reply_to)
        with self._lock:
            stored = self._store_file(content, None, mime_type, kind)
            stored.duration = duration
        message[kind] = stored.as_voice() if kind == "voice" else stored.as_video()
        return self._deliver_user_message(self._user_caption(message, caption))

    def send_photo(self, chat: JSONDict, user: JSONDict, content: bytes, caption: str | None = None,
                   date: int | float | dtm.datetime | None = None) -> JSONDict:
        """A user sends a photo (one size, 1280x960, whatever the bytes are)."""
        message = self._user_message(chat, user, date, None)
        with self._lock:
            stored = self._store_file(content, None, "image/jpeg", "photos")
        message["photo"] = [{"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                             "file_size": len(content), "width": 1280, "height": 960}]
        return self._deliver_user_message(self._user_caption(message, caption))

    @staticmethod
    def _user_caption(message: JSONDict, caption: str | None) -> JSONDict:
        if caption is not None:
            message["caption"] = caption
            entities = _auto_entities(caption)
            if entities:
                message["caption_entities"] = entities
        return message

    def edit_text(self, message: JSONDict, text: str, entities: list[JSONDict] | None = None,
                  date: int | float | dtm.datetime | None = None) -> JSONDict:
        """The author edits their message; queues an ``edited_message`` update."""
        key = (message["chat"]["id"], message["message_id"])
        with self._lock:
            current = self._messages.get(key)
            if current is None:
                raise ValueError(f"message {key} does not exist (deleted?)")
            edited = copy.deepcopy(current)
            edited["text"] = text
            edited.pop("entities", None)
            entities = _auto_entities(text) if entities is None else entities
            if entities:
                edited["entities"] = entities
            edited["edit_date"] = _timestamp(date)
            self._messages[key] = edited
            sees = self._bot_sees(edited)
        if sees:
            self.add_update({"edited_message": edited})
        return copy.deepcopy(edited)

    def press(self, user: JSONDict, message: JSONDict, data: str) -> str:
        """The user presses the inline button with callback ``data`` on a message the bot sent
        (as it is now, after edits); returns the callback query id."""
        key = (message["chat"]["id"], message["message_id"])
        with self._lock:
            current = self._messages.get(key)
            if current is None:
                raise ValueError(f"message {key} does not exist (deleted?)")
            rows = current.get("reply_markup", {}).get("inline_keyboard", [])
            offered = [button.get("callback_data") for row in rows for button in row]
            if data not in offered:
                raise ValueError(f"message {key} has no button with callback_data {data!r}; "
                                 f"it has {offered}")
            query_id = str(4_000_000_000_000_000_000 + next(self._ids["query"]))
            self._queries[query_id] = False
            self._users.setdefault(user["id"], copy.deepcopy(user))
            query = {"id": query_id, "from": copy.deepcopy(user), "message": copy.deepcopy(current),
                     "chat_instance": str(abs(key[0]) * 7919 % 10**18), "data": data}
        self.add_update({"callback_query": query})
        return query_id

    def remember(self, message: JSONDict) -> None:
        """Keep a message pushed raw with :meth:`add_update`, so the bot can reply to it."""
        with self._lock:
            self._messages[(message["chat"]["id"], message["message_id"])] = copy.deepcopy(message)

    def open_query(self, query_id: str) -> None:
        """Let the bot answer callback query ``query_id`` (one pushed raw with
        :meth:`add_update`); unknown ids are answered "query is too old", as stale ones are."""
        with self._lock:
            self._queries.setdefault(str(query_id), False)

    def my_chat_member(self, chat: JSONDict, user: JSONDict, old_status: str, new_status: str,
                       date: int | float | dtm.datetime | None = None) -> JSONDict:
        """``user`` changes the bot's status in ``chat`` (adds, promotes, removes it; in a
        private chat ``kicked`` means the user blocked the bot). Returns the update."""
        with self._lock:
            self._users.setdefault(user["id"], copy.deepcopy(user))
            self._chats.setdefault(chat["id"], copy.deepcopy(chat))
            if chat["type"] == "private":
                (self._blocked.add if new_status == "kicked" else self._blocked.discard)(chat["id"])
            else:
                self._bot_status[chat["id"]] = new_status
            change = {
                "chat": copy.deepcopy(self._chats[chat["id"]]), "from": copy.deepcopy(user),
                "date": _timestamp(date),
                "old_chat_member": _chat_member(self.bot, old_status),
                "new_chat_member": _chat_member(self.bot, new_status),
            }
        return self.add_update({"my_chat_member": change})

    def poll_answer(self, poll_id: str, user: JSONDict, option_ids: list[int]) -> JSONDict:
        """``user`` votes in a poll the bot sent (empty ``option_ids`` retracts the vote).

        Telegram sends answers only for non-anonymous polls, so an anonymous or closed poll
        is refused here. Vote counts are kept for stopPoll. Returns the update.
        """
        with self._lock:
            if poll_id not in self._polls:
                raise ValueError(f"no poll {poll_id!r} was sent by the bot")
            message = self._messages[self._polls[poll_id]]
            poll = message["poll"]
            if poll["is_anonymous"]:
                raise ValueError("the poll is anonymous: Telegram sends no poll_answer for it")
            if poll["is_closed"]:
                raise ValueError("the poll is closed")
            if any(not 0 <= i < len(poll["options"]) for i in option_ids):
                raise ValueError(f"option ids {option_ids} out of range")
            self._votes.setdefault(poll_id, {})[user["id"]] = list(option_ids)
            _count_votes(poll, self._votes[poll_id])
            answer = {
                "poll_id": poll_id, "user": copy.deepcopy(user), "option_ids": list(option_ids),
                "option_persistent_ids": [poll["options"][i]["persistent_id"] for i in option_ids],
            }
        return self.add_update({"poll_answer": answer})

    def message(self, chat: JSONDict | int, message_id: int) -> JSONDict | None:
        """The message as it is now (after edits), or None once deleted."""
        with self._lock:
            found = self._messages.get((_chat_key(chat), message_id))
            return copy.deepcopy(found)

    def _user_message(self, chat: JSONDict, user: JSONDict, date: Any,
                      reply_to: JSONDict | int | None) -> JSONDict:
        if chat["type"] == "private" and chat["id"] != user["id"]:
            raise ValueError("only the chat's own user writes in a private chat")
        with self._lock:
            self._users.setdefault(user["id"], copy.deepcopy(user))
            self._chats.setdefault(chat["id"], copy.deepcopy(chat))
            if chat["type"] != "private":
                self._members.setdefault(chat["id"], {}).setdefault(user["id"], "member")
            message = {"message_id": next(self._ids["message"]), "from": copy.deepcopy(user),
                       "chat": copy.deepcopy(self._chats[chat["id"]]), "date": _timestamp(date)}
            if reply_to is not None:
                reply_id = reply_to if isinstance(reply_to, int) else reply_to["message_id"]
                target = self._messages.get((chat["id"], reply_id))
                if target is None:
                    raise ValueError(f"message {reply_id} does not exist in chat {chat['id']}")
                message["reply_to_message"] = _without_reply(target)
        return message

    def _deliver_user_message(self, message: JSONDict) -> JSONDict:
        with self._lock:
            self._messages[(message["chat"]["id"], message["message_id"])] = message
            sees = self._bot_sees(message)
        if sees:
            self.add_update({"message": message})
        return copy.deepcopy(message)

    def _bot_sees(self, message: JSONDict) -> bool:
        """Whether Telegram would send this user message to the bot."""
        chat = message["chat"]
        if chat["type"] == "private":
            return chat["id"] not in self._blocked
        status = self._bot_status.get(chat["id"], "member")
        if status in ("left", "kicked"):
            return False
        if not self.privacy_mode or status in ("administrator", "creator"):
            return True
        text = message.get("text", message.get("caption", ""))
        entities = message.get("entities", message.get("caption_entities", []))
        addressed = any(
            e["type"] == "bot_command"
            or (e["type"] == "mention" and _utf16_slice(text, e) == f"@{self.bot_username}")
            for e in entities
        )
        replied = message.get("reply_to_message", {}).get("from", {}).get("id") == self.bot_id
        return addressed or replied

    # ------------------------------------------------------------------ methods: setup

    def _set_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {"url": params.get("url", "")}
        for key in ("allowed_updates", "max_connections"):
            if key in params:
                self.webhook[key] = params[key]
        return True

    def _delete_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {"url": ""}
        return True

    def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        return {**self.webhook, "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 commands")
        for command in commands:
            name = command.get("command", "")
            if not (1 <= len(name) <= 32 and all(c.islower() or c.isdigit() or c == "_"
                                                 for c in name) and name.isascii()):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: command description must be 1-256 characters")
        self.commands[self._commands_key(params)] = commands
        return True

    def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.commands.get(self._commands_key(params), [])

    def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    # ------------------------------------------------------------------ methods: chats

    def _chat(self, params: JSONDict) -> JSONDict:
        """The chat named by ``chat_id`` (an id or an @username)."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self._chats.values() if c.get("username") == raw[1:]), None)
        else:
            try:
                chat = self._chats.get(int(raw))
            except (TypeError, ValueError):
                raise ApiError(400, "Bad Request: chat not found") from None
        if chat is None:
            if isinstance(raw, int) and raw in self._users:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _writable_chat(self, params: JSONDict) -> JSONDict:
        """The target chat of a send, refusing as Telegram does when the bot may not write."""
        chat = self._chat(params)
        if chat["id"] in self._migrated:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": self._migrated[chat["id"]]})
        if chat["type"] == "private":
            if chat["id"] in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            return chat
        status = self._bot_status.get(chat["id"], "member")
        kind = "supergroup" if chat["type"] == "supergroup" else "group"
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        return chat

    def _get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params)
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}

    def _status_of(self, chat: JSONDict, user_id: int) -> str:
        if user_id == self.bot_id:
            return self._bot_status.get(chat["id"], "member")
        if chat["type"] == "private":
            return "member" if user_id == chat["id"] else "left"
        return self._members.get(chat["id"], {}).get(user_id, "left")

    def _get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params)
        user = self._users.get(_int(params.get("user_id")))
        if user is None:
            raise ApiError(400, "Bad Request: user not found")
        return _chat_member(user, self._status_of(chat, user["id"]))

    def _get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        chat = self._chat(params)
        if chat["type"] == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        members = dict(self._members.get(chat["id"], {}))
        members[self.bot_id] = self._status_of(chat, self.bot_id)
        return [_chat_member(self._users[uid], status) for uid, status in members.items()
                if status in ("creator", "administrator")]

    # ------------------------------------------------------------------ methods: messages

    def _bot_message(self, chat: JSONDict, params: JSONDict) -> JSONDict:
        """A new message from the bot, with its reply target and inline keyboard."""
        message: JSONDict = {"message_id": next(self._ids["message"]),
                             "from": copy.deepcopy(self.bot), "chat": copy.deepcopy(chat),
                             "date": int(time.time())}
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {"message_id": params["reply_to_message_id"],
                     "allow_sending_without_reply": params.get("allow_sending_without_reply")}
        if reply:
            reply_chat = _int(reply.get("chat_id", chat["id"]))
            target = self._messages.get((reply_chat, _int(reply.get("message_id"))))
            if target is not None:
                message["reply_to_message"] = _without_reply(target)
            elif not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        markup = _checked_markup(params.get("reply_markup"))
        if markup and "inline_keyboard" in markup:  # only inline keyboards show in a Message
            message["reply_markup"] = markup
        if params.get("protect_content"):
            message["has_protected_content"] = True
        return message

    def _keep(self, message: JSONDict) -> JSONDict:
        self._messages[(message["chat"]["id"], message["message_id"])] = message
        return message

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._writable_chat(params)
        text, entities = _formatted(params, "text", "entities", "parse_mode", TEXT_LIMIT)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        message = self._bot_message(chat, params)
        message["text"] = text
        if entities:
            message["entities"] = entities
        return self._keep(message)

    def _editable(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params)
        message = self._messages.get((chat["id"], _int(params.get("message_id"))))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True  # inline messages are not tracked
        message = self._editable(params)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = _formatted(params, "text", "entities", "parse_mode", TEXT_LIMIT)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        # Telegram drops the inline keyboard when an edit does not repeat it.
        markup = _checked_markup(params.get("reply_markup"))
        if (text == message["text"] and entities == message.get("entities", [])
                and markup == message.get("reply_markup")):
            raise ApiError(400, NOT_MODIFIED)
        edited = {k: v for k, v in message.items() if k not in ("entities", "reply_markup")}
        edited.update(text=text, edit_date=int(time.time()))
        if entities:
            edited["entities"] = entities
        if markup:
            edited["reply_markup"] = markup
        return self._keep(edited)

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        markup = _checked_markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        edited = {k: v for k, v in message.items() if k != "reply_markup"}
        edited["edit_date"] = int(time.time())
        if markup:
            edited["reply_markup"] = markup
        return self._keep(edited)

    def _delete_message(self, params: JSONDict) -> bool:
        chat = self._chat(params)
        key = (chat["id"], _int(params.get("message_id")))
        message = self._messages.get(key)
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        own = message["from"]["id"] == self.bot_id
        admin = self._bot_status.get(chat["id"]) in ("administrator", "creator")
        if not (own or chat["type"] == "private" or admin):
            raise ApiError(400, "Bad Request: message can't be deleted")
        del self._messages[key]
        return True

    def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = params.get("callback_query_id")
        if self._queries.get(query_id, True):  # unknown or already answered
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or "
                                "query ID is invalid")
        self._queries[query_id] = True
        return True

    # ------------------------------------------------------------------ methods: files

    def _store_file(self, content: bytes, filename: str | None, mime_type: str | None,
                    folder: str) -> StoredFile:
        number = next(self._ids["file"])
        suffix = ""
        if filename and "." in filename:
            suffix = "." + filename.rsplit(".", 1)[1]
        stored = StoredFile(
            file_id=f"BQACAgUAAxk{folder[0].upper()}{number:06d}",
            file_unique_id=f"AgAD{number:06d}",
            file_path=f"{folder}/file_{number}{suffix}",
            file_name=filename, content=content,
            mime_type=mime_type or (mimetypes.guess_type(filename)[0] if filename else None),
        )
        self.files[stored.file_id] = stored
        return stored

    def _input_file(self, params: JSONDict, name: str, folder: str) -> StoredFile:
        """The file a send method names: a new upload, ``attach://`` part or a known file_id."""
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://"):])
        if isinstance(value, Upload):
            return self._store_file(value.content, value.filename, value.content_type, folder)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if value is None:
            raise ApiError(400, f"Bad Request: there is no {name} in the request")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _with_caption(self, message: JSONDict, params: JSONDict) -> JSONDict:
        caption, entities = _formatted(params, "caption", "caption_entities", "parse_mode",
                                       CAPTION_LIMIT)
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        return message

    def _send_document(self, params: JSONDict) -> JSONDict:
        chat = self._writable_chat(params)
        stored = self._input_file(params, "document", "documents")
        message = self._bot_message(chat, params)
        message["document"] = stored.as_document()
        return self._keep(self._with_caption(message, params))

    def _send_voice(self, params: JSONDict) -> JSONDict:
        return self._send_media(params, "voice", "voice", StoredFile.as_voice)

    def _send_video(self, params: JSONDict) -> JSONDict:
        return self._send_media(params, "video", "videos", StoredFile.as_video)

    def _send_media(self, params: JSONDict, name: str, folder: str, describe) -> JSONDict:
        chat = self._writable_chat(params)
        stored = self._input_file(params, name, folder)
        message = self._bot_message(chat, params)
        message[name] = describe(stored)
        return self._keep(self._with_caption(message, params))

    def _send_photo(self, params: JSONDict) -> JSONDict:
        chat = self._writable_chat(params)
        stored = self._input_file(params, "photo", "photos")
        size = _image_size(stored.content)
        if size is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        message = self._bot_message(chat, params)
        message["photo"] = [{"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                             "file_size": len(stored.content), "width": size[0],
                             "height": size[1]}]
        return self._keep(self._with_caption(message, params))

    def _get_file(self, params: JSONDict) -> JSONDict:
        stored = self.files.get(params.get("file_id"))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.content) > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return stored.as_file()

    # ------------------------------------------------------------------ methods: polls

    def _send_poll(self, params: JSONDict) -> JSONDict:
        chat = self._writable_chat(params)
        question = params.get("question") or ""
        options = [option if isinstance(option, str) else option.get("text", "")
                   for option in params.get("options", [])]
        if not 1 <= len(question) <= 300:
            raise ApiError(400, "Bad Request: poll question length must be 1-300")
        if not 2 <= len(options) <= 12 or not all(1 <= len(o) <= 100 for o in options):
            raise ApiError(400, "Bad Request: poll must have 2-12 options of 1-100 characters")
        poll_id = str(5_000_000_000_000_000_000 + next(self._ids["poll"]))
        kind = params.get("type") or "regular"
        poll = {
            "id": poll_id, "question": question,
            "options": [{"text": text, "voter_count": 0, "persistent_id": f"{poll_id}-{i}"}
                        for i, text in enumerate(options)],
            "total_voter_count": 0, "is_closed": bool(params.get("is_closed", False)),
            "is_anonymous": bool(params.get("is_anonymous", True)), "type": kind,
            "allows_multiple_answers": bool(params.get("allows_multiple_answers", False)),
            "allows_revoting": bool(params.get("allows_revoting", kind != "quiz")),
            "members_only": bool(params.get("members_only", False)),
        }
        message = self._bot_message(chat, params)
        message["poll"] = poll
        self._polls[poll_id] = (chat["id"], message["message_id"])
        return self._keep(message)

    def _stop_poll(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params)
        message = self._messages.get((chat["id"], _int(params.get("message_id"))))
        if message is None or "poll" not in message:
            raise ApiError(400, "Bad Request: message with poll to stop not found")
        if message["poll"]["is_closed"]:
            raise ApiError(400, "Bad Request: poll has already been closed")
        message["poll"]["is_closed"] = True
        markup = _checked_markup(params.get("reply_markup"))
        if markup:
            message["reply_markup"] = markup
        return message["poll"]


# ---------------------------------------------------------------------- request decoding

async def _read_params(request: web.Request) -> JSONDict:
    """The call's parameters from the query string and a form, multipart or JSON body."""
    params = {name: _decode(name, value) for name, value in request.query.items()}
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: the JSON body must be an object")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                params[name] = Upload(value.filename, value.file.read(), value.content_type)
            else:
                params[name] = _decode(name, value)
    return params


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def _decode(name: str, value: str) -> Any:
    """A form value as the Bot API reads it: JSON where the parameter is not text."""
    if name in TEXT_PARAMS:
        return value
    try:
        return json.loads(value, parse_constant=_reject_constant)
    except ValueError:
        return value  # a plain string: an @username, a file_id, ...


# ---------------------------------------------------------------------- objects and helpers

def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _chat_key(chat: int | str | JSONDict | None) -> int | str | None:
    """A chat dict, id or numeric string as a comparable id."""
    if isinstance(chat, dict):
        return chat["id"]
    if isinstance(chat, str):
        return _int(chat) if _int(chat) is not None else chat
    return chat


def _timestamp(date: int | float | dtm.datetime | None) -> int:
    if date is None:
        return int(time.time())
    if isinstance(date, dtm.datetime):
        return int(date.timestamp())
    return int(date)


def _update_type(update: JSONDict) -> str:
    return next(key for key in update if key != "update_id")


def _without_reply(message: JSONDict) -> JSONDict:
    """A replied-to message as Telegram nests it: one level deep."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}


def _utf16_len(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units, not Python characters."""
    return len(text.encode("utf-16-le")) // 2


def _utf16_slice(text: str, entity: JSONDict) -> str:
    raw = text.encode("utf-16-le")
    start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
    return raw[start:end].decode("utf-16-le")


def _auto_entities(text: str) -> list[JSONDict]:
    """The entities Telegram adds by itself: a leading /command and @mentions."""
    entities = []
    if text.startswith("/") and len(text) > 1 and not text[1].isspace():
        command = text.split(maxsplit=1)[0]
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command)})
    position = 0
    while (at := text.find("@", position)) != -1:
        end = at + 1
        while end < len(text) and text[end].isascii() and (text[end].isalnum() or text[end] == "_"):
            end += 1
        preceded_ok = at == 0 or not (text[at - 1].isalnum() or text[at - 1] in "_/")
        if end - at - 1 >= 5 and preceded_ok:
            entities.append({"type": "mention", "offset": _utf16_len(text[:at]),
                             "length": end - at})
        position = end
    return entities


def _chat_member(user: JSONDict, status: str) -> JSONDict:
    """A ChatMember object with every field its status requires."""
    member: JSONDict = {"user": copy.deepcopy(user), "status": status}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(dict.fromkeys((
            "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
            "can_restrict_members", "can_change_info", "can_invite_users", "can_post_stories",
            "can_edit_stories", "can_delete_stories", "can_pin_messages"), True))
        member.update(can_be_edited=False, is_anonymous=False, can_promote_members=False)
    elif status == "restricted":
        member.update(dict.fromkeys((
            "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
            "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
            "can_send_other_messages", "can_add_web_page_previews", "can_change_info",
            "can_invite_users", "can_pin_messages", "can_manage_topics", "can_edit_tag",
            "can_react_to_messages"), False))
        member.update(is_member=True, until_date=0)
    elif status == "kicked":
        member["until_date"] = 0
    elif status not in ("member", "left"):
        raise ValueError(f"unknown chat member status {status!r}")
    return member


def _count_votes(poll: JSONDict, votes: dict[int, list[int]]) -> None:
    for index, option in enumerate(poll["options"]):
        option["voter_count"] = sum(index in chosen for chosen in votes.values())
    poll["total_voter_count"] = sum(bool(chosen) for chosen in votes.values())


def _checked_markup(markup: Any) -> JSONDict | None:
    """A reply_markup as Telegram validates it; inline buttons need an action and 1-64 bytes
    of callback_data."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise ApiError(400, "Bad Request: text of an inline button must not be empty")
            if not set(button) - {"text"}:
                raise ApiError(400, "Bad Request: text buttons are unallowed in the inline "
                                    "keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _formatted(params: JSONDict, text_key: str, entities_key: str, mode_key: str,
               limit: int) -> tuple[str, list[JSONDict]]:
    """A text with its entities after Telegram's parsing of ``parse_mode``; checks the limit."""
    text = params.get(text_key)
    text = "" if text is None else str(text)
    entities = params.get(entities_key)
    mode = (params.get(mode_key) or "").lower()
    if entities is None and mode == "html":
        text, entities = _parse_html(text)
    elif entities is None and mode == "markdownv2":
        _check_markdown_v2(text)
    entities = entities or []
    if _utf16_len(text) > limit:
        what = "message is too long" if text_key == "text" else "message caption is too long"
        raise ApiError(400, f"Bad Request: {what}")
    return text, entities


class _TelegramHTML(HTMLParser):
    """Telegram's HTML subset: text plus entities; other tags are errors."""

    TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
            "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
            "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler",
            "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
            "tg-emoji": "custom_emoji"}

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.source = source
        self.parts: list[str] = []
        self.length = 0  # UTF-16 units of text so far
        self.open: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[JSONDict] = []

    def _error(self, what: str) -> ApiError:
        line, column = self.getpos()
        index = sum(len(s) for s in self.source.splitlines(keepends=True)[: line - 1]) + column
        offset = len(self.source[:index].encode())
        return ApiError(400, f"Bad Request: can't parse entities: {what} at byte offset {offset}")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.length += _utf16_len(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in self.TAGS or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise self._error(f'Unsupported start tag "{tag}"')
        self.open.append((tag, self.length, attributes))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise self._error(f'Unmatched end tag "{tag}"')
        tag, start, attributes = self.open.pop()
        kind = self.TAGS[tag]
        language = (attributes.get("class") or "").removeprefix("language-")
        if kind == "code" and self.open and self.open[-1][0] == "pre" and language:
            self.open[-1][2]["language"] = language  # <pre><code class="language-x"> is one pre
            return
        if self.length == start:
            return  # Telegram drops empty entities
        entity: JSONDict = {"type": kind, "offset": start, "length": self.length - start}
        if kind == "text_link":
            entity["url"] = attributes.get("href") or ""
        elif kind == "pre" and attributes.get("language"):
            entity["language"] = attributes["language"]
        elif kind == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif kind == "custom_emoji":
            entity["custom_emoji_id"] = attributes.get("emoji-id") or ""
        self.entities.append(entity)


def _parse_html(text: str) -> tuple[str, list[JSONDict]]:
    parser = _TelegramHTML(text)
    parser.feed(text)
    parser.close()
    if parser.open:
        raise ApiError(400, "Bad Request: can't parse entities: Can't find end tag corresponding "
                            f'to start tag "{parser.open[-1][0]}"')
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.parts), entities


def _check_markdown_v2(text: str) -> None:
    """Refuse MarkdownV2 characters that must always be escaped outside code and link URLs
    (the commonest MarkdownV2 mistake: an unescaped '.', '-' or '!')."""
    i, in_code = 0, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "`":
            fence = 3 if text.startswith("```", i) else 1
            in_code = not in_code
            i += fence
            continue
        if not in_code and text.startswith("](", i):
            end = text.find(")", i + 2)
            i = end + 1 if end != -1 else len(text)
            continue
        if not in_code and char in "#+-={}.!" and not (char == "!" and text[i + 1:i + 2] == "["):
            raise ApiError(400, f"Bad Request: can't parse entities: Character '{char}' is "
                                "reserved and must be escaped with the preceding '\\'")
        i += 1


def _image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG; (0, 0) for WebP; None if not an image."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        return int.from_bytes(content[6:8], "little"), int.from_bytes(content[8:10], "little")
    if content.startswith(b"RIFF") and content[8:12] == b"WEBP":
        return 0, 0
    if content.startswith(b"\xff\xd8"):
        return _jpeg_size(content)
    return None


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame marker, which holds the size."""
    i = 2
    while i + 9 < len(content):
        if content[i] != 0xFF:
            return None
        marker = content[i + 1]
        length = int.from_bytes(content[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(content[i + 5:i + 7], "big")
            width = int.from_bytes(content[i + 7:i + 9], "big")
            return width, height
        i += 2 + length
    return None

