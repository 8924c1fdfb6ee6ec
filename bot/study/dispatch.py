"""The paced push: one dispatcher for all groups, fed every tick with what is due.

Why one dispatcher and not one job per group: schedules live in the database, so a tick that
asks "who is due now?" needs nothing re-registered at start-up or after /study_time, catch-up
after downtime falls out of the same question, and 1,000 groups due in the same minute
become one queue that is drained at a steady pace instead of 1,000 jobs firing at once.

Pacing: sends leave on an even grid at `send_rate` (just under Telegram's ~30 messages/s
overall; see Pacer), with at most `workers` in flight; items go before quiz polls (a
priority queue), so every group has its item as early as possible. PTB's AIORateLimiter
still sits under every call (it also paces the FAQ answers and retries after RetryAfter);
an even pace below its bucket size never makes it wait. When it does pause everything for a
RetryAfter, it releases the held requests at once afterwards, so a send that took longer
than STALL_S makes the pacer hold for a second: the burst clears instead of cascading.
Ledger writes go through one thread of their own, between the sends, never between a
slot and its request.

Platform-free: the adapter gives a `Sender` and maps its errors to the four outcomes below.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from dataclasses import replace
from typing import Awaitable, Callable, Protocol

from .ledger import SendLedger
from .report import summary_text
from .schema import StudyItem
from .service import ITEM, POLL, SUMMARY, Job, StudyService
from .texts import quiz_question, render_item

log = logging.getLogger(__name__)
STALL_S = 1.0  # a send slower than this was paused (RetryAfter) or stalled


class Gone(Exception):
    """The bot is no longer in that chat (removed, chat deleted): nothing was sent."""


class Moved(Exception):
    """Nothing was sent: the group lives on under another id (upgraded to a supergroup)."""

    def __init__(self, new_chat_id: int):
        super().__init__(f"chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class Temporary(Exception):
    """Nothing was sent, and trying later may work (rate limit, server or network error)."""


class Refused(Exception):
    """Nothing was sent, and trying again will not help (e.g. a bad request)."""


class Unknown(Exception):
    """The request may or may not have been carried out (e.g. it timed out)."""


class Sender(Protocol):
    async def send_item(self, chat_id: int, text: str) -> int: ...  # message id

    async def send_quiz(self, chat_id: int, question: str, item: StudyItem,
                        reply_to: int | None) -> tuple[int, str]: ...  # message id, poll id

    async def send_private(self, user_id: int, text: str) -> None: ...


class Pacer:
    """Sends on an even grid of 1/rate: one sender at a time waits for its slot, so a stalled
    event loop never releases a burst afterwards; a late release (by more than half a slot)
    restarts the grid from then instead of catching up. So any 31 consecutive sends span at
    least 29.5 slots, i.e. more than one second at rate <= 29.5/s.

    `prepare` (e.g. the ledger's pending -> sending step) runs just before the slot, so the
    request leaves right after it without the database's latency in between."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic, lead: float = 0.02):
        self.interval = 1.0 / rate
        self.clock = clock
        self.lead = min(lead, self.interval / 2)
        self._next = 0.0
        self._lock: asyncio.Lock | None = None

    async def wait(self, prepare: Callable[[], Awaitable[bool]] | None = None) -> bool:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = self.clock()
            slot = max(self._next, now)
            if prepare is not None:
                if slot - self.lead > now:
                    await asyncio.sleep(slot - self.lead - now)
                if not await prepare():
                    return False  # nothing to send: the slot stays free
                now = self.clock()
            if slot > now:
                await asyncio.sleep(slot - now)
            released = self.clock()
            late = released - slot > self.interval / 2
            self._next = max(self._next, (released if late else slot) + self.interval)
            return True

    def hold(self, seconds: float) -> None:
        """No release for `seconds` from now (after a RetryAfter pause let a burst through)."""
        self._next = max(self._next, self.clock() + seconds)


class Dispatcher:
    def __init__(self, service: StudyService, sender: Sender, *, rate: float | None = None,
                 workers: int | None = None, group_titles: Callable[[int], str] | None = None):
        self.service = service
        self.sender = sender
        self.pacer = Pacer(rate or service.settings.send_rate)
        self.workers = workers or service.settings.workers
        self.group_titles = group_titles or (lambda chat_id: str(chat_id))
        self.on_moved: Callable[[int, int], None] | None = None  # (old, new) chat id: App.chat_moved
        self.busy: set[int] = set()  # groups with a job queued or in flight
        self.counts: Counter = Counter()
        self._queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
        self._seq = itertools.count()
        self._active = 0
        self._running = False
        self._resolved = False
        self._lock: asyncio.Lock | None = None
        # One thread for the dispatcher's ledger writes: no SQLite writer contention (and its
        # back-off sleeps) between our own sends.
        self._db_pool = ThreadPoolExecutor(1, thread_name_prefix="study-ledger")

    async def _db(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._db_pool, functools.partial(fn, *args))

    @property
    def ledger(self) -> SendLedger:
        return self.service.ledger

    # -- feeding ------------------------------------------------------------------------
    async def tick(self, spawn: Callable[[Awaitable], object] = asyncio.ensure_future,
                   stopping: Callable[[], bool] = lambda: False) -> int:
        """Queue what is due now; start draining if not already. Returns the jobs queued."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # the start-up catch-up and the regular tick may overlap
            was_leader = self.service.lease.held
            if not await asyncio.to_thread(self.service.lease.hold):
                self._resolved = False  # when this process takes over, it resolves orphans first
                return 0  # another process dispatches
            if not was_leader:
                self._resolved = False
            if not self._resolved:
                self._resolved = True
                n = await asyncio.to_thread(self.ledger.resolve_orphans)
                if n:
                    log.warning("study: %d send(s) were in flight when the bot last stopped: not resent", n)
            jobs = await asyncio.to_thread(self.service.due, set(self.busy))
            jobs += await asyncio.to_thread(self.service.summaries_due)
            for job in jobs:
                self._put(job)
        if jobs:
            log.info("study: %d job(s) due", len(jobs))
        if not self._queue.empty() and not self._running:
            self._running = True
            spawn(self._run(stopping))
        return len(jobs)

    def _put(self, job: Job) -> None:
        self.busy.add(job.chat_id)
        priority = {ITEM: 0, POLL: 1, SUMMARY: 2}[job.kind]
        self._queue.put_nowait((priority, next(self._seq), job))

    @property
    def idle(self) -> bool:
        return not self._running

    # -- draining -----------------------------------------------------------------------
    async def _run(self, stopping: Callable[[], bool]) -> None:
        try:
            await asyncio.gather(*(self._worker(stopping) for _ in range(self.workers)))
        finally:
            while not self._queue.empty():  # stopping: the claims stay pending for the next start
                _, _, job = self._queue.get_nowait()
                self.busy.discard(job.chat_id)
            self._running = False

    async def _worker(self, stopping: Callable[[], bool]) -> None:
        while not stopping():
            try:
                _, _, job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if self._active == 0:
                    return
                await asyncio.sleep(0.05)  # a send in flight may still queue its quiz
                continue
            self._active += 1
            follow = None
            try:
                follow = await self._do(job)
            except Exception:  # a bug must not stop the other groups
                log.exception("study: %s for %s failed", job.kind, job.chat_id)
            finally:
                if follow is not None:
                    self._put(follow)
                else:
                    self.busy.discard(job.chat_id)
                self._active -= 1

    async def _do(self, job: Job) -> Job | None:
        if job.kind == ITEM:
            return await self._item(job)
        if job.kind == POLL:
            await self._poll(job)
        elif job.kind == SUMMARY:
            await self._summary(job)
        return None

    async def _call(self, what: str, job: Job, request: Callable[[], Awaitable], *, failed, unknown):
        """Send one request paced; (True, result) or (False, None) after recording the failure."""
        started = time.monotonic()
        try:
            return True, await request()
        except Gone as exc:
            self.counts["gone"] += 1
            log.info("study: bot no longer in %s (%s): stop sending there", job.chat_id, exc)
            await self._db(failed, job.send_id, f"gone: {exc}", None)
            await self._db(self.service.chats.left, job.chat_id)
        except Moved as exc:  # its records move with it, so the retry goes to the new id
            self.counts["moved"] += 1
            log.info("study: %s moved to %s; sending there", job.chat_id, exc.new_chat_id)
            if self.on_moved is not None:
                await self._db(self.on_moved, job.chat_id, exc.new_chat_id)
            await self._db(failed, job.send_id, str(exc), self.service.now())
        except Temporary as exc:
            self.counts["temporary"] += 1
            log.warning("study: %s to %s failed, will retry: %s", what, job.chat_id, exc)
            await self._db(failed, job.send_id, str(exc), self.service.retry_at())
        except Refused as exc:
            self.counts["refused"] += 1
            log.error("study: %s to %s refused: %s", what, job.chat_id, exc)
            await self._db(failed, job.send_id, f"refused: {exc}", None)
        except Exception as exc:  # Unknown, or anything unexpected once the request went out
            self.counts["unknown"] += 1
            log.warning("study: %s to %s may or may not have arrived, not resending: %r", what, job.chat_id, exc)
            await self._db(unknown, job.send_id, repr(exc))
        finally:
            if time.monotonic() - started > STALL_S:
                # Held up by PTB's rate limiter (a RetryAfter pauses every request, then lets
                # them all go at once) or a stall: let that burst clear before sending more.
                self.counts["stalls"] += 1
                self.pacer.hold(1.0)
        return False, None

    async def _item(self, job: Job) -> Job | None:
        ledger = self.ledger
        if job.takeover and not await self._db(ledger.take_over, job.send_id, self.service.now()):
            return None
        if job.item is None:
            await self._db(ledger.failed, job.send_id, "item no longer in the library", None)
            return None
        with_quiz = self.service.settings.quiz and job.item.quiz is not None
        text = render_item(job.item, job.day, with_quiz_hint=with_quiz)
        if not await self.pacer.wait(lambda: self._db(ledger.start, job.send_id, self.service.now())):
            return None  # someone else has it
        ok, message_id = await self._call("item", job, lambda: self.sender.send_item(job.chat_id, text),
                                          failed=ledger.failed, unknown=ledger.unknown)
        if not ok:
            return None
        self.counts["sent"] += 1
        await self._db(ledger.sent, job.send_id, message_id, self.service.now())
        return replace(job, kind=POLL, takeover=False, reply_to=message_id) if with_quiz else None

    async def _poll(self, job: Job) -> None:
        ledger = self.ledger
        if not await self.pacer.wait(lambda: self._db(ledger.poll_start, job.send_id, self.service.now())):
            return
        ok, result = await self._call(
            "quiz", job, lambda: self.sender.send_quiz(job.chat_id, quiz_question(job.item), job.item, job.reply_to),
            failed=ledger.poll_failed, unknown=ledger.poll_unknown)
        if ok:
            self.counts["polls"] += 1
            message_id, poll_id = result
            await self._db(ledger.poll_sent, job.send_id, poll_id, message_id, job.item.quiz.answer)

    async def _summary(self, job: Job) -> None:
        branch, week = job.branch, job.day
        service = self.service

        def build() -> str:
            end = week + timedelta(days=6)
            weeks = [(self.group_titles(chat_id), service.stats.week(chat_id, week, end, end))
                     for chat_id in branch.groups]
            return summary_text(branch.name, weeks)

        text = await asyncio.to_thread(build)
        delivered = 0
        for user_id in branch.secretaries:
            await self.pacer.wait()
            try:
                await self.sender.send_private(user_id, text)
                delivered += 1
            except Exception as exc:  # never started the bot, blocked it, ...
                log.info("study: weekly summary to secretary %s not delivered: %s", user_id, exc)
        self.counts["summaries"] += delivered
        await self._db(service.summary_done, branch.id, week, delivered)
