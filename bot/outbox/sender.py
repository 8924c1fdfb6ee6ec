"""What the drainer needs from a chat platform: send one payload, say how it went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """One notification to deliver. `payload` is platform-neutral:

    text, html (bool), mention ({user_id, name}; the text's "{mention}" becomes a mention),
    buttons ([[{label, action} | {label, url} | {label, start}]], `start` = a deep link into a
    private chat with the bot), reply_to (message id), force_reply (bool),
    media ({type: photo|document, file_id}; the text becomes its caption),
    fallback ({chat_id, payload}: sent instead when this one turns out undeliverable).
    """

    key: str
    chat_id: int
    payload: dict
    attempt: int = 1


class RetryLater(Exception):
    """A passing problem (rate limit, server error, timeout): try again later."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class ChatMoved(Exception):
    """The chat lives on under another id (Telegram upgraded a group to a supergroup): move
    everything kept under the old id (the drainer's `on_moved`), then send again."""

    def __init__(self, new_chat_id: int):
        super().__init__(f"chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class Undeliverable(Exception):
    """It will never work as it is (blocked by the user, chat gone, bad request)."""


class Sender(Protocol):
    async def send(self, message: Outgoing) -> int | None:
        """Deliver and return the platform's message id; raise RetryLater or Undeliverable."""
        ...
