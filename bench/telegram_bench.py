"""Group-message throughput and latency of one bot process, through the local Bot API stand-in.

python -m bench.telegram_bench [--messages N]. Mixed traffic: questions from the dev set,
out-of-scope questions and chit-chat, from many members in many groups, all queued at once;
the bot drains them over real HTTP. Prints handled messages/s, p50/p95 of the time from
update received to decision made (pipeline time, no network), and RSS."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Bot API stand-in is a test tool

CHITCHAT = ["早上好各位师傅", "收到", "谢谢书记", "👍👍", "今天堵死了", "贵阳到昆明 17米5平板 求货 13812345678",
            "吃饭没", "好的", "哈哈哈", "注意安全 一路平安"]


async def run(n: int) -> None:
    from botapi import BotApiServer
    from telegram import Update

    from bot.app import App
    from bot.config import load_settings
    from bot.telegram.app import build_application

    queries = yaml.safe_load((ROOT / "bench" / "data" / "dev_queries.yml").read_text(encoding="utf-8"))["queries"]
    rng = random.Random(3)
    texts = [rng.choice(CHITCHAT) if rng.random() < 0.3 else rng.choice(queries)["q"] for _ in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        base = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
        base["database"]["url"] = f"sqlite:///{tmp}/bench.db"
        for key in ("faq_file", "dict_dir"):
            base["knowledge_base"][key] = str(ROOT / base["knowledge_base"][key])
        base["study"]["library_file"] = str(ROOT / base["study"]["library_file"])
        base["knowledge_base"]["cache_dir"] = f"{tmp}/cache"
        for key in ("data_file", "dict_dir"):
            base["nlu"][key] = str(ROOT / base["nlu"][key])
        base["nlu"]["backend"] = "embedded"
        base["assistant"]["flood_rate"] = "1000/minute"
        base["logging"]["level"] = "WARNING"
        cfg = Path(tmp) / "config.yml"
        cfg.write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
        app = App.build(load_settings(cfg))

        handler_ms: list[float] = []
        original = app.pipeline.handle_message

        async def timed(msg):
            t0 = time.perf_counter()
            try:
                return await original(msg)
            finally:
                handler_ms.append((time.perf_counter() - t0) * 1000)

        app.pipeline.handle_message = timed
        async with BotApiServer(token="1:BENCH") as server:
            application = build_application(app, server.token, base_url=server.base_url,
                                            base_file_url=server.base_file_url)
            await application.initialize()
            await application.start()
            await application.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
            groups = [server.group(-1000 - i, f"群{i}", type="supergroup", bot_status="administrator")
                      for i in range(50)]
            users = [server.user(10_000 + i, f"司机{i}") for i in range(500)]
            t0 = time.perf_counter()
            for i, text in enumerate(texts):
                server.send_text(groups[i % len(groups)], users[i % len(users)], text)
            while len(handler_ms) < n:
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - t0
            await asyncio.sleep(1.0)
            replies = len(server.sent("sendMessage"))
            await application.updater.stop()
            await application.stop()
            await application.shutdown()
        # Service time without queueing: the same messages one at a time through the pipeline.
        from bot.events import IncomingMessage

        service_ms = []
        for i, text in enumerate(texts[:500]):
            t = time.perf_counter()
            await original(IncomingMessage(chat_id=-5000 - i % 50, user_id=90_000 + i, text=text,
                                           message_id=i + 1, platform="bench"))
            service_ms.append((time.perf_counter() - t) * 1000)
        app.close()
    arr = np.array(handler_ms)
    svc = np.array(service_ms)
    print(f"== Telegram group traffic [{app.kb.retriever.backend}]")
    print(f"   messages:                  {n} ({replies} replies) in {elapsed:.1f} s -> {n / elapsed:.0f} msg/s")
    print(f"   pipeline p50 / p95:        {np.percentile(arr, 50):.1f} ms / {np.percentile(arr, 95):.1f} ms"
          " (update in -> replies decided; includes queueing behind other updates)")
    print(f"   service p50 / p95:         {np.percentile(svc, 50):.1f} ms / {np.percentile(svc, 95):.1f} ms"
          " (one message at a time, no queueing)")
    print(f"   RSS:                       {psutil.Process().memory_info().rss / 2**20:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.telegram_bench")
    ap.add_argument("--messages", type=int, default=3000)
    args = ap.parse_args()
    asyncio.run(run(args.messages))


if __name__ == "__main__":
    main()
