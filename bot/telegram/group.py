"""Handlers for what drivers meet: questions in groups, buttons, joining and leaving."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from .. import texts
from ..events import ButtonPress, Reply
from .context import BotContext
from .convert import incoming, replies_to, send_kwargs
from .deferred import defer, passing

log = logging.getLogger(__name__)

PRESENT = {ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER,
           ChatMemberStatus.RESTRICTED}


async def send_replies(context: BotContext, chat_id: int, replies: list[Reply]) -> None:
    """Send replies in order and report each sent message back to the core."""
    pipeline = context.services.app.pipeline
    for reply in replies:
        kwargs = send_kwargs(reply, chat_id)
        try:
            try:
                sent = await context.bot.send_message(**kwargs)
            except ChatMigrated as exc:  # upgraded to a supergroup while this update was on its way
                context.services.app.chat_moved(kwargs["chat_id"], exc.new_chat_id)
                if kwargs["chat_id"] == chat_id:
                    chat_id = exc.new_chat_id  # the replies after this one go there too
                kwargs["chat_id"] = exc.new_chat_id
                sent = await context.bot.send_message(**kwargs)
        except Forbidden as exc:  # a person who never started the bot, or blocked it
            log.info("cannot message chat %s: %s", reply.chat_id or chat_id, exc.message)
            continue
        except TelegramError as exc:  # rate limit, 5xx, timeout: retried through the outbox
            if passing(exc) and defer(context, chat_id, reply, exc):
                continue
            raise
        pipeline.delivered(kwargs["chat_id"], reply, sent.message_id)


async def reply_with(message, context: BotContext, text: str) -> None:
    """A handler's own reply to `message`, sent as answers are: retried through the outbox when
    Telegram refuses it for now, and following a group upgraded meanwhile (quoted in groups)."""
    quote = None if message.chat.type == ChatType.PRIVATE else message.message_id
    await send_replies(context, message.chat_id, [Reply(text, reply_to=quote)])


async def skip_stale(update: Update, context: BotContext) -> None:
    """Runs before every handler: edits are never answered (a command handler would see an
    edited "/ask ..." again), and after downtime old updates are dropped, not answered."""
    if update.edited_message is not None or update.edited_channel_post is not None:
        raise ApplicationHandlerStop
    message = update.effective_message
    if message is None or message.date is None:
        return
    age = (datetime.now(timezone.utc) - message.date).total_seconds()
    if age > context.services.max_update_age_s and update.callback_query is None:
        log.info("skipping a stale update (%.0f s old) in chat %s", age, message.chat_id)
        raise ApplicationHandlerStop


async def on_text(update: Update, context: BotContext) -> None:
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return
    msg = incoming(message, bot_id=context.bot.id, bot_username=context.bot.username)
    replies = await context.services.app.pipeline.handle_message(msg)
    await send_replies(context, message.chat_id, replies)


async def on_ask(update: Update, context: BotContext) -> None:
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return
    question = " ".join(context.args or []).strip()
    if not question:
        if await _within_flood_limit(message, context):
            await reply_with(message, context, texts.ASK_USAGE)
        return
    msg = incoming(message, bot_id=context.bot.id, bot_username=context.bot.username, text=question,
                   force_addressed=True)
    await send_replies(context, message.chat_id, await context.services.app.pipeline.handle_message(msg))


async def on_help(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or not await _within_flood_limit(message, context):
        return
    user = message.from_user
    text = context.services.app.help_text(user.id if user else None, private=message.chat.type == ChatType.PRIVATE)
    await reply_with(message, context, text)


async def on_unknown_command(update: Update, context: BotContext) -> None:
    """A command no handler takes: said so in a private chat, or in a group when it names this
    bot (/foo@bot); a bare /foo in a group may be meant for another bot."""
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot or not message.text:
        return
    name, _, target = message.text.split(maxsplit=1)[0][1:].partition("@")
    if name.lower() in context.services.commands:
        return
    meant_for_me = (target.lower() == (context.bot.username or "").lower() if target
                    else message.chat.type == ChatType.PRIVATE)
    if not meant_for_me:
        return
    if await _within_flood_limit(message, context):
        await reply_with(message, context, texts.UNKNOWN_COMMAND)


async def on_unreadable_media(update: Update, context: BotContext) -> None:
    """A photo, voice note, video or file without a caption, in a private chat or in a group as
    a reply to the bot (one that adds to a ticket, or an admin's FAQ or study file, is taken
    before this): the bot reads no pictures, speech or files, so it asks for text instead of
    staying silent. Other media in a group are the members' own business."""
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return
    if message.chat.type != ChatType.PRIVATE and not replies_to(message, context.bot.id):
        return
    if await _within_flood_limit(message, context):
        await reply_with(message, context, texts.MEDIA_UNREADABLE)


async def on_nothing_to_cancel(update: Update, context: BotContext) -> None:
    """/cancel outside any conversation (a conversation's own /cancel stops the update first)."""
    if update.message is not None:
        await reply_with(update.message, context, texts.NOTHING_TO_CANCEL)


async def _within_flood_limit(message, context: BotContext) -> bool:
    """A reply in a group counts against the member's flood budget, as answers do (one member
    repeating /help must not make the bot talk to the whole group); private chats are free."""
    if message.from_user is None:
        return True
    return await context.services.app.pipeline.may_reply(message.chat_id, message.from_user.id,
                                                         message.chat.type == ChatType.PRIVATE)


async def on_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    press = ButtonPress(chat_id=query.message.chat.id, user_id=query.from_user.id, action=query.data or "",
                        message_id=query.message.message_id, platform="telegram")
    outcome = await context.services.app.pipeline.handle_press(press)
    try:
        await query.answer(outcome.notice, show_alert=outcome.alert)
    except BadRequest as exc:  # pressed long ago (e.g. during downtime): the replies still go out
        log.info("could not answer a button press: %s", exc.message)
    await send_replies(context, query.message.chat.id, outcome.replies)


async def on_migrate(update: Update, context: BotContext) -> None:
    """Telegram upgraded a group to a supergroup (a new chat id): the old chat gets
    `migrate_to_chat_id`, the new one `migrate_from_chat_id`; either moves everything."""
    message = update.message
    if message is None:
        return
    if message.migrate_to_chat_id:
        context.services.app.chat_moved(message.chat_id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        context.services.app.chat_moved(message.migrate_from_chat_id, message.chat_id)


async def on_membership(update: Update, context: BotContext) -> None:
    """The bot was added to or removed from a chat."""
    change = update.my_chat_member
    if change is None or change.chat.type == ChatType.PRIVATE:
        return
    chats = context.services.app.chats
    was_in = change.old_chat_member.status in PRESENT
    is_in = change.new_chat_member.status in PRESENT
    if is_in and not was_in:
        chats.joined(change.chat.id, change.chat.type, change.chat.title or "")
        log.info("added to chat %s (%s)", change.chat.id, change.chat.title)
        try:
            await context.bot.send_message(change.chat.id, texts.WELCOME)
        except TelegramError as exc:
            log.warning("welcome to %s failed: %s", change.chat.id, exc)
    elif was_in and not is_in:
        chats.left(change.chat.id)
        log.info("removed from chat %s", change.chat.id)
