"""The answer log, 👍/👎 feedback, and the inbox of questions the bot could not answer.

Admins work through the inbox (`/faq_pending`), most asked first, turning items into
new entries or alternates, which is how the knowledge base learns drivers' wording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
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


class AnswerLog:
    def __init__(self, db: Database, inbox: "UnansweredInbox"):
        self.db = db
        self.inbox = inbox

    def record(self, chat_id: int, user_id: int, question: str, faq_id: str | None, decision: str,
               score: float) -> int:
        with self.db.session() as s:
            row = AnswerRow(chat_id=chat_id, user_id=user_id, question=question, faq_id=faq_id,
                            decision=decision, score=score, at=utcnow())
            s.add(row)
            s.flush()
            return row.id

    def delivered(self, answer_id: int, message_id: int) -> None:
        with self.db.session() as s:
            row = s.get(AnswerRow, answer_id)
            if row is not None:
                row.message_id = message_id

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
        key = (self.normalize(text) or text)[:255]
        with self.db.session() as s:
            row = s.scalar(select(UnansweredRow).where(UnansweredRow.key == key))
            if row is None:
                s.add(UnansweredRow(key=key, text=text[:2000], reason=reason, count=1, first_at=utcnow(),
                                    last_at=utcnow(), closed=False))
            else:
                row.count += 1
                row.last_at = utcnow()
                row.closed = False

    def pending(self, limit: int = 10, offset: int = 0) -> list[InboxItem]:
        with self.db.session() as s:
            q = (select(UnansweredRow).where(UnansweredRow.closed.is_(False))
                 .order_by(UnansweredRow.count.desc(), UnansweredRow.last_at.desc()).limit(limit).offset(offset))
            return [InboxItem(r.id, r.text, r.count, r.reason, r.last_at) for r in s.scalars(q)]

    def get(self, item_id: int) -> InboxItem | None:
        with self.db.session() as s:
            r = s.get(UnansweredRow, item_id)
            return InboxItem(r.id, r.text, r.count, r.reason, r.last_at) if r and not r.closed else None

    def close(self, item_id: int, by: str) -> None:
        with self.db.session() as s:
            r = s.get(UnansweredRow, item_id)
            if r is not None:
                r.closed, r.closed_by = True, by
