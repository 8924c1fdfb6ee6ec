"""Builds the ticket services from settings (called by bot.app.App.build)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..clock import Clock
from ..outbox.models import OutboxRow
from ..outbox.settings import OutboxSettings
from .intake import ComplaintDesk
from .models import PrivateContact
from .service import TicketService
from .watcher import SlaWatcher

log = logging.getLogger(__name__)


@dataclass
class Tickets:
    service: TicketService
    desk: ComplaintDesk
    watcher: SlaWatcher
    outbox: OutboxSettings

    @property
    def clock(self) -> Clock:
        return self.service.clock

    @property
    def db(self):
        return self.service.db

    def on_undeliverable(self, s: Session, row: OutboxRow) -> None:
        """Outbox hook: a private chat that bounced means the person blocked the bot (or never
        started it); stop writing there until they come back."""
        error = (row.last_error or "").lower()
        if row.chat_id > 0 and ("blocked" in error or "initiate" in error or "forbidden" in error):
            contact = s.get(PrivateContact, row.chat_id)
            if contact is not None:
                contact.blocked = True


def build_tickets(settings, db, *, admins=None, chats=None, clock: Clock | None = None) -> Tickets | None:
    cfg = settings.tickets
    if not cfg.enabled:
        return None
    service = TicketService(db, cfg, branches=settings.branches, admins=admins, chats=chats, clock=clock or Clock())
    service.branches.sync(settings.branches)
    return Tickets(service, ComplaintDesk(service), SlaWatcher(service), settings.outbox)
