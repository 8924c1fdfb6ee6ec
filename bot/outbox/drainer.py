"""Drains the outbox: claim due rows with a lease, send them, record the outcome.

Claiming selects the due rows, then leases them with a conditional UPDATE (`... WHERE id IN
(those) AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < now) RETURNING
...`), which SQLite and PostgreSQL both accept, so several processes can drain one database
without sending a row twice. A
worker that dies mid-way leaves a lease that expires; its rows are then taken over. One
chat's rows go out in order; different chats are sent to concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from functools import lru_cache

from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.orm import Session

from ..clock import Clock
from ..storage import Database
from .models import FAILED, PENDING, SENT, OutboxRow
from .sender import ChatMoved, Outgoing, RetryLater, Sender, Undeliverable
from .service import enqueue
from .settings import OutboxSettings

log = logging.getLogger(__name__)

# Called inside the transaction that records the outcome, so follow-up notifications a hook
# enqueues (e.g. a fallback when a person blocked the bot) are committed with it.
Hook = Callable[[Session, OutboxRow], None]


@dataclass
class DrainStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)  # enqueue -> sent, seconds

    def __iadd__(self, other: "DrainStats") -> "DrainStats":
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.latencies += other.latencies
        return self


class Drainer:
    def __init__(self, db: Database, sender: Sender, settings: OutboxSettings | None = None,
                 clock: Clock | None = None, *, worker: str | None = None,
                 spawn: Callable[[Awaitable], object] | None = None):
        self.db = db
        self.sender = sender
        self.settings = settings or OutboxSettings()
        self.clock = clock or Clock()
        self.worker = worker or f"w-{secrets.token_hex(4)}"
        self.spawn = spawn  # how kick() starts a task (PTB's create_task awaits it on shutdown)
        self.on_sent: list[Hook] = []
        self.on_failed: list[Hook] = []
        self.on_moved: list[Callable[[int, int], None]] = []  # (old, new) chat id: App.chat_moved
        self._lock = asyncio.Lock()
        self._again = False
        self._task = None

    # -- scheduling ------------------------------------------------------------------
    def kick(self) -> None:
        """Drain soon (new rows were committed); coalesces with a drain already running."""
        if self._lock.locked() or (self._task is not None and not self._task.done()):
            self._again = True
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (CLI): the next drain job picks the rows up
        coro = self.drain()
        self._task = self.spawn(coro) if self.spawn else loop.create_task(coro)

    async def drain(self, max_rounds: int = 20) -> DrainStats:
        """Send everything that is due now (a bounded number of rounds)."""
        total = DrainStats()
        if self._lock.locked():
            self._again = True
            return total
        async with self._lock:
            for _ in range(max_rounds):
                self._again = False
                stats = await self.drain_round()
                total += stats
                if not self._again and stats.claimed < self.settings.batch:
                    break
        return total

    # -- one round ---------------------------------------------------------------------
    async def drain_round(self) -> DrainStats:
        stats = DrainStats()
        rows = self.claim()
        stats.claimed = len(rows)
        if not rows:
            return stats
        by_chat: dict[int, list[OutboxRow]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one_chat(queue: list[OutboxRow]) -> None:
            async with gate:
                for i, row in enumerate(queue):
                    if not await self._send(row, stats):
                        self._release(queue[i + 1:])  # keep the chat in order: the rest waits
                        return

        await asyncio.gather(*(one_chat(q) for q in by_chat.values()))
        return stats

    def claim(self) -> list[OutboxRow]:
        """Lease due rows to this worker, keeping each chat in order: a chat whose earlier row
        is waiting for its retry sends nothing newer meanwhile (so an outage cannot reorder
        "accepted" and "resolved"), while other chats go on. Two prebuilt statements per round:
        it runs after every notification enqueued, so its cost is paid per message under load."""
        now = self.clock.now()
        due, take = _claim_statements(self.settings.batch)
        with self.db.session() as s:
            wanted = list(s.scalars(due, {"now": now}))
            if not wanted:
                return []
            rows = list(s.scalars(take, {"ids": wanted, "now": now, "worker": self.worker,
                                         "lease": now + timedelta(seconds=self.settings.lease_s)}))
            s.expunge_all()
        rows.sort(key=lambda r: r.id)  # RETURNING promises no order
        return rows

    def _release(self, rows: list[OutboxRow]) -> None:
        if not rows:
            return
        with self.db.session() as s:
            s.execute(update(OutboxRow)
                      .where(OutboxRow.id.in_([r.id for r in rows]), OutboxRow.claimed_by == self.worker)
                      .values(claimed_until=None, claimed_by=None)
                      .execution_options(synchronize_session=False))

    async def _send(self, row: OutboxRow, stats: DrainStats) -> bool:
        """Send one row and record the outcome; False when the chat should wait."""
        attempt = row.attempts + 1
        message = Outgoing(key=row.key, chat_id=row.chat_id, payload=row.payload, attempt=attempt)
        t0 = time.perf_counter()
        try:
            message_id = await self.sender.send(message)
        except RetryLater as exc:
            if attempt >= self.settings.max_attempts:
                self._finish(row, FAILED, attempt, error=f"gave up after {attempt} attempts: {exc}")
                stats.failed += 1
                return True
            delay = self._backoff(attempt, exc.retry_after)
            log.info("outbox %s: %s; retry %d in %.1f s", row.key, exc, attempt, delay)
            self._retry(row, attempt, str(exc), delay)
            stats.retried += 1
            return False
        except ChatMoved as exc:
            for hook in self.on_moved:  # moves this row too: the retry goes to the new id
                hook(row.chat_id, exc.new_chat_id)
            log.info("outbox %s: chat %s moved to %s; sending there", row.key, row.chat_id, exc.new_chat_id)
            self._retry(row, attempt, str(exc), 0.0)
            stats.retried += 1
            return False
        except Undeliverable as exc:
            self._finish(row, FAILED, attempt, error=str(exc))
            stats.failed += 1
            return True
        except asyncio.CancelledError:
            self._release([row])
            raise
        except Exception as exc:  # a bug in a sender must not lose the row: retry like a passing error
            log.exception("outbox %s: unexpected error", row.key)
            if attempt >= self.settings.max_attempts:
                self._finish(row, FAILED, attempt, error=f"{type(exc).__name__}: {exc}")
                stats.failed += 1
                return True
            self._retry(row, attempt, f"{type(exc).__name__}: {exc}", self._backoff(attempt, None))
            stats.retried += 1
            return False
        self._finish(row, SENT, attempt, message_id=message_id)
        stats.sent += 1
        stats.latencies.append((self.clock.now() - row.created_at).total_seconds())
        log.debug("outbox %s sent in %.3f s", row.key, time.perf_counter() - t0)
        return True

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        s = self.settings
        delay = min(s.backoff_base_s * 2 ** (attempt - 1), s.backoff_max_s) * random.uniform(1.0, 1.2)
        return max(delay, retry_after or 0.0)

    def _retry(self, row: OutboxRow, attempt: int, error: str, delay: float) -> None:
        with self.db.session() as s:
            s.execute(update(OutboxRow)
                      .where(OutboxRow.id == row.id, OutboxRow.claimed_by == self.worker)
                      .values(attempts=attempt, last_error=error[:2000], claimed_until=None, claimed_by=None,
                              next_attempt_at=self.clock.now() + timedelta(seconds=delay))
                      .execution_options(synchronize_session=False))

    def _finish(self, row: OutboxRow, state: str, attempt: int, *, error: str | None = None,
                message_id: int | None = None) -> None:
        try:
            self._record(row, state, attempt, error, message_id, run_hooks=True)
        except Exception:  # a failing hook must never lose the outcome itself
            log.exception("outbox hook failed for %s; recording the outcome alone", row.key)
            self._record(row, state, attempt, error, message_id, run_hooks=False)

    def _record(self, row: OutboxRow, state: str, attempt: int, error: str | None, message_id: int | None,
                run_hooks: bool) -> None:
        now: datetime = self.clock.now()
        with self.db.session() as s:
            current = s.get(OutboxRow, row.id)
            if current is None or current.state != PENDING:
                return
            current.state, current.attempts = state, attempt
            current.claimed_until, current.claimed_by = None, None
            if state == SENT:
                current.sent_at, current.message_id, current.last_error = now, message_id, None
            else:
                current.last_error = (error or "")[:2000]
                log.warning("outbox %s to chat %s failed for good: %s", row.key, row.chat_id, error)
                fallback = (current.payload or {}).get("fallback")
                if fallback and fallback.get("chat_id") is not None:  # e.g. a group mention instead
                    enqueue(s, current.key + ":fb", int(fallback["chat_id"]), fallback["payload"], now=now,
                            ref=current.ref)
            if run_hooks:
                for hook in (self.on_sent if state == SENT else self.on_failed):
                    hook(s, current)


@lru_cache(maxsize=4)
def _claim_statements(batch: int):
    """(due row ids, lease them and return the rows), built once: building SQLAlchemy
    expressions cost more than running them. PostgreSQL selects the candidates FOR UPDATE SKIP
    LOCKED, so two drainers never queue behind each other (SQLite, one writer at a time, has no
    row locks). The UPDATE checks the condition again, so a row another worker took meanwhile
    is left alone. Two statements, not `UPDATE ... WHERE id IN (SELECT ... LIMIT n)`: PostgreSQL
    may run that subquery again for each row it updates, and rows it just leased are no longer
    free then, so it leased a batch several times over."""
    now = bindparam("now")
    free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)
    earlier = aliased(OutboxRow)
    # An older row of the same chat waits for its retry. (A row leased by another worker does
    # not hold the chat up: after a crash that would stall the chat for a whole lease.)
    held_up = exists().where(earlier.chat_id == OutboxRow.chat_id, earlier.state == PENDING,
                             earlier.id < OutboxRow.id, earlier.next_attempt_at > now)
    due = (select(OutboxRow.id)
           .where(OutboxRow.state == PENDING, OutboxRow.next_attempt_at <= now, free, ~held_up)
           .order_by(OutboxRow.id).limit(batch)
           .with_for_update(skip_locked=True, of=OutboxRow))
    take = (update(OutboxRow)
            .where(OutboxRow.id.in_(bindparam("ids", expanding=True)), OutboxRow.state == PENDING, free)
            .values(claimed_until=bindparam("lease"), claimed_by=bindparam("worker"))
            .returning(OutboxRow)
            .execution_options(synchronize_session=False))
    return due, take
