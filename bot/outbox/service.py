"""Writing to the outbox (inside the caller's transaction) and reading it back."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .models import PENDING, SENT, OutboxRow


def enqueue(session: Session, key: str, chat_id: int, payload: dict, *, now: datetime, ref: str | None = None,
            delay: timedelta | None = None) -> OutboxRow | None:
    """Add a notification to the caller's transaction; nothing is sent before it commits.

    Idempotent: a key already in the outbox (or added earlier in this transaction) adds
    nothing and returns None, so a retried operation or a repeating job cannot notify twice.
    """
    for pending in session.new:
        if isinstance(pending, OutboxRow) and pending.key == key:
            return None
    if session.scalar(select(OutboxRow.id).where(OutboxRow.key == key)) is not None:
        return None
    row = OutboxRow(key=key, chat_id=chat_id, payload=payload, ref=ref, state=PENDING, attempts=0,
                    next_attempt_at=now + (delay or timedelta(0)), created_at=now)
    session.add(row)
    return row


def find_sent(session: Session, chat_id: int, message_id: int) -> OutboxRow | None:
    """The notification that became message `message_id` in `chat_id` (to act on replies to it)."""
    return session.scalar(select(OutboxRow).where(OutboxRow.chat_id == chat_id, OutboxRow.message_id == message_id,
                                                  OutboxRow.state == SENT))


def move_chat(session: Session, old: int, new: int) -> None:
    """The chat lives on as `new` (App.chat_moved): what waits goes there, and what was sent is
    found there (the history, message ids included, moves with the group)."""
    session.execute(update(OutboxRow).where(OutboxRow.chat_id == old).values(chat_id=new)
                    .execution_options(synchronize_session=False))


def counts(session: Session) -> dict[str, int]:
    """Rows per state, e.g. {"pending": 3, "sent": 120, "failed": 1}."""
    return {state: n for state, n in session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))}
