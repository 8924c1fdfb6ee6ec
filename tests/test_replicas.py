"""Two bot processes on one PostgreSQL database: every notification and every study item is
sent exactly once, and when one process dies the other takes its work over.

Real processes (`driverhome run`), a real PostgreSQL server and the Bot API stand-in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from botapi import BotApiServer
from sqlalchemy import select
from tg_harness import write_config

from bot.outbox.service import enqueue
from bot.storage import Database
from bot.storage.models import ChatRow
from bot.storage.leases import LeaseRow
from bot.study.models import StudyScheduleRow, StudySendRow
from bot.tickets.models import Ticket  # noqa: F401  (all tables known to the metadata)

ROOT = Path(__file__).resolve().parent.parent
DRIVERHOME = str(Path(sys.executable).parent / "driverhome")
SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUPS = 120
NOTES = 300


def _wait_past_midnight() -> datetime:
    """Study items go out between a group's time and midnight: keep clear of midnight."""
    now = datetime.now(SHANGHAI)
    if now.hour == 23 and now.minute >= 56:
        time.sleep((24 * 60 - (now.hour * 60 + now.minute)) * 60 - now.second + 5)
    return datetime.now(SHANGHAI)


def _replica(cfg: Path, server: BotApiServer, name: str, log_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_BASE_URL": server.base_url,
           "HF_HUB_OFFLINE": "1"}
    log = open(log_dir / f"{name}.log", "w")
    return subprocess.Popen([DRIVERHOME, "--config", str(cfg), "run"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def pg_url(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL server (SQLite is for one process)")
    return db_url


@pytest.fixture
def server():
    srv = BotApiServer(token="123456:REPLICAS", bot_username="driverhome_bot").start_in_thread()
    yield srv
    srv.stop()


def _config(tmp_path: Path, url: str, send_time: str, port_offset: int, rate: float = 25) -> Path:
    study = (f"study:\n  library_file: {ROOT / 'knowledge_base' / 'study.yml'}\n  send_time: \"{send_time}\"\n"
             f"  catchup_min_minutes: 60\n  tick_s: 2\n  send_rate: {rate}\n  quiz: false\n")
    outbox = "outbox:\n  interval_s: 0.3\n  batch: 20\n"
    folder = tmp_path / f"r{port_offset}"
    folder.mkdir()
    server = f"server:\n  host: 127.0.0.1\n  port: {18180 + port_offset}\n"  # /healthz of each replica
    return write_config(folder, study + outbox + server, db_url=url)


def _due_groups(server: BotApiServer, db: Database, first_id: int) -> tuple[list[int], str]:
    """GROUPS groups the bot is in, each scheduled since yesterday and due now; (ids, send time)."""
    now = _wait_past_midnight()
    send_time = max(now - timedelta(minutes=2), now.replace(hour=0, minute=0)).strftime("%H:%M")
    groups = [first_id - n for n in range(GROUPS)]
    for chat_id in groups:
        server.group(chat_id, f"车队{chat_id}", type="supergroup", bot_status="administrator")
    since = now - timedelta(days=1)
    with db.session() as s:
        for chat_id in groups:
            s.add(ChatRow(id=chat_id, type="supergroup", title=f"车队{chat_id}", active=True))
            s.add(StudyScheduleRow(chat_id=chat_id, send_time=None, enabled=True, since=since, updated_at=since))
    return groups, send_time


def test_two_processes_send_each_notification_and_item_once(pg_url, server, tmp_path):
    db = Database(pg_url)
    db.migrate()
    groups, send_time = _due_groups(server, db, -1_000_000_100_000)
    a = _replica(_config(tmp_path, pg_url, send_time, 0), server, "a", tmp_path)
    b = _replica(_config(tmp_path, pg_url, send_time, 1), server, "b", tmp_path)
    try:
        # Notifications written while both processes drain (as tickets would write them).
        now = datetime.now(SHANGHAI)
        for start in range(0, NOTES, 50):
            with db.session() as s:
                for n in range(start, start + 50):
                    enqueue(s, f"note-{n}", groups[n % GROUPS], {"text": f"通知 note-{n}"}, now=now)
            time.sleep(0.2)

        def texts(marker: str) -> Counter:
            return Counter(c.params.get("text", "") for c in server.sent("sendMessage")
                           if marker in c.params.get("text", ""))

        _wait(lambda: len(texts("note-")) == NOTES, 120, "every notification")
        _wait(lambda: sum(1 for c in server.sent("sendMessage") if "每日学习" in c.params.get("text", "")) >= GROUPS,
              120, "every group's study item")
        time.sleep(3)  # anything sent twice would show up now
        notes = texts("note-")
        assert len(notes) == NOTES and max(notes.values()) == 1, notes.most_common(3)
        per_group = Counter(c.params["chat_id"] for c in server.sent("sendMessage")
                            if "每日学习" in c.params.get("text", ""))
        assert set(per_group) == set(groups) and max(per_group.values()) == 1, per_group.most_common(3)
        assert a.poll() is None and b.poll() is None, "a replica died"
    finally:
        _stop(a)
        _stop(b)
        db.dispose()


def test_the_other_process_takes_over_when_the_dispatching_one_is_killed(pg_url, server, tmp_path):
    db = Database(pg_url)
    db.migrate()
    groups, send_time = _due_groups(server, db, -1_000_000_200_000)
    # A slow pace (10/s), so the push is still going when its process is killed.
    procs = [_replica(_config(tmp_path, pg_url, send_time, n, rate=10), server, f"p{n}", tmp_path) for n in (2, 3)]
    try:
        def items() -> Counter:
            return Counter(c.params["chat_id"] for c in server.sent("sendMessage")
                           if "每日学习" in c.params.get("text", ""))

        _wait(lambda: len(items()) >= 20, 60, "the push to start")
        with db.session() as s:
            holder = s.get(LeaseRow, "study-dispatch").holder
        leader = next(p for p in procs if f"-{p.pid}-" in holder)
        leader.kill()  # SIGKILL: no clean-up, the lease has to run out
        leader.wait(10)
        survivor = next(p for p in procs if p is not leader)
        # The survivor takes over once the lease ran out and sends the rest.
        def settled() -> bool:
            with db.session() as s:
                states = Counter(s.scalars(select(StudySendRow.state)))
            return states.get("sent", 0) + states.get("unknown", 0) == GROUPS

        _wait(settled, 90, "the survivor to finish the push")
        time.sleep(2)
        got = items()
        assert max(got.values()) == 1, got.most_common(3)  # nothing twice
        with db.session() as s:
            unknown = set(s.scalars(select(StudySendRow.chat_id).where(StudySendRow.state == "unknown")))
            taken_over = s.scalar(select(LeaseRow.holder).where(LeaseRow.name == "study-dispatch"))
        # Only what was in flight at the kill may be missing (never resent: a rare miss beats a double post).
        assert set(groups) - set(got) <= unknown and len(unknown) <= 16
        assert f"-{survivor.pid}-" in taken_over
        assert survivor.poll() is None
    finally:
        for p in procs:
            _stop(p)
        db.dispose()
