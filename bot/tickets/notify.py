"""Who hears about a ticket and how: every notification is an outbox row written in the
transaction of the change it reports (see bot/outbox). Keys make each one idempotent.

Drivers are written to privately once they have started the bot; otherwise they get a
mention in their group that says only that there is news (no details), with a button into
the private chat. A private message that bounces falls back to that mention; a card a
secretary cannot receive falls back to the escalation chat."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..outbox import enqueue
from . import texts, views
from .branches import BranchDirectory
from .models import Complainant, PrivateContact, Ticket

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, service):
        self.svc = service  # TicketService: settings, clock, calendar, admins

    @property
    def now(self):
        return self.svc.clock.now()

    # -- recipients ----------------------------------------------------------------------------
    def handlers(self, s: Session, t: Ticket) -> list[int]:
        """The branch's secretaries; the admins when the branch has none."""
        return list(self.secretaries(s, t.branch_id)) or list(self._admins(s))

    @staticmethod
    def secretaries(s: Session, branch_id: str | None) -> list[int]:
        """The branch's secretaries, read once per transaction (the ticket's words and its card ask)."""
        key = ("secretaries", branch_id)
        if key not in s.info:
            s.info[key] = BranchDirectory.secretaries(s, branch_id)
        return s.info[key]

    def escalation_chat(self, s: Session) -> int | None:
        if self.svc.settings.escalation_chat_id is not None:
            return self.svc.settings.escalation_chat_id
        admins = self._admins(s)
        return admins[0] if admins else None

    def _admins(self, s: Session) -> list[int]:
        """The admins, read once per transaction (each note and each fallback needs them)."""
        if "admin_ids" not in s.info:
            s.info["admin_ids"] = self.svc.admin_ids()
        return s.info["admin_ids"]

    @staticmethod
    def reachable(s: Session, user_id: int) -> bool:
        contact = s.get(PrivateContact, user_id)
        return contact is not None and not contact.blocked

    # -- primitives ----------------------------------------------------------------------------
    def put(self, s: Session, key: str, chat_id: int | None, payload: dict, ref: str | None = None) -> bool:
        if chat_id is None:
            log.warning("no recipient for %s", key)
            return False
        with s.no_autoflush:  # rows pending in this transaction are seen anyway: written together at commit
            return enqueue(s, key, chat_id, payload, now=self.now, ref=ref) is not None

    def _fallback_to_escalation(self, s: Session, text: str, payload: dict, user_id: int,
                                number: str) -> dict | None:
        chat = self.escalation_chat(s)
        if chat is None or chat == user_id:
            return None
        warning = texts.SECRETARY_UNREACHABLE.format(number=number, user=user_id)
        return {"chat_id": chat, "payload": {**payload, "text": warning + "\n\n" + text}}

    # -- to the people handling it -----------------------------------------------------------------
    def card(self, s: Session, t: Ticket, key: str, prefix: str = "") -> None:
        """The full card, with action buttons, to each handler (drawn only when there is one)."""
        handlers = self.handlers(s, t)
        if not handlers:
            return
        text = prefix + views.card(s, t, self.svc.calendar, self.now)
        payload = {"text": text, "buttons": views.card_buttons(t)}
        for uid in handlers:
            self.put(s, f"{key}:sec{uid}", uid, {**payload, "fallback": self._fallback_to_escalation(
                s, text, payload, uid, t.number)}, ref=f"tk:{t.id}:card")

    def card_to_escalation(self, s: Session, t: Ticket, key: str, prefix: str) -> None:
        chat = self.escalation_chat(s)
        text = prefix + views.card(s, t, self.svc.calendar, self.now)
        self.put(s, f"{key}:esc", chat, {"text": text, "buttons": views.card_buttons(t)}, ref=f"tk:{t.id}:card")

    def handlers_note(self, s: Session, t: Ticket, key: str, text: str) -> None:
        for uid in self.handlers(s, t):
            payload = {"text": text}
            self.put(s, f"{key}:sec{uid}", uid, {**payload, "fallback": self._fallback_to_escalation(
                s, text, payload, uid, t.number)}, ref=f"tk:{t.id}:card")

    def handlers_media(self, s: Session, t: Ticket, key: str, media: dict, caption: str) -> None:
        for uid in self.handlers(s, t):
            self.put(s, f"{key}:sec{uid}", uid, {"text": caption, "media": media}, ref=f"tk:{t.id}:card")

    def ask_note(self, s: Session, t: Ticket, key: str, user_id: int) -> None:
        self.put(s, key, user_id, {"text": texts.ASK_NOTE.format(number=t.number), "force_reply": True},
                 ref=f"tk:{t.id}:note")

    # -- to drivers -------------------------------------------------------------------------------------
    def ack(self, s: Session, t: Ticket, key: str, c: Complainant, text: str) -> None:
        """The answer to the driver's own message: a reply in the chat they wrote in, with the
        button that opens the ticket for details (in a private chat too: it is the way in)."""
        chat = c.chat_id if c.chat_id is not None else c.user_id
        payload = {"text": text, "reply_to": c.message_id, "buttons": [views.details_button(t)]}
        self.put(s, key, chat, payload, ref=f"tk:{t.id}:drv")

    def drivers(self, s: Session, t: Ticket, key: str, private_text: str, *, state_word: str | None = None,
                buttons: list[list[dict]] | None = None, group_text: str | None = None,
                only: list[int] | None = None) -> None:
        """Tell every complainant (or `only` those): privately when possible, else a mention."""
        for c in s.scalars(select(Complainant).where(Complainant.ticket_id == t.id).order_by(Complainant.id)):
            if only is not None and c.user_id not in only:
                continue
            mention = self._mention(t, c, group_text or texts.GROUP_UPDATE.format(
                number=t.number, state=state_word or texts.STATE[t.state]), buttons)
            if self.reachable(s, c.user_id) or c.chat_id is None:  # (they reported privately)
                payload = {"text": private_text, "buttons": buttons or [], "fallback": mention}
                self.put(s, f"{key}:u{c.user_id}", c.user_id, payload, ref=f"tk:{t.id}:drv")
            elif mention is not None:
                self.put(s, f"{key}:u{c.user_id}", mention["chat_id"], mention["payload"], ref=f"tk:{t.id}:drv")
            else:
                log.warning("complainant %s of %s cannot be reached", c.user_id, t.number)

    @staticmethod
    def _mention(t: Ticket, c: Complainant, body: str, buttons: list[list[dict]] | None) -> dict | None:
        if c.chat_id is None:
            return None
        rows = [row for row in (buttons or []) if all("action" in b for b in row)]  # e.g. rating
        rows.append(views.details_button(t, texts.BTN_OPEN_PRIVATE))
        return {"chat_id": c.chat_id, "payload": {
            "text": texts.GROUP_MENTION.format(mention="{mention}", body=body),
            "mention": {"user_id": c.user_id, "name": c.user_name or "师傅"},
            "reply_to": c.message_id, "buttons": rows}}
