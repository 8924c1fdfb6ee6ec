"""Participation: answers per member this week, correct rate, and streaks (打卡).

A streak counts the group's quiz days in a row, up to the latest one, on which the member
answered; today's quiz not answered yet does not break it (the day is not over)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from ..storage import Database
from .models import SENT, StudyAnswerRow, StudySendRow

STREAK_LOOKBACK_DAYS = 400


def week_of(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


@dataclass
class MemberStat:
    user_id: int
    name: str
    answers: int = 0
    correct: int = 0
    streak: int = 0


@dataclass
class GroupWeek:
    chat_id: int
    start: date
    end: date
    days: int = 0  # items given in the week
    answers: int = 0
    correct: int = 0
    members: list[MemberStat] = field(default_factory=list)  # most active first

    @property
    def people(self) -> int:
        return len([m for m in self.members if m.answers])


class StudyStats:
    def __init__(self, db: Database):
        self.db = db

    def week(self, chat_id: int, start: date, end: date, today: date) -> GroupWeek:
        """The week start..end of one group; streaks as of `today`."""
        since = min(start, today - timedelta(days=STREAK_LOOKBACK_DAYS))
        with self.db.session() as s:
            sends = list(s.execute(select(StudySendRow.day, StudySendRow.state, StudySendRow.poll_state)
                                   .where(StudySendRow.chat_id == chat_id, StudySendRow.day >= since,
                                          StudySendRow.day <= max(end, today))))
            answers = list(s.execute(select(StudyAnswerRow.user_id, StudyAnswerRow.user_name, StudyAnswerRow.day,
                                            StudyAnswerRow.correct, StudyAnswerRow.at)
                                     .where(StudyAnswerRow.chat_id == chat_id, StudyAnswerRow.day >= since)
                                     .order_by(StudyAnswerRow.at)))
        out = GroupWeek(chat_id, start, end)
        out.days = sum(1 for d, state, _ in sends if start <= d <= end and state == SENT)
        quiz_days = sorted((d for d, _, poll in sends if poll == SENT and d <= today), reverse=True)
        by_user: dict[int, MemberStat] = {}
        answered: dict[int, set[date]] = defaultdict(set)
        for user_id, name, day, correct, _ in answers:
            stat = by_user.setdefault(user_id, MemberStat(user_id, name or str(user_id)))
            stat.name = name or stat.name  # the latest name
            answered[user_id].add(day)
            if start <= day <= end:
                stat.answers += 1
                stat.correct += bool(correct)
        for user_id, stat in by_user.items():
            stat.streak = streak(quiz_days, answered[user_id], today)
        out.members = sorted((m for m in by_user.values() if m.answers),
                             key=lambda m: (-m.answers, -m.streak, -m.correct, m.name))
        out.answers = sum(m.answers for m in out.members)
        out.correct = sum(m.correct for m in out.members)
        return out


def streak(quiz_days_desc: list[date], answered: set[date], today: date) -> int:
    n = 0
    for i, day in enumerate(quiz_days_desc):
        if day in answered:
            n += 1
        elif i == 0 and day == today:
            continue  # today's quiz is still open
        else:
            break
    return n
