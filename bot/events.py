"""Platform-free events: adapters turn Telegram (or console) payloads into these before
the core sees them, and turn replies back into platform calls."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IncomingMessage:
    chat_id: int
    user_id: int
    text: str
    chat_type: str = "group"  # group | private
    user_name: str = ""
    message_id: int | None = None
    addressed: bool = False  # mention, reply to the bot, a command, or a private chat
    platform: str = "console"
    media: dict | None = None  # what the text is the caption of: {"type": photo|voice|video|document, "file_id"}


@dataclass(frozen=True)
class ButtonPress:
    chat_id: int
    user_id: int
    action: str
    message_id: int | None = None
    platform: str = "console"


@dataclass(frozen=True)
class Button:
    label: str
    action: str  # opaque to adapters; the core parses it back in `handle_action`


@dataclass
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    reply_to: int | None = None
    chat_id: int | None = None  # None: the chat the event came from
    ref: str | None = None  # opaque to adapters: handed back to the core in `delivered`
