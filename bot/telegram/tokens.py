"""Server-side state behind inline buttons that change things.

Callback data is only a short random token; what it means and who may press it is kept
here, so a forged or replayed callback cannot act for anyone else."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any


class ActionError(Exception):
    """The button is unknown, expired, or not this user's."""


@dataclass
class _Pending:
    owner: int
    payload: Any
    expires: float


class ActionTokens:
    PREFIX = "a:"

    def __init__(self, ttl_s: float = 3600.0, clock=time.monotonic):
        self.ttl_s = ttl_s
        self.clock = clock
        self._pending: dict[str, _Pending] = {}

    def issue(self, owner: int, kind: str, payload: Any = True) -> str:
        """Callback data `a:<kind>:<token>` for a button only `owner` may press; the kind
        lets handlers route by pattern, the token is what is checked."""
        self._sweep()
        token = secrets.token_urlsafe(9)
        self._pending[token] = _Pending(owner, payload, self.clock() + self.ttl_s)
        return f"{self.PREFIX}{kind}:{token}"

    @staticmethod
    def _key(data: str) -> str:
        return data.rsplit(":", 1)[-1]

    def peek(self, data: str, user_id: int) -> Any:
        item = self._pending.get(self._key(data))
        if item is None or item.expires < self.clock():
            raise ActionError("expired")
        if item.owner != user_id:
            raise ActionError("not yours")
        return item.payload

    def take(self, data: str, user_id: int) -> Any:
        payload = self.peek(data, user_id)
        self._pending.pop(self._key(data), None)
        return payload

    def _sweep(self) -> None:
        now = self.clock()
        for key in [k for k, v in self._pending.items() if v.expires < now]:
            del self._pending[key]
