"""Per-member flood guard: one person cannot make the bot talk more than a few times a
minute in a group (the group-wide Bot API limit is ~20 messages a minute).

The asyncio flavour of `limits`: its in-memory storage expires entries with an asyncio task,
where the threaded one starts a timer thread on every hit (about 1 ms of CPU each)."""

from __future__ import annotations

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class FloodGuard:
    def __init__(self, rate: str = "4/minute"):
        self._limit = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def allow(self, chat_id: int, user_id: int) -> bool:
        """Consume one reply from this member's budget in this chat."""
        return await self._limiter.hit(self._limit, str(chat_id), str(user_id))
