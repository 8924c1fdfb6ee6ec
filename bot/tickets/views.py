"""Texts built from a ticket: the secretary's card, its buttons, the detail view, list lines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import texts
from .branches import BranchDirectory
from .calendar import WorkCalendar
from .models import (ACCEPTED, ESCALATED, IN_PROGRESS, NEED_INFO, NEW, REOPENED, Complainant, Ticket,
                     TicketEvent)

# Card buttons: callback actions carry only the verb and ticket id; who may press is checked
# on the server for every press.
VERBS = {"acc": texts.BTN_ACCEPT, "inf": texts.BTN_INFO, "don": texts.BTN_RESOLVE, "esc": texts.BTN_ESCALATE,
         "rej": texts.BTN_REJECT}
CARD_VERBS = {
    NEW: ["acc", "inf", "don", "esc", "rej"],
    REOPENED: ["acc", "inf", "don", "esc", "rej"],
    ESCALATED: ["acc", "inf", "don", "rej"],
    ACCEPTED: ["inf", "don", "esc"],
    IN_PROGRESS: ["inf", "don", "esc"],
    NEED_INFO: ["acc", "don", "esc", "rej"],
}
RATE_CODES = {"s": "satisfied", "b": "basically", "u": "unsatisfied", "x": "unsolved"}


def card_buttons(t: Ticket) -> list[list[dict]]:
    verbs = CARD_VERBS.get(t.state, [])
    flat = [{"label": VERBS[v], "action": f"tk:{v}:{t.id}"} for v in verbs]
    return [flat[i:i + 3] for i in range(0, len(flat), 3)]


def rating_buttons(t: Ticket) -> list[list[dict]]:
    codes = list(RATE_CODES.items())
    return [[{"label": texts.BTN_RATE[name], "action": f"tk:rt:{t.id}:{code}"} for code, name in codes[:3]],
            [{"label": texts.BTN_RATE["unsolved"], "action": f"tk:rt:{t.id}:x"}]]


def details_button(t: Ticket, label: str = texts.BTN_DETAILS) -> list[dict]:
    return [{"label": label, "start": f"tk_{t.id}"}]


def entities_line(entities: list[dict]) -> str:
    if not entities:
        return ""
    parts = [f"{texts.ENTITY.get(e['entity'], e['entity'])} {e['value']}{'元' if e['entity'] == 'amount' else ''}"
             for e in entities]
    return "\n要素：" + "；".join(parts)


def limits_line(t: Ticket, cal: WorkCalendar, now: datetime) -> str:
    accept = cal.describe(t.accept_due, now) if t.accept_due and t.first_response_at is None else "已"
    resolve = cal.describe(t.resolve_due, now) if t.resolve_due else "—"
    if accept == "已":
        return f"已受理；{resolve} 前办结"
    return texts.CARD_LIMITS.format(accept=accept, resolve=resolve)


def card(s: Session, t: Ticket, cal: WorkCalendar, now: datetime) -> str:
    complainants = list(s.scalars(select(Complainant).where(Complainant.ticket_id == t.id)))
    additions = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id,
                                                         TicketEvent.action.in_(["added", "linked", "info_added"]))
                               .order_by(TicketEvent.id.desc()).limit(3)))
    extra = "".join(f"\n补充（{e.actor_name or e.actor_id}）：「{_short(e.note)}」" for e in reversed(additions)
                    if e.note)
    resolution = f"\n办结说明：{t.resolution}" if t.resolution else ""
    return texts.CARD.format(
        title=texts.CARD_TITLE[t.grade].format(number=t.number),
        branch=BranchDirectory.name(s, t.branch_id), group=t.chat_title or ("私聊" if t.chat_id is None else t.chat_id),
        reporter=f"{t.reporter_name}（ID {t.reporter_id}）",
        more=texts.CARD_MORE.format(n=len(complainants) - 1) if len(complainants) > 1 else "",
        category=texts.CATEGORY.get(t.category, t.category), grade=texts.GRADE[t.grade],
        state=texts.STATE[t.state], text=_short(t.text, 800), entities=entities_line(t.entities or []),
        additions=extra, limits=limits_line(t, cal, now), resolution=resolution)


def history(s: Session, t: Ticket, cal: WorkCalendar) -> str:
    events = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)))
    lines = []
    for e in events[-15:]:
        when = cal.local(e.at).strftime("%m-%d %H:%M")
        who = e.actor_name or (str(e.actor_id) if e.actor_id else "系统")
        change = f" → {texts.STATE.get(e.to_state, e.to_state)}" if e.to_state and e.to_state != e.from_state else ""
        note = f"：{_short(e.note, 60)}" if e.note else ""
        lines.append(f"{when} {who} {e.action}{change}{note}")
    return "\n".join(lines)


def list_line(t: Ticket, cal: WorkCalendar, now: datetime) -> str:
    due = t.accept_due if t.first_response_at is None else t.resolve_due
    late = " ⚠️超时" if due and due < now else ""
    return (f"{t.number} · {texts.STATE[t.state]} · {texts.CATEGORY.get(t.category, t.category)}"
            f"{' · 🚨' if t.grade == 'urgent' else ''} · 时限 {cal.describe(due, now) if due else '—'}{late}")


def _short(text: str | None, limit: int = 200) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
