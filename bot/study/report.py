"""Texts built from participation numbers: /study_stats and the Monday summary."""

from __future__ import annotations

from . import texts
from .stats import GroupWeek


def _span(week: GroupWeek) -> tuple[str, str]:
    return f"{week.start.month}月{week.start.day}日", f"{week.end.month}月{week.end.day}日"


def stats_text(week: GroupWeek, top: int) -> str:
    start, end = _span(week)
    lines = [texts.STATS_HEADER.format(start=start, end=end, days=week.days, people=week.people,
                                       answers=week.answers, rate=texts.percent(week.correct, week.answers))]
    if not week.members:
        lines.append(texts.STATS_EMPTY)
    for n, m in enumerate(week.members[:top], start=1):
        lines.append(texts.STATS_LINE.format(n=n, name=m.name, answers=m.answers, correct=m.correct, streak=m.streak))
    if len(week.members) > top:
        lines.append(f"……还有 {len(week.members) - top} 位师傅")
    return "\n".join(lines)


def summary_text(branch_name: str, weeks: list[tuple[str, GroupWeek]]) -> str:
    start, end = _span(weeks[0][1])
    lines = [texts.SUMMARY_HEADER.format(branch=branch_name, start=start, end=end)]
    for title, week in weeks:
        lines.append(texts.SUMMARY_GROUP.format(title=title, days=week.days, people=week.people, answers=week.answers,
                                                rate=texts.percent(week.correct, week.answers)))
        stars = [m.name for m in week.members if m.answers >= 5][:5]
        if stars:
            lines.append(texts.SUMMARY_TOP.format(names="、".join(stars)))
    lines.append(texts.SUMMARY_FOOT)
    return "\n".join(lines)
