"""The message pipeline: one platform-free path from an incoming event to replies.

Telegram and the console both call `handle_message` / `handle_press` and report back
with `delivered`; what to answer, suggest or leave alone is decided here and nowhere
else. Adapters never see a knowledge-base entry, only `Reply` objects.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from knowledge_base.retriever import ANSWER, SUGGEST
from knowledge_base.service import KnowledgeBase

from . import texts
from .events import Button, ButtonPress, IncomingMessage, Reply
from .flood import FloodGuard
from .tickets.intake import ASK, tells_how_to_file

log = logging.getLogger(__name__)

SHOW_FAQ = "faq:"  # show one entry's answer
OFFER = "offer:"  # reply ref of suggestions and hints: offer:<answer id>
FEEDBACK = "fb:"  # fb:<answer id>:<up|down|human>
HINT = "hint"  # a silent decision's closest entries, offered to someone who asked directly
LOOKUP_CHARS = 500  # what NLU and retrieval read of a message (a ticket keeps the whole text)


class Understands(Protocol):
    """What the pipeline needs from the NLU layer."""

    async def parse(self, text: str): ...


@dataclass
class PressOutcome:
    replies: list[Reply] = field(default_factory=list)
    notice: str | None = None  # a short toast for the person who pressed
    alert: bool = False


@dataclass
class PipelineSettings:
    repeat_window_s: float = 300.0  # same question in the same group: point to the earlier answer
    flood_rate: str = "4/minute"  # replies one member can trigger


class MessagePipeline:
    def __init__(self, kb: KnowledgeBase, *, answers=None, inbox=None, admins=None, nlu: Understands | None = None,
                 settings: PipelineSettings | None = None, clock: Callable[[], float] = time.monotonic,
                 tickets=None):
        self.tickets = tickets  # ComplaintDesk (bot/tickets/intake.py), optional
        self.kb = kb
        self.answers = answers  # AnswerLog, optional (the read-only `ask --kb` mode has none)
        self.inbox = inbox
        self.admins = admins
        self.nlu = nlu
        self.settings = settings or PipelineSettings()
        self.clock = clock
        self.flood = FloodGuard(self.settings.flood_rate)
        # (chat, faq id) -> (message id, time, answer text) of the last answer given there
        self._recent: dict[tuple[int, str], tuple[int, float, str]] = {}
        self.on_decision: Callable[[str], None] | None = None  # metrics hook (bot/observability/metrics.py)

    # -- messages ----------------------------------------------------------------
    async def handle_message(self, msg: IncomingMessage) -> list[Reply]:
        text = (msg.text or "").strip()
        if not text:
            return self._decided("empty", [Reply(texts.EMPTY, reply_to=msg.message_id)] if msg.addressed else [])
        probe = text[:LOOKUP_CHARS]  # a 4,000-character paste costs 100+ ms to read in full
        understanding = await self._understand(probe)
        kind = understanding.kind if understanding is not None else "question"
        if self.tickets is not None:  # #诉求 and details for a ticket go to the ticket flow
            routed = await self.tickets.route(msg, understanding)
            if routed is not None:
                return self._decided("ticket", routed)
        chatter = kind == "chitchat" and not msg.addressed
        if chatter and not getattr(understanding, "asks", False):
            return self._decided("chitchat", [])
        # On the event loop, not in a thread: the lookup is a few ms of mostly Python, so a
        # thread would not run beside the loop (the GIL) and every hand-over made the loop wait
        # for the GIL; under load that cut throughput by a sixth and raised p95 twentyfold.
        decision = self.kb.ask(probe)
        log.debug("chat %s: %s %s %.3f", msg.chat_id, decision.decision, decision.faq_id, decision.score)
        answered = decision.decision == ANSWER
        if chatter and not answered:  # a question read as chit-chat: only a confident answer goes out
            return self._decided("chitchat", [])
        if kind == "complaint" and self.tickets is None and not answered:
            return self._decided("complaint", await self._complaint_placeholder(msg))
        # The FAQ is asked first: its confident answer goes out beside the ticket's
        # acknowledgement (and leaves no offer to make, see complaint_action), unless it only
        # tells how to file; beside the offer to file, its suggestions are shown.
        action = None
        if kind == "complaint" and self.tickets is not None:
            action = self.tickets.action(msg, understanding, answered)
        if action is not None:
            faq = []
            if answered and not tells_how_to_file(decision.answer):
                faq = await self._limited(msg, self._answer(msg, text, decision))
            elif action == ASK and decision.decision == SUGGEST:
                faq = await self._limited(msg, self._offer(msg, text, decision, SUGGEST))
            return self._decided("ticket", faq + self.tickets.take(msg, understanding, action, after_faq=bool(faq)))
        if answered:
            return self._decided("answer", await self._limited(msg, self._answer(msg, text, decision)))
        if decision.decision == SUGGEST:
            replies = self._offer(msg, text, decision, SUGGEST)
            if replies:
                return self._decided("suggest", await self._limited(msg, replies))
        if not msg.addressed:
            return self._decided("silent", [])
        if kind == "chitchat":  # a hello or a thank-you to the bot: a word back, not an inbox item
            reply = texts.SMALL_TALK.get(understanding.intent, texts.SMALL_TALK_OTHER)
            return self._decided("chitchat", await self._limited(msg, [Reply(reply, reply_to=msg.message_id)]))
        self._to_inbox(text, "silent")
        if self.tickets is not None:  # a private message nobody answered: offer to file it
            offered = self.tickets.offer(msg, understanding)
            if offered is not None:
                return self._decided("offer", offered)
        # Asked directly but not sure: the closest entries beat a bare "don't know".
        hinted = self._offer(msg, text, decision, HINT)
        if hinted:
            return self._decided("hint", await self._limited(msg, hinted))
        return self._decided("not_sure", await self._limited(msg, [Reply(texts.NOT_SURE, reply_to=msg.message_id)]))

    def _decided(self, decision: str, replies: list[Reply]) -> list[Reply]:
        """Report the decision to the metrics hook, if any, and pass the replies on."""
        if self.on_decision is not None:
            self.on_decision(decision)
        return replies

    async def _understand(self, text: str):
        """The NLU's reading of the message (None without an NLU)."""
        return None if self.nlu is None else await self.nlu.parse(text)

    async def _complaint_placeholder(self, msg: IncomingMessage) -> list[Reply]:
        # Tickets arrive with the complaints release; until then point to the people.
        if not msg.addressed and msg.chat_type != "private":
            return []
        return await self._limited(msg, [Reply(texts.COMPLAINT_PLACEHOLDER, reply_to=msg.message_id)])

    async def may_reply(self, chat_id: int, user_id: int, private: bool) -> bool:
        """Whether one more reply to this member fits their flood budget (and uses it up).
        A private chat talks to nobody else and is never cut short (the Bot API's per-chat
        pacing, AIORateLimiter, still applies)."""
        return private or await self.flood.allow(chat_id, user_id)

    async def _limited(self, msg: IncomingMessage, replies: list[Reply]) -> list[Reply]:
        if replies and not await self.may_reply(msg.chat_id, msg.user_id, msg.chat_type == "private"):
            log.info("flood guard: member %s in chat %s is over the limit", msg.user_id, msg.chat_id)
            return []
        return replies

    def _answer(self, msg: IncomingMessage, text: str, decision) -> list[Reply]:
        earlier = self._recent.get((msg.chat_id, decision.faq_id))
        if (earlier and self.clock() - earlier[1] <= self.settings.repeat_window_s
                and earlier[2] == decision.answer):  # an edited answer is given afresh
            return [Reply(texts.ANSWERED_ABOVE, reply_to=earlier[0], ref=f"repeat:{decision.faq_id}")]
        buttons: list[list[Button]] = []
        ref = f"faq::{decision.faq_id}"
        if self.answers is not None:
            answer_id = self.answers.record(msg.chat_id, msg.user_id, text, decision.faq_id, ANSWER, decision.score)
            buttons = [[Button(texts.BTN_UP, f"{FEEDBACK}{answer_id}:up"),
                        Button(texts.BTN_DOWN, f"{FEEDBACK}{answer_id}:down"),
                        Button(texts.BTN_HUMAN, f"{FEEDBACK}{answer_id}:human")]]
            ref = f"faq:{answer_id}:{decision.faq_id}"
        return [Reply(decision.answer, buttons=buttons, reply_to=msg.message_id, ref=ref)]

    def _offer(self, msg: IncomingMessage, text: str, decision, kind: str) -> list[Reply]:
        """Entries to pick from, one button each: the suggestions of a `suggest` decision, or
        (kind HINT) the hints of a silent one for someone who asked the bot directly."""
        if kind == SUGGEST:
            faq_ids, intro = decision.suggestions, texts.SUGGEST_INTRO
        else:
            faq_ids, intro = decision.hints, texts.NOT_SURE_HINTS
        buttons = []
        for faq_id in faq_ids:
            entry = self._live_entry(faq_id)
            if entry is not None:
                buttons.append([Button(entry.question, SHOW_FAQ + faq_id)])
        if not buttons:
            return []
        ref = None
        if self.answers is not None:  # the asker's pick is matched back to the question by this row
            ref = OFFER + str(self.answers.record(msg.chat_id, msg.user_id, text, decision.faq_id, kind, decision.score))
        if kind == SUGGEST:  # a silent one is in the inbox already
            self._to_inbox(text, "suggest")
        return [Reply(intro, buttons=buttons, reply_to=msg.message_id, ref=ref)]

    def _to_inbox(self, text: str, reason: str) -> None:
        if self.inbox is not None:
            self.inbox.add(text, reason)

    def _live_entry(self, faq_id: str):
        """The entry as the live index has it (no database read per message; the index is
        what the decision came from, and every edit reaches it at once)."""
        entry = getattr(self.kb.retriever, "entry", None)
        return entry(faq_id) if entry is not None else self.kb.get(faq_id)

    def delivered(self, chat_id: int, reply: Reply, message_id: int) -> None:
        """The adapter sent `reply` as `message_id`: remember it for feedback, repeats and picks."""
        if reply.ref and reply.ref.startswith(OFFER) and self.answers is not None:
            self.answers.delivered(int(reply.ref[len(OFFER):]), message_id)
            return
        if reply.ref and reply.ref.startswith("faq:"):
            _, answer_id, faq_id = reply.ref.split(":", 2)
            if answer_id and self.answers is not None:
                self.answers.delivered(int(answer_id), message_id)
            # the text sent is the entry's answer at decision time: an edit since then makes
            # the next asking differ from it, so that one is answered afresh
            self._recent[(chat_id, faq_id)] = (message_id, self.clock(), reply.text)

    # -- button presses ----------------------------------------------------------
    async def handle_press(self, press: ButtonPress) -> PressOutcome:
        if press.action.startswith(SHOW_FAQ):
            entry = self.kb.get(press.action[len(SHOW_FAQ):])
            if entry is None:
                return PressOutcome(notice=texts.GONE, alert=True)
            self._note_pick(press, entry.id)
            return PressOutcome([Reply(f"【{entry.question}】\n{entry.answer}", reply_to=press.message_id)])
        if press.action.startswith(FEEDBACK) and self.answers is not None:
            return self._feedback(press)
        if press.action.startswith("tk:") and self.tickets is not None:
            result = await self.tickets.press(press)
            return PressOutcome(notice=result.notice, alert=result.alert)
        log.warning("unknown button action %r from %s", press.action, press.user_id)
        return PressOutcome(notice=texts.BUTTON_EXPIRED, alert=True)

    def _note_pick(self, press: ButtonPress, faq_id: str) -> None:
        """The asker chose one of the entries offered for their question: tell the inbox, so
        the admin who files that wording sees where the driver looked for it."""
        if self.answers is None or self.inbox is None or press.message_id is None:
            return
        question = self.answers.offered_to(press.chat_id, press.message_id, press.user_id, (SUGGEST, HINT))
        if question is not None:
            self.inbox.pick(question, faq_id)

    def _feedback(self, press: ButtonPress) -> PressOutcome:
        try:
            answer_id_s, vote = press.action[len(FEEDBACK):].split(":", 1)
            answer_id = int(answer_id_s)
            fresh = self.answers.vote(answer_id, press.user_id, vote)
        except (ValueError, KeyError):
            log.warning("forged or stale feedback button %r from %s", press.action, press.user_id)
            return PressOutcome(notice=texts.BUTTON_EXPIRED, alert=True)
        if not fresh:
            return PressOutcome(notice=texts.VOTED_ALREADY)
        if vote != "human":
            return PressOutcome(notice=texts.THANKS_FEEDBACK)
        answer = self.answers.get(answer_id)
        replies = [Reply(texts.HANDOVER_GROUP, reply_to=press.message_id)]
        for admin in (self.admins.all() if self.admins is not None else []):
            replies.append(Reply(texts.HANDOVER_ADMIN.format(question=answer.question, chat=answer.chat_id),
                                 chat_id=admin))
        return PressOutcome(replies, notice=texts.HANDOVER_NOTICE)
