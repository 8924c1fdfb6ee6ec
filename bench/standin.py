"""The Bot API stand-in (tests/botapi.py) in a process of its own, for benches.

Why: served from the bot's own event loop, the stand-in's HTTP work is counted as the bot's
and slows it down. Here it runs in a child process and offers traffic itself, at a set pace,
so the bench process holds the bot only.

python -m bench.standin [--token T] prints one JSON line {"api": PORT, "control": PORT} and
serves until stopped. The control API (JSON over HTTP on the control port):

  POST /setup  {"groups": G, "users": U}        groups -1000001.. (bot is admin), users 10001..
  POST /offer  {"items": [[group, user, text], ...], "rate": R}
               injects the messages at R per second (0: all at once), in the background
  GET  /stats  counts, and per replied message [chat, offered, handed out by getUpdates,
               reply (sendMessage) arrived], times in seconds on this process's clock
  POST /stop

`StandinProcess` is the bench-side launcher and client of that API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GROUP_BASE = -1_000_000
USER_BASE = 10_000


class BenchServer:
    """Subclass factory: imports the stand-in only where it runs (the child process)."""

    @staticmethod
    def create(token: str):
        sys.path.insert(0, str(ROOT / "tests"))  # the stand-in is a test tool
        from botapi import BotApiServer

        class _Server(BotApiServer):
            """Also records when each user message was offered and handed to the bot."""

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.offered: dict[tuple[int, int], float] = {}
                self.handed: dict[tuple[int, int], float] = {}
                self.groups: list[dict] = []
                self.users: list[dict] = []

            async def _get_updates(self, params):
                batch = await super()._get_updates(params)
                now = time.perf_counter()
                for update in batch:
                    message = update.get("message")
                    if message is not None:
                        self.handed.setdefault((message["chat"]["id"], message["message_id"]), now)
                return batch

        return _Server(token=token, bot_username="driverhome_bot")


async def _serve(token: str) -> None:
    from aiohttp import web

    # a bot stopped with requests in flight resets their connections: not worth a traceback
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    server = BenchServer.create(token)
    await server.start()
    stop = asyncio.Event()
    offering: list[asyncio.Task] = []

    async def setup(request: web.Request) -> web.Response:
        body = await request.json()
        server.groups = [server.group(GROUP_BASE - i, f"货车司机群{i}", type="supergroup",
                                      bot_status="administrator") for i in range(int(body["groups"]))]
        server.users = [server.user(USER_BASE + i, f"司机{i}") for i in range(int(body["users"]))]
        return web.json_response({"ok": True})

    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        offering.append(asyncio.create_task(_offer(server, body["items"], float(body.get("rate") or 0))))
        return web.json_response({"ok": True, "count": len(body["items"])})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(_stats(server))

    async def stop_(request: web.Request) -> web.Response:
        stop.set()
        return web.json_response({"ok": True})

    control = web.Application(client_max_size=256 * 2**20)
    control.router.add_post("/setup", setup)
    control.router.add_post("/offer", offer)
    control.router.add_get("/stats", stats)
    control.router.add_post("/stop", stop_)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    control_port = sock.getsockname()[1]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps({"api": server.port, "control": control_port}), flush=True)
    parent = os.getppid()

    async def orphaned() -> None:  # the bench died without stopping us: stop too
        while os.getppid() == parent:
            await asyncio.sleep(1.0)
        stop.set()

    watchdog = asyncio.create_task(orphaned())
    await stop.wait()
    watchdog.cancel()
    for task in offering:
        task.cancel()
    await runner.cleanup()
    await server.close()


async def _offer(server, items: list, rate: float) -> None:
    """Inject the messages at `rate` per second (every few ms, those now due)."""
    start = time.perf_counter()
    done = 0
    while done < len(items):
        due = len(items) if rate <= 0 else min(len(items), int((time.perf_counter() - start) * rate) + 1)
        for group, user, text in items[done:due]:
            message = server.send_text(server.groups[group], server.users[user], text)
            server.offered[(message["chat"]["id"], message["message_id"])] = time.perf_counter()
        done = due
        await asyncio.sleep(0.002)


def _stats(server) -> dict:
    """Counts, and the first reply to each offered message with its times."""
    calls = server.sent(failed=None)
    methods = Counter(c.method for c in calls if not c.failed)
    failed = Counter(c.method for c in calls if c.failed)
    replies: dict[tuple[int, int], float] = {}
    for call in calls:
        if call.method != "sendMessage" or call.failed:
            continue
        target = (call.params.get("reply_parameters") or {}).get("message_id")
        if target is None:
            continue
        key = (int(call.params["chat_id"]), int(target))
        if key in server.offered and key not in replies:
            replies[key] = call.time  # wall clock at arrival: converted below
    # Call.time is time.time(); the offer/handed marks are perf_counter: map one onto the other.
    shift = time.perf_counter() - time.time()
    rows = [[k[0], server.offered[k], server.handed.get(k), t + shift] for k, t in replies.items()]
    return {"offered": len(server.offered), "handed": len(server.handed),
            "pending": len(server._updates), "calls": dict(methods), "failed": dict(failed),
            "replies": rows, "now": time.perf_counter()}


class StandinProcess:
    """Starts `python -m bench.standin` and talks to its control API (async, so polling the
    stats does not stall a bot running in the caller's event loop)."""

    def __init__(self, token: str = "123456:BENCH"):
        self.token = token
        self.proc: subprocess.Popen | None = None
        self.api_port = self.control_port = 0
        self._client = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/file/bot"

    async def __aenter__(self) -> StandinProcess:
        import httpx

        self.proc = subprocess.Popen([sys.executable, "-m", "bench.standin", "--token", self.token],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = await asyncio.to_thread(self.proc.stdout.readline)
        if not line:
            raise RuntimeError(f"the stand-in process exited with {self.proc.wait()}")
        ports = json.loads(line)
        self.api_port, self.control_port = ports["api"], ports["control"]
        self._client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.control_port}", timeout=60)
        return self

    async def __aexit__(self, *exc_info) -> None:
        try:
            await self._client.post("/stop")
        except Exception:  # already gone: terminate below
            pass
        await self._client.aclose()
        try:
            await asyncio.to_thread(self.proc.wait, 10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(5)

    async def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = await self._client.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    async def setup(self, groups: int, users: int) -> None:
        await self._call("POST", "/setup", {"groups": groups, "users": users})

    async def offer(self, items: list[tuple[int, int, str]], rate: float = 0) -> None:
        await self._call("POST", "/offer", {"items": items, "rate": rate})

    async def stats(self) -> dict:
        return await self._call("GET", "/stats")

    @property
    def pid(self) -> int:
        return self.proc.pid


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.standin", description=__doc__.split("\n\n")[0])
    ap.add_argument("--token", default="123456:BENCH")
    asyncio.run(_serve(ap.parse_args().token))


if __name__ == "__main__":
    main()
