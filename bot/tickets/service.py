"""The ticket service: complaints in, the state machine, and who is told what.

Every operation is one transaction that changes the ticket, appends to its history and
writes the notifications to the outbox; only after it commits is the outbox drainer woken.
So a ticket is on disk before anyone hears of it, and a crash loses nothing.

    new → accepted → in_progress → resolved → closed
    plus need_info, escalated, rejected (not a complaint) and reopened (the driver says 未解决)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm import Session

from ..clock import Clock
from ..outbox import find_sent
from ..storage import Database
from . import texts, views
from .branches import BranchDirectory
from .calendar import WorkCalendar
from .extract import categorize, merge, shared_anchor, similarity
from .grading import Grader
from .models import (ACCEPTED, CLOSED, ESCALATED, FINAL, IN_PROGRESS, NEED_INFO, NEW, OPEN, REJECTED, REOPENED,
                     RESOLVED, URGENT, BranchGroup, Complainant, PrivateContact, Ticket, TicketDraft, TicketEvent)
from .notify import Notifier
from .settings import TicketSettings

log = logging.getLogger(__name__)

# verb -> (states it is allowed from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": ((NEW, NEED_INFO, ESCALATED, REOPENED), ACCEPTED),
    "need_info": ((NEW, ACCEPTED, IN_PROGRESS, ESCALATED, REOPENED), NEED_INFO),
    "resolve": ((NEW, ACCEPTED, IN_PROGRESS, NEED_INFO, ESCALATED, REOPENED), RESOLVED),
    "escalate": ((NEW, ACCEPTED, IN_PROGRESS, NEED_INFO, REOPENED), ESCALATED),
    "reject": ((NEW, ACCEPTED, NEED_INFO, ESCALATED, REOPENED), REJECTED),
    "reopen": ((RESOLVED,), REOPENED),
    "close": ((RESOLVED,), CLOSED),
}
VERB_CODES = {"acc": "accept", "inf": "need_info", "don": "resolve", "esc": "escalate", "rej": "reject"}


# For linking, a report is compared with at most this many of the newest open tickets of its
# branch within the link window (older ones there are not linked to): with one shared branch,
# as when no branches are configured, comparing with all of them grew with load.
LINK_CANDIDATES = 200


# The queries of every report, built once: building a statement costs more than running it.
_FILED = {private: select(Complainant.id).where(
    Complainant.user_id == bindparam("user"),
    Complainant.chat_id.is_(None) if private else Complainant.chat_id == bindparam("chat"),
    Complainant.message_id == bindparam("message")).limit(1) for private in (True, False)}
# The day's last number. The lower bound lets the unique index skip the earlier days (LIKE
# alone read every ticket ever); 10000 sorts after 9999.
_LAST_NUMBER = (select(Ticket.number)
                .where(Ticket.number >= bindparam("start"), Ticket.number.like(bindparam("pattern")))
                .order_by(func.length(Ticket.number).desc(), Ticket.number.desc()).limit(1))


def _matters(unassigned: bool) -> tuple:
    """Open tickets of a branch (or of none), only what the comparison needs, newest first:
    the driver's own ones (few: looked up through them, the window is checked after), and
    the newest LINK_CANDIDATES since a time."""
    q = select(Ticket.id, Ticket.text, Ticket.category, Ticket.entities).where(
        Ticket.state.in_(OPEN), Ticket.branch_id.is_(None) if unassigned else Ticket.branch_id == bindparam("branch"))
    theirs = q.add_columns(Ticket.created_at).where(
        Ticket.id.in_(select(Complainant.ticket_id).where(Complainant.user_id == bindparam("user"))))
    return (theirs.order_by(Ticket.id.desc()),
            q.where(Ticket.created_at >= bindparam("since")).order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(LINK_CANDIDATES))


_MATTERS = {unassigned: _matters(unassigned) for unassigned in (True, False)}


@dataclass
class Report:
    """A complaint as it arrived (platform-free)."""

    user_id: int
    text: str
    chat_id: int | None = None  # None: a private chat
    user_name: str = ""
    message_id: int | None = None
    source: str = "command"
    category: str | None = None
    urgent: bool = False
    confidence: float | None = None
    entities: list = field(default_factory=list)  # NLU entity objects (.entity, .value)
    chat_title: str = ""
    ack: bool = True  # answer the driver through the outbox (an adapter without one shows ack_text)
    media: dict | None = None  # a photo/voice/file the complaint came with (IncomingMessage.media)


@dataclass
class Outcome:
    kind: str  # created | added | linked
    ticket_id: int
    number: str
    ack_text: str = ""


@dataclass
class Result:
    ok: bool
    message: str = ""
    ticket: Ticket | None = None
    card_text: str | None = None  # the card as it is now (to update the one pressed)
    card_buttons: list = field(default_factory=list)


class TicketError(Exception):
    """Refused: not allowed, wrong state, unknown ticket. The message is for the person."""


class TicketService:
    def __init__(self, db: Database, settings: TicketSettings | None = None, *, branches: list | None = None,
                 admins=None, chats=None, clock: Clock | None = None):
        self.db = db
        self.settings = settings or TicketSettings()
        self.branch_config = list(branches or [])  # BranchSettings from config.yml
        self.admins = admins  # AdminDirectory (is_admin, all) or None
        self.chats = chats  # ChatRegistry for group titles, or None
        self.clock = clock or Clock()
        self.calendar = WorkCalendar.from_settings(self.settings)
        self.grader = Grader(self.settings, self.calendar)
        self.branches = BranchDirectory(db, self.clock)
        self.notify = Notifier(self)
        self.on_enqueue: Callable[[], None] | None = None  # wakes the outbox drainer

    # -- helpers ---------------------------------------------------------------------------------
    def admin_ids(self) -> list[int]:
        return list(self.admins.all()) if self.admins is not None else []

    def is_admin(self, user_id: int) -> bool:
        return self.admins is not None and self.admins.is_admin(user_id)

    @contextmanager
    def _tx(self):
        """A transaction that refuses politely when someone else changed the ticket meanwhile."""
        try:
            with self.db.session() as s:
                yield s
        except StaleDataError:
            raise TicketError(texts.BUSY) from None

    def _kick(self) -> None:
        if self.on_enqueue is not None:
            self.on_enqueue()

    def can_act(self, s: Session, user_id: int, t: Ticket) -> bool:
        """Only the ticket's branch's secretaries and admins act on it."""
        return self.is_admin(user_id) or user_id in BranchDirectory.secretaries(s, t.branch_id)

    def is_handler(self, user_id: int) -> bool:
        if self.is_admin(user_id):
            return True
        with self.db.session() as s:
            return bool(BranchDirectory.branches_of(s, user_id))

    def _event(self, s: Session, t: Ticket, action: str, actor_id: int | None, actor_name: str = "",
               note: str | None = None, from_state: str | None = None, to_state: str | None = None) -> TicketEvent:
        ev = TicketEvent(ticket_id=t.id, at=self.clock.now(), actor_id=actor_id, actor_name=actor_name or "",
                         action=action, from_state=from_state, to_state=to_state, note=note)
        s.add(ev)
        s.flush()
        return ev

    def _ticket(self, s: Session, ticket_id: int) -> Ticket:
        t = s.get(Ticket, ticket_id)
        if t is None:
            raise TicketError(texts.TICKET_GONE)
        return t

    # -- contacts ------------------------------------------------------------------------------------
    def record_contact(self, user_id: int, name: str = "", *, blocked: bool = False) -> None:
        """The person has a private chat with the bot (or blocked it)."""
        with self.db.session() as s:
            row = s.get(PrivateContact, user_id)
            if row is None:
                s.add(PrivateContact(user_id=user_id, name=name or "", started_at=self.clock.now(), blocked=blocked))
            else:
                row.blocked = blocked
                row.name = name or row.name

    # -- intake ------------------------------------------------------------------------------------------
    def report(self, r: Report, *, draft_id: int | None = None) -> Outcome | None:
        """Create a ticket, or add to the driver's open one, or link to another driver's report
        of the same event. With `draft_id` the confirmed draft is used up in the same
        transaction (None if it was already). Retries if two processes took the same number."""
        for attempt in range(3):
            try:
                with self.db.session() as s:
                    draft = None
                    if draft_id is not None:
                        draft = s.get(TicketDraft, draft_id)
                        if draft is None or draft.state != "open":
                            return None
                    if self._filed_before(s, r):
                        return None  # the same message handled again (e.g. after a database error)
                    outcome = self._report(s, r)
                    if r.media:  # after the card (the outbox keeps each chat's order)
                        self._attach(s, s.get(Ticket, outcome.ticket_id), r.user_id, r.user_name, r.media)
                    if draft is not None:
                        draft.state, draft.ticket_id = "used", outcome.ticket_id
                self._kick()
                return outcome
            except (IntegrityError, StaleDataError):
                if attempt == 2:
                    raise
                log.info("a concurrent write (ticket number or the same ticket); retrying")
        raise AssertionError("unreachable")

    @staticmethod
    def _filed_before(s: Session, r: Report) -> bool:
        """This very message already made or joined a ticket (each message is filed once)."""
        if r.message_id is None:
            return False
        return s.scalar(_FILED[r.chat_id is None], {"user": r.user_id, "chat": r.chat_id,
                                                    "message": r.message_id}) is not None

    def _branch_for(self, s: Session, r: Report) -> str | None:
        if r.chat_id is not None:
            return BranchDirectory.branch_id_of_chat(s, r.chat_id)
        last = s.scalar(select(Ticket.branch_id).join(Complainant, Complainant.ticket_id == Ticket.id)
                        .where(Complainant.user_id == r.user_id, Ticket.branch_id.is_not(None))
                        .order_by(Ticket.id.desc()).limit(1))
        if last:
            return last
        mine = BranchDirectory.branches_of(s, r.user_id)
        if mine:
            return mine[0]
        if len(self.branch_config) == 1:
            return self.branch_config[0].id
        return None

    def _report(self, s: Session, r: Report) -> Outcome:
        now = self.clock.now()
        text = r.text.strip()
        entities = merge(r.entities, text)
        category = r.category or categorize(text)
        branch_id = self._branch_for(s, r)
        theirs, recent = _MATTERS[not branch_id]
        # 1) the same driver about the same matter: add to their open ticket
        repeat_from = now - timedelta(hours=self.settings.repeat_window_h)
        for m in s.execute(theirs, {"branch": branch_id, "user": r.user_id}):
            if m.created_at >= repeat_from and self._same_matter(m, text, category, entities, strict=False):
                return self._add(s, s.get(Ticket, m.id), r, text, entities)
        # 2) another driver about the same event: one case, several complainants
        for m in s.execute(recent, {"branch": branch_id,
                                    "since": now - timedelta(hours=self.settings.link_window_h)}):
            if self._same_matter(m, text, category, entities, strict=True):
                return self._link(s, s.get(Ticket, m.id), r, text)
        return self._create(s, r, text, entities, category, branch_id)

    @staticmethod
    def _same_matter(t, text: str, category: str, entities: list[dict], strict: bool) -> bool:
        """`t`: a ticket's text, category and entities."""
        sim = similarity(t.text, text)
        anchor = shared_anchor(t.entities or [], entities)
        same_cat = category == t.category and category != "other"
        if strict:  # different drivers: a shared place/party, or clearly the same words
            return (anchor and (same_cat or sim >= 0.2 or category == "other" or t.category == "other")) or sim >= 0.5
        return anchor or sim >= 0.25 or same_cat

    def _next_number(self, s: Session) -> str:
        day = self.calendar.local(self.clock.now()).strftime("%Y%m%d")
        prefix = f"{self.settings.number_prefix}-{day}-"
        last = s.scalar(_LAST_NUMBER, {"start": prefix, "pattern": prefix + "%"})
        n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
        return f"{prefix}{n:04d}"

    def _create(self, s: Session, r: Report, text: str, entities: list[dict], category: str,
                branch_id: str | None) -> Outcome:
        now = self.clock.now()
        grade = self.grader.grade(category, r.urgent, text)
        due = self.grader.deadlines(grade, now)
        title = r.chat_title
        if not title and r.chat_id is not None and self.chats is not None:
            row = self.chats.get(r.chat_id)
            title = row.title if row is not None else ""
        t = Ticket(number=self._next_number(s), branch_id=branch_id, chat_id=r.chat_id, chat_title=title or "",
                   reporter_id=r.user_id, reporter_name=r.user_name or "", message_id=r.message_id, text=text,
                   source=r.source, category=category, urgent=grade == URGENT, confidence=r.confidence,
                   entities=entities, grade=grade, state=NEW, round=0, escalation_level=0, created_at=now,
                   updated_at=now, round_started_at=now, accept_due=due.accept, progress_due=due.progress,
                   resolve_due=due.resolve)
        s.add(t)
        s.flush()
        c = Complainant(ticket_id=t.id, user_id=r.user_id, user_name=r.user_name or "", chat_id=r.chat_id,
                        message_id=r.message_id, text=text, at=now)
        s.add(c)
        ev = self._event(s, t, "created", r.user_id, r.user_name, to_state=NEW, note=r.source)
        handler = self._handler_words(s, t)
        if grade == URGENT:
            accept = texts.ACK_ACCEPT_URGENT.format(minutes=self.grader.grade_settings(grade).accept_minutes)
        else:
            accept = texts.ACK_ACCEPT.format(when=self.calendar.describe(due.accept, now))
        ack = texts.ACK.format(number=t.number, handler=handler, accept=accept)
        if r.ack:
            details = texts.ACK_DETAILS_PRIVATE if r.chat_id is None else texts.ACK_DETAILS
            self.notify.ack(s, t, f"tk:{t.id}:e{ev.id}:ack", c, ack + details)
        self.notify.card(s, t, f"tk:{t.id}:e{ev.id}:card")
        if grade == URGENT and self.settings.urgent_copy_to_escalation and self.settings.escalation_chat_id:
            self.notify.card_to_escalation(s, t, f"tk:{t.id}:e{ev.id}:urgent", texts.URGENT_COPY)
        log.info("ticket %s created (%s, %s) in branch %s", t.number, category, grade, branch_id)
        return Outcome("created", t.id, t.number, ack)

    def _handler_words(self, s: Session, t: Ticket) -> str:
        if t.branch_id and self.notify.secretaries(s, t.branch_id):
            return texts.HANDLER_BRANCH.format(branch=BranchDirectory.name(s, t.branch_id))
        return texts.HANDLER_ADMINS

    def _add(self, s: Session, t: Ticket, r: Report, text: str, entities: list[dict]) -> Outcome:
        ev = self._event(s, t, "added", r.user_id, r.user_name, note=text)
        for e in entities:
            if e not in (t.entities or []):
                t.entities = [*(t.entities or []), e]
        t.updated_at = self.clock.now()
        # answer where the driver wrote this time (a transient object: not stored)
        here = Complainant(user_id=r.user_id, user_name=r.user_name, chat_id=r.chat_id, message_id=r.message_id)
        if r.ack:
            self.notify.ack(s, t, f"tk:{t.id}:e{ev.id}:ack", here, texts.ADDED.format(number=t.number))
        self.notify.handlers_note(s, t, f"tk:{t.id}:e{ev.id}:add", texts.ADDITION.format(number=t.number, text=text))
        self._resume_if_waiting(s, t, r.user_id, r.user_name)
        return Outcome("added", t.id, t.number, texts.ADDED.format(number=t.number))

    def _link(self, s: Session, t: Ticket, r: Report, text: str) -> Outcome:
        now = self.clock.now()
        c = Complainant(ticket_id=t.id, user_id=r.user_id, user_name=r.user_name or "", chat_id=r.chat_id,
                        message_id=r.message_id, text=text, at=now)
        s.add(c)
        ev = self._event(s, t, "linked", r.user_id, r.user_name, note=text)
        t.updated_at = now
        if r.ack:
            self.notify.ack(s, t, f"tk:{t.id}:e{ev.id}:ack", c, texts.LINKED.format(number=t.number))
        self.notify.handlers_note(s, t, f"tk:{t.id}:e{ev.id}:link", texts.ADDITION_FROM.format(
            number=t.number, name=r.user_name or r.user_id, text=text))
        log.info("report of %s linked to %s", r.user_id, t.number)
        return Outcome("linked", t.id, t.number, texts.LINKED.format(number=t.number))

    def _resume_if_waiting(self, s: Session, t: Ticket, actor_id: int, actor_name: str) -> None:
        if t.state != NEED_INFO:
            return
        back = t.resume_state or ACCEPTED
        self._event(s, t, "info_added", actor_id, actor_name, from_state=NEED_INFO, to_state=back)
        t.state, t.resume_state = back, None
        t.updated_at = self.clock.now()

    # -- details from the driver (private chat) ---------------------------------------------------------
    def open_details(self, user_id: int, ticket_id: int, name: str = "") -> str:
        """The driver came in through the ticket's button: show it, and take what they send next."""
        now = self.clock.now()
        with self.db.session() as s:
            t = s.get(Ticket, ticket_id)
            if t is None:
                return texts.TICKET_GONE
            if s.scalar(select(Complainant.id).where(Complainant.ticket_id == t.id,
                                                     Complainant.user_id == user_id)) is None:
                return texts.NOT_YOUR_TICKET
            contact = s.get(PrivateContact, user_id)
            if contact is None:
                contact = PrivateContact(user_id=user_id, name=name, started_at=now, blocked=False)
                s.add(contact)
            contact.blocked = False
            contact.active_ticket_id = t.id
            contact.active_until = now + timedelta(minutes=self.settings.details_window_min)
            relays = list(s.scalars(select(TicketEvent.note).where(TicketEvent.ticket_id == t.id,
                                                                   TicketEvent.action.in_(["relayed", "resolved"]))
                                    .order_by(TicketEvent.id.desc()).limit(3)))
            recent = texts.DETAILS_RECENT.format(text="\n".join(f"· {n}" for n in reversed(relays) if n)) \
                if any(relays) else ""
            return texts.DETAILS_OPEN.format(number=t.number, state=texts.STATE[t.state], recent=recent)

    def active_ticket(self, user_id: int) -> int | None:
        """The ticket a driver is adding details to in the private chat, if any."""
        now = self.clock.now()
        with self.db.session() as s:
            contact = s.get(PrivateContact, user_id)
            if contact and contact.active_ticket_id and contact.active_until and contact.active_until > now:
                t = s.get(Ticket, contact.active_ticket_id)
                if t is not None and t.state not in FINAL:
                    return t.id
            # a ticket waiting for this driver's information takes what they write privately
            waiting = s.scalar(select(Ticket.id).join(Complainant, Complainant.ticket_id == Ticket.id)
                               .where(Complainant.user_id == user_id, Ticket.state == NEED_INFO)
                               .order_by(Ticket.id.desc()).limit(1))
            return waiting

    def media_ticket(self, user_id: int) -> int | None:
        """The ticket a photo, voice note, video or file sent privately belongs to: the one the
        driver is adding details to, else the one they reported within the details window
        (evidence sent right after filing, before pressing the details button). Only media:
        text in that window is still asked of the FAQ."""
        active = self.active_ticket(user_id)
        if active is not None:
            return active
        since = self.clock.now() - timedelta(minutes=self.settings.details_window_min)
        with self.db.session() as s:
            return s.scalar(select(Ticket.id).join(Complainant, Complainant.ticket_id == Ticket.id)
                            .where(Complainant.user_id == user_id, Complainant.at >= since,
                                   Ticket.state.not_in(FINAL))
                            .order_by(Complainant.at.desc(), Ticket.id.desc()).limit(1))

    @staticmethod
    def move_chat(s: Session, old: int, new: int) -> bool:
        """The group lives on as `new` (App.chat_moved): its branch and its tickets, reporters
        and drafts move, so notices reach the group again. True when config.yml named the old
        id as a branch's group (the move is kept as source "moved"; the file wants updating)."""
        group = s.get(BranchGroup, old)
        if group is not None and s.get(BranchGroup, new) is None:
            s.add(BranchGroup(chat_id=new, branch_id=group.branch_id, source="moved"))
        for model in (Ticket, Complainant, TicketDraft):
            s.execute(update(model).where(model.chat_id == old).values(chat_id=new)
                      .execution_options(synchronize_session=False))
        return group is not None and group.source == "config"

    def add_detail(self, user_id: int, ticket_id: int, text: str = "", *, name: str = "",
                   media: dict | None = None) -> str:
        """A complainant adds text or a photo, voice note or file to their ticket; the handlers get it."""
        now = self.clock.now()
        with self._tx() as s:
            t = self._ticket(s, ticket_id)
            if s.scalar(select(Complainant.id).where(Complainant.ticket_id == t.id,
                                                     Complainant.user_id == user_id)) is None:
                return texts.NOT_YOUR_TICKET
            contact = s.get(PrivateContact, user_id)
            if contact is not None and contact.active_ticket_id == t.id:
                contact.active_until = now + timedelta(minutes=self.settings.details_window_min)
            if media:
                self._attach(s, t, user_id, name, media, text)
            else:
                ev = self._event(s, t, "added", user_id, name, note=text)
                self.notify.handlers_note(s, t, f"tk:{t.id}:e{ev.id}:add",
                                          texts.ADDITION.format(number=t.number, text=text))
            self._resume_if_waiting(s, t, user_id, name)
            t.updated_at = now
            number = t.number
        self._kick()
        return texts.DETAILS_ADDED.format(number=number)

    def _attach(self, s: Session, t: Ticket, user_id: int, name: str, media: dict, text: str = "") -> None:
        """A photo, voice note or file for the ticket: in its history, and forwarded to its handlers."""
        ev = self._event(s, t, "added", user_id, name, note=text or texts.MEDIA_NOTE.get(media["type"], "[附件]"))
        caption = texts.MEDIA_CAPTION.format(number=t.number, caption=f"：{text}" if text else "")
        self.notify.handlers_media(s, t, f"tk:{t.id}:e{ev.id}:media", media, caption)

    # -- the handlers' actions ----------------------------------------------------------------------------
    def act(self, ticket_id: int, verb: str, actor_id: int, actor_name: str = "", note: str | None = None) -> Result:
        """A secretary's (or admin's) button. 办结 without a note asks for one first."""
        with self._tx() as s:
            t = self._ticket(s, ticket_id)
            if not self.can_act(s, actor_id, t):
                raise TicketError(texts.NOT_ALLOWED)
            allowed, _ = TRANSITIONS[verb]
            if t.state not in allowed:
                raise TicketError(texts.WRONG_STATE.format(state=texts.STATE[t.state]))
            if verb == "resolve" and not note:
                ev = self._event(s, t, "note_asked", actor_id, actor_name)
                self.notify.ask_note(s, t, f"tk:{t.id}:e{ev.id}:note", actor_id)
                message = "请在私聊里回复我发的消息，写一句办结说明 ✍️"
            else:
                self._transition(s, t, verb, actor_id, actor_name, note)
                message = texts.STATE_CHANGED.format(state=texts.STATE[t.state])
            result = Result(True, message, t, views.card(s, t, self.calendar, self.clock.now()),
                            views.card_buttons(t))
        self._kick()
        return result

    def _transition(self, s: Session, t: Ticket, verb: str, actor_id: int | None, actor_name: str,
                    note: str | None = None) -> TicketEvent:
        allowed, target = TRANSITIONS[verb]
        if t.state not in allowed:
            raise TicketError(texts.WRONG_STATE.format(state=texts.STATE[t.state]))
        now = self.clock.now()
        before = t.state
        if verb == "accept" and before == NEED_INFO and t.resume_state:
            target = t.resume_state if t.resume_state != NEW else ACCEPTED
        if verb == "need_info":
            t.resume_state = before if before != NEW else ACCEPTED
        ev = self._event(s, t, {"accept": "accepted", "need_info": "need_info", "resolve": "resolved",
                                "escalate": "escalated", "reject": "rejected", "reopen": "reopened",
                                "close": "closed"}[verb], actor_id, actor_name, note=note,
                         from_state=before, to_state=target)
        t.state, t.updated_at = target, now
        if actor_id is not None and verb != "reopen" and verb != "close" and t.first_response_at is None:
            t.first_response_at = now
        if verb == "accept" and actor_id is not None:
            t.assignee_id = actor_id
        key = f"tk:{t.id}:e{ev.id}"
        n = t.number
        if verb == "accept":
            self.notify.drivers(s, t, key, texts.DRIVER_ACCEPTED.format(
                number=n, when=self.calendar.describe(t.resolve_due, now)))
        elif verb == "need_info":
            self.notify.drivers(s, t, key, texts.DRIVER_NEED_INFO.format(number=n),
                                buttons=[views.details_button(t)])
        elif verb == "escalate":
            self.notify.card_to_escalation(s, t, key, texts.ESCALATED_CARD.format(
                branch=BranchDirectory.name(s, t.branch_id)))
            self.notify.drivers(s, t, key, texts.DRIVER_ESCALATED.format(number=n))
        elif verb == "reject":
            t.closed_at = now
            self.notify.drivers(s, t, key, texts.DRIVER_REJECTED, group_text=texts.DRIVER_REJECTED)
        elif verb == "resolve":
            t.resolved_at, t.resolution = now, note
            t.progress_at = t.progress_at or now
            t.followup_due = self.calendar.add_workdays(now, self.grader.grade_settings(t.grade).followup_workdays)
            for c in s.scalars(select(Complainant).where(Complainant.ticket_id == t.id)):
                c.rating, c.rated_at = None, None
            self.notify.drivers(s, t, key, texts.DRIVER_RESOLVED.format(number=n, note=note or "—"),
                                buttons=views.rating_buttons(t),
                                group_text=texts.DRIVER_RESOLVED_GROUP.format(number=n))
        elif verb == "reopen":
            t.round += 1
            t.round_started_at, t.resolved_at, t.followup_due, t.progress_at = now, None, None, None
            t.rating, t.escalation_level = None, 0
            due = self.grader.deadlines(t.grade, now)
            t.progress_due, t.resolve_due = due.progress, due.resolve
            self.notify.drivers(s, t, key, texts.DRIVER_REOPENED.format(number=n))
            self.notify.card(s, t, key + ":card", texts.REOPENED_CARD.format(
                number=n, when=self.calendar.describe(t.resolve_due, now)) + "\n\n")
        elif verb == "close":
            t.closed_at = now
        return ev

    def relay(self, actor_id: int, chat_id: int, reply_to: int, text: str, actor_name: str = "") -> str | None:
        """A reply to one of the bot's ticket messages. To a card: relayed to the driver(s);
        to the 办结 prompt: the resolution note; from a driver: added to their ticket.
        None when the replied message is not about a ticket."""
        with self._tx() as s:
            row = find_sent(s, chat_id, reply_to)
            if row is None or not (row.ref or "").startswith("tk:"):
                return None
            _, ticket_id, kind = row.ref.split(":", 2)
            t = self._ticket(s, int(ticket_id))
            if kind == "drv":
                outcome = "driver"
            else:
                if not self.can_act(s, actor_id, t):
                    raise TicketError(texts.NOT_ALLOWED)
                if kind == "note":
                    self._transition(s, t, "resolve", actor_id, actor_name, text.strip())
                    outcome = texts.NOTE_SAVED
                else:
                    outcome = self._relay(s, t, actor_id, actor_name, text.strip())
        if outcome == "driver":
            return self.add_detail(actor_id, int(ticket_id), text, name=actor_name)
        self._kick()
        return outcome

    def _relay(self, s: Session, t: Ticket, actor_id: int, actor_name: str, text: str) -> str:
        now = self.clock.now()
        before = t.state
        to_state = IN_PROGRESS if before in (NEW, ACCEPTED, REOPENED, ESCALATED) else before
        ev = self._event(s, t, "relayed", actor_id, actor_name, note=text, from_state=before, to_state=to_state)
        t.state, t.updated_at = to_state, now
        t.first_response_at = t.first_response_at or now
        t.progress_at = t.progress_at or now
        t.assignee_id = t.assignee_id or actor_id
        self.notify.drivers(s, t, f"tk:{t.id}:e{ev.id}", texts.DRIVER_RELAY.format(number=t.number, text=text),
                            buttons=[views.details_button(t, "📎 回复/补充")] if t.chat_id is not None else None,
                            group_text=texts.GROUP_UPDATE.format(number=t.number, state="书记回复了"))
        reachable = all(self.notify.reachable(s, c.user_id)
                        for c in s.scalars(select(Complainant).where(Complainant.ticket_id == t.id)))
        return texts.RELAYED if reachable else texts.RELAY_UNREACHABLE

    # -- follow-up ------------------------------------------------------------------------------------------
    def rate(self, ticket_id: int, user_id: int, code: str) -> str:
        """满意/基本满意/不满意 closes (once every complainant answered); 未解决 reopens."""
        rating = views.RATE_CODES.get(code)
        if rating is None:
            raise TicketError(texts.TICKET_GONE)
        now = self.clock.now()
        with self._tx() as s:
            t = self._ticket(s, ticket_id)
            c = s.scalar(select(Complainant).where(Complainant.ticket_id == t.id, Complainant.user_id == user_id))
            if c is None:
                raise TicketError(texts.NOT_YOUR_TICKET)
            if t.state != RESOLVED:
                raise TicketError(texts.WRONG_STATE.format(state=texts.STATE[t.state]))
            if rating == "unsolved":
                self._transition(s, t, "reopen", user_id, c.user_name, note="未解决")
                message = texts.DRIVER_REOPENED.format(number=t.number)
            else:
                c.rating, c.rated_at = rating, now
                if user_id == t.reporter_id:
                    t.rating = rating
                ev = self._event(s, t, "rated", user_id, c.user_name, note=texts.RATING[rating])
                self.notify.handlers_note(s, t, f"tk:{t.id}:e{ev.id}:rated", texts.RATED_CARD.format(
                    number=t.number, name=c.user_name or user_id, rating=texts.RATING[rating]))
                s.flush()
                pending = s.scalar(select(func.count()).select_from(Complainant).where(
                    Complainant.ticket_id == t.id, Complainant.rating.is_(None)))
                if not pending:
                    if t.rating is None:
                        t.rating = rating
                    self._transition(s, t, "close", user_id, c.user_name)
                message = texts.DRIVER_CLOSED.format(number=t.number)
        self._kick()
        return message

    # -- lookups ----------------------------------------------------------------------------------------------
    def find(self, number_or_id: str | int) -> Ticket | None:
        with self.db.session() as s:
            if isinstance(number_or_id, int) or str(number_or_id).isdigit():
                return s.get(Ticket, int(number_or_id))
            return s.scalar(select(Ticket).where(Ticket.number == str(number_or_id).strip().upper()))

    def open_for(self, user_id: int, *, everything: bool = False) -> list[Ticket]:
        """Open tickets of the user's branches (all of them for admins or with `everything`)."""
        with self.db.session() as s:
            q = select(Ticket).where(Ticket.state.in_(OPEN)).order_by(Ticket.id)
            if not (everything or self.is_admin(user_id)):
                q = q.where(Ticket.branch_id.in_(BranchDirectory.branches_of(s, user_id)))
            return list(s.scalars(q))

    def detail(self, number: str, viewer_id: int) -> Result:
        """The card and history for a handler; a short status for the ticket's own driver."""
        with self.db.session() as s:
            t = s.scalar(select(Ticket).where(Ticket.number == number.strip().upper()))
            if t is None:
                raise TicketError(texts.TICKET_GONE)
            now = self.clock.now()
            if self.can_act(s, viewer_id, t):
                text = views.card(s, t, self.calendar, now) + "\n\n记录：\n" + views.history(s, t, self.calendar)
                return Result(True, text, t, text, views.card_buttons(t))
            if s.scalar(select(Complainant.id).where(Complainant.ticket_id == t.id,
                                                     Complainant.user_id == viewer_id)) is not None:
                return Result(True, f"诉求 {t.number}：{texts.STATE[t.state]}", t)
            raise TicketError(texts.NOT_ALLOWED)

    def scope(self, user_id: int) -> list[str] | None:
        """Branch ids a person sees in stats; None = all (admins)."""
        if self.is_admin(user_id):
            return None
        with self.db.session() as s:
            return BranchDirectory.branches_of(s, user_id)
