"""A transactional outbox: notifications are written in the same transaction as the change
that causes them and sent later by a drainer, so a crash or an unreachable chat platform
never loses one. Platform-free: the platform supplies a `Sender`."""

from .models import OutboxRow
from .sender import ChatMoved, Outgoing, RetryLater, Sender, Undeliverable
from .service import enqueue, find_sent, counts, move_chat
from .drainer import Drainer, DrainStats

__all__ = ["ChatMoved", "OutboxRow", "Outgoing", "RetryLater", "Sender", "Undeliverable", "enqueue", "find_sent",
           "counts", "move_chat", "Drainer", "DrainStats"]
