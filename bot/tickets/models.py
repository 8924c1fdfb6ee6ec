"""Ticket tables: branches and their people, tickets, complainants, the event history,
pending confirmations and who can be written to privately."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..storage.models import Base
from ..storage.types import UtcDateTime

# States
NEW, ACCEPTED, IN_PROGRESS, NEED_INFO, ESCALATED = "new", "accepted", "in_progress", "need_info", "escalated"
RESOLVED, CLOSED, REJECTED, REOPENED = "resolved", "closed", "rejected", "reopened"
STATES = (NEW, ACCEPTED, IN_PROGRESS, NEED_INFO, ESCALATED, RESOLVED, CLOSED, REJECTED, REOPENED)
FINAL = (CLOSED, REJECTED)
OPEN = (NEW, ACCEPTED, IN_PROGRESS, NEED_INFO, ESCALATED, REOPENED)  # someone still has to act
URGENT, NORMAL = "urgent", "normal"
RATINGS = ("satisfied", "basically", "unsatisfied")


class Branch(Base):
    __tablename__ = "branches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16), default="config")  # config | chat


class BranchGroup(Base):
    __tablename__ = "branch_groups"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    branch_id: Mapped[str] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="config")


class BranchSecretary(Base):
    __tablename__ = "branch_secretaries"
    __table_args__ = (UniqueConstraint("branch_id", "user_id", name="uq_branch_secretary"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    branch_id: Mapped[str] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    source: Mapped[str] = mapped_column(String(16), default="config")  # config | bound
    added_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Ticket(Base):
    __tablename__ = "tickets"
    # open tickets of a branch by age, for linking reports (migration 0006)
    __table_args__ = (Index("ix_tickets_branch_created", "branch_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    branch_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)  # None: reported privately
    chat_title: Mapped[str] = mapped_column(String(255), default="")
    reporter_id: Mapped[int] = mapped_column(BigInteger, index=True)
    reporter_name: Mapped[str] = mapped_column(String(255), default="")
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # nlu | command | hashtag | private | confirmed
    category: Mapped[str] = mapped_column(String(32), default="other", index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    entities: Mapped[list] = mapped_column(JSON, default=list)  # [{entity, value}]
    grade: Mapped[str] = mapped_column(String(16), default=NORMAL)
    state: Mapped[str] = mapped_column(String(16), default=NEW, index=True)
    resume_state: Mapped[str | None] = mapped_column(String(16), nullable=True)  # where need_info returns to
    assignee_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    round: Mapped[int] = mapped_column(Integer, default=0)  # bumped on reopen
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    round_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    progress_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    accept_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    progress_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolve_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    followup_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    rating: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Optimistic locking: two writers (a button and the watcher, or two processes) never
    # silently overwrite each other; the later one gets StaleDataError and retries or refuses.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Complainant(Base):
    """A driver who reported the matter (several when drivers report the same event)."""

    __tablename__ = "ticket_complainants"
    __table_args__ = (UniqueConstraint("ticket_id", "user_id", name="uq_ticket_complainant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_name: Mapped[str] = mapped_column(String(255), default="")
    chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    rating: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TicketEvent(Base):
    """Append-only history: who did what, when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: the system
    actor_name: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class TicketDraft(Base):
    """A message that may be a complaint: kept until the driver says yes or no."""

    __tablename__ = "ticket_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    chat_type: Mapped[str] = mapped_column(String(16), default="group")
    user_id: Mapped[int] = mapped_column(BigInteger)
    user_name: Mapped[str] = mapped_column(String(255), default="")
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    understanding: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    media: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # IncomingMessage.media
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | used | dropped
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PrivateContact(Base):
    """People who started a private chat with the bot (only they can be written to privately)."""

    __tablename__ = "private_contacts"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    active_ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # adding details to it
    active_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
