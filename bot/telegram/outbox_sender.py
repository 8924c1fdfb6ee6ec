"""The outbox's Telegram `Sender`: turns a platform-neutral payload into a Bot API call and
Telegram's errors into "try again later" or "will never work"."""

from __future__ import annotations

import html
import logging
from datetime import timedelta

from telegram import Bot, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError

from ..outbox import ChatMoved, Outgoing, RetryLater, Undeliverable

log = logging.getLogger(__name__)
# The Bot method that sends each kind of IncomingMessage.media by its file id; anything else
# goes as a document.
MEDIA_SENDS = {"photo": "send_photo", "voice": "send_voice", "video": "send_video"}


def deep_link(username: str, param: str) -> str:
    return f"https://t.me/{username}?start={param}"


def keyboard(rows: list[list[dict]], username: str) -> InlineKeyboardMarkup | None:
    built = []
    for row in rows or []:
        buttons = []
        for b in row:
            label = str(b.get("label", ""))[:64]
            if "action" in b:
                buttons.append(InlineKeyboardButton(label, callback_data=b["action"]))
            elif "url" in b:
                buttons.append(InlineKeyboardButton(label, url=b["url"]))
            elif "start" in b:
                buttons.append(InlineKeyboardButton(label, url=deep_link(username, b["start"])))
        if buttons:
            built.append(buttons)
    return InlineKeyboardMarkup(built) if built else None


def render_text(payload: dict) -> tuple[str, str | None]:
    """The text and parse mode: a mention needs HTML, so everything else is escaped."""
    text = str(payload.get("text", ""))
    mention = payload.get("mention")
    if not mention:
        return text, None
    link = f'<a href="tg://user?id={int(mention["user_id"])}">{html.escape(str(mention.get("name") or "师傅"))}</a>'
    return html.escape(text, quote=False).replace("{mention}", link), "HTML"


class TelegramOutboxSender:
    def __init__(self, bot: Bot):
        self.bot = bot

    async def send(self, message: Outgoing) -> int | None:
        p = message.payload
        text, parse_mode = render_text(p)
        markup = ForceReply(selective=True) if p.get("force_reply") else keyboard(p.get("buttons"), self.bot.username)
        reply = (ReplyParameters(message_id=int(p["reply_to"]), allow_sending_without_reply=True)
                 if p.get("reply_to") else None)
        try:
            media = p.get("media")
            if media:
                send = getattr(self.bot, MEDIA_SENDS.get(media.get("type"), "send_document"))
                sent = await send(message.chat_id, media["file_id"], caption=text[:1024] or None,
                                  parse_mode=parse_mode, reply_markup=markup, reply_parameters=reply)
            else:
                sent = await self.bot.send_message(message.chat_id, text[:4096], parse_mode=parse_mode,
                                                   reply_markup=markup, reply_parameters=reply)
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise RetryLater(f"rate limited: {exc.message}", retry_after=seconds) from None
        except Forbidden as exc:  # blocked by the user, kicked from the group, never started
            raise Undeliverable(f"forbidden: {exc.message}") from None
        except ChatMigrated as exc:  # a group upgraded to a supergroup
            raise ChatMoved(exc.new_chat_id) from None
        except BadRequest as exc:  # chat not found, bad markup...: retrying the same call cannot help
            raise Undeliverable(f"bad request: {exc.message}") from None
        except NetworkError as exc:  # 5xx, timeouts, connection errors (TimedOut is one)
            raise RetryLater(f"network: {exc.message}") from None
        except TelegramError as exc:  # e.g. InvalidToken during a misconfiguration: keep the row
            raise RetryLater(f"{type(exc).__name__}: {exc.message}") from None
        return sent.message_id
