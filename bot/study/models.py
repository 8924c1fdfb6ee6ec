"""ORM tables of the daily study feature (migration 0004_study). Portable types only."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..storage.models import Base, utcnow

# Send states (see bot/study/ledger.py for the exactly-once protocol).
PENDING = "pending"  # claimed for (group, day), not yet handed to Telegram: safe to (re)send
SENDING = "sending"  # the request is in flight: if the process dies now we cannot know
SENT = "sent"  # Telegram answered with a message id
FAILED = "failed"  # Telegram refused (nothing was sent); retried later unless permanent
UNKNOWN = "unknown"  # in flight when the process died, or timed out: never sent again


class StudyItemRow(Base):
    __tablename__ = "study_items"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    on_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    quiz: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="")


class StudyScheduleRow(Base):
    """A group's send time and on/off switch; created the first time the dispatcher sees it."""

    __tablename__ = "study_schedules"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    send_time: Mapped[str | None] = mapped_column(String(5), nullable=True)  # None: the configured default
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # no item for days before this
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class StudySendRow(Base):
    """What a group got on a day: at most one row per (group, day), enforced by the database."""

    __tablename__ = "study_sends"
    __table_args__ = (UniqueConstraint("chat_id", "day", name="uq_study_sends_chat_day"),
                      UniqueConstraint("poll_id", name="uq_study_sends_poll_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    day: Mapped[date] = mapped_column(Date)  # local date in the study time zone
    item_id: Mapped[str] = mapped_column(String(80))
    cycle: Mapped[int] = mapped_column(Integer)  # rotation round; -1 for a dated item
    state: Mapped[str] = mapped_column(String(16), index=True)  # /metrics counts by state
    owner: Mapped[str] = mapped_column(String(40))  # the process that claimed it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_try_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The quiz poll after the item, with the same states.
    poll_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    poll_attempts: Mapped[int] = mapped_column(Integer, default=0)
    poll_next_try_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    poll_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    poll_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    correct_option: Mapped[int | None] = mapped_column(Integer, nullable=True)


class StudyAnswerRow(Base):
    """A member's quiz answer (the latest one counts)."""

    __tablename__ = "study_answers"
    __table_args__ = (UniqueConstraint("send_id", "user_id", name="uq_study_answers_send_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("study_sends.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    day: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int] = mapped_column(BigInteger)
    user_name: Mapped[str] = mapped_column(String(255), default="")
    option: Mapped[int] = mapped_column(Integer)
    correct: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StudySummaryRow(Base):
    """The Monday summary of one branch for one week: claimed once, like a send."""

    __tablename__ = "study_summaries"
    __table_args__ = (UniqueConstraint("branch", "week", name="uq_study_summaries_branch_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    branch: Mapped[str] = mapped_column(String(80))
    week: Mapped[date] = mapped_column(Date)  # Monday of the week summarised
    state: Mapped[str] = mapped_column(String(16))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered: Mapped[int] = mapped_column(Integer, default=0)  # secretaries reached
