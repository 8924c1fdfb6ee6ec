"""Configuration schema of complaints/tickets (the `tickets:` section of config.yml)."""

from __future__ import annotations

from datetime import date, time

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ..clock import TimeZoneName


class BranchSettings(BaseModel):
    """A Party branch: the groups whose complaints it handles and its secretaries."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    groups: list[int] = []
    secretaries: list[int] = []


def _check_branches(branches: list[BranchSettings]) -> list[BranchSettings]:
    ids = [b.id for b in branches]
    if len(ids) != len(set(ids)):
        raise ValueError("branch ids must be unique")
    groups = [g for b in branches for g in b.groups]
    if len(groups) != len(set(groups)):
        raise ValueError("a group can belong to one branch only")
    return branches


# The top-level `branches:` of config.yml (shared with the daily study feature).
Branches = Annotated[list[BranchSettings], AfterValidator(_check_branches)]


class GradeSettings(BaseModel):
    """Time limits of one grade (分级分办 / 限时办理)."""

    model_config = ConfigDict(extra="forbid")
    # First response (受理) within this many minutes; counted in working hours unless
    # accept_calendar_time (emergencies do not wait for Monday).
    accept_minutes: int = Field(120, ge=1)
    accept_calendar_time: bool = False
    # Working days (Asia/Shanghai calendar below) for progress, resolution and follow-up.
    progress_workdays: int = Field(2, ge=0)
    resolve_workdays: int = Field(5, ge=1)
    followup_workdays: int = Field(2, ge=1)


def _urgent() -> GradeSettings:
    return GradeSettings(accept_minutes=30, accept_calendar_time=True)


class GradesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    urgent: GradeSettings = Field(default_factory=_urgent)
    normal: GradeSettings = GradeSettings()


class TicketSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    number_prefix: str = Field("SQ", pattern=r"^[A-Z]{1,6}$")
    # The industry Party committee's chat: escalations (转上级, overdue tickets) go there.
    escalation_chat_id: int | None = None
    # Copy urgent complaints to the escalation chat at once, as well as to the secretaries.
    urgent_copy_to_escalation: bool = True

    # NLU confidence of "complaint" from which a group message becomes a ticket at once, and
    # from which the driver is asked first (buttons).
    complaint_threshold: float = Field(0.8, ge=0, le=1)
    confirm_threshold: float = Field(0.45, ge=0, le=1)
    # Words that make a complaint urgent even when the NLU did not say so (or is off).
    urgent_keywords: list[str] = ["救命", "抢劫", "持刀", "拿刀", "打人", "着火", "起火", "车祸", "受伤", "被困",
                                  "快报警", "正在偷", "快来人"]

    grades: GradesSettings = GradesSettings()
    timezone: TimeZoneName = "Asia/Shanghai"
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    holidays: list[date] = []  # weekdays off (法定节假日)
    extra_workdays: list[date] = []  # weekend days worked (调休)

    # Reminder when this share of a time limit is used up; escalation when it is over
    # (to the escalation chat), and to admins once it is over by another full time limit.
    remind_at: float = Field(0.75, gt=0, lt=1)
    # A resolved ticket nobody rated is closed (resolved, no rating) after this many days.
    auto_close_days: int = Field(7, ge=1)
    # The same driver again within this many hours adds to the open ticket; several drivers
    # about the same event within link_window_h are linked into one case.
    repeat_window_h: float = Field(24, gt=0)
    link_window_h: float = Field(12, gt=0)
    # A private chat opened from a ticket's button adds what the driver sends for this long.
    details_window_min: int = Field(30, ge=1)
    watch_interval_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _check(self):
        if self.confirm_threshold > self.complaint_threshold:
            raise ValueError("confirm_threshold must not exceed complaint_threshold")
        if self.work_end <= self.work_start:
            raise ValueError("work_end must be after work_start")
        return self
