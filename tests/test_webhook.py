"""Webhook mode end to end: the bot's own HTTP server receives updates as Telegram (through a
reverse proxy) would POST them, with the secret token checked on every request."""

from __future__ import annotations

import asyncio
import subprocess
from contextlib import asynccontextmanager, suppress

import aiohttp
import pytest
from botapi import BotApiServer
from conftest import DRIVERHOME
from tg_harness import TOKEN, Harness, write_config

from bot.app import App
from bot.config import ConfigError, load_settings
from bot.telegram.app import serving
from bot.telegram.server import SECRET_HEADER

SECRET = "s3cret-Token_for-tests"
PUBLIC_URL = "https://bot.example.org/tg-hook"  # what Telegram is told; the proxy forwards to /telegram


def webhook_config(tmp_path, *, url: str | None = PUBLIC_URL):
    cfg = write_config(tmp_path, extra="server:\n  host: 127.0.0.1\n  port: 0\n")
    lines = "telegram:\n  mode: webhook\n" + (f"  webhook_url: {url}\n" if url else "")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("telegram:\n", lines, 1), encoding="utf-8")
    return cfg


class WebhookHarness(Harness):
    """The usual harness, with the stand-in's queued updates pushed to the webhook as Telegram
    does (with the secret token the bot gave setWebhook), instead of being polled."""

    def __init__(self, server, app, running):
        super().__init__(server, app, running.application)
        self.running = running
        self.url = running.http.url + app.settings.telegram.webhook_path
        self.handled: set[int] = set()  # update ids pushed (or taken by a test)
        self.http = aiohttp.ClientSession()
        self._pusher = asyncio.create_task(self._push_forever())

    @property
    def secret(self) -> str:
        return self.server.sent("setWebhook")[-1].params["secret_token"]

    async def post(self, update: dict, secret: str | None) -> tuple[int, str]:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with self.http.post(self.url, json=update, headers=headers) as resp:
            return resp.status, await resp.text()

    def take(self, message: dict) -> dict:
        """The queued update of `message`, kept from the pusher so a test can post it itself."""
        [update] = [u for u in self.server.pending_updates if u.get("message", {}).get("message_id")
                    == message["message_id"] and u["message"]["chat"]["id"] == message["chat"]["id"]]
        self.handled.add(update["update_id"])
        return update

    async def _push_forever(self) -> None:
        while True:
            for update in self.server.pending_updates:
                if update["update_id"] not in self.handled:
                    self.handled.add(update["update_id"])
                    status, _ = await self.post(update, self.secret)
                    assert status == 200, status
            await asyncio.sleep(0.01)

    async def idle(self, settle: float = 0.6) -> None:
        await asyncio.sleep(settle)

    async def close(self) -> None:
        self._pusher.cancel()
        with suppress(asyncio.CancelledError):
            await self._pusher
        await self.http.close()


@asynccontextmanager
async def running_webhook_bot(server: BotApiServer, cfg):
    app = App.build(load_settings(cfg))
    try:
        async with serving(app, server.token, base_url=server.base_url, base_file_url=server.base_file_url) as running:
            harness = WebhookHarness(server, app, running)
            try:
                yield harness
            finally:
                await harness.close()
    finally:
        app.close()


@pytest.fixture
async def bot(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    async with running_webhook_bot(server, webhook_config(tmp_path)) as h:
        yield h


async def test_set_webhook_at_start_with_the_secret_and_every_update_type(bot):
    [call] = bot.server.sent("setWebhook")
    assert call.params["url"] == PUBLIC_URL
    assert call.params["secret_token"] == SECRET
    assert {"message", "callback_query", "my_chat_member", "chat_member", "poll_answer"} <= set(
        call.params["allowed_updates"])
    assert bot.server.sent("getUpdates") == []  # no polling in webhook mode
    assert bot.server.webhook["url"] == PUBLIC_URL


async def test_update_posted_with_the_secret_is_answered(bot):
    reply = await bot.say("龙溪大道那个限高杆好高啊")
    assert "5米" in reply.params["text"]
    # a button press comes the same way
    before = len(bot.replies())
    suggestion = await bot.say("党费")
    assert suggestion.params["text"] == "您是不是想问："
    data = suggestion.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await bot.press(suggestion, data)
    shown = await bot.server.wait_for("sendMessage", chat_id=bot.group, count=before + 2)
    assert bot.app.kb.get(data.split(":", 1)[1]).answer in shown[-1].params["text"]


async def test_wrong_or_missing_secret_is_refused_and_nothing_is_processed(bot):
    message = bot.server.send_text(bot.group, bot.driver, "龙溪大道限高多少")
    update = bot.take(message)
    assert (await bot.post(update, "not-the-secret"))[0] == 403
    assert (await bot.post(update, None))[0] == 403
    assert (await bot.post(update, SECRET + "x"))[0] == 403
    await asyncio.sleep(0.6)
    assert bot.replies() == []
    assert bot.running.metrics.webhook_refused._value.get() == 3
    # the same update with the right secret is answered: the refusals were about the secret alone
    assert await bot.post(update, SECRET) == (200, "ok")
    [reply] = await bot.server.wait_for("sendMessage", chat_id=bot.group)
    assert "5米" in reply.params["text"]


async def test_a_body_that_is_not_an_update_gets_400(bot):
    async with bot.http.post(bot.url, data=b"not json", headers={SECRET_HEADER: SECRET}) as resp:
        assert resp.status == 400
    for body in ([1, 2], {"update_id": 7, "message": 5}, {"no": "update_id"}):
        async with bot.http.post(bot.url, json=body, headers={SECRET_HEADER: SECRET}) as resp:
            assert resp.status == 400, body
    async with bot.http.get(bot.url, headers={SECRET_HEADER: SECRET}) as resp:
        assert resp.status == 405  # Telegram only POSTs


def test_webhook_mode_needs_url_and_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="telegram.webhook_url"):
        load_settings(webhook_config(tmp_path, url=None))
    settings = load_settings(webhook_config(tmp_path))
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        settings.webhook_secret()
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "has spaces/and slashes")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        load_settings(webhook_config(tmp_path)).webhook_secret()


def test_run_without_the_secret_stops_with_a_clear_error(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_WEBHOOK_SECRET"}
    env["TELEGRAM_BOT_TOKEN"] = TOKEN
    proc = subprocess.run([DRIVERHOME, "--config", str(webhook_config(tmp_path)), "run"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "TELEGRAM_WEBHOOK_SECRET" in proc.stderr
    assert "Traceback" not in proc.stderr
