"""One bot process for the Telegram benches: the shipped config with bench paths, the whole
PTB Application against a stand-in (bench/standin.py), and probes that count what it did."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

CHITCHAT = ["早上好各位师傅", "收到", "谢谢书记", "👍👍", "今天堵死了", "贵阳到昆明 17米5平板 求货 13812345678",
            "吃饭没", "好的", "哈哈哈", "注意安全 一路平安"]


def write_config(tmp: Path, **telegram) -> Path:
    """config.yml as shipped, with absolute paths, a fresh SQLite file, the embedded NLU
    (no Rasa server in benches) and WARNING logs; `telegram` overrides that section."""
    base = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    base["database"]["url"] = f"sqlite:///{tmp}/bench.db"
    for key in ("faq_file", "dict_dir"):
        base["knowledge_base"][key] = str(ROOT / base["knowledge_base"][key])
    base["knowledge_base"]["cache_dir"] = f"{tmp}/cache"
    base["study"]["library_file"] = str(ROOT / base["study"]["library_file"])
    for key in ("data_file", "dict_dir"):
        base["nlu"][key] = str(ROOT / base["nlu"][key])
    base["nlu"]["backend"] = "embedded"
    base["logging"]["level"] = "WARNING"
    base["telegram"].update(telegram)
    cfg = Path(tmp) / "config.yml"
    cfg.write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    return cfg


def mixed_texts(n: int, chitchat_share: float, seed: int = 3) -> list[str]:
    """Questions of the dev set (answerable, out of scope, complaints) mixed with chit-chat."""
    import random

    queries = yaml.safe_load((ROOT / "bench" / "data" / "dev_queries.yml").read_text(encoding="utf-8"))["queries"]
    rng = random.Random(seed)
    return [rng.choice(CHITCHAT) if rng.random() < chitchat_share else rng.choice(queries)["q"] for _ in range(n)]


class _ErrorCount(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.first is None:
            self.first = f"{record.name}: {record.getMessage()}"


class Probe:
    """What the bot did: messages through the pipeline (with their service time) and errors
    logged (PTB's error handler and ours log at ERROR)."""

    def __init__(self, app):
        self.handled = 0
        self.service_ms: list[float] = []
        self.errors = _ErrorCount()
        logging.getLogger().addHandler(self.errors)
        original = app.pipeline.handle_message

        async def timed(msg):
            t0 = time.perf_counter()
            try:
                return await original(msg)
            finally:
                self.service_ms.append((time.perf_counter() - t0) * 1000)
                self.handled += 1

        app.pipeline.handle_message = timed

    def close(self) -> None:
        logging.getLogger().removeHandler(self.errors)


@asynccontextmanager
async def running_bot(standin, cfg: Path):
    """The bot as `driverhome run` builds it, long-polling the stand-in; yields (app, probe)."""
    from telegram import Update

    from bot.app import App
    from bot.config import load_settings
    from bot.telegram.app import build_application, settle_heap

    app = App.build(load_settings(cfg))
    probe = Probe(app)
    application = build_application(app, standin.token, base_url=standin.base_url,
                                    base_file_url=standin.base_file_url)
    await application.initialize()
    settle_heap()  # as `driverhome run` does
    await application.start()
    await application.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    try:
        yield app, probe
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        probe.close()
        app.close()
