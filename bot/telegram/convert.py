"""Translation between Telegram objects and core events (the connector's only job)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, ReplyParameters

from ..events import IncomingMessage, Reply


def mentions_bot(message: Message, username: str) -> bool:
    handle = "@" + username.lower()
    for entity, text in message.parse_entities([MessageEntity.MENTION]).items():
        if text.lower() == handle:
            return True
    return False


def strip_mention(text: str, username: str) -> str:
    handle = "@" + username
    return " ".join(part for part in text.split() if part.lower() != handle.lower()).strip()


def replies_to(message: Message, user_id: int) -> bool:
    """Whether `message` is a reply to a message of `user_id` (the bot's, say)."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == user_id)


def incoming(message: Message, *, bot_id: int, bot_username: str, text: str | None = None,
             force_addressed: bool = False) -> IncomingMessage:
    """A core message from a Telegram message; `addressed` when the bot is spoken to."""
    private = message.chat.type == "private"
    replied_to_bot = replies_to(message, bot_id)
    raw = text if text is not None else (message.text or message.caption or "")
    addressed = force_addressed or private or replied_to_bot or mentions_bot(message, bot_username)
    user = message.from_user
    return IncomingMessage(
        chat_id=message.chat_id, user_id=user.id if user else 0, text=strip_mention(raw, bot_username),
        chat_type="private" if private else "group", user_name=user.full_name if user else "",
        message_id=message.message_id, addressed=addressed, platform="telegram", media=media_of(message))


def media_of(message: Message) -> dict | None:
    """The photo (largest size), voice note, video or file a message carries, as the core keeps it."""
    if message.photo:
        return {"type": "photo", "file_id": message.photo[-1].file_id}
    if message.voice:
        return {"type": "voice", "file_id": message.voice.file_id}
    if message.video:  # a dashcam clip
        return {"type": "video", "file_id": message.video.file_id}
    if message.document:
        return {"type": "document", "file_id": message.document.file_id}
    return None


def markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label[:64], callback_data=b.action) for b in row]
                                 for row in reply.buttons])


def send_kwargs(reply: Reply, chat_id: int) -> dict:
    kwargs = {"chat_id": reply.chat_id or chat_id, "text": reply.text[:4096], "reply_markup": markup(reply)}
    if reply.reply_to and reply.chat_id in (None, chat_id):
        kwargs["reply_parameters"] = ReplyParameters(message_id=reply.reply_to, allow_sending_without_reply=True)
    return kwargs
