"""From chat messages and button presses to ticket operations (platform-free).

The pipeline hands every message here first (`route`): `#诉求` and what a driver sends while
adding details are ticket operations whatever the NLU says. Then, once the FAQ has been asked,
`action` decides on the NLU's reading (`complaint_action`) and `take` carries it out: a
confident complaint is filed, a less certain one or one worded as a question asks the driver
with buttons (the draft is stored, so a restart loses nothing)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..events import Button, ButtonPress, IncomingMessage, Reply
from ..outbox import enqueue
from . import texts
from .grading import is_urgent
from .models import TicketDraft
from .service import VERB_CODES, Outcome, Report, TicketError, TicketService

log = logging.getLogger(__name__)

HASHTAGS = ("#诉求", "＃诉求")


@dataclass
class PressResult:
    notice: str | None = None
    alert: bool = False
    edit_text: str | None = None  # replace the pressed message's text (and buttons)
    edit_buttons: list | None = None


def understanding_dict(u) -> dict | None:
    if u is None:
        return None
    return {"kind": getattr(u, "kind", None), "intent": getattr(u, "intent", None),
            "confidence": float(getattr(u, "confidence", 0.0) or 0.0), "category": getattr(u, "category", None),
            "urgent": bool(getattr(u, "urgent", False)),
            "entities": [{"entity": str(e.entity), "value": str(e.value)} for e in getattr(u, "entities", []) or []]}


FILE, ASK = "file", "ask"


def tells_how_to_file(answer: str) -> bool:
    """Whether an FAQ answer teaches how to file (it names #诉求 or /complain): beside the
    acknowledgement of a ticket just filed it would only repeat it."""
    return "/complain" in answer or any(tag in answer for tag in HASHTAGS)


def complaint_action(understanding, text: str, settings, faq_answered: bool) -> str | None:
    """What a message the NLU reads as a complaint becomes.

    From `complaint_threshold` it is filed at once when it tells what happened or is urgent
    (grading.is_urgent). Worded as a question (nlu/wording.py), it is offered with buttons
    instead: the classifier takes many plain questions about fines, freight and Party matters
    for complaints. From `confirm_threshold` it is offered too. An offer is left out when the
    FAQ answers the message with confidence: then it was a question and its answer is the
    reply (the driver can still write #诉求). None: not a ticket matter."""
    if understanding is None or getattr(understanding, "kind", None) != "complaint":
        return None
    confidence = float(getattr(understanding, "confidence", 0.0) or 0.0)
    if confidence >= settings.complaint_threshold:
        urgent = is_urgent(getattr(understanding, "category", None), bool(getattr(understanding, "urgent", False)),
                           text, settings)
        if urgent or not getattr(understanding, "asks", False):
            return FILE
    elif confidence < settings.confirm_threshold:
        return None
    return None if faq_answered else ASK


class _Entity:
    def __init__(self, entity: str, value: str):
        self.entity, self.value = entity, value


class ComplaintDesk:
    def __init__(self, service: TicketService):
        self.service = service

    @property
    def settings(self):
        return self.service.settings

    # -- messages --------------------------------------------------------------------------
    async def route(self, msg: IncomingMessage, understanding=None) -> list[Reply] | None:
        """Replies when the message is a ticket matter whatever the NLU says (`#诉求`, details
        for the driver's open ticket; [] when everything went to the outbox); None when the
        pipeline should carry on (`action` once the FAQ has been asked)."""
        text = (msg.text or "").strip()
        if msg.chat_type == "private":
            active = self.service.active_ticket(msg.user_id)
            if active is not None and not text.startswith("/"):
                return [Reply(self.service.add_detail(msg.user_id, active, text, name=msg.user_name),
                              reply_to=msg.message_id)]
        for tag in HASHTAGS:
            if tag in text:
                body = text.replace(tag, " ").strip()
                if not body:
                    return [Reply(texts.COMPLAIN_USAGE, reply_to=msg.message_id)]
                return self._shown(msg, self.file(msg, body, understanding, "hashtag"))
        return None

    def action(self, msg: IncomingMessage, understanding, faq_answered: bool) -> str | None:
        """FILE, ASK or None for a message the NLU may read as a complaint (`complaint_action`)."""
        return complaint_action(understanding, (msg.text or "").strip(), self.settings, faq_answered)

    def take(self, msg: IncomingMessage, understanding, action: str, after_faq: bool = False) -> list[Reply]:
        """Carry out `action`: file the ticket, or ask the driver whether to (worded for a
        message the FAQ has just replied to when `after_faq`)."""
        if action == FILE:
            source = "private" if msg.chat_type == "private" else "nlu"
            return self._shown(msg, self.file(msg, (msg.text or "").strip(), understanding, source))
        return self.ask(msg, understanding, texts.ASK_AFTER_FAQ if after_faq else texts.ASK_CONFIRM)

    def offer(self, msg: IncomingMessage, understanding=None) -> list[Reply] | None:
        """A private message the FAQ could not answer: offer to file it (NLU off, or a weak
        complaint signal), so nothing a driver tells the bot privately is lost."""
        if msg.chat_type != "private" or not (msg.text or "").strip():
            return None
        if understanding is not None and getattr(understanding, "kind", None) != "complaint":
            return None
        return self.ask(msg, understanding)

    async def complain(self, msg: IncomingMessage, nlu=None) -> list[Reply]:
        """`/complain 内容`: always a ticket (the NLU only adds category and details)."""
        body = (msg.text or "").strip()
        if not body:
            return [Reply(texts.COMPLAIN_USAGE, reply_to=msg.message_id)]
        understanding = None
        if nlu is not None:
            try:
                understanding = await nlu.parse(body)
            except Exception:  # the ticket matters more than its category
                log.exception("NLU failed on a /complain; filing without it")
        return self._shown(msg, self.file(msg, body, understanding, "command"))

    def file(self, msg: IncomingMessage, text: str, understanding, source: str,
             draft_id: int | None = None) -> Outcome | None:
        u = understanding_dict(understanding) or {}
        report = Report(
            user_id=msg.user_id, text=text, chat_id=None if msg.chat_type == "private" else msg.chat_id,
            user_name=msg.user_name, message_id=msg.message_id, source=source,
            category=u.get("category") if u.get("kind") == "complaint" else None, urgent=bool(u.get("urgent")),
            confidence=u.get("confidence"), entities=[_Entity(e["entity"], e["value"]) for e in u.get("entities", [])],
            ack=self._outbox_platform(msg), media=msg.media)
        return self.service.report(report, draft_id=draft_id)

    @staticmethod
    def _outbox_platform(msg: IncomingMessage) -> bool:
        """Whether the driver's chat is reached through the outbox; the local console is not
        (it shows answers as direct replies instead)."""
        return msg.platform != "console"

    def _shown(self, msg: IncomingMessage, outcome: Outcome | None) -> list[Reply]:
        if outcome is None or self._outbox_platform(msg):
            return []
        return [Reply(outcome.ack_text, reply_to=msg.message_id)]

    def ask(self, msg: IncomingMessage, understanding, question: str = texts.ASK_CONFIRM) -> list[Reply]:
        """Store the message as a draft and ask the driver (`question`) whether to file it."""
        svc = self.service
        now = svc.clock.now()
        with svc.db.session() as s:
            draft = TicketDraft(chat_id=msg.chat_id, chat_type=msg.chat_type, user_id=msg.user_id,
                                user_name=msg.user_name, message_id=msg.message_id, text=msg.text.strip(),
                                understanding=understanding_dict(understanding), media=msg.media, state="open",
                                created_at=now)
            s.add(draft)
            s.flush()
            buttons = [[{"label": texts.BTN_CONFIRM, "action": f"tk:cf:{draft.id}:y"},
                        {"label": texts.BTN_DROP, "action": f"tk:cf:{draft.id}:n"}]]
            if not self._outbox_platform(msg):
                return [Reply(question, reply_to=msg.message_id,
                              buttons=[[Button(b["label"], b["action"]) for b in row] for row in buttons])]
            enqueue(s, f"draft:{draft.id}:ask", msg.chat_id,
                    {"text": question, "buttons": buttons, "reply_to": msg.message_id}, now=now,
                    ref=f"draft:{draft.id}")
        svc._kick()
        return []

    # -- buttons --------------------------------------------------------------------------------
    async def press(self, press: ButtonPress, user_name: str = "") -> PressResult:
        parts = press.action.split(":")
        try:
            if len(parts) == 4 and parts[1] == "cf":
                return self._confirm(int(parts[2]), press.user_id, parts[3] == "y", press.platform)
            if len(parts) == 4 and parts[1] == "rt":
                message = self.service.rate(int(parts[2]), press.user_id, parts[3])
                return PressResult(notice=message, edit_text=message, edit_buttons=[])
            if len(parts) == 3 and parts[1] in VERB_CODES:
                result = self.service.act(int(parts[2]), VERB_CODES[parts[1]], press.user_id, user_name)
                return PressResult(notice=result.message, edit_text=result.card_text, edit_buttons=result.card_buttons)
        except TicketError as exc:
            log.info("refused %r from %s: %s", press.action, press.user_id, exc)
            return PressResult(notice=str(exc), alert=True)
        except ValueError:
            pass
        log.warning("unknown ticket button %r from %s", press.action, press.user_id)
        return PressResult(notice="这个按钮已经失效了", alert=True)

    def _confirm(self, draft_id: int, user_id: int, yes: bool, platform: str) -> PressResult:
        svc = self.service
        with svc.db.session() as s:
            draft = s.get(TicketDraft, draft_id)
            if draft is None:
                raise TicketError("这个按钮已经失效了")
            if draft.user_id != user_id:
                raise TicketError("这个按钮不是给您的")
            if draft.state != "open":
                return PressResult(notice="已经处理过啦", edit_buttons=[])
            if not yes:
                draft.state = "dropped"
            msg = IncomingMessage(chat_id=draft.chat_id, user_id=draft.user_id, text=draft.text,
                                  chat_type=draft.chat_type, user_name=draft.user_name, message_id=draft.message_id,
                                  platform=platform, media=draft.media)
            u = draft.understanding or {}
        if not yes:
            return PressResult(notice=texts.DROPPED, edit_text=texts.DROPPED, edit_buttons=[])
        outcome = self.file(msg, msg.text, _Stored(u) if u else None, "confirmed", draft_id=draft_id)
        if outcome is None:
            return PressResult(notice="已经处理过啦", edit_buttons=[])
        done = f"好的，已登记为诉求 {outcome.number} ✅"
        return PressResult(notice=done, edit_text=done, edit_buttons=[])


class _Stored:
    """An understanding read back from a draft (same attributes as the NLU's)."""

    def __init__(self, d: dict):
        self.kind, self.intent = d.get("kind"), d.get("intent")
        self.confidence, self.category, self.urgent = d.get("confidence"), d.get("category"), d.get("urgent")
        self.entities = [_Entity(e["entity"], e["value"]) for e in d.get("entities", [])]

