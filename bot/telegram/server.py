"""The bot's own HTTP server (aiohttp): GET /healthz, GET /metrics and, in webhook mode, the
Telegram webhook (PTB's "custom webhook" pattern: we serve HTTP, PTB gets the updates through
`application.update_queue`).

Every webhook request must carry the secret token given to setWebhook in the
X-Telegram-Bot-Api-Secret-Token header; anything else is refused with 403 before the body is
read, so only Telegram can feed the bot updates even though the port is reachable.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from ..observability import health
from ..observability.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def web_app(app, metrics: Metrics, *, application: Application | None = None, webhook_path: str | None = None,
            secret: str | None = None) -> web.Application:
    """The routes: always /healthz and /metrics; the webhook when `webhook_path` is given."""

    async def healthz(request: web.Request) -> web.Response:
        report = await health.check(app)
        return web.json_response(report, status=health.http_status(report),
                                 dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def metrics_page(request: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics.render)  # database queries: off the event loop
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode()):
            metrics.webhook_refused.inc()
            log.info("webhook: refused a request with a %s secret token", "wrong" if given else "missing")
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
            update = Update.de_json(data, application.bot) if isinstance(data, dict) else None
        except web.HTTPException:
            raise
        except Exception as exc:  # not JSON, or not shaped like an update
            log.warning("webhook: unreadable update (%s)", type(exc).__name__)
            update = None
        if update is None:
            return web.Response(status=400, text="not an update")
        await application.update_queue.put(update)  # handled by PTB like a polled update
        return web.Response(text="ok")

    web_application = web.Application()
    web_application.router.add_get("/healthz", healthz)
    web_application.router.add_get("/metrics", metrics_page)
    if webhook_path is not None:
        if application is None or not secret:
            raise ValueError("the webhook needs the application and a secret token")
        web_application.router.add_post(webhook_path, webhook)
    return web_application


class HttpServer:
    """Serves a web.Application on host:port (port 0: a free port, see `port` once started)."""

    def __init__(self, web_application: web.Application, host: str, port: int):
        self.web_application, self.host, self.requested_port = web_application, host, port
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> "HttpServer":
        runner = web.AppRunner(self.web_application, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        await web.SockSite(runner, sock).start()
        self.port = sock.getsockname()[1]
        self._runner = runner
        return self

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
