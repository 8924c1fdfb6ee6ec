"""Group-message throughput and latency of one bot process, through the local Bot API stand-in.

python -m bench.telegram_bench [--messages N] [--groups G] [--send-rate R]. Mixed traffic:
questions from the dev set, out-of-scope questions and chit-chat, from many members in many
groups, all queued at once; the bot drains them over real HTTP. The stand-in runs in a
separate process (bench/standin.py), so its HTTP work is not counted as the bot's. Prints
handled messages/s, p50/p95 of the time from update received to decision made (pipeline time,
no network) and to reply sent, the bot's CPU per message and RSS. For a steady offered rate
see bench/load_bench.py."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from bench.botrun import mixed_texts, running_bot, write_config
from bench.standin import StandinProcess


async def run(args) -> None:
    n = args.messages
    texts = mixed_texts(n, args.chitchat)
    rng = random.Random(5)
    items = [(i % args.groups, rng.randrange(args.users), text) for i, text in enumerate(texts)]
    warm = len(items) // 20  # the first messages warm models and caches; not measured
    me = psutil.Process()
    print(f"== Telegram group traffic: {n} messages queued at once, {args.groups} groups, "
          f"{args.chitchat:.0%} chit-chat; send limit "
          f"{'Telegram (PTB default)' if args.send_rate is None else args.send_rate}"
          f" [load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}]")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(Path(tmp), **({} if args.send_rate is None else {"send_rate": args.send_rate}))
        async with StandinProcess() as standin:
            await standin.setup(args.groups, args.users)
            async with running_bot(standin, cfg) as (app, probe):
                await standin.offer(items[:warm])
                while probe.handled < warm:
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.5)
                first = len(probe.service_ms)
                cpu0 = sum(me.cpu_times()[:2])
                t0 = time.perf_counter()
                await standin.offer(items[warm:])
                while probe.handled < n:
                    await asyncio.sleep(0.01)
                elapsed = time.perf_counter() - t0
                cpu = sum(me.cpu_times()[:2]) - cpu0
                await asyncio.sleep(1.0)
                stats = await standin.stats()
                service = np.array(probe.service_ms[first:])
                backend = app.kb.retriever.backend
                errors = probe.errors.count
    measured = n - warm
    reply_ms = np.array([(r[3] - r[2]) * 1000 for r in stats["replies"] if r[2] is not None])
    print(f"   retrieval:                 {backend}")
    print(f"   messages:                  {measured} ({len(stats['replies'])} replies in all) in {elapsed:.1f} s"
          f" -> {measured / elapsed:.0f} msg/s")
    print(f"   pipeline p50 / p95:        {np.percentile(service, 50):.1f} ms / {np.percentile(service, 95):.1f} ms"
          " (update in the pipeline -> replies decided)")
    print(f"   handed -> reply p50 / p95: {np.percentile(reply_ms, 50):.0f} ms / {np.percentile(reply_ms, 95):.0f} ms"
          " (includes queueing behind the whole backlog)")
    print(f"   bot CPU:                   {cpu / measured * 1000:.1f} ms per message"
          f" ({cpu / elapsed:.0%} of one core); errors: {errors}, failed calls: {sum(stats['failed'].values())}")
    print(f"   RSS:                       {me.memory_info().rss / 2**20:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.telegram_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--groups", type=int, default=500, help="groups the traffic is spread over")
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--chitchat", type=float, default=0.3, help="share of chit-chat messages")
    ap.add_argument("--send-rate", type=float, default=None,
                    help="overall sends/s of PTB's rate limiter (0: none); default Telegram's ~30/s")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
