"""Sustained load on one bot process: messages offered at a steady rate through the Bot API
stand-in running in a separate process (bench/standin.py).

python -m bench.load_bench [--rate 500] [--duration 60] [--groups 1000] [--quick]

Mixed group traffic (dev-set questions: answerable, out of scope and complaints; plus
chit-chat) from many members spread over many groups, as a province-wide deployment sees it.
Spread matters: Telegram (and PTB's AIORateLimiter) allow about 20 messages a minute into one
group, so few groups would measure that limit, not the bot. Prints the offered and handled
rates, latency from the update being handed to the bot (getUpdates answer) to its reply
arriving at the stand-in, errors and RSS, with the load average of the machine."""

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
from bench.standin import GROUP_BASE, StandinProcess

WARMUP_GROUPS = 20


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _pct(values, q) -> str:
    return f"{np.percentile(values, q):.1f}" if len(values) else "-"


async def run(args) -> None:
    total = int(args.rate * args.duration)
    texts = mixed_texts(total, args.chitchat)
    rng = random.Random(7)
    items = [(i % args.groups, rng.randrange(args.users), text) for i, text in enumerate(texts)]
    warmup = [(args.groups + i % WARMUP_GROUPS, rng.randrange(args.users), t)
              for i, t in enumerate(mixed_texts(100, args.chitchat, seed=11))]
    me = psutil.Process()
    print(f"== load: {args.rate:.0f} msg/s offered for {args.duration:.0f} s ({total} messages), "
          f"{args.groups} groups, {args.users} members, {args.chitchat:.0%} chit-chat; "
          f"send limit {'Telegram (PTB default)' if args.send_rate is None else args.send_rate}")
    print(f"   machine at start:          {_load()} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(Path(tmp), concurrent_updates=args.concurrent_updates,
                           **({} if args.send_rate is None else {"send_rate": args.send_rate}))
        async with StandinProcess() as standin:
            await standin.setup(args.groups + WARMUP_GROUPS, args.users)
            async with running_bot(standin, cfg) as (app, probe):
                await standin.offer(warmup)  # models and caches warm, off the measured groups
                while probe.handled < len(warmup):
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)
                base_handled, base_errors = probe.handled, probe.errors.count
                base_service = len(probe.service_ms)
                cpu0 = me.cpu_times()
                standin_proc = psutil.Process(standin.pid)
                standin_cpu0 = sum(standin_proc.cpu_times()[:2])
                rss_peak = me.memory_info().rss
                t0 = time.perf_counter()
                await standin.offer(items, args.rate)
                while time.perf_counter() - t0 < args.duration:
                    await asyncio.sleep(0.5)
                    rss_peak = max(rss_peak, me.memory_info().rss)
                in_window = probe.handled - base_handled
                load_end = _load()
                # drain what is still queued (bounded), then let the last replies land
                deadline = time.perf_counter() + args.drain
                while probe.handled - base_handled < total and time.perf_counter() < deadline:
                    await asyncio.sleep(0.2)
                    rss_peak = max(rss_peak, me.memory_info().rss)
                t_all = time.perf_counter() - t0
                handled = probe.handled - base_handled
                await asyncio.sleep(1.0)
                cpu1 = me.cpu_times()
                standin_cpu = sum(standin_proc.cpu_times()[:2]) - standin_cpu0
                stats = await standin.stats()
                service = np.array(probe.service_ms[base_service:])
                errors = probe.errors.count - base_errors
                first_error = probe.errors.first
                backend = app.kb.retriever.backend
    measured = [r for r in stats["replies"] if r[0] > GROUP_BASE - args.groups]  # not the warm-up
    handed_to_reply = np.array([(r[3] - r[2]) * 1000 for r in measured if r[2] is not None])
    offered_to_reply = np.array([(r[3] - r[1]) * 1000 for r in measured])
    failed = sum(stats["failed"].values())
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    print(f"   retrieval:                 {backend}")
    print(f"   offered:                   {total} messages in {args.duration:.0f} s = {total / args.duration:.0f} msg/s")
    print(f"   handled in the window:     {in_window} = {in_window / args.duration:.0f} msg/s"
          f" (backlog at the end: {total - in_window})")
    print(f"   handled in all:            {handled}/{total} in {t_all:.1f} s = {handled / t_all:.0f} msg/s"
          f" (drain allowed {args.drain:.0f} s)")
    print(f"   replies:                   {len(measured)} ({len(measured) / t_all:.0f}/s);"
          f" other calls {dict((k, v) for k, v in stats['calls'].items() if k != 'sendMessage')}")
    print(f"   update handed -> reply:    p50 {_pct(handed_to_reply, 50)} ms, p95 {_pct(handed_to_reply, 95)} ms,"
          f" p99 {_pct(handed_to_reply, 99)} ms (getUpdates answer -> sendMessage arrived)")
    print(f"   offered -> reply:          p50 {_pct(offered_to_reply, 50)} ms, p95 {_pct(offered_to_reply, 95)} ms"
          " (adds the wait for the next getUpdates: backlog)")
    print(f"   pipeline service time:     p50 {_pct(service, 50)} ms, p95 {_pct(service, 95)} ms"
          " (update in the pipeline -> replies decided, every message)")
    print(f"   errors:                    {errors} logged by the bot, {failed} failed Bot API calls"
          + (f" (first: {first_error})" if first_error else ""))
    print(f"   bot process CPU:           {cpu:.1f} s over {t_all:.1f} s = {cpu / t_all:.0%} of one core,"
          f" {cpu / max(handled, 1) * 1000:.1f} ms per message")
    print(f"   stand-in process CPU:      {standin_cpu:.1f} s = {standin_cpu / t_all:.0%} of one core")
    print(f"   bot RSS peak:              {rss_peak / 2**20:.0f} MiB")
    print(f"   machine at end of window:  {load_end}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.load_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=500, help="messages offered per second")
    ap.add_argument("--duration", type=float, default=60, help="seconds of offered traffic")
    ap.add_argument("--groups", type=int, default=1000, help="groups the traffic is spread over")
    ap.add_argument("--users", type=int, default=5000, help="members writing")
    ap.add_argument("--chitchat", type=float, default=0.3, help="share of chit-chat messages")
    ap.add_argument("--concurrent-updates", type=int, default=32, help="telegram.concurrent_updates")
    ap.add_argument("--send-rate", type=float, default=None,
                    help="overall sends/s of PTB's rate limiter (0: none); default Telegram's ~30/s")
    ap.add_argument("--drain", type=float, default=30, help="seconds allowed to finish the backlog")
    ap.add_argument("--quick", action="store_true", help="a short run: 10 s at the given rate")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 10)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
