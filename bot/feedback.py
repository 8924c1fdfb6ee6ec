"""The answer log, 👍/👎 feedback, and the inbox of questions the bot could not answer.

Admins work through the inbox (`/faq_pending`), most asked first, turning items into
new entries or alternates, which is how the knowledge base learns drivers' wording."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .storage import Database
from .storage.models import AnswerRow, FeedbackRow, UnansweredRow, utcnow

VOTES = ("up", "down", "human")


@dataclass(frozen=True)
class InboxItem:
    id: int
    text: str
    count: int
    reason: str
    last_at: datetime
    picked: str | None = None  # the entry the asker chose from those offered, if any


_INSERT_ANSWER = insert(AnswerRow.__table__).returning(AnswerRow.__table__.c.id)


class AnswerLog:
    DELIVERED_BATCH = 200  # message ids written at once at most
    DELIVERED_DELAY_S = 0.5  # longest wait before they are written

    def __init__(self, db: Database, inbox: "UnansweredInbox"):
        self.db = db
        self.inbox = inbox
        self._delivered: list[dict] = []
        self._flush_timer: asyncio.TimerHandle | None = None

    def record(self, chat_id: int, user_id: int, question: str, faq_id: str | None, decision: str,
               score: float) -> int:
        """One committed row per answer, before it is sent: its buttons carry the id. A plain
        INSERT ... RETURNING: it runs for every answer, and the ORM's unit of work cost three
        times as much for a row nothing else touches."""
        with self.db.engine.begin() as conn:
            return conn.execute(_INSERT_ANSWER, {
                "chat_id": chat_id, "user_id": user_id, "question": question, "faq_id": faq_id,
                "decision": decision, "score": score, "message_id": None, "at": utcnow()}).scalar_one()

    def delivered(self, answer_id: int, message_id: int) -> None:
        """Note which message carried the answer. Written in batches (one UPDATE per half
        second under load instead of one transaction per reply): the id is bookkeeping, no
        feature waits for it, and `flush()` at shutdown writes what is left."""
        self._delivered.append({"answer": answer_id, "message": message_id})
        if len(self._delivered) >= self.DELIVERED_BATCH:
            self.flush()
            return
        if self._flush_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop (CLI): write at once
                self.flush()
                return
            self._flush_timer = loop.call_later(self.DELIVERED_DELAY_S, self.flush)

    def flush(self) -> None:
        """Write the message ids noted by `delivered` (one executemany UPDATE; an answer
        row gone meanwhile is simply not matched)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        items, self._delivered = self._delivered, []
        if items:
            answers = AnswerRow.__table__
            stmt = update(answers).where(answers.c.id == bindparam("answer")).values(message_id=bindparam("message"))
            with self.db.session() as s:
                s.execute(stmt, items)

    def offered_to(self, chat_id: int, message_id: int, user_id: int, decisions: tuple[str, ...]) -> str | None:
        """The question of the entries offered (an answer row with one of `decisions`) by
        `message_id`, if `user_id` asked it: only the asker's pick says what it meant."""
        self.flush()  # the message id may still be waiting in the batch
        answers = AnswerRow.__table__
        q = (select(answers.c.question).where(answers.c.chat_id == chat_id, answers.c.message_id == message_id,
                                              answers.c.user_id == user_id,
                                              answers.c.decision.in_(decisions))
             .order_by(answers.c.id.desc()).limit(1))
        with self.db.session() as s:
            return s.scalar(q)

    def get(self, answer_id: int) -> AnswerRow | None:
        with self.db.session() as s:
            return s.get(AnswerRow, answer_id)

    def vote(self, answer_id: int, user_id: int, vote: str) -> bool:
        """Store one vote per user per answer; False when this user already voted."""
        if vote not in VOTES:
            raise ValueError(vote)
        answer = self.get(answer_id)
        if answer is None:
            raise KeyError(answer_id)
        try:
            with self.db.session() as s:
                s.add(FeedbackRow(answer_id=answer_id, user_id=user_id, vote=vote, at=utcnow()))
        except IntegrityError:
            return False
        if vote in ("down", "human"):
            self.inbox.add(answer.question, vote)
        return True

    def votes(self, faq_id: str) -> dict[str, int]:
        with self.db.session() as s:
            q = (select(FeedbackRow.vote, func.count()).join(AnswerRow, AnswerRow.id == FeedbackRow.answer_id)
                 .where(AnswerRow.faq_id == faq_id).group_by(FeedbackRow.vote))
            return {v: n for v, n in s.execute(q)}


class UnansweredInbox:
    def __init__(self, db: Database, normalize):
        self.db = db
        self.normalize = normalize

    def add(self, text: str, reason: str) -> None:
        """Count one more asking of this question: one upsert statement (atomic, so two bot
        processes on one database never both insert the same key)."""
        key = (self.normalize(text) or text)[:255]
        now = utcnow()
        dialect = sqlite if self.db.engine.dialect.name == "sqlite" else postgresql
        stmt = dialect.insert(UnansweredRow).values(key=key, text=text[:2000], reason=reason, count=1,
                                                    first_at=now, last_at=now, closed=False)
        stmt = stmt.on_conflict_do_update(index_elements=[UnansweredRow.key],
                                          set_={"count": UnansweredRow.count + 1, "last_at": now, "closed": False})
        with self.db.session() as s:
            s.execute(stmt)

    def pick(self, text: str, faq_id: str) -> None:
        """The asker of `text` chose `faq_id` from the entries offered: the likeliest home
        for this wording when an admin files it (the latest pick wins)."""
        key = (self.normalize(text) or text)[:255]
        with self.db.session() as s:
            s.execute(update(UnansweredRow).where(UnansweredRow.key == key, UnansweredRow.closed.is_(False))
                      .values(picked=faq_id))

    def pending(self, limit: int = 10, offset: int = 0) -> list[InboxItem]:
        with self.db.session() as s:
            q = (select(UnansweredRow).where(UnansweredRow.closed.is_(False))
                 .order_by(UnansweredRow.count.desc(), UnansweredRow.last_at.desc()).limit(limit).offset(offset))
            return [InboxItem(r.id, r.text, r.count, r.reason, r.last_at, r.picked) for r in s.scalars(q)]

    def get(self, item_id: int) -> InboxItem | None:
        with self.db.session() as s:
            r = s.get(UnansweredRow, item_id)
            return InboxItem(r.id, r.text, r.count, r.reason, r.last_at, r.picked) if r and not r.closed else None

    def close(self, item_id: int, by: str) -> None:
        with self.db.session() as s:
            r = s.get(UnansweredRow, item_id)
            if r is not None:
                r.closed, r.closed_by = True, by
