"""The SLA watcher (限时办理): reminders before deadlines, escalation after them, the
follow-up reminder and the auto-close of resolved tickets nobody rated.

Run often (a job every minute); it is idempotent: each step is written to the ticket's
history (and its notifications have keys of ticket, round and deadline), so a second run
adds nothing."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import texts, views
from ..storage.leases import Lease
from .branches import BranchDirectory
from .models import NEED_INFO, OPEN, RESOLVED, Complainant, Ticket, TicketEvent

log = logging.getLogger(__name__)


class SlaWatcher:
    def __init__(self, service):
        self.svc = service
        # One process watches at a time (bot/storage/leases.py); renewed on every run.
        self.lease = Lease(service.db, "sla-watch", seconds=max(3 * service.settings.watch_interval_s, 10))

    def run(self) -> Counter:
        now = self.svc.clock.now()
        done: Counter = Counter()
        if not self.lease.hold():
            return done  # another process watches
        with self.svc.db.session() as s:
            ids = list(s.scalars(select(Ticket.id).where(Ticket.state.in_(OPEN + (RESOLVED,))).order_by(Ticket.id)))
        for ticket_id in ids:  # one transaction per ticket: a conflict skips only that one
            try:
                with self.svc.db.session() as s:
                    # A ticket another transaction is changing right now is looked at next round.
                    t = s.get(Ticket, ticket_id, with_for_update={"skip_locked": True})
                    if t is None:
                        continue
                    if t.state == RESOLVED:
                        self._followup(s, t, now, done)
                    elif t.state in OPEN:
                        for kind, due in self._deadlines(t):
                            self._deadline(s, t, kind, due, now, done)
            except (StaleDataError, IntegrityError):
                log.info("ticket %s changed while being watched; next round", ticket_id)
        if done:
            log.info("SLA watcher: %s", dict(done))
            self.svc._kick()
        return done

    @staticmethod
    def _deadlines(t: Ticket) -> list[tuple[str, datetime]]:
        out = []
        if t.first_response_at is None and t.accept_due is not None:
            out.append(("accept", t.accept_due))
        if (t.first_response_at is not None and t.progress_at is None and t.progress_due is not None
                and t.state != NEED_INFO):
            out.append(("progress", t.progress_due))
        if t.resolve_due is not None:
            out.append(("resolve", t.resolve_due))
        return out

    def _deadline(self, s: Session, t: Ticket, kind: str, due: datetime, now: datetime, done: Counter) -> None:
        svc, notify = self.svc, self.svc.notify
        window = max(due - t.round_started_at, timedelta(minutes=1))
        key = f"tk:{t.id}:r{t.round}:{kind}"
        tag = f"{kind}#{t.round}"
        what, when = texts.DEADLINE_WHAT[kind], svc.calendar.describe(due, now)
        if t.round_started_at + window * svc.settings.remind_at <= now < due:
            if self._once(s, t, "reminded", tag, lambda: notify.handlers_note(
                    s, t, key + ":remind", texts.REMIND.format(number=t.number, what=what, when=when))):
                done["reminded"] += 1
        if now >= due:
            branch = BranchDirectory.name(s, t.branch_id)

            def escalate() -> None:
                notify.card_to_escalation(s, t, key + ":over1", texts.OVERDUE_ESCALATION.format(
                    number=t.number, what=what, when=when, branch=branch) + "\n\n")
                notify.handlers_note(s, t, key + ":over1:note", texts.OVERDUE.format(number=t.number, what=what,
                                                                                    when=when))
                t.escalation_level = max(t.escalation_level, 1)

            if self._once(s, t, "overdue", tag, escalate):
                done["escalated"] += 1
        if now >= due + window:
            branch = BranchDirectory.name(s, t.branch_id)
            text = texts.OVERDUE_ADMINS.format(number=t.number, what=what, when=when, branch=branch)

            def to_admins() -> None:
                card = views.card(s, t, svc.calendar, now)
                for admin in svc.admin_ids():
                    notify.put(s, f"{key}:over2:adm{admin}", admin,
                               {"text": text + "\n\n" + card, "buttons": views.card_buttons(t)}, ref=f"tk:{t.id}:card")
                t.escalation_level = 2

            if self._once(s, t, "overdue_admins", tag, to_admins):
                done["to_admins"] += 1

    def _followup(self, s: Session, t: Ticket, now: datetime, done: Counter) -> None:
        svc = self.svc
        if t.resolved_at is not None and now >= t.resolved_at + timedelta(days=svc.settings.auto_close_days):
            svc._transition(s, t, "close", None, "", note="no rating")
            done["auto_closed"] += 1
            return
        if t.followup_due is None or now < t.followup_due:
            return
        unrated = [c.user_id for c in s.scalars(select(Complainant).where(Complainant.ticket_id == t.id,
                                                                          Complainant.rating.is_(None)))]
        if unrated and self._once(s, t, "followup", f"#{t.round}", lambda: svc.notify.drivers(
                s, t, f"tk:{t.id}:r{t.round}:followup", texts.DRIVER_FOLLOWUP.format(number=t.number),
                buttons=views.rating_buttons(t), group_text=texts.DRIVER_RESOLVED_GROUP.format(number=t.number),
                only=unrated)):
            done["followups"] += 1

    def _once(self, s: Session, t: Ticket, action: str, tag: str, fn) -> bool:
        """Run `fn` unless the history shows it ran for this deadline and round already."""
        seen = s.scalar(select(TicketEvent.id).where(TicketEvent.ticket_id == t.id, TicketEvent.action == action,
                                                     TicketEvent.note == tag).limit(1))
        if seen is not None:
            return False
        fn()
        self.svc._event(s, t, action, None, note=tag)
        return True
