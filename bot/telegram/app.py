"""Builds and runs the PTB Application around the core services."""

from __future__ import annotations

import html
import logging
import traceback

from telegram import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler,
                          ChatMemberHandler, CommandHandler, ContextTypes, MessageHandler, TypeHandler, filters)

from ..app import App
from . import admin, group
from . import study as study_tg
from . import tickets as tickets_tg
from .context import SERVICES, BotContext, Services

log = logging.getLogger(__name__)

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
    """One place for unexpected errors: log with the traceback and tell the first admin."""
    log.error("error while handling an update", exc_info=context.error)
    admins = context.services.app.admins.all() if context.services.app.admins else []
    if not admins:
        return
    tb = "".join(traceback.format_exception(None, context.error, context.error.__traceback__))[-1500:]
    try:
        await context.bot.send_message(admins[0], f"⚠️ 机器人出错了：\n<pre>{html.escape(tb)}</pre>",
                                       parse_mode="HTML")
    except TelegramError as exc:
        log.warning("could not notify admin %s: %s", admins[0], exc)


def build_application(app: App, token: str, *, base_url: str | None = None, base_file_url: str | None = None,
                      rate_limit_retries: int = 3) -> Application:
    builder = (ApplicationBuilder().token(token)
               .context_types(ContextTypes(context=BotContext))
               .rate_limiter(AIORateLimiter(max_retries=rate_limit_retries))
               .concurrent_updates(app.settings.telegram.concurrent_updates)
               .post_init(_post_init))
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
    application.add_handler(CallbackQueryHandler(group.on_button, pattern=r"^(faq|fb):"))
    application.add_handler(MessageHandler(
        filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & ~filters.VIA_BOT, group.on_text))
    study_tg.install(application)  # daily study: its handlers and the dispatcher job
    application.add_error_handler(_on_error)
    return application


def run_polling(app: App, token: str) -> None:
    settings = app.settings
    application = build_application(app, token, base_url=settings.bot_api_base_url)
    log.info("starting the Telegram bot (long polling)")
    application.run_polling(allowed_updates=Update.ALL_TYPES, timeout=settings.telegram.poll_timeout_s)
