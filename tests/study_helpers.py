"""Helpers for the daily study tests: a controllable clock and a fast study config."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """The study clock under test control: set it to a local (Asia/Shanghai) time."""

    def __init__(self, local: str):
        self.now = datetime.fromisoformat(local).replace(tzinfo=SHANGHAI)

    def set(self, local: str) -> None:
        self.now = datetime.fromisoformat(local).replace(tzinfo=SHANGHAI)

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)

    def __call__(self) -> datetime:
        return self.now


class FlowingClock:
    """The study clock set to a local time that then flows on in real time (so retries come due)."""

    def __init__(self, local: str):
        self.set(local)

    def set(self, local: str) -> None:
        self.base, self.t0 = datetime.fromisoformat(local).replace(tzinfo=SHANGHAI), time.monotonic()

    def __call__(self) -> datetime:
        return self.base + timedelta(seconds=time.monotonic() - self.t0)


def study_config(library: Path | None = None, **overrides) -> str:
    """The `study:` section for write_config(extra=...): a fast tick and pace for tests."""
    values = {"library_file": str(library or ROOT / "knowledge_base" / "study.yml"), "tick_s": 0.1,
              "send_rate": 30, "retry_after_s": 30, **overrides}
    return "study:\n" + "".join(f"  {k}: {v}\n" for k, v in values.items())


def register(harness, chat_id: int, title: str):
    """A group the bot is in, registered as the bot's join would register it."""
    chat = harness.server.group(chat_id, title, type="supergroup", bot_status="administrator")
    harness.app.chats.joined(chat_id, "supergroup", title)
    return chat


def study_posts(server, chat) -> list:
    """The dispatcher's posts (a /today answer is a reply, these are not)."""
    return [c for c in server.sent("sendMessage", chat) if "每日学习" in (c.params.get("text") or "")
            and not c.params.get("reply_parameters")]


async def settle(seconds: float = 0.6) -> None:
    """Long enough for several dispatcher ticks (tick_s 0.1) to run and send."""
    await asyncio.sleep(seconds)
