"""Morning push benchmark: 1,000 groups due in the same minute, through the local Bot API
stand-in, with the bot's real send path (PTB AIORateLimiter + the study dispatcher's pace).

python -m bench.study_bench [--groups N] [--rate R] [--no-quiz]

The stand-in here enforces Telegram's limits strictly: more than 30 sends (sendMessage,
sendPoll) in any 1-second window, or more than 20 a minute into one group, is answered with
429 RetryAfter, and every such answer is counted. The floor for N items at 30 messages/s is
N/30 s (about 34 s for 1,000); the quiz polls follow the items (they go after all items), so
the whole push has a floor of 2N/30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import defaultdict, deque
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Bot API stand-in is a test tool

OVERALL_PER_S = 30
PER_GROUP_PER_MIN = 20
SENDS = ("sendMessage", "sendPoll")
TICK_S = 10  # production uses 60; ticks are aligned to the wall clock either way


def strict_server(token: str):
    """The stand-in, answering 429 like Telegram when the send limits are exceeded."""
    from botapi import ApiError, BotApiServer

    class RateLimitedServer(BotApiServer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.window: deque[float] = deque()
            self.per_group: dict[int, deque[float]] = defaultdict(deque)
            self.retry_after = 0
            for method in SENDS:
                self._handlers[method] = self._limited(self._handlers[method])

        def _limited(self, handler):
            def check(params):
                now = time.monotonic()
                while self.window and now - self.window[0] >= 1.0:
                    self.window.popleft()
                chat = self.per_group[int(params.get("chat_id") or 0)]
                while chat and now - chat[0] >= 60.0:
                    chat.popleft()
                if len(self.window) >= OVERALL_PER_S or len(chat) >= PER_GROUP_PER_MIN:
                    self.retry_after += 1
                    raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
                result = handler(params)
                self.window.append(now)
                chat.append(now)
                return result
            return check

    return RateLimitedServer(token=token)


def write_config(tmp: Path, rate: float, quiz: bool) -> Path:
    base = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for section in base.values():  # the repository's files, wherever this config is written
        for key, value in (section.items() if isinstance(section, dict) else ()):
            if key.endswith(("_file", "_dir")) and isinstance(value, str) and not Path(value).is_absolute():
                section[key] = str(ROOT / value)
    base["database"]["url"] = f"sqlite:///{tmp}/bench.db"
    base["knowledge_base"]["cache_dir"] = f"{tmp}/cache"
    base["retrieval"]["dense"] = False
    base["logging"]["level"] = "WARNING"
    base["study"].update(library_file=str(ROOT / "knowledge_base" / "study.yml"), send_rate=rate, quiz=quiz,
                         tick_s=TICK_S)
    cfg = tmp / "config.yml"
    cfg.write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    return cfg


async def run(groups: int, rate: float, quiz: bool) -> dict:
    from telegram import Update

    from bot.app import App
    from bot.config import load_settings
    from bot.telegram.app import build_application

    tz = ZoneInfo("Asia/Shanghai")
    clock = {"now": datetime(2026, 3, 2, 7, 29, tzinfo=tz)}
    with tempfile.TemporaryDirectory() as tmp:
        app = App.build(load_settings(write_config(Path(tmp), rate, quiz)))
        app.study.clock = lambda: clock["now"]
        # The stand-in serves from its own thread and event loop, so the times it sees are
        # the bot's sending times, not its own queueing behind the bot's work.
        server = strict_server("1:BENCH").start_in_thread()
        try:
            ids = [-1_000_000_000_000 - n for n in range(groups)]
            for chat_id in ids:
                server.group(chat_id, f"车队{chat_id}", type="supergroup", bot_status="administrator")
                app.chats.joined(chat_id, "supergroup", f"车队{chat_id}")
            application = build_application(app, server.token, base_url=server.base_url,
                                            base_file_url=server.base_file_url)
            await application.initialize()
            await application.start()
            await application.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
            await asyncio.sleep(2.5)  # the start-up tick sees the groups (their schedules start at 07:29)
            # The minute turns just before a tick, as in production (ticks are aligned to the clock).
            to_tick = TICK_S - (time.time() % TICK_S)
            await asyncio.sleep(to_tick - 0.05 if to_tick > 0.5 else to_tick + TICK_S - 0.05)
            t0 = time.monotonic()
            clock["now"] = datetime(2026, 3, 2, 7, 30, tzinfo=tz)
            items = await server.wait_for("sendMessage", count=groups, timeout=groups / 10 + 60,
                                          predicate=lambda c: "每日学习" in (c.params.get("text") or ""))
            t_items = time.monotonic()
            polls = await server.wait_for("sendPoll", count=groups, timeout=groups / 10 + 60) if quiz else []
            t_all = time.monotonic()
            from bot.telegram.study import DISPATCHER

            counts = dict(application.bot_data[DISPATCHER].counts)
            await application.updater.stop()
            await application.stop()
            await application.shutdown()
        finally:
            server.stop()
        app.close()
    first = min(c.time for c in items)
    return {"groups": groups, "rate": rate, "items": len(items), "polls": len(polls),
            "items_s": t_items - t0, "all_s": t_all - t0,
            "items_first_to_last_s": max(c.time for c in items) - first,
            "retry_after": server.retry_after, "dispatcher": counts, "floor_items_s": groups / OVERALL_PER_S,
            "floor_all_s": (groups * (2 if quiz else 1)) / OVERALL_PER_S}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=None, help="study.send_rate (default: config.yml's)")
    ap.add_argument("--no-quiz", action="store_true", help="items only, no quiz polls")
    args = ap.parse_args(argv)
    rate = args.rate or yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["study"]["send_rate"]
    r = asyncio.run(run(args.groups, rate, not args.no_quiz))
    floor = r["floor_items_s"]
    print(f"study push: {r['groups']} groups due at 07:30, send_rate {r['rate']}/s, strict 30/s stand-in")
    print(f"  items delivered: {r['items']} in {r['items_s']:.1f} s from the moment they were due "
          f"(first to last {r['items_first_to_last_s']:.1f} s); floor {floor:.1f} s -> "
          f"{r['items_s'] / floor:.2f}x the floor (target <= 1.10x)")
    if r["polls"]:
        print(f"  quiz polls: {r['polls']}, whole push done in {r['all_s']:.1f} s; floor {r['floor_all_s']:.1f} s -> "
              f"{r['all_s'] / r['floor_all_s']:.2f}x")
    print(f"  RetryAfter (429) answers: {r['retry_after']}; dispatcher: {r['dispatcher']}")


if __name__ == "__main__":
    main()
