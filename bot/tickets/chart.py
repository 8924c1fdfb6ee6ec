"""The /report chart: tickets collected and resolved per day over the last 30 days, with the
running 办结率, as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select

from .calendar import WorkCalendar
from .models import CLOSED, REJECTED, RESOLVED, Ticket

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "AR PL UMing CN")


def _cjk_font() -> str | None:
    """A font that can draw Chinese, if the machine has one (else the labels are English)."""
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in available), None)


def daily(db, calendar: WorkCalendar, *, now: datetime, days: int = 30,
          branches: list[str] | None = None) -> tuple[list, list[int], list[int], list[float | None]]:
    """Days, collected per day, resolved per day and the running resolution rate."""
    today = calendar.local(now).date()
    first = today - timedelta(days=days - 1)
    since = now - timedelta(days=days + 1)
    collected, resolved = Counter(), Counter()
    base = done = 0
    rates: list[float | None] = []
    with db.session() as s:
        q = select(Ticket).where(Ticket.created_at >= since)
        if branches is not None:
            q = q.where(Ticket.branch_id.in_(branches))
        tickets = list(s.scalars(q))
    for t in tickets:
        collected[calendar.local(t.created_at).date()] += 1
        if t.state in (RESOLVED, CLOSED) and t.resolved_at is not None:
            resolved[calendar.local(t.resolved_at).date()] += 1
    day_list = [first + timedelta(days=i) for i in range(days)]
    rejected_by_day = Counter(calendar.local(t.created_at).date() for t in tickets if t.state == REJECTED)
    for d in day_list:
        base += collected[d] - rejected_by_day[d]
        done += resolved[d]
        rates.append(min(done / base, 1.0) if base else None)
    return day_list, [collected[d] for d in day_list], [resolved[d] for d in day_list], rates


def render_png(db, calendar: WorkCalendar, *, now: datetime, title: str, days: int = 30,
               branches: list[str] | None = None) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    day_list, collected, resolved, rates = daily(db, calendar, now=now, days=days, branches=branches)
    font = _cjk_font()
    zh = font is not None
    labels = (("收到", "办结", "累计办结率", "件数", f"近{days}天诉求：{title}") if zh else
              ("collected", "resolved", "resolution rate", "tickets", f"Complaints, last {days} days"))
    text_kw = {"fontname": font} if zh else {}
    fig = Figure(figsize=(9, 4.5), dpi=110)
    ax = fig.add_subplot()
    x = list(range(len(day_list)))
    ax.bar([i - 0.2 for i in x], collected, width=0.4, label=labels[0], color="#4C78A8")
    ax.bar([i + 0.2 for i in x], resolved, width=0.4, label=labels[1], color="#54A24B")
    ax.set_ylabel(labels[3], **text_kw)
    ax.set_ylim(0, max(collected + resolved + [1]) * 1.35)  # room for the legend
    step = max(1, len(day_list) // 10)
    ax.set_xticks(x[::step], [d.strftime("%m-%d") for d in day_list][::step])
    ax2 = ax.twinx()
    ax2.plot(x, [float("nan") if r is None else r * 100 for r in rates], color="#E45756", marker=".",
             label=labels[2])
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("%")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", **({"prop": {"family": font}} if zh else {}))
    ax.set_title(labels[4], **text_kw)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
