"""PostgreSQL restarted while drivers are writing: updates that failed because the database was
unreachable are handled again when it is back; no complaint is lost and none is filed twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest
from botapi import BotApiServer
from sqlalchemy import select
from tg_harness import running_bot, write_config

from bot.tickets.models import Complainant

ROOT = Path(__file__).resolve().parent.parent
BRANCHES = ("branches:\n  - id: gy\n    name: 贵阳流动党支部\n    groups: [-100100]\n    secretaries: [700]\n")


def _pg(action: str, url: str) -> None:
    """Stop or start the tests' PostgreSQL server (tests/pg_server.sh made it)."""
    port = urlparse(url).port
    data = os.environ.get("DRIVERHOME_PG_DIR") or f"{os.environ.get('TMPDIR', '/tmp')}/driverhome-pg-{port}"
    if action == "start":
        subprocess.run(["bash", str(ROOT / "tests" / "pg_server.sh")], check=True, capture_output=True,
                       env={**os.environ, "DRIVERHOME_PG_PORT": str(port), "DRIVERHOME_PG_DIR": data})
        return
    pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*as_owner, str(pg_ctl), "-D", data, "stop", "-m", "fast"], check=True, capture_output=True)


@pytest.fixture
def pg_url(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("restarts a PostgreSQL server")
    return db_url


async def test_complaints_during_a_database_restart_are_filed_once_each(pg_url, tmp_path):
    cfg = write_config(tmp_path, BRANCHES, db_url=pg_url)
    async with BotApiServer(token="123456:TEST", bot_username="driverhome_bot") as server:
        async with running_bot(server, cfg) as h:
            server.private(server.user(700, "张书记"))  # started the bot: cards reach him
            drivers = [server.user(600 + n, f"司机{n}") for n in range(9)]
            complaints = [f"#诉求 第{n}号：在{n + 1}号收费站被多收了{(n + 1) * 50}元过路费" for n in range(9)]

            def post(n: int) -> dict:
                return server.send_text(h.group, drivers[n], complaints[n])

            posted = [post(n) for n in range(3)]
            await h.idle(1.0)
            _pg("stop", pg_url)
            try:
                posted += [post(n) for n in range(3, 6)]  # the database is down now
                await asyncio.sleep(2.0)
            finally:
                _pg("start", pg_url)
            posted += [post(n) for n in range(6, 9)]

            def acked() -> set[int]:
                return {(c.params.get("reply_parameters") or {}).get("message_id")
                        for c in server.sent("sendMessage", h.group) if "SQ-" in (c.params.get("text") or "")}

            wanted = {m["message_id"] for m in posted}
            deadline = asyncio.get_running_loop().time() + 60
            while not wanted <= acked() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.25)
            assert wanted <= acked(), f"no acknowledgement for {sorted(wanted - acked())}"
            await h.idle(1.0)
            with h.app.db.session() as s:  # each report is a complainant of a ticket (reports of one event link)
                per_message = Counter(s.scalars(select(Complainant.message_id)))
            assert set(per_message) == wanted and max(per_message.values()) == 1, per_message
            acks = Counter((c.params.get("reply_parameters") or {}).get("message_id")
                           for c in server.sent("sendMessage", h.group) if "SQ-" in (c.params.get("text") or ""))
            assert max(acks.values()) == 1, acks  # each driver told once
