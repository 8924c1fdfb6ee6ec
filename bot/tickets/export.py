"""Tickets as CSV (for spreadsheets): one row per ticket, local times."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import func, select

from . import texts
from .calendar import WorkCalendar
from .models import Branch, Complainant, Ticket

COLUMNS = ["number", "branch", "group", "reporter_id", "reporter", "complainants", "category", "grade", "state",
           "created_at", "first_response_at", "resolved_at", "closed_at", "accept_due", "resolve_due", "on_time",
           "rating", "source", "text", "resolution"]


def export_csv(db, calendar: WorkCalendar, *, now: datetime, days: int | None = None,
               branches: list[str] | None = None) -> str:
    """UTF-8 CSV with a BOM, so Excel opens the Chinese text correctly."""
    def local(dt):
        return calendar.local(dt).strftime("%Y-%m-%d %H:%M") if dt else ""

    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    with db.session() as s:
        names = {b.id: b.name for b in s.scalars(select(Branch))}
        q = select(Ticket).order_by(Ticket.id)
        if days is not None:
            q = q.where(Ticket.created_at >= now - timedelta(days=days))
        if branches is not None:
            q = q.where(Ticket.branch_id.in_(branches))
        counts = dict(s.execute(select(Complainant.ticket_id, func.count()).group_by(Complainant.ticket_id)).all())
        for t in s.scalars(q):
            on_time = "" if t.resolved_at is None else ("yes" if not t.resolve_due or t.resolved_at <= t.resolve_due
                                                        else "no")
            writer.writerow([t.number, names.get(t.branch_id, t.branch_id or ""), t.chat_title or (t.chat_id or ""),
                             t.reporter_id, t.reporter_name, counts.get(t.id, 1),
                             texts.CATEGORY.get(t.category, t.category), t.grade, t.state, local(t.created_at),
                             local(t.first_response_at), local(t.resolved_at), local(t.closed_at), local(t.accept_due),
                             local(t.resolve_due), on_time, texts.RATING.get(t.rating or "", ""), t.source, t.text,
                             t.resolution or ""])
    return out.getvalue()
