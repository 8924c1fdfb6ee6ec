"""The message pipeline: one platform-free path from an incoming message to replies.

Telegram and the console both call `handle_message` / `handle_press`; what to answer,
suggest or leave alone is decided here and nowhere else.
"""

from __future__ import annotations

import logging

from knowledge_base.retriever import ANSWER, SILENT, SUGGEST
from knowledge_base.service import KnowledgeBase

from . import texts
from .events import Button, ButtonPress, IncomingMessage, Reply

log = logging.getLogger(__name__)

SHOW_FAQ = "faq:"  # button action prefix: show one entry's answer


class MessagePipeline:
    def __init__(self, kb: KnowledgeBase):
        self.kb = kb

    def handle_message(self, msg: IncomingMessage) -> list[Reply]:
        text = (msg.text or "").strip()
        if not text:
            return [Reply(texts.EMPTY, reply_to=msg.message_id)] if msg.addressed else []
        decision = self.kb.ask(text)
        log.debug("chat %s decision %s %s %.3f", msg.chat_id, decision.decision, decision.faq_id, decision.score)
        if decision.decision == ANSWER:
            return [Reply(decision.answer, reply_to=msg.message_id)]
        if decision.decision == SUGGEST:
            buttons = []
            for faq_id in decision.suggestions:
                entry = self.kb.get(faq_id)
                if entry is not None:
                    buttons.append([Button(entry.question, SHOW_FAQ + faq_id)])
            if buttons:
                return [Reply(texts.SUGGEST_INTRO, buttons=buttons, reply_to=msg.message_id)]
        if decision.decision == SILENT and not msg.addressed:
            return []
        return [Reply(texts.NOT_SURE, reply_to=msg.message_id)] if msg.addressed else []

    def handle_press(self, press: ButtonPress) -> list[Reply]:
        if press.action.startswith(SHOW_FAQ):
            entry = self.kb.get(press.action[len(SHOW_FAQ):])
            if entry is None:
                return [Reply(texts.GONE)]
            return [Reply(f"【{entry.question}】\n{entry.answer}", reply_to=press.message_id)]
        log.warning("unknown button action %r", press.action)
        return []
