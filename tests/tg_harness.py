"""Runs the whole bot (real PTB Application, real database) against the Bot API stand-in,
so a test can say "driver writes X, bot answers Y" (cf. Errbot's test backend)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from botapi import BotApiServer
from conftest import write_test_config
from telegram import Update

from bot.app import App
from bot.config import load_settings
from bot.telegram.app import build_application

TOKEN = "123456:TEST"
ADMIN_ID = 900


class Harness:
    def __init__(self, server: BotApiServer, app: App, application):
        self.server = server
        self.app = app
        self.application = application
        self.group = server.group(-100100, "贵阳货车司机群", type="supergroup", bot_status="administrator")
        self.driver = server.user(501, "老王")
        self.other = server.user(502, "小李")
        self.admin = server.user(ADMIN_ID, "管理员")
        self.admin_chat = server.private(self.admin)

    def replies(self, chat=None) -> list:
        return self.server.sent("sendMessage", chat if chat is not None else self.group)

    async def say(self, text: str, *, user=None, chat=None, reply_to=None, wait: bool = True, timeout: float = 5.0):
        """Send a message; with `wait`, return the bot's next message in that chat."""
        chat = chat if chat is not None else self.group
        before = len(self.replies(chat))
        message = self.server.send_text(chat, user or self.driver, text, reply_to=reply_to)
        if not wait:
            return message
        calls = await self.server.wait_for("sendMessage", chat_id=chat, count=before + 1, timeout=timeout)
        return calls[before]

    async def silent(self, text: str, *, user=None, chat=None, settle: float = 0.6) -> None:
        """Send a message and check the bot says nothing in that chat."""
        chat = chat if chat is not None else self.group
        before = len(self.replies(chat))
        self.server.send_text(chat, user or self.driver, text)
        await self.idle(settle)
        assert len(self.replies(chat)) == before, [c.params.get("text") for c in self.replies(chat)[before:]]

    async def idle(self, settle: float = 0.6) -> None:
        """Wait until the bot has fetched every queued update and had time to act on it."""
        deadline = asyncio.get_running_loop().time() + 10
        while self.server.pending_updates and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(settle)

    def message_of(self, call) -> dict:
        return self.server.message(call.params["chat_id"], call.result["message_id"])

    async def press(self, call, data_or_index, *, user=None, chat=None):
        """Press a button on the message sent by `call` (by callback data or by flat index)."""
        message = self.message_of(call)
        rows = message["reply_markup"]["inline_keyboard"]
        flat = [b.get("callback_data") for row in rows for b in row]
        data = flat[data_or_index] if isinstance(data_or_index, int) else data_or_index
        return self.server.press(user or self.driver, message, data)


def write_config(tmp_path: Path, extra: str = "", db_url: str = "sqlite:///data/bot.db") -> Path:
    """write_test_config with the harness's admin and a minute's tolerance for old updates."""
    return write_test_config(tmp_path, f"telegram:\n  admins: [{ADMIN_ID}]\n  max_update_age_s: 60\n" + extra,
                             db_url=db_url)


@asynccontextmanager
async def running_bot(server: BotApiServer, cfg: Path, *, clock=None):
    """Start the bot on the stand-in; stops it cleanly (like a restart) on exit.
    `clock` (a callable giving an aware datetime) replaces the daily study's clock."""
    app = App.build(load_settings(cfg))
    if clock is not None and app.study is not None:
        app.study.clock = clock
    application = build_application(app, server.token, base_url=server.base_url,
                                    base_file_url=server.base_file_url)
    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    harness = Harness(server, app, application)
    try:
        yield harness
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        app.close()
