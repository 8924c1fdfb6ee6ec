"""Working days and hours in the branch's time zone (Asia/Shanghai by default).

Time limits such as "resolved within 5 working days" are counted here; the results are
UTC datetimes, which is how every deadline is stored."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


class WorkCalendar:
    def __init__(self, tz: str = "Asia/Shanghai", start: time = time(9, 0), end: time = time(18, 0),
                 holidays: list[date] | None = None, extra_workdays: list[date] | None = None):
        self.tz = ZoneInfo(tz)
        self.start, self.end = start, end
        self.holidays = set(holidays or [])
        self.extra_workdays = set(extra_workdays or [])

    @classmethod
    def from_settings(cls, s) -> "WorkCalendar":
        return cls(s.timezone, s.work_start, s.work_end, s.holidays, s.extra_workdays)

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.tz)

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def _at(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=self.tz)

    def add_workdays(self, when: datetime, n: int) -> datetime:
        """End of the n-th working day after the day of `when` (n=0: end of that day's work,
        or of the next working day when `when` is not a working day or is after hours)."""
        day = self.local(when).date()
        if n == 0:
            while not self.is_workday(day) or self._at(day, self.end) <= when:
                day += timedelta(days=1)
            return self._at(day, self.end).astimezone(timezone.utc)
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return self._at(day, self.end).astimezone(timezone.utc)

    def add_working_minutes(self, when: datetime, minutes: int) -> datetime:
        """`minutes` of working time after `when` (time outside working hours does not count)."""
        left = timedelta(minutes=minutes)
        cursor = self.local(when)
        for _ in range(3700):  # ten years of days: a bound, never reached with sane settings
            day = cursor.date()
            if self.is_workday(day):
                opens, closes = self._at(day, self.start), self._at(day, self.end)
                begin = max(cursor, opens)
                if begin < closes:
                    if begin + left <= closes:
                        return (begin + left).astimezone(timezone.utc)
                    left -= closes - begin
            cursor = self._at(day + timedelta(days=1), time(0, 0))
        raise ValueError("no working time found: check holidays/working hours")

    def describe(self, when: datetime, now: datetime) -> str:
        """A short Chinese time for drivers: 今天 12:00 / 明天 18:00 / 11月28日 18:00."""
        local, today = self.local(when), self.local(now).date()
        hm = local.strftime("%H:%M")
        if local.date() == today:
            return f"今天 {hm}"
        if local.date() == today + timedelta(days=1):
            return f"明天 {hm}"
        return f"{local.month}月{local.day}日 {hm}"
