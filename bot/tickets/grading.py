"""分级分办 and 限时办理: which grade a complaint gets and the deadlines that follow from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .calendar import WorkCalendar
from .models import NORMAL, URGENT
from .settings import GradeSettings, TicketSettings

URGENT_CATEGORIES = {"emergency"}


@dataclass(frozen=True)
class Deadlines:
    accept: datetime
    progress: datetime
    resolve: datetime


def is_urgent(category: str | None, flagged: bool, text: str, settings: TicketSettings) -> bool:
    """An emergency or a danger right now: the NLU's flag, the category or a keyword."""
    return flagged or category in URGENT_CATEGORIES or any(word in text for word in settings.urgent_keywords)


class Grader:
    def __init__(self, settings: TicketSettings, calendar: WorkCalendar):
        self.settings = settings
        self.calendar = calendar

    def grade(self, category: str | None, urgent: bool, text: str) -> str:
        return URGENT if is_urgent(category, urgent, text, self.settings) else NORMAL

    def grade_settings(self, grade: str) -> GradeSettings:
        return self.settings.grades.urgent if grade == URGENT else self.settings.grades.normal

    def deadlines(self, grade: str, start: datetime) -> Deadlines:
        g = self.grade_settings(grade)
        if g.accept_calendar_time:
            accept = start + timedelta(minutes=g.accept_minutes)
        else:
            accept = self.calendar.add_working_minutes(start, g.accept_minutes)
        return Deadlines(accept=accept, progress=self.calendar.add_workdays(start, g.progress_workdays),
                         resolve=self.calendar.add_workdays(start, g.resolve_workdays))
