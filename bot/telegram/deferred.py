"""Direct replies that cannot go out right now are handed to the outbox instead of being lost.

An FAQ answer, a suggestion or a hand-over note is sent at once. When the Bot API refuses it
for the moment (a RetryAfter left after AIORateLimiter's retries, a 5xx, a timeout, a dropped
connection), it is written to the outbox, whose drainer retries it with backoff, in order with
that chat's other notifications. A timeout may hide a message Telegram did post, so a rare
double answer is possible after one; a lost answer is not."""

from __future__ import annotations

import asyncio
import logging
import secrets

from telegram.error import BadRequest, NetworkError, RetryAfter

from ..events import Reply
from ..outbox import enqueue
from .context import BotContext

log = logging.getLogger(__name__)


REPLY = "reply:"  # outbox ref of a deferred reply: reply:<the reply's own ref>


def passing(error: Exception) -> bool:
    """Whether trying again later may work (a bad request never will)."""
    return isinstance(error, (RetryAfter, NetworkError)) and not isinstance(error, BadRequest)


def outbox_payload(reply: Reply, chat_id: int) -> dict:
    """The outbox's platform-neutral payload (bot/outbox/sender.py) for a reply."""
    payload: dict = {"text": reply.text[:4096]}
    if reply.buttons:
        payload["buttons"] = [[{"label": b.label, "action": b.action} for b in row] for row in reply.buttons]
    if reply.reply_to and reply.chat_id in (None, chat_id):
        payload["reply_to"] = reply.reply_to
    return payload


def defer(context: BotContext, chat_id: int, reply: Reply, error: Exception) -> bool:
    """Queue `reply` in the outbox; False when there is no outbox to queue it in."""
    from .tickets import DRAINER  # the drainer lives with the ticket jobs

    drainer = context.bot_data.get(DRAINER)
    db = context.services.app.db
    if drainer is None or db is None:
        return False
    target = reply.chat_id or chat_id
    payload = outbox_payload(reply, chat_id)
    key = f"reply:{target}:{secrets.token_hex(8)}"  # one row per failed send
    ref = f"{REPLY}{reply.ref}"[:120] if reply.ref else "reply"
    with db.session() as s:
        enqueue(s, key, target, payload, now=drainer.clock.now(), ref=ref)
    log.info("reply to chat %s deferred to the outbox: %s", target, error)
    drainer.kick()
    return True


def report_sent(pipeline):
    """An outbox hook: a deferred reply that finally went out is reported to the pipeline as
    a direct send is, so feedback, repeat pointers and picks work on it too. The report runs
    after the drainer's transaction (call_soon), never inside it."""

    def hook(_session, row) -> None:
        if row.ref and row.ref.startswith(REPLY) and row.message_id is not None:
            reply = Reply((row.payload or {}).get("text", ""), ref=row.ref[len(REPLY):])
            asyncio.get_running_loop().call_soon(pipeline.delivered, row.chat_id, reply, row.message_id)

    return hook
