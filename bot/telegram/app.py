"""Builds and runs the PTB Application around the core services."""

from __future__ import annotations

import asyncio
import gc
import html
import logging
import signal
import time
import traceback
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from telegram import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeDefault, Update
from telegram.error import BadRequest, ChatMigrated, TelegramError
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, Defaults,
                          ChatMemberHandler, CommandHandler, ContextTypes, ConversationHandler, MessageHandler,
                          SimpleUpdateProcessor, TypeHandler, filters)

from ..app import App
from ..config import ConfigError
from ..observability.metrics import Metrics
from . import admin, group, retry
from .http_client import AiohttpRequest
from . import study as study_tg
from . import tickets as tickets_tg
from .context import SERVICES, BotContext, Services
from .server import HttpServer, web_app

log = logging.getLogger(__name__)
LAST_GROUP = 9  # handler group after every other (study's late handlers are group 1)

GROUP_COMMANDS = [BotCommand("ask", "问我一个问题"), BotCommand("help", "看看我能做什么")]
ADMIN_COMMANDS = GROUP_COMMANDS + [
    BotCommand("faq_add", "新增问答"), BotCommand("faq_edit", "修改问答"), BotCommand("faq_del", "删除问答"),
    BotCommand("faq_show", "查看问答"), BotCommand("faq_find", "搜索问答"), BotCommand("faq_list", "问答列表"),
    BotCommand("faq_history", "修改记录"), BotCommand("faq_pending", "没答上的问题"),
    BotCommand("faq_export", "导出知识库"), BotCommand("admin_add", "添加管理员"), BotCommand("cancel", "取消"),
]
GROUP_COMMANDS += study_tg.GROUP_COMMANDS  # daily study (bot/telegram/study.py)
ADMIN_COMMANDS += study_tg.GROUP_COMMANDS + study_tg.ADMIN_COMMANDS
GROUP_COMMANDS += tickets_tg.GROUP_COMMANDS  # complaints/tickets (bot/telegram/tickets.py)
ADMIN_COMMANDS += tickets_tg.GROUP_COMMANDS + tickets_tg.PRIVATE_COMMANDS


async def _post_init(application: Application) -> None:
    """Optional set-up: a failure here is logged, never fatal."""
    try:
        await application.bot.set_my_commands(GROUP_COMMANDS, scope=BotCommandScopeDefault())
        await application.bot.set_my_commands(ADMIN_COMMANDS, scope=BotCommandScopeAllPrivateChats())
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)


async def _on_error(update: object, context: BotContext) -> None:
    """One place for unexpected errors: log with the traceback and tell the first admin.
    An update that failed because the database was unreachable is handled again later."""
    if isinstance(context.error, BadRequest) and "query is too old" in context.error.message.lower():
        log.info("a button press was answered too late: %s", context.error.message)  # expected after downtime
        return
    if retry.handle_again_later(update, context.error, context.application):
        return
    if isinstance(context.error, ChatMigrated) and isinstance(update, Update) and update.effective_chat:
        # a direct reply to a group upgraded meanwhile: the group is followed, the reply is lost
        log.warning("chat %s became %s under a reply; reply dropped", update.effective_chat.id,
                    context.error.new_chat_id)
        context.services.app.chat_moved(update.effective_chat.id, context.error.new_chat_id)
        return
    if update is None and retry.database_unreachable(context.error):  # a job: it runs again on its own
        log.warning("a job could not reach the database: %s", type(context.error).__name__)
        return
    log.error("error while handling an update", exc_info=context.error)
    try:
        admins = context.services.app.admins.all() if context.services.app.admins else []
    except Exception:  # the database may be what failed: the log line above has it all
        return
    if not admins:
        return
    tb = "".join(traceback.format_exception(None, context.error, context.error.__traceback__))[-1500:]
    try:
        await context.bot.send_message(admins[0], f"⚠️ 机器人出错了：\n<pre>{html.escape(tb)}</pre>",
                                       parse_mode="HTML")
    except TelegramError as exc:
        log.warning("could not notify admin %s: %s", admins[0], exc)


class _UpdateQueue(asyncio.Queue):
    """PTB's update queue with back-pressure: `put` waits while `limit` updates are inside the
    bot (fetched, not yet handled). PTB starts a task for every update it takes from the queue
    at once, and the Updater confirms updates to Telegram when it asks for the next batch; so
    without a bound an overload would move the whole backlog into memory, where a crash loses
    it. With one, polling pauses and the backlog stays with Telegram (a webhook request is
    answered later, which slows Telegram down). Optionally remembers when each update arrived,
    for the latency histogram."""

    def __init__(self, limit: int, stamp: bool = False) -> None:
        super().__init__()
        self.limit = limit
        self.arrived: dict[int, float] | None = {} if stamp else None
        self._inside = 0  # updates put and not yet marked done
        self._room = asyncio.Event()

    async def put(self, item) -> None:
        if isinstance(item, Update):  # PTB's own stop signal is never held back
            while self._inside >= self.limit:
                self._room.clear()
                await self._room.wait()
            self._inside += 1
        await super().put(item)

    def put_nowait(self, item) -> None:  # Queue.put ends here too
        if self.arrived is not None:
            self.arrived[id(item)] = time.perf_counter()
        super().put_nowait(item)

    def task_done(self) -> None:
        super().task_done()
        self._inside = max(0, self._inside - 1)
        self._room.set()


class _TimedUpdateProcessor(SimpleUpdateProcessor):
    """PTB's concurrent update processor that observes arrival -> handlers done, so the time an
    update waits for a free slot under load is part of the figure."""

    def __init__(self, max_concurrent_updates: int, queue: _UpdateQueue, metrics: Metrics):
        super().__init__(max_concurrent_updates)
        self._queue, self._metrics = queue, metrics

    async def do_process_update(self, update: object, coroutine: Awaitable) -> None:
        try:
            await coroutine
        finally:
            arrived = self._queue.arrived.pop(id(update), None)
            if arrived is not None:
                self._metrics.handler_seconds.labels(update_kind(update)).observe(time.perf_counter() - arrived)


UPDATES_INSIDE_PER_SLOT = 4  # see _UpdateQueue

UPDATE_KINDS = ("message", "edited_message", "callback_query", "my_chat_member", "chat_member", "poll_answer",
                "poll", "channel_post", "edited_channel_post", "chat_join_request", "message_reaction")


def update_kind(update: object) -> str:
    """A small, fixed label set for metrics: which part of the update is filled in."""
    if isinstance(update, Update):
        for kind in UPDATE_KINDS:
            if getattr(update, kind, None) is not None:
                return kind
    return "other"


def build_application(app: App, token: str, *, base_url: str | None = None, base_file_url: str | None = None,
                      rate_limit_retries: int = 3, webhook: bool = False,
                      metrics: Metrics | None = None) -> Application:
    """The PTB Application with every handler. `webhook`: no Updater (updates come from our
    HTTP server); `metrics`: handler latency is observed."""
    concurrency = app.settings.telegram.concurrent_updates
    builder = (ApplicationBuilder().token(token)
               .context_types(ContextTypes(context=BotContext))
               .rate_limiter(AIORateLimiter(overall_max_rate=app.settings.telegram.send_rate,
                                            max_retries=rate_limit_retries))
               .defaults(Defaults(allow_sending_without_reply=True))  # the driver may delete the question
               .request(AiohttpRequest())  # a third of httpx's CPU per request (http_client.py)
               .get_updates_request(AiohttpRequest(pool_size=2))
               .post_init(_post_init))
    if webhook:
        builder = builder.updater(None)
    # enough fetched updates to keep every handler slot busy while the next batch is fetched
    queue = _UpdateQueue(limit=UPDATES_INSIDE_PER_SLOT * concurrency, stamp=metrics is not None)
    builder = builder.update_queue(queue).concurrent_updates(
        concurrency if metrics is None else _TimedUpdateProcessor(concurrency, queue, metrics))
    if base_url:
        builder = builder.base_url(base_url.rstrip("/") + ("" if base_url.rstrip("/").endswith("/bot") else "/bot"))
        builder = builder.base_file_url(base_file_url or base_url.rstrip("/").removesuffix("/bot") + "/file/bot")
    application = builder.build()
    application.bot_data[SERVICES] = Services(app=app, max_update_age_s=app.settings.telegram.max_update_age_s)

    application.add_handler(TypeHandler(Update, group.skip_stale), group=-1)
    tickets_tg.register(application)  # complaints/tickets: narrow handlers first, plus their jobs
    for handler in admin.handlers():
        application.add_handler(handler)
    application.add_handler(CommandHandler(["help", "start"], group.on_help))
    application.add_handler(CommandHandler("ask", group.on_ask))
    application.add_handler(ChatMemberHandler(group.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, group.on_migrate))
    application.add_handler(CallbackQueryHandler(group.on_button, pattern=r"^(faq|fb):"))
    # a photo's caption is read like a text message ("这个限高牌写的多少？")
    application.add_handler(MessageHandler(
        filters.UpdateType.MESSAGE & ((filters.TEXT & ~filters.COMMAND) | filters.CAPTION) & ~filters.VIA_BOT,
        group.on_text))
    application.add_handler(MessageHandler(
        filters.UpdateType.MESSAGE & (filters.ChatType.PRIVATE | filters.REPLY) & ~filters.CAPTION
        & (filters.PHOTO | filters.VOICE | filters.VIDEO | filters.VIDEO_NOTE | filters.AUDIO | filters.Document.ALL),
        group.on_unreadable_media))
    study_tg.install(application)  # daily study: its handlers and the dispatcher job
    application.add_handler(CommandHandler("cancel", group.on_nothing_to_cancel, filters=filters.ChatType.PRIVATE),
                            group=LAST_GROUP)
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND & ~filters.VIA_BOT,
                                           group.on_unknown_command), group=LAST_GROUP)
    application.bot_data[SERVICES].commands = command_names(application)
    application.add_error_handler(_on_error)
    return application


def command_names(application: Application) -> frozenset[str]:
    """Every command some handler takes, conversations' included (for the unknown-command reply)."""
    names: set[str] = set()

    def walk(handlers) -> None:
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                names.update(handler.commands)
            elif isinstance(handler, ConversationHandler):
                walk(handler.entry_points)
                walk(handler.fallbacks)
                for state in handler.states.values():
                    walk(state)

    for handlers in application.handlers.values():
        walk(handlers)
    return frozenset(names)


def settle_heap() -> None:
    """Move everything loaded at start-up (models, the index, PTB) out of the garbage
    collector's reach: otherwise each full collection walks those millions of objects again,
    and under load that showed as pauses of up to 0.4 s (10% of the CPU) in the middle of
    handling messages. Objects are still freed by reference counting; only start-up cycles are
    never collected, which is what start-up objects are for."""
    gc.collect()
    gc.freeze()


@dataclass
class Running:
    """A bot that is up: the PTB Application, the HTTP server and the metrics."""

    application: Application
    http: HttpServer
    metrics: Metrics
    mode: str


@asynccontextmanager
async def serving(app: App, token: str, *, base_url: str | None = None, base_file_url: str | None = None,
                  poll_interval: float = 0.0, poll_timeout: int | None = None) -> AsyncIterator[Running]:
    """Start everything for `telegram.mode` (polling or webhook) plus the HTTP server, and stop it
    in order on exit. PTB's Application is started by hand (initialize/start/stop/shutdown), as
    in PTB's custom-webhook example, so our aiohttp server shares its event loop."""
    settings = app.settings
    webhook = settings.telegram.mode == "webhook"
    secret = settings.webhook_secret() if webhook else None  # ConfigError before anything starts
    metrics = Metrics().watch(app)
    application = build_application(app, token, base_url=base_url, base_file_url=base_file_url, webhook=webhook,
                                    metrics=metrics)
    http = HttpServer(web_app(app, metrics, application=application,
                              webhook_path=settings.telegram.webhook_path if webhook else None, secret=secret),
                      settings.server.host, settings.server.port)
    await application.initialize()
    settle_heap()
    try:
        if application.post_init is not None:  # run_polling/run_webhook would call it
            await application.post_init(application)
        try:  # listen first: a port in use stops start-up before any job runs
            await http.start()
        except OSError as exc:
            raise ConfigError(f"server.host/server.port: cannot listen on {settings.server.host}:"
                              f"{settings.server.port}: {exc.strerror or exc}") from None
        try:
            await application.start()  # webhook updates that came meanwhile wait in the queue
            try:
                if webhook:
                    await application.bot.set_webhook(settings.telegram.webhook_url, secret_token=secret,
                                                      allowed_updates=Update.ALL_TYPES)
                    log.info("Telegram bot up (webhook %s, listening on %s:%s%s)", settings.telegram.webhook_url,
                             settings.server.host, http.port, settings.telegram.webhook_path)
                else:
                    await application.updater.start_polling(
                        poll_interval=poll_interval, allowed_updates=Update.ALL_TYPES,
                        timeout=settings.telegram.poll_timeout_s if poll_timeout is None else poll_timeout)
                    log.info("Telegram bot up (long polling; health and metrics on %s:%s)",
                             settings.server.host, http.port)
                yield Running(application, http, metrics, settings.telegram.mode)
            finally:
                # Intake first (an update answered 200 must not land behind PTB's stop signal),
                # then PTB works off what is queued.
                await http.stop()
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                await application.stop()
        finally:
            await http.stop()
    finally:
        await application.shutdown()


def run(app: App, token: str) -> None:
    """`driverhome run` with a token: serve until SIGINT/SIGTERM. (The webhook stays registered
    when the bot stops: Telegram keeps the updates until a process is back.)"""
    settings = app.settings

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with serving(app, token, base_url=settings.bot_api_base_url):
            await stop.wait()
            log.info("stopping the Telegram bot")

    asyncio.run(main())
