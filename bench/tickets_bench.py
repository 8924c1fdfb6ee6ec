"""Tickets and the outbox: how fast complaints are filed, and how fast notifications drain.

python -m bench.tickets_bench [--tickets N] [--messages M]

1. Filing: N complaints through `TicketService.report` on a SQLite file (each one a
   transaction: duplicate/link check, ticket, complainant, event, group reply and secretary
   card in the outbox). Prints tickets/s and p50/p95 per call.
2. Draining: M notifications to many private chats, sent by the outbox drainer through the
   Telegram sender and python-telegram-bot over real HTTP to the local Bot API stand-in;
   once raw (no rate limiter: the machinery's own ceiling) and once with PTB's AIORateLimiter
   (Telegram's ~30 messages/s, which is what production gets). Prints messages/s, p50/p95
   of enqueue → sent for the backlog, and p50/p95 of commit → sent for single notifications.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Bot API stand-in is a test tool

POOL = "运费拖欠货主平台抽成服务区偷油罚款收费站厕所热水停车场押金压价高速执法检查合同司机老板车队装卸延误事故"


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(POOL) for _ in range(24))


def _service(tmp: Path, branches: int, groups_per_branch: int):
    from bot.chats import AdminDirectory
    from bot.clock import Clock
    from bot.storage import Database
    from bot.tickets.service import TicketService
    from bot.tickets.settings import BranchSettings, TicketSettings

    db = Database(f"sqlite:///{tmp / 'bench.db'}")
    db.migrate()
    config = [BranchSettings(id=f"b{b}", name=f"支部{b}", groups=[-(100000 + b * 1000 + g) for g in range(groups_per_branch)],
                             secretaries=[10_000 + b]) for b in range(branches)]
    service = TicketService(db, TicketSettings(), branches=config, admins=AdminDirectory(db, [1]), clock=Clock())
    service.branches.sync(config)
    return service, config


def bench_filing(n: int) -> None:
    from bot.tickets.service import Report

    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        service, config = _service(Path(tmp), branches=50, groups_per_branch=20)
        groups = [g for b in config for g in b.groups]
        ms = []
        t0 = time.perf_counter()
        for i in range(n):
            r = Report(user_id=1_000_000 + i, text=_text(rng), chat_id=rng.choice(groups), user_name=f"司机{i}",
                       message_id=i + 1)
            t = time.perf_counter()
            service.report(r)
            ms.append((time.perf_counter() - t) * 1000)
        total = time.perf_counter() - t0
        from bot.outbox import counts

        with service.db.session() as s:
            rows = counts(s)
        service.db.dispose()
    print(f"filing: {n} tickets in {total:.2f} s = {n / total:.0f} tickets/s; "
          f"per report p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms; "
          f"outbox rows written: {sum(rows.values())}")


async def bench_drain(m: int, limited: bool) -> None:
    from botapi import BotApiServer
    from telegram import Bot
    from telegram.ext import AIORateLimiter, ExtBot

    from bot.outbox import Drainer, enqueue
    from bot.outbox.settings import OutboxSettings
    from bot.telegram.outbox_sender import TelegramOutboxSender

    with tempfile.TemporaryDirectory() as tmp:
        service, _ = _service(Path(tmp), branches=1, groups_per_branch=1)
        async with BotApiServer(token="123456:BENCH", bot_username="driverhome_bot") as server:
            chats = [server.private(server.user(2_000_000 + i, f"司机{i}"))["id"] for i in range(200)]
            clock = service.clock
            with service.db.session() as s:
                for i in range(m):
                    enqueue(s, f"bench:{i}", chats[i % len(chats)],
                            {"text": f"诉求 SQ-{i:05d} 已受理 👍", "buttons": [[{"label": "私聊", "start": f"tk_{i}"}]]},
                            now=clock.now())
            kwargs = {"token": server.token, "base_url": server.base_url, "base_file_url": server.base_file_url}
            bot: Bot = ExtBot(rate_limiter=AIORateLimiter(), **kwargs) if limited else Bot(**kwargs)
            async with bot:
                drainer = Drainer(service.db, TelegramOutboxSender(bot),
                                  OutboxSettings(batch=100, concurrency=16), clock)
                t0 = time.perf_counter()
                latencies: list[float] = []
                sent = 0
                while sent < m:
                    stats = await drainer.drain()
                    sent += stats.sent
                    latencies += stats.latencies
                    if not stats.claimed:
                        await asyncio.sleep(0.01)
                total = time.perf_counter() - t0
                # one notification at a time (the usual case): commit -> sent when the drainer is woken
                single: list[float] = []
                for i in range(100):
                    t1 = time.perf_counter()
                    with service.db.session() as s:
                        enqueue(s, f"single:{i}", chats[i % len(chats)], {"text": f"单条 {i}"}, now=clock.now())
                    await drainer.drain()
                    single.append((time.perf_counter() - t1) * 1000)
            duplicates = m + 100 - len({c.params["text"] for c in server.sent("sendMessage")})
        service.db.dispose()
    label = "with AIORateLimiter (Telegram limits)" if limited else "raw (no rate limiter)"
    # latencies run from the moment everything was enqueued: the queue's waiting time is included
    print(f"drain {label}: {m} messages in {total:.2f} s = {m / total:.0f} msg/s; "
          f"enqueue→sent p50 {np.percentile(latencies, 50):.2f} s, p95 {np.percentile(latencies, 95):.2f} s; "
          f"one at a time: commit→sent p50 {np.percentile(single, 50):.1f} ms, p95 {np.percentile(single, 95):.1f} ms; "
          f"duplicates: {duplicates}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args(argv)
    bench_filing(args.tickets)
    asyncio.run(bench_drain(args.messages, limited=False))
    asyncio.run(bench_drain(min(args.messages, 300), limited=True))


if __name__ == "__main__":
    main()
