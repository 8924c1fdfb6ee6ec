"""Telegram side of complaints/tickets: commands, buttons, replies to cards, photos for a
ticket, /bind_secretary, and the two jobs (outbox drain, SLA watcher). All decisions are in
bot/tickets; this module only translates."""

from __future__ import annotations

import asyncio
import io
import logging
import time

from telegram import BotCommand, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import (Application, CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler,
                          filters)

from .. import texts as common_texts
from ..events import ButtonPress
from ..outbox import Drainer, find_sent
from ..tickets import texts
from ..tickets.chart import render_png
from ..tickets.export import export_csv
from ..tickets.service import TicketError
from ..tickets.stats import compute, render
from ..tickets.views import list_line
from .context import SERVICES, BotContext
from .convert import incoming, media_of
from .deferred import report_sent
from .group import send_replies
from .outbox_sender import TelegramOutboxSender, keyboard
from .tokens import ActionError, ActionTokens

log = logging.getLogger(__name__)

DRAINER = "ticket_drainer"
BIND_TOKENS = "ticket_bind_tokens"
CONTACT_TTL_S = 600.0
TRACK_GROUP = -3  # its own handler group: runs for every update and never stops the others
GROUP_COMMANDS = [BotCommand("complain", "登记诉求（反映问题）")]
PRIVATE_COMMANDS = [BotCommand("tickets", "待办诉求（书记）"), BotCommand("ticket", "查看诉求"),
                    BotCommand("stats", "诉求统计"), BotCommand("report", "近30天诉求图表"),
                    BotCommand("export", "导出诉求 CSV")]


class BindTokens(ActionTokens):
    PREFIX = "tb:"


def _tickets(context: BotContext):
    return context.services.app.tickets


# -- filters that look at the database -------------------------------------------------------
class _ReplyToTicket(filters.MessageFilter):
    """A private reply to one of the bot's ticket messages (a card, the 办结 prompt, a relay)."""

    def __init__(self, tickets):
        super().__init__(name="ReplyToTicket")
        self.tickets = tickets

    def filter(self, message: Message) -> bool:
        target = message.reply_to_message
        if target is None or message.chat.type != ChatType.PRIVATE:
            return False
        with self.tickets.db.session() as s:
            row = find_sent(s, message.chat.id, target.message_id)
            return row is not None and (row.ref or "").startswith("tk:")


class _AddingDetails(filters.MessageFilter):
    """A private photo, voice note, video or file for one of the driver's tickets (media_ticket).
    A data filter: the ticket it found reaches the handler as `context.ticket_ids[0]`, so the
    database is asked once per message."""

    def __init__(self, tickets):
        super().__init__(name="AddingDetails", data_filter=True)
        self.tickets = tickets

    def filter(self, message: Message) -> dict[str, list[int]] | None:
        user = message.from_user
        if message.chat.type != ChatType.PRIVATE or user is None:
            return None
        ticket_id = self.tickets.service.media_ticket(user.id)
        return {"ticket_ids": [ticket_id]} if ticket_id is not None else None


# -- tracking who can be written to privately ------------------------------------------------------
async def track_contacts(update: Update, context: BotContext) -> None:
    tickets = _tickets(context)
    change = update.my_chat_member
    if change is not None and change.chat.type == ChatType.PRIVATE:
        blocked = change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
        await asyncio.to_thread(tickets.service.record_contact, change.chat.id, change.chat.full_name or "",
                                blocked=blocked)
        context.bot_data.setdefault("ticket_contacts", {}).pop(change.chat.id, None)
        return
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type != ChatType.PRIVATE or chat.id != user.id or user.is_bot:
        return
    known = context.bot_data.setdefault("ticket_contacts", {})
    now = time.monotonic()
    if now - known.get(user.id, -CONTACT_TTL_S) < CONTACT_TTL_S:
        return  # recorded a moment ago: spare the database a write per private message
    tickets.service.record_contact(user.id, user.full_name)
    known[user.id] = now


# -- drivers -----------------------------------------------------------------------------------
async def on_complain(update: Update, context: BotContext) -> None:
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return
    msg = incoming(message, bot_id=context.bot.id, bot_username=context.bot.username,
                   text=" ".join(context.args or []).strip(), force_addressed=True)
    replies = await _tickets(context).desk.complain(msg, nlu=context.services.app.pipeline.nlu)
    await send_replies(context, message.chat_id, replies)


async def on_start_link(update: Update, context: BotContext) -> None:
    """`/start tk_<id>` from a ticket's button: show it and take details."""
    message, user = update.message, update.effective_user
    if message is None or user is None:
        return
    try:
        ticket_id = int((context.args or [""])[0].removeprefix("tk_"))
    except ValueError:
        await message.reply_text(context.services.app.help_text(user.id, private=True))
        return
    tickets = _tickets(context)
    await message.reply_text(tickets.service.open_details(user.id, ticket_id, user.full_name))


async def on_media(update: Update, context: BotContext) -> None:
    message, user = update.message, update.effective_user
    ticket_id = context.ticket_ids[0]  # found by _AddingDetails
    await message.reply_text(_tickets(context).service.add_detail(user.id, ticket_id, message.caption or "",
                                                                  name=user.full_name, media=media_of(message)))


async def on_reply(update: Update, context: BotContext) -> None:
    """A reply to a ticket message: relay to the driver, the 办结 note, or a driver's detail."""
    message, user = update.message, update.effective_user
    service = _tickets(context).service
    try:
        answer = service.relay(user.id, message.chat.id, message.reply_to_message.message_id, message.text or "",
                               actor_name=user.full_name)
    except TicketError as exc:
        answer = str(exc)
    if answer:
        await message.reply_text(answer)


# -- buttons ------------------------------------------------------------------------------------
async def on_press(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    press = ButtonPress(chat_id=query.message.chat.id, user_id=query.from_user.id, action=query.data or "",
                        message_id=query.message.message_id, platform="telegram")
    result = await _tickets(context).desk.press(press, user_name=query.from_user.full_name)
    try:
        await query.answer(result.notice, show_alert=result.alert)
    except BadRequest as exc:  # pressed long ago (e.g. during downtime): the card is still updated
        log.info("could not answer a button press: %s", exc.message)
    if result.edit_text is None and result.edit_buttons is None:
        return
    markup = keyboard(result.edit_buttons or [], context.bot.username)
    try:
        if result.edit_text is not None and getattr(query.message, "text", None) is not None:
            await query.edit_message_text(result.edit_text[:4096], reply_markup=markup)
        else:
            await query.edit_message_reply_markup(reply_markup=markup or InlineKeyboardMarkup([]))
    except BadRequest as exc:  # "message is not modified" and the like: the press itself is done
        log.debug("could not update the pressed message: %s", exc)


# -- secretaries and admins -----------------------------------------------------------------------
async def _private_handler(update: Update, context: BotContext) -> bool:
    """Secretaries and admins only, and only privately (tickets hold personal details)."""
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    if user is None or message is None:
        return False
    if not _tickets(context).service.is_handler(user.id):
        await message.reply_text(texts.NOT_SECRETARY)
        return False
    if chat is not None and chat.type != ChatType.PRIVATE:
        await message.reply_text(common_texts.PRIVATE_ONLY)
        return False
    return True


async def on_tickets(update: Update, context: BotContext) -> None:
    if not await _private_handler(update, context):
        return
    service = _tickets(context).service
    now = service.clock.now()
    rows = service.open_for(update.effective_user.id)
    if not rows:
        await update.effective_message.reply_text(texts.NO_OPEN)
        return
    lines = [list_line(t, service.calendar, now) for t in rows[:50]]
    await update.effective_message.reply_text(texts.OPEN_LIST.format(n=len(rows), lines="\n".join(lines)))


async def on_ticket(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    if not context.args:
        await message.reply_text(texts.TICKET_USAGE)
        return
    try:
        result = _tickets(context).service.detail(context.args[0], user.id)
    except TicketError as exc:
        await message.reply_text(str(exc))
        return
    if result.card_text and update.effective_chat.type != ChatType.PRIVATE:
        await message.reply_text(common_texts.PRIVATE_ONLY)
        return
    await message.reply_text(result.message[:4096], reply_markup=keyboard(result.card_buttons, context.bot.username))


def _scope(context: BotContext, user_id: int) -> tuple[list[str] | None, str]:
    service = _tickets(context).service
    branches = service.scope(user_id)
    if branches is None:
        return None, "全部支部"
    names = {b.id: b.name for b in service.branches.all()}
    return branches, "、".join(names.get(b, b) for b in branches) or "—"


async def on_stats(update: Update, context: BotContext) -> None:
    if not await _private_handler(update, context):
        return
    days = 30
    if context.args and context.args[0].isdigit():
        days = max(1, min(int(context.args[0]), 3650))
    service = _tickets(context).service
    branches, scope = _scope(context, update.effective_user.id)
    stats = await asyncio.to_thread(compute, service.db, now=service.clock.now(), days=days, branches=branches)
    await update.effective_message.reply_text(render(stats, scope))


async def on_report(update: Update, context: BotContext) -> None:
    if not await _private_handler(update, context):
        return
    service = _tickets(context).service
    branches, scope = _scope(context, update.effective_user.id)
    now = service.clock.now()
    png = await asyncio.to_thread(render_png, service.db, service.calendar, now=now, title=scope, branches=branches)
    stats = await asyncio.to_thread(compute, service.db, now=now, days=30, branches=branches)
    rate = "—" if stats.resolution_rate is None else f"{stats.resolution_rate * 100:.1f}%"
    caption = texts.REPORT_CAPTION.format(scope=scope, collected=stats.collected, resolved=stats.resolved, rate=rate)
    await update.effective_message.reply_photo(photo=io.BytesIO(png), filename="report.png", caption=caption)


async def on_export(update: Update, context: BotContext) -> None:
    if not await _private_handler(update, context):
        return
    service = _tickets(context).service
    branches, _ = _scope(context, update.effective_user.id)
    now = service.clock.now()
    body = await asyncio.to_thread(export_csv, service.db, service.calendar, now=now, branches=branches)
    name = f"tickets-{service.calendar.local(now):%Y%m%d}.csv"
    await update.effective_message.reply_document(document=io.BytesIO(body.encode("utf-8")), filename=name)


# -- /bind_secretary -------------------------------------------------------------------------------------
async def on_bind(update: Update, context: BotContext) -> None:
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None or chat.type == ChatType.PRIVATE:
        return
    target = message.reply_to_message.from_user if message.reply_to_message else None
    if target is None or target.is_bot:
        await message.reply_text(texts.BIND_USAGE)
        return
    allowed = context.services.app.admins.is_admin(user.id)
    if not allowed:
        try:
            member = await context.bot.get_chat_member(chat.id, user.id)
            allowed = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
        except TelegramError as exc:
            log.warning("could not check %s in %s: %s", user.id, chat.id, exc)
    if not allowed:
        await message.reply_text(texts.BIND_ONLY_ADMINS)
        return
    service = _tickets(context).service
    branch_id, branch_name = service.branches.branch_for_group(chat.id, chat.title or "")
    tokens: BindTokens = context.bot_data.setdefault(BIND_TOKENS, BindTokens(ttl_s=86400))
    data = tokens.issue(target.id, "bind", {"branch_id": branch_id, "branch": branch_name, "by": user.id,
                                             "name": target.full_name})
    markup = keyboard([[{"label": texts.BTN_BIND, "action": data}]], context.bot.username)
    await message.reply_text(texts.BIND_ASK.format(name=target.full_name, branch=branch_name), reply_markup=markup)


async def on_bind_confirm(update: Update, context: BotContext) -> None:
    query = update.callback_query
    tokens: BindTokens = context.bot_data.setdefault(BIND_TOKENS, BindTokens(ttl_s=86400))
    try:
        payload = tokens.take(query.data or "", query.from_user.id)
    except ActionError as exc:
        await query.answer(common_texts.NOT_YOURS if str(exc) == "not yours" else common_texts.BUTTON_EXPIRED,
                           show_alert=True)
        return
    service = _tickets(context).service
    fresh = service.branches.bind(payload["branch_id"], query.from_user.id, payload["by"])
    text = (texts.BIND_DONE if fresh else texts.BIND_ALREADY).format(name=payload["name"], branch=payload["branch"])
    await query.answer()
    try:
        await query.edit_message_text(text)
    except BadRequest as exc:
        log.debug("could not edit the bind message: %s", exc)


# -- jobs -------------------------------------------------------------------------------------------------
async def drain_job(context: BotContext) -> None:
    """Start a drain unless one is running (the job itself returns at once, so a long drain
    during an outage never piles up job runs)."""
    context.bot_data[DRAINER].kick()


async def watch_job(context: BotContext) -> None:
    tickets = context.application.bot_data[SERVICES].app.tickets
    done = await asyncio.to_thread(tickets.watcher.run)
    if done:
        context.bot_data[DRAINER].kick()  # the thread had no event loop to wake the drainer


def register(application: Application) -> None:
    """Add the ticket handlers (before the FAQ handlers: their filters are narrow) and jobs."""
    app = application.bot_data[SERVICES].app
    tickets = app.tickets
    if tickets is None:
        return
    def spawn(coro):
        # PTB's create_task (awaited on shutdown) while running; a plain task otherwise, e.g.
        # during start-up or shutdown (rows it does not finish stay pending for the next drain).
        if application.running:
            return application.create_task(coro)
        return asyncio.get_running_loop().create_task(coro)

    drainer = Drainer(app.db, TelegramOutboxSender(application.bot), tickets.outbox, tickets.clock, spawn=spawn)
    drainer.on_failed.append(tickets.on_undeliverable)
    drainer.on_sent.append(report_sent(app.pipeline))
    drainer.on_moved.append(app.chat_moved)
    tickets.service.on_enqueue = drainer.kick
    application.bot_data[DRAINER] = drainer
    application.bot_data[BIND_TOKENS] = BindTokens(ttl_s=86400)

    private = filters.ChatType.PRIVATE
    application.add_handler(TypeHandler(Update, track_contacts), group=TRACK_GROUP)
    for handler in (
        CommandHandler("start", on_start_link, filters=private & filters.Regex(r"^/start\s+tk_\d+")),
        CommandHandler("complain", on_complain),
        CommandHandler("tickets", on_tickets),
        CommandHandler("ticket", on_ticket),
        CommandHandler("stats", on_stats),
        CommandHandler("report", on_report),
        CommandHandler("export", on_export),
        CommandHandler("bind_secretary", on_bind),
        CallbackQueryHandler(on_press, pattern=r"^tk:"),
        CallbackQueryHandler(on_bind_confirm, pattern=r"^tb:"),
        MessageHandler(private & filters.REPLY & filters.TEXT & ~filters.COMMAND & _ReplyToTicket(tickets), on_reply),
        MessageHandler(private & (filters.PHOTO | filters.VOICE | filters.VIDEO | filters.Document.ALL)
                       & _AddingDetails(tickets), on_media),
    ):
        application.add_handler(handler)

    jobs = application.job_queue
    if jobs is None:
        log.warning("no job queue (install python-telegram-bot[job-queue]): notifications go out only when "
                    "something new happens, and deadlines are not watched")
        return
    once = {"coalesce": True, "max_instances": 1}
    jobs.run_repeating(drain_job, interval=tickets.outbox.interval_s, first=0.2, name="outbox-drain",
                       job_kwargs={**once, "misfire_grace_time": 30})
    jobs.run_repeating(watch_job, interval=tickets.service.settings.watch_interval_s, first=1.0, name="sla-watch",
                       job_kwargs={**once, "misfire_grace_time": 60})
