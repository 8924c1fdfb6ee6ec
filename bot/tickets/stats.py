"""The figures the seeds report: collected, resolved, 办结率, on time, first response,
satisfaction, by category and by branch."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import select

from . import texts
from .models import CLOSED, OPEN, REJECTED, RESOLVED, Branch, Complainant, Ticket


@dataclass
class Stats:
    days: int
    collected: int = 0
    rejected: int = 0
    resolved: int = 0
    on_time: int = 0
    open_now: int = 0
    overdue_now: int = 0
    median_first_response_min: float | None = None
    rated: int = 0
    satisfied: int = 0  # 满意 + 基本满意
    by_category: dict[str, list[int]] = field(default_factory=dict)  # category -> [collected, resolved]
    by_branch: dict[str, list[int]] = field(default_factory=dict)  # branch name -> [collected, resolved]

    @property
    def resolution_rate(self) -> float | None:
        """办结率 = resolved / (collected − not complaints)."""
        base = self.collected - self.rejected
        return self.resolved / base if base else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.resolved if self.resolved else None

    @property
    def satisfaction(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    def as_dict(self) -> dict:
        return {"days": self.days, "collected": self.collected, "rejected": self.rejected, "resolved": self.resolved,
                "resolution_rate": self.resolution_rate, "on_time_rate": self.on_time_rate,
                "median_first_response_min": self.median_first_response_min, "satisfaction": self.satisfaction,
                "rated": self.rated, "open_now": self.open_now, "overdue_now": self.overdue_now,
                "by_category": self.by_category, "by_branch": self.by_branch}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def compute(db, *, now: datetime, days: int = 30, branches: list[str] | None = None) -> Stats:
    """Tickets created in the last `days` days; `branches` None means every branch."""
    since = now - timedelta(days=days)
    st = Stats(days=days)
    first_response: list[float] = []
    with db.session() as s:
        names = {b.id: b.name for b in s.scalars(select(Branch))}
        q = select(Ticket).where(Ticket.created_at >= since)
        if branches is not None:
            q = q.where(Ticket.branch_id.in_(branches))
        tickets = list(s.scalars(q))
        ids = [t.id for t in tickets]
        ratings = Counter()
        for chunk in range(0, len(ids), 500):
            for rating in s.scalars(select(Complainant.rating).where(Complainant.ticket_id.in_(ids[chunk:chunk + 500]),
                                                                     Complainant.rating.is_not(None))):
                ratings[rating] += 1
        open_q = select(Ticket).where(Ticket.state.in_(OPEN))
        if branches is not None:
            open_q = open_q.where(Ticket.branch_id.in_(branches))
        for t in s.scalars(open_q):
            st.open_now += 1
            due = t.accept_due if t.first_response_at is None else t.resolve_due
            if due is not None and due < now:
                st.overdue_now += 1
    by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_branch: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t in tickets:
        st.collected += 1
        cat = texts.CATEGORY.get(t.category, t.category)
        branch = names.get(t.branch_id, "未分配支部") if t.branch_id else "未分配支部"
        by_cat[cat][0] += 1
        by_branch[branch][0] += 1
        if t.state == REJECTED:
            st.rejected += 1
        elif t.state in (RESOLVED, CLOSED) and t.resolved_at is not None:
            st.resolved += 1
            by_cat[cat][1] += 1
            by_branch[branch][1] += 1
            if t.resolve_due is None or t.resolved_at <= t.resolve_due:
                st.on_time += 1
        if t.first_response_at is not None:
            first_response.append((t.first_response_at - t.created_at).total_seconds() / 60)
    st.median_first_response_min = median(first_response) if first_response else None
    st.rated = sum(ratings.values())
    st.satisfied = ratings["satisfied"] + ratings["basically"]
    st.by_category = dict(sorted(by_cat.items(), key=lambda kv: -kv[1][0]))
    st.by_branch = dict(sorted(by_branch.items(), key=lambda kv: -kv[1][0]))
    return st


def render(st: Stats, scope: str) -> str:
    """The /stats message (and `driverhome tickets stats`)."""
    frt = st.median_first_response_min
    lines = [texts.STATS_HEAD.format(days=st.days, scope=scope),
             f"收到 {st.collected} · 办结 {st.resolved} · 非诉求 {st.rejected}",
             f"办结率 {_pct(st.resolution_rate)} · 按时办结 {_pct(st.on_time_rate)}",
             f"首次响应中位数 {'—' if frt is None else (f'{frt:.0f} 分钟' if frt < 120 else f'{frt / 60:.1f} 小时')}",
             f"满意度 {_pct(st.satisfaction)}（{st.rated} 人评价）",
             f"在办 {st.open_now} · 超时 {st.overdue_now}"]
    if st.by_category:
        lines.append("按类别：" + "；".join(f"{k} {v[0]}/{v[1]}" for k, v in st.by_category.items()) + "（收到/办结）")
    if len(st.by_branch) > 1:
        lines.append("按支部：")
        lines += [f"  {k}：{v[0]} 件，办结 {v[1]}" for k, v in st.by_branch.items()]
    return "\n".join(lines)
