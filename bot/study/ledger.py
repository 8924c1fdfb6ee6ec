"""The send ledger: what each group got each day, and the exactly-once protocol.

A row per (group, day) is *claimed* (unique constraint) before anything is sent, in state
`pending`, carrying the item chosen for the day and the id of the claiming process (owner).
A worker then moves it `pending -> sending` with a compare-and-set UPDATE right before the
HTTP call, and to `sent` (with the message id) or `failed` (Telegram said no: nothing was
sent) after it. So after a crash or restart:

* `pending` rows of another owner were never handed to Telegram: they are taken over and
  sent (no skip);
* `sending` rows of another owner were in flight when the process died, and a timed-out
  request is treated the same way: Telegram may or may not have posted the message, and the
  Bot API has no idempotency key to ask. They become `unknown` and are never sent again:
  we prefer a rare miss (at most the few requests in flight at the moment of a crash) to a
  double post. `unknown` counts as given for the rotation.
* `failed` rows are retried after `retry_after_s`, up to `max_attempts`; a group that
  removed the bot is marked permanently failed and the group inactive.

The quiz poll after an item follows the same states in the poll_* columns. Only portable
SQL: INSERT with a unique constraint and UPDATE ... WHERE with rowcount checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..storage import Database
from .models import FAILED, PENDING, SENDING, SENT, UNKNOWN, StudyAnswerRow, StudySendRow

NO_POLL = "skip"  # poll_state of an item without a quiz (or with quizzes off)


@dataclass(frozen=True)
class SendRecord:
    id: int
    chat_id: int
    day: date
    item_id: str
    cycle: int
    state: str
    owner: str
    attempts: int
    next_try_at: datetime | None
    message_id: int | None
    poll_state: str | None
    poll_attempts: int
    poll_next_try_at: datetime | None
    poll_id: str | None
    correct_option: int | None

    @classmethod
    def of(cls, r: StudySendRow) -> "SendRecord":
        return cls(r.id, r.chat_id, r.day, r.item_id, r.cycle, r.state, r.owner, r.attempts, r.next_try_at,
                   r.message_id, r.poll_state, r.poll_attempts, r.poll_next_try_at, r.poll_id, r.correct_option)

    @property
    def given(self) -> bool:
        """Counts as the group's item of the day (for the rotation and /today)."""
        return self.state != FAILED


class SendLedger:
    def __init__(self, db: Database, owner: str, max_attempts: int = 5):
        self.db = db
        self.owner = owner
        self.max_attempts = max_attempts

    # -- reading --------------------------------------------------------------------
    def on_day(self, day: date, chat_ids: list[int] | None = None) -> dict[int, SendRecord]:
        with self.db.session() as s:
            q = select(StudySendRow).where(StudySendRow.day == day)
            if chat_ids is not None:
                q = q.where(StudySendRow.chat_id.in_(chat_ids))
            return {r.chat_id: SendRecord.of(r) for r in s.scalars(q)}

    def get(self, chat_id: int, day: date) -> SendRecord | None:
        return self.on_day(day, [chat_id]).get(chat_id)

    def history(self, chat_ids: list[int], before: date) -> dict[int, list[tuple[date, str, int]]]:
        """(day, item, cycle) of the days before `before` that count, per group."""
        out: dict[int, list[tuple[date, str, int]]] = {c: [] for c in chat_ids}
        with self.db.session() as s:
            for start in range(0, len(chat_ids), 500):  # keep IN lists portable-sized
                q = (select(StudySendRow.chat_id, StudySendRow.day, StudySendRow.item_id, StudySendRow.cycle)
                     .where(StudySendRow.chat_id.in_(chat_ids[start:start + 500]), StudySendRow.day < before,
                            StudySendRow.state != FAILED))
                for chat_id, day, item_id, cycle in s.execute(q):
                    out[chat_id].append((day, item_id, cycle))
        return out

    def days(self, chat_id: int, since: date, until: date) -> list[SendRecord]:
        with self.db.session() as s:
            q = (select(StudySendRow).where(StudySendRow.chat_id == chat_id, StudySendRow.day >= since,
                                            StudySendRow.day <= until).order_by(StudySendRow.day))
            return [SendRecord.of(r) for r in s.scalars(q)]

    def by_poll(self, poll_id: str) -> SendRecord | None:
        with self.db.session() as s:
            row = s.scalar(select(StudySendRow).where(StudySendRow.poll_id == poll_id))
            return SendRecord.of(row) if row else None

    # -- the item -----------------------------------------------------------------
    def claim(self, chat_id: int, day: date, item_id: str, cycle: int, with_poll: bool, now: datetime) -> int | None:
        """The row id, or None when the (group, day) is already claimed."""
        try:
            with self.db.session() as s:
                row = StudySendRow(chat_id=chat_id, day=day, item_id=item_id, cycle=cycle, state=PENDING,
                                   owner=self.owner, attempts=0, claimed_at=now, poll_attempts=0,
                                   poll_state=None if with_poll else NO_POLL)
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError:
            return None

    def claim_many(self, claims: list[tuple[int, str, int, bool]], day: date, now: datetime) -> dict[int, int]:
        """Claim (group, day) for many groups in one transaction: {group: row id}. Groups
        claimed meanwhile are left out (one by one after a unique violation)."""
        if not claims:
            return {}
        taken = set(self.on_day(day, [c[0] for c in claims]))
        todo = [c for c in claims if c[0] not in taken]
        try:
            with self.db.session() as s:
                rows = [StudySendRow(chat_id=chat_id, day=day, item_id=item_id, cycle=cycle, state=PENDING,
                                     owner=self.owner, attempts=0, claimed_at=now, poll_attempts=0,
                                     poll_state=None if with_poll else NO_POLL)
                        for chat_id, item_id, cycle, with_poll in todo]
                s.add_all(rows)
                s.flush()
                return {r.chat_id: r.id for r in rows}
        except IntegrityError:
            out = {}
            for chat_id, item_id, cycle, with_poll in todo:
                send_id = self.claim(chat_id, day, item_id, cycle, with_poll, now)
                if send_id is not None:
                    out[chat_id] = send_id
            return out

    def _cas(self, where, **values) -> bool:
        with self.db.session() as s:
            return s.execute(update(StudySendRow).where(*where).values(**values)).rowcount == 1

    def take_over(self, send_id: int, now: datetime) -> bool:
        """A pending row left by another process, or a failed row due for a retry, becomes ours."""
        return self._cas([StudySendRow.id == send_id, or_(
            and_(StudySendRow.state == PENDING, StudySendRow.owner != self.owner),
            and_(StudySendRow.state == FAILED, StudySendRow.next_try_at.is_not(None),
                 StudySendRow.next_try_at <= now, StudySendRow.attempts < self.max_attempts))],
            state=PENDING, owner=self.owner)

    def start(self, send_id: int, now: datetime) -> bool:
        return self._cas([StudySendRow.id == send_id, StudySendRow.state == PENDING,
                          StudySendRow.owner == self.owner],
                         state=SENDING, attempts=StudySendRow.attempts + 1, attempt_at=now)

    def sent(self, send_id: int, message_id: int, now: datetime) -> None:
        self._cas([StudySendRow.id == send_id], state=SENT, message_id=message_id, sent_at=now, error=None)

    def failed(self, send_id: int, error: str, retry_at: datetime | None) -> None:
        """Nothing was sent; `retry_at` None: do not try again."""
        self._cas([StudySendRow.id == send_id], state=FAILED, error=error[:500], next_try_at=retry_at)

    def unknown(self, send_id: int, error: str) -> None:
        self._cas([StudySendRow.id == send_id], state=UNKNOWN, error=error[:500])

    # -- the quiz poll ------------------------------------------------------------
    def poll_start(self, send_id: int, now: datetime) -> bool:
        return self._cas([StudySendRow.id == send_id, StudySendRow.state == SENT, or_(
            StudySendRow.poll_state.is_(None),
            and_(StudySendRow.poll_state == FAILED, StudySendRow.poll_next_try_at.is_not(None),
                 StudySendRow.poll_next_try_at <= now, StudySendRow.poll_attempts < self.max_attempts))],
            poll_state=SENDING, owner=self.owner, poll_attempts=StudySendRow.poll_attempts + 1)

    def poll_sent(self, send_id: int, poll_id: str, message_id: int, correct: int) -> None:
        self._cas([StudySendRow.id == send_id], poll_state=SENT, poll_id=poll_id, poll_message_id=message_id,
                  correct_option=correct)

    def poll_failed(self, send_id: int, error: str, retry_at: datetime | None) -> None:
        self._cas([StudySendRow.id == send_id], poll_state=FAILED, poll_next_try_at=retry_at, error=error[:500])

    def poll_unknown(self, send_id: int, error: str) -> None:
        self._cas([StudySendRow.id == send_id], poll_state=UNKNOWN, error=error[:500])

    # -- after a restart ------------------------------------------------------------
    def resolve_orphans(self) -> int:
        """Requests another (dead) process had in flight: never resent (see the module doc)."""
        note = "in flight when the bot stopped: not resent"
        with self.db.session() as s:
            n = s.execute(update(StudySendRow).where(StudySendRow.state == SENDING, StudySendRow.owner != self.owner)
                          .values(state=UNKNOWN, error=note)).rowcount
            n += s.execute(update(StudySendRow).where(StudySendRow.poll_state == SENDING,
                                                      StudySendRow.owner != self.owner)
                           .values(poll_state=UNKNOWN, error=note)).rowcount
        return n

    # -- quiz answers ---------------------------------------------------------------
    def answer(self, poll_id: str, user_id: int, user_name: str, options: list[int], now: datetime) -> bool | None:
        """Record (or with no options, retract) a member's answer; None for an unknown poll,
        else whether it was correct."""
        rec = self.by_poll(poll_id)
        if rec is None:
            return None
        with self.db.session() as s:
            s.execute(delete(StudyAnswerRow).where(StudyAnswerRow.send_id == rec.id,
                                                   StudyAnswerRow.user_id == user_id))
            if not options:
                return False
            correct = options[0] == rec.correct_option
            s.add(StudyAnswerRow(send_id=rec.id, chat_id=rec.chat_id, day=rec.day, user_id=user_id,
                                 user_name=user_name[:255], option=options[0], correct=correct, at=now))
            return correct
