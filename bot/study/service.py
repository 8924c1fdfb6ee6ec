"""The study service: schedules, what is due now, previews, and claims. Platform-free and
synchronous (the dispatcher calls it from a worker thread); time comes from `clock`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..storage import Database
from ..storage.leases import Lease, process_id
from .branches import Branch, branches
from .ledger import SendLedger, SendRecord
from .library import StudyLibrary
from .models import FAILED, PENDING, SENT, StudyAnswerRow, StudyScheduleRow, StudySendRow, StudySummaryRow
from .rotation import Rotation, RotationState
from .schema import StudyItem
from .settings import StudySettings, parse_hhmm
from .stats import StudyStats
from . import texts

log = logging.getLogger(__name__)

ITEM, POLL, SUMMARY = "item", "poll", "summary"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(dt: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; everything stored is UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


@dataclass(frozen=True)
class Schedule:
    chat_id: int
    send_time: time
    enabled: bool
    since: datetime


@dataclass
class Job:
    kind: str  # item | poll | summary
    chat_id: int  # the group (for a summary: 0)
    day: date
    send_id: int = 0
    item: StudyItem | None = None
    takeover: bool = False  # a row left by another process or due for a retry
    reply_to: int | None = None  # the quiz answers the item message
    branch: Branch | None = None


class StudyService:
    def __init__(self, db: Database, settings: StudySettings, chats, *, library_path=None, branch_source=None,
                 clock=utc_now, owner: str | None = None):
        self.db = db
        self.settings = settings
        self.chats = chats  # ChatRegistry
        self.library = StudyLibrary(db)
        self.library_path = library_path
        self.branch_source = branch_source  # the app settings (for `branches`), or None
        self.clock = clock
        self.owner = owner or process_id()
        self.ledger = SendLedger(db, self.owner, settings.max_attempts)
        # One process dispatches at a time (see bot/storage/leases.py); renewed every tick.
        self.lease = Lease(db, "study-dispatch", seconds=max(3 * settings.tick_s, 10), holder=self.owner)
        self.stats = StudyStats(db)
        self.tz = settings.tz
        self.default_time = parse_hhmm(settings.send_time)
        self._no_branch_note: date | None = None

    # -- time -------------------------------------------------------------------------
    def now(self) -> datetime:
        """From `clock`: a callable, or an object with .now() like bot.clock.Clock."""
        clock = self.clock
        return as_utc(clock() if callable(clock) else clock.now())

    def today(self, now: datetime | None = None) -> date:
        return (now or self.now()).astimezone(self.tz).date()

    def at(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=self.tz).astimezone(timezone.utc)

    def window(self, day: date, send_time: time) -> tuple[datetime, datetime]:
        """When the day's item may go out: from its time until the catch-up cutoff (or at
        least catchup_min_minutes), never past midnight."""
        start = self.at(day, send_time)
        end = max(self.at(day, parse_hhmm(self.settings.catchup_until)),
                  start + timedelta(minutes=self.settings.catchup_min_minutes))
        return start, min(end, self.at(day + timedelta(days=1), time(0)))

    # -- library ----------------------------------------------------------------------
    def seed(self) -> int:
        return self.library.seed(self.library_path) if self.library_path is not None else 0

    def items(self) -> list[StudyItem]:
        """The database's library; the library file while the database has none (read-only)."""
        items = self.library.all()
        if not items and self.library_path is not None and self.library_path.exists():
            from .schema import read_path

            items = read_path(self.library_path).items
        return items

    # -- schedules ------------------------------------------------------------------
    def _schedule(self, row: StudyScheduleRow) -> Schedule:
        t = parse_hhmm(row.send_time) if row.send_time else self.default_time
        return Schedule(row.chat_id, t, row.enabled, as_utc(row.since))

    def schedules(self, chat_ids: list[int], now: datetime) -> dict[int, Schedule]:
        """Each group's schedule, created (from now on) the first time a group is seen."""
        out: dict[int, Schedule] = {}
        with self.db.session() as s:
            for start in range(0, len(chat_ids), 500):
                chunk = chat_ids[start:start + 500]
                for row in s.scalars(select(StudyScheduleRow).where(StudyScheduleRow.chat_id.in_(chunk))):
                    out[row.chat_id] = self._schedule(row)
        missing = [c for c in chat_ids if c not in out]
        if missing:
            rows = [StudyScheduleRow(chat_id=c, send_time=None, enabled=True, since=now, updated_at=now)
                    for c in missing]
            try:
                with self.db.session() as s:
                    s.add_all(rows)
            except IntegrityError:  # created meanwhile by a command: read them again
                return self.schedules(chat_ids, now)
            out.update({r.chat_id: self._schedule(r) for r in rows})
        return out

    def schedule(self, chat_id: int) -> Schedule:
        return self.schedules([chat_id], self.now())[chat_id]

    def set_schedule(self, chat_id: int, by: int, *, send_time: time | None = None,
                     enabled: bool | None = None) -> Schedule:
        now = self.now()
        self.schedules([chat_id], now)
        with self.db.session() as s:
            row = s.get(StudyScheduleRow, chat_id)
            if send_time is not None:
                row.send_time = f"{send_time.hour:02d}:{send_time.minute:02d}"
            if enabled is not None:
                row.enabled = enabled
            row.updated_at, row.updated_by = now, by
            return self._schedule(row)

    # -- what a group gets ----------------------------------------------------------
    def preview(self, chat_id: int, day: date | None = None) -> StudyItem | None:
        """The item `chat_id` gets on `day` (default today): the recorded one if any, else
        what the rotation gives assuming one item a day from today on. Writes nothing."""
        today = self.today()
        day = day or today
        items = self.items()
        rotation = Rotation(items)
        rec = self.ledger.get(chat_id, day)
        if rec is not None and rec.given:
            return rotation.by_id.get(rec.item_id) or self.library.get(rec.item_id)
        history = self.ledger.history([chat_id], day)[chat_id]
        state = RotationState.from_history(history)
        recorded = {d for d, _, _ in history}
        start = max([today] + [d + timedelta(days=1) for d in recorded])
        if start < day:
            state, _ = rotation.simulate(chat_id, start, day - timedelta(days=1), state)
        got = rotation.pick(chat_id, day, state)
        return rotation.by_id[got[0]] if got else None

    @staticmethod
    def move_chat(s, old: int, new: int) -> None:
        """The group lives on as `new` (App.chat_moved): its schedule, what it was sent (so the
        rotation goes on, and a pending send goes to the new id) and its quiz answers move."""
        if s.get(StudyScheduleRow, new) is None:
            s.execute(update(StudyScheduleRow).where(StudyScheduleRow.chat_id == old).values(chat_id=new))
        taken = list(s.scalars(select(StudySendRow.day).where(StudySendRow.chat_id == new)))
        s.execute(update(StudySendRow).where(StudySendRow.chat_id == old, StudySendRow.day.not_in(taken))
                  .values(chat_id=new))
        s.execute(update(StudyAnswerRow).where(StudyAnswerRow.chat_id == old).values(chat_id=new))

    def today_text(self, chat_id: int, *, group: bool) -> str:
        """What `/today` shows: today's item for the chat, marked as a preview in a group
        that has not had it pushed yet."""
        day = self.today()
        item = self.preview(chat_id, day)
        if item is None:
            return texts.TODAY_NONE
        text = texts.render_item(item, day, with_quiz_hint=False)
        if group and self.given(chat_id, day) is None:
            text += "\n" + texts.TODAY_PREVIEW_NOTE
        return text

    def given(self, chat_id: int, day: date) -> SendRecord | None:
        rec = self.ledger.get(chat_id, day)
        return rec if rec is not None and rec.given else None

    # -- the dispatcher's questions ---------------------------------------------------
    def due(self, busy: set[int] = frozenset()) -> list[Job]:
        """Everything to send now: new claims (made here), take-overs, retries and quiz polls."""
        now = self.now()
        day = self.today(now)
        groups = [g.id for g in self.chats.active_groups()]
        if not groups:
            return []
        schedules = self.schedules(groups, now)
        records = self.ledger.on_day(day)
        items: dict[str, StudyItem] | None = None
        jobs: list[Job] = []
        new: list[int] = []
        for chat_id in groups:
            sch = schedules[chat_id]
            if chat_id in busy or not sch.enabled:
                continue
            start, end = self.window(day, sch.send_time)
            if not start <= now < end:
                continue
            rec = records.get(chat_id)
            if rec is None:
                if sch.since <= start:  # a group added after today's time starts tomorrow
                    new.append(chat_id)
                continue
            if items is None:
                items = {i.id: i for i in self.items()}
            job = self._follow_up(rec, now, items)
            if job is not None:
                jobs.append(job)
        if new:
            jobs.extend(self.claim(new, day, now))
        return jobs

    def _follow_up(self, rec: SendRecord, now: datetime, items: dict[str, StudyItem]) -> Job | None:
        item = items.get(rec.item_id)
        if rec.state == PENDING:
            return Job(ITEM, rec.chat_id, rec.day, rec.id, item, takeover=rec.owner != self.owner)
        retry_due = lambda at, n: at is not None and as_utc(at) <= now and n < self.settings.max_attempts  # noqa: E731
        if rec.state == FAILED and retry_due(rec.next_try_at, rec.attempts):
            return Job(ITEM, rec.chat_id, rec.day, rec.id, item, takeover=True)
        if rec.state == SENT and item is not None and item.quiz is not None and (
                rec.poll_state is None or (rec.poll_state == FAILED
                                           and retry_due(rec.poll_next_try_at, rec.poll_attempts))):
            return Job(POLL, rec.chat_id, rec.day, rec.id, item, reply_to=rec.message_id)
        return None

    def claim(self, chat_ids: list[int], day: date, now: datetime) -> list[Job]:
        """Choose each group's item for `day` and claim (group, day) before anything is sent."""
        items = self.items()
        rotation = Rotation(items)
        histories = self.ledger.history(chat_ids, day)
        picks = {}
        for chat_id in chat_ids:
            got = rotation.pick(chat_id, day, RotationState.from_history(histories[chat_id]))
            if got is None:
                log.warning("the study library is empty: nothing to send to %s", chat_id)
                return []
            picks[chat_id] = (rotation.by_id[got[0]], got[1])
        quiz = self.settings.quiz
        claimed = self.ledger.claim_many([(chat_id, item.id, cycle, quiz and item.quiz is not None)
                                          for chat_id, (item, cycle) in picks.items()], day, now)
        return [Job(ITEM, chat_id, day, send_id, picks[chat_id][0]) for chat_id, send_id in claimed.items()]

    def retry_at(self, now: datetime | None = None) -> datetime:
        return (now or self.now()) + timedelta(seconds=self.settings.retry_after_s)

    # -- weekly summary -------------------------------------------------------------
    def summaries_due(self) -> list[Job]:
        """On Monday after summary_time: last week's summary per branch, claimed once."""
        now = self.now()
        today = self.today(now)
        if today.weekday() != 0 or now < self.at(today, parse_hhmm(self.settings.summary_time)):
            return []
        found = [b for b in branches(self.branch_source, self.db) if b.secretaries and b.groups]
        if not found:
            if self._no_branch_note != today:
                self._no_branch_note = today
                log.info("no branches with secretaries configured: weekly study summary skipped")
            return []
        week = today - timedelta(days=7)
        jobs = []
        for branch in found:
            try:
                with self.db.session() as s:
                    s.add(StudySummaryRow(branch=branch.id, week=week, state=PENDING, claimed_at=now, delivered=0))
            except IntegrityError:
                continue  # already done (or claimed) for that week
            jobs.append(Job(SUMMARY, 0, week, branch=branch))
        return jobs

    def summary_done(self, branch_id: str, week: date, delivered: int) -> None:
        with self.db.session() as s:
            row = s.scalar(select(StudySummaryRow).where(StudySummaryRow.branch == branch_id,
                                                         StudySummaryRow.week == week))
            if row is not None:
                row.state, row.sent_at, row.delivered = SENT, self.now(), delivered
