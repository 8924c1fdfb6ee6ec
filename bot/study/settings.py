"""Configuration schema of the daily study component (the `study:` section of config.yml)."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..clock import TimeZoneName

HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(value: str) -> time:
    """'7:30' / '07:30' -> time(7, 30); ValueError otherwise."""
    m = HHMM.match(value.strip())
    if not m:
        raise ValueError("not a time like 07:30")
    return time(int(m.group(1)), int(m.group(2)))


class StudySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    library_file: Path = Path("knowledge_base/study.yml")  # a file, or a folder of *.yml
    timezone: TimeZoneName = "Asia/Shanghai"
    send_time: str = "07:30"  # default per group; groups change theirs with /study_time
    catchup_until: str = "12:00"  # after downtime a missed item is still sent until then...
    catchup_min_minutes: int = Field(60, ge=1, le=24 * 60)  # ...and at least this long after its time
    quiz: bool = True  # a quiz poll after each item
    send_rate: float = Field(29.0, gt=0, le=30)  # messages/s of the push (Telegram: ~30/s overall)
    workers: int = Field(16, ge=1, le=256)  # sends in flight at once
    tick_s: float = Field(60.0, gt=0, le=600)  # how often the dispatcher looks for due groups
    retry_after_s: int = Field(60, ge=1)  # wait before retrying a send that failed
    max_attempts: int = Field(5, ge=1, le=50)
    summary_time: str = "08:00"  # Monday: last week's summary to the branch secretaries
    stats_top: int = Field(15, ge=1, le=100)  # members listed by /study_stats

    @field_validator("send_time", "catchup_until", "summary_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        t = parse_hhmm(v)
        return f"{t.hour:02d}:{t.minute:02d}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
