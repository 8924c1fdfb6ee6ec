"""An injectable clock: every time-limit decision asks this object, never `datetime.now`.

Production uses real UTC time. Tests move it (`set`, `advance`) to check reminders and
escalations days ahead without waiting; time keeps flowing from the moved point, so code that
polls (the outbox drainer, backoff) still sees time pass."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


# A settings field holding an IANA time zone name (e.g. Asia/Shanghai), checked when loaded.
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        """Aware UTC now (shifted in tests)."""
        return datetime.now(timezone.utc) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        self.offset += delta
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Jump to `when` (aware); time flows on from there."""
        if when.tzinfo is None:
            raise ValueError("Clock.set needs an aware datetime")
        self.offset = when - datetime.now(timezone.utc)
        return self.now()
