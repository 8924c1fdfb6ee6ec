"""Which item a group gets on a day: deterministic, so it can be previewed without consuming.

Per group, the undated items are gone through in rounds ("cycles") without repeats: within a
cycle the order is a hash of (group, cycle, item id), so every group has its own order,
an item added mid-cycle simply takes its hashed place among the items still to come, and a
removed one drops out. When every item of the library was given in the cycle, the next cycle
starts (never with yesterday's item). A dated item is given on its date and does not count
towards the rotation. State comes only from what was recorded as given, so the same inputs
always give the same answer: the preview and the real send agree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable, Protocol

DATED = -1  # the cycle recorded for a dated item


class Item(Protocol):
    id: str
    date: date | None


def order_key(chat_id: int, cycle: int, item_id: str) -> bytes:
    return hashlib.blake2b(f"{chat_id}:{cycle}:{item_id}".encode(), digest_size=8).digest()


@dataclass
class RotationState:
    """What a group has had so far: the current cycle, the items given in it, the last item."""

    cycle: int = 0
    used: set[str] = field(default_factory=set)
    last: str | None = None

    @classmethod
    def from_history(cls, given: Iterable[tuple[date, str, int]]) -> "RotationState":
        """From recorded (day, item id, cycle) rows of the days that count."""
        rows = sorted(given)
        state = cls()
        rotated = [(d, i, c) for d, i, c in rows if c != DATED]
        if rotated:
            state.cycle = max(c for _, _, c in rotated)
            state.used = {i for _, i, c in rotated if c == state.cycle}
            state.last = rotated[-1][1]
        return state

    def after(self, item_id: str, cycle: int) -> "RotationState":
        if cycle == DATED:
            return self
        if cycle != self.cycle:
            return RotationState(cycle, {item_id}, item_id)
        return RotationState(cycle, self.used | {item_id}, item_id)


class Rotation:
    """Picks from a fixed library snapshot; caches each group's cycle order."""

    def __init__(self, items: list):
        self.items = items
        self.by_id = {i.id: i for i in items}
        self.pool = sorted(i.id for i in items if i.date is None)
        self.dated: dict[date, list[str]] = {}
        for i in items:
            if i.date is not None:
                self.dated.setdefault(i.date, []).append(i.id)
        self._orders: dict[tuple[int, int], list[str]] = {}

    def _order(self, chat_id: int, cycle: int) -> list[str]:
        key = (chat_id, cycle)
        order = self._orders.get(key)
        if order is None:
            if len(self._orders) > 50_000:
                self._orders.clear()
            order = sorted(self.pool, key=lambda item_id: order_key(chat_id, cycle, item_id))
            self._orders[key] = order
        return order

    def pick(self, chat_id: int, day: date, state: RotationState) -> tuple[str, int] | None:
        """(item id, cycle) for that day, or None when there is nothing to give."""
        dated = self.dated.get(day)
        if dated:
            return min(dated, key=lambda item_id: order_key(chat_id, DATED, item_id)), DATED
        if not self.pool:
            return None
        cycle = state.cycle
        for item_id in self._order(chat_id, cycle):
            if item_id not in state.used:
                return item_id, cycle
        cycle += 1  # the library is exhausted in this cycle: start again
        order = self._order(chat_id, cycle)
        if order[0] == state.last and len(order) > 1:
            return order[1], cycle
        return order[0], cycle

    def simulate(self, chat_id: int, start: date, end: date, state: RotationState
                 ) -> tuple[RotationState, list[tuple[date, str, int]]]:
        """One item a day for start..end inclusive; returns the state after and the picks."""
        picks = []
        day = start
        while day <= end:
            got = self.pick(chat_id, day, state)
            if got is not None:
                picks.append((day, *got))
                state = state.after(*got)
            day += timedelta(days=1)
        return state, picks
