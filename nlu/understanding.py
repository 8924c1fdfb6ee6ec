"""The result of understanding one message, and the single place that maps an intent to
its kind, category and urgency (both backends go through `from_scores`)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Literal

from .text import message_shadow
from .wording import asks_question

Kind = Literal["question", "complaint", "chitchat"]

# intent -> (kind, category). Category is the ticket queue a complaint is routed to.
INTENTS: dict[str, tuple[Kind, str | None]] = {
    "ask_question": ("question", None),
    "complain_freight_payment": ("complaint", "freight_payment"),
    "complain_theft": ("complaint", "theft"),
    "complain_platform": ("complaint", "platform"),
    "complain_enforcement": ("complaint", "enforcement"),
    "complain_facility": ("complaint", "facility"),
    "complain_other": ("complaint", "other"),
    "request_emergency_help": ("complaint", "emergency"),
    "greet": ("chitchat", None),
    "thank": ("chitchat", None),
    "acknowledge": ("chitchat", None),
    "cargo_ad": ("chitchat", None),
    "small_talk": ("chitchat", None),
}
KINDS: tuple[Kind, ...] = ("question", "complaint", "chitchat")
URGENT_INTENTS = {"request_emergency_help"}
# How much lower the bar is for a complaint than for the other kinds (see from_scores).
COMPLAINT_BIAS = 0.15

# A complaint about a danger happening right now (theft in progress, a threat of violence)
# is urgent too, whatever its category: the secretary must see it at once. Matched on
# simplified text.
_DANGER_NOW = re.compile(
    r"快来人|快报警|救命|拿刀|持刀|抢劫|不敢下车|不敢出去|不敢开门|围着我|堵在我?车(?:门|边|旁)|"
    r"打我(?!电话|手机|的|\d|号码|微信)|"  # a threat, not "有事打我电话"
    r"(?:正在|还在|现在)\S{0,4}(?:偷|抽|撬|割|扒|翻|砸|打|抢)|"
    r"有\S{0,4}人在\S{0,6}(?:偷|抽|撬|割|扒|翻|砸)"
)


def danger_now(text: str) -> bool:
    return bool(_DANGER_NOW.search(message_shadow(text)))


@dataclass(frozen=True)
class Entity:
    entity: str  # amount | plate | phone | highway | stake | place | time
    value: str   # canonical value (amount in yuan, plate without separator, highway name ...)
    start: int   # character offsets in the original message
    end: int


@dataclass(frozen=True)
class Understanding:
    kind: Kind
    intent: str
    # Probability of `kind` (the sum over its intents): what decides ticket vs. confirm vs.
    # nothing, compared with TicketSettings.complaint_threshold / confirm_threshold.
    confidence: float
    category: str | None
    urgent: bool
    entities: list[Entity] = field(default_factory=list)
    backend: str = "embedded"
    # Worded as a question (nlu/wording.py): a complaint so worded is offered, not filed at once,
    # and a chit-chat reading so worded may still get the FAQ's confident answer.
    asks: bool = False

    def as_json(self) -> dict:
        d = asdict(self)
        d["confidence"] = round(float(self.confidence), 4)
        return d


def describe(intent: str, text: str) -> tuple[Kind, str | None, bool]:
    """Kind, category and urgency of an intent for this message."""
    kind, category = INTENTS.get(intent, ("chitchat", None))
    urgent = intent in URGENT_INTENTS or (kind == "complaint" and danger_now(text))
    return kind, category, urgent


def from_scores(scores: dict[str, float], text: str, entities: list[Entity], backend: str,
                complaint_bias: float = COMPLAINT_BIAS) -> Understanding:
    """Decide from intent probabilities: first the kind (probabilities summed per kind, so
    that e.g. theft-or-emergency still counts fully as a complaint), then the best intent
    within it. `complaint_bias` lowers the bar for complaints: missing a driver's grievance
    costs more than asking them to confirm one."""
    if not any(i in INTENTS for i in scores):  # nothing to go on: the bot stays quiet
        return Understanding("chitchat", "small_talk", 0.0, None, False, list(entities), backend,
                             asks_question(text))
    totals = {k: 0.0 for k in KINDS}
    for intent, p in scores.items():
        if intent in INTENTS:
            totals[INTENTS[intent][0]] += p
    norm = sum(totals.values()) or 1.0
    totals = {k: v / norm for k, v in totals.items()}
    kind = max(KINDS, key=lambda k: totals[k] + (complaint_bias if k == "complaint" else 0.0))
    intent = max((i for i in scores if INTENTS.get(i, ("",))[0] == kind), key=scores.get)
    kind, category, urgent = describe(intent, text)
    return Understanding(kind, intent, totals[kind], category, urgent, list(entities), backend, asks_question(text))
