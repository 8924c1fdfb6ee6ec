"""/healthz, /metrics and the logs, on the bot as `driverhome run` starts it (bot.telegram.app.serving)
against the Bot API stand-in."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import shutil
import socket
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone

import aiohttp
import pytest
from botapi import BotApiServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update as sql_update
from tg_harness import TOKEN, Harness, write_config

from bot.app import App
from bot.config import load_settings
from bot.observability.logs import RedactFilter, redact, setup_logging
from bot.telegram.app import serving

SERVER = "server:\n  host: 127.0.0.1\n  port: 0\n"


class ServedHarness(Harness):
    def __init__(self, server, app, running):
        super().__init__(server, app, running.application)
        self.running = running
        self.base = running.http.url

    async def get(self, path: str) -> tuple[int, str, str]:
        async with aiohttp.ClientSession() as http, http.get(self.base + path) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.text()

    async def health(self) -> tuple[int, dict]:
        status, _, body = await self.get("/healthz")
        return status, json.loads(body)

    async def metrics(self) -> dict[tuple[str, tuple], float]:
        """Every sample as {(name, sorted labels): value}, read with Prometheus' own parser."""
        status, content_type, body = await self.get("/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(body) for s in family.samples}


@asynccontextmanager
async def served_bot(server: BotApiServer, cfg):
    app = App.build(load_settings(cfg))
    try:
        async with serving(app, server.token, base_url=server.base_url, base_file_url=server.base_file_url,
                           poll_timeout=1) as running:
            yield ServedHarness(server, app, running)
    finally:
        app.close()


@pytest.fixture
async def bot(server, tmp_path):
    async with served_bot(server, write_config(tmp_path, extra=SERVER)) as h:
        yield h


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# -- /healthz -------------------------------------------------------------------------------------

async def test_healthz_reports_each_check_and_fails_when_the_database_is_gone(bot, tmp_path):
    status, report = await bot.health()
    assert status == 200 and report["status"] == "ok"
    checks = report["checks"]
    assert checks["database"]["status"] == "ok" and checks["database"]["dialect"] == "sqlite"
    assert checks["nlu"] == {"status": "ok", "backend": "embedded"}
    assert checks["index"]["status"] == "ok" and checks["index"]["entries"] == len(bot.app.kb.entries()) > 100

    bot.app.db.engine.dispose()  # the database goes away: its folder is removed, pooled connections closed
    shutil.rmtree(tmp_path / "data")
    status, report = await bot.health()
    assert status == 503 and report["status"] == "fail"
    assert report["checks"]["database"]["status"] == "fail"
    assert "OperationalError" in report["checks"]["database"]["error"]
    assert report["checks"]["index"]["status"] == "ok"  # the index is in memory and still answers


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_rasa_down_with_auto_backend_is_degraded_and_counts_fallbacks(server, tmp_path):
    cfg = write_config(tmp_path, extra=SERVER)
    text = cfg.read_text(encoding="utf-8").replace(
        "  backend: embedded\n", f"  backend: auto\n  rasa_url: http://127.0.0.1:{closed_port()}\n")
    cfg.write_text(text, encoding="utf-8")
    async with served_bot(server, cfg) as bot:
        before = await bot.metrics()
        reply = await bot.say("龙溪大道那个限高杆好高啊")
        assert "5米" in reply.params["text"]  # the embedded model answered meanwhile
        after = await bot.metrics()
        assert value(after, "driverhome_nlu_fallbacks_total") == value(before, "driverhome_nlu_fallbacks_total") + 1

        status, report = await bot.health()
        assert status == 200 and report["status"] == "degraded"
        nlu = report["checks"]["nlu"]
        assert nlu["status"] == "degraded" and nlu["backend"] == "auto"
        assert nlu["rasa"] == "down" and nlu["answering"] == "embedded" and nlu["fallbacks"] >= 1
        assert report["checks"]["database"]["status"] == "ok"


# -- /metrics -------------------------------------------------------------------------------------

async def test_metrics_has_the_named_series_and_counts_go_up(bot):
    before = await bot.metrics()
    for name in ("driverhome_nlu_fallbacks_total", "driverhome_tickets_overdue", "driverhome_outbox_backlog",
                 "driverhome_outbox_failed", "driverhome_database_up", "driverhome_webhook_refused_total"):
        assert (name, ()) in before, name
    for state in ("new", "accepted", "resolved", "closed"):
        assert ("driverhome_tickets", (("state", state),)) in before
    for state in ("pending", "sent", "failed", "unknown"):
        assert ("driverhome_study_sends", (("state", state),)) in before
    assert value(before, "driverhome_database_up") == 1

    reply = await bot.say("龙溪大道那个限高杆好高啊")
    assert "5米" in reply.params["text"]
    await bot.silent("早上好各位师傅")
    after = await bot.metrics()
    for decision in ("answer", "chitchat"):
        assert value(after, "driverhome_messages_total", decision=decision) == \
            value(before, "driverhome_messages_total", decision=decision) + 1, decision
    count = value(after, "driverhome_handler_seconds_count", kind="message")
    assert count == value(before, "driverhome_handler_seconds_count", kind="message") + 2
    assert value(after, "driverhome_handler_seconds_bucket", kind="message", le="+Inf") == count
    assert 0 < value(after, "driverhome_handler_seconds_sum", kind="message") < 30

    # state in the database: a complaint becomes a ticket; one is overdue; outbox and study rows
    await bot.say("/complain 货到了三个月运费还不给，老板电话不接")
    after = await bot.metrics()
    for _ in range(100):  # the ticket's notifications go out through the outbox: wait for it to be worked off
        if value(after, "driverhome_outbox_backlog") == 0:
            break
        await asyncio.sleep(0.05)
        after = await bot.metrics()
    assert value(after, "driverhome_tickets", state="new") == value(before, "driverhome_tickets", state="new") + 1

    from bot.outbox.models import FAILED
    from bot.outbox.service import enqueue
    from bot.study.models import StudySendRow
    from bot.tickets.models import Ticket

    now = datetime.now(timezone.utc)
    with bot.app.db.session() as s:
        s.execute(sql_update(Ticket).values(accept_due=now - timedelta(minutes=5))
                  .execution_options(synchronize_session=False))
        enqueue(s, "test:later", 4242, {"text": "later"}, now=now - timedelta(minutes=10),  # waits: backlog
                delay=timedelta(hours=1))
        failed = enqueue(s, "test:failed", 4243, {"text": "x"}, now=now, delay=timedelta(hours=1))
        failed.state = FAILED
        s.add(StudySendRow(chat_id=-100100, day=date.today(), item_id="x", cycle=0, state="sent", owner="test",
                           claimed_at=now))
    later = await bot.metrics()
    assert value(later, "driverhome_tickets_overdue") == 1
    assert value(later, "driverhome_outbox_backlog") == value(after, "driverhome_outbox_backlog") + 1
    assert value(later, "driverhome_outbox_failed") == value(after, "driverhome_outbox_failed") + 1
    assert value(later, "driverhome_outbox_oldest_pending_seconds") >= 600
    assert value(later, "driverhome_study_sends", state="sent") == value(after, "driverhome_study_sends",
                                                                         state="sent") + 1


async def test_metrics_registries_are_per_app(bot):
    from bot.observability.metrics import Metrics

    other = Metrics()  # a second app's metrics: own registry, nothing shared with the running bot
    other.decided("answer")
    samples = await bot.metrics()
    assert value(samples, "driverhome_messages_total", decision="answer") == 0
    assert other.messages.labels("answer")._value.get() == 1


# -- logs -----------------------------------------------------------------------------------------

@pytest.fixture
def log_to():
    """Install the bot's log handler on a buffer; removed afterwards."""
    installed = []

    def install(fmt: str = "text", level: str = "DEBUG") -> io.StringIO:
        buf = io.StringIO()
        installed.append(setup_logging(level, fmt, stream=buf))
        return buf

    yield install
    root = logging.getLogger()
    for handler in installed:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def test_phone_and_id_numbers_are_masked_in_every_record(log_to):
    buf = log_to()
    log = logging.getLogger("bot.some.module")
    log.info("driver %s called from 13812345678, id %s", 42, "11010519491231002X")
    log.warning("old id 110105491231002, phones +86 139-0000-1111, 8615900001111 and 186 1234 5678")
    try:
        raise ValueError("bad number 13700001234")
    except ValueError:
        log.exception("failed for %s", "13600001234")
    out = buf.getvalue()
    for raw in ("13812345678", "11010519491231002X", "110105491231002", "0000-1111", "15900001111", "1234 5678",
                "13700001234", "13600001234"):
        assert raw not in out, raw
    assert "138****5678" in out and "110***********002X" in out and "110********1002" in out
    assert "+86 139****1111" in out and "86159****1111" in out and "186****5678" in out
    assert "ValueError: bad number 137****1234" in out  # the traceback is there, masked
    assert "driver 42 " in out  # other numbers are left alone


def test_redaction_leaves_ids_and_times_alone_and_removes_tokens():
    assert redact("chat -1001234567890 message 4242 at 2026-11-24 09:30:00") == \
        "chat -1001234567890 message 4242 at 2026-11-24 09:30:00"
    assert redact("POST https://api.telegram.org/bot123456:AAE0123456789abcdefghijABCDEFGHIJ-xy/getMe") == \
        "POST https://api.telegram.org/bot<token>/getMe"
    assert redact("url 'http://127.0.0.1:5005/model/parse?token=driverhome-dev-token'") == \
        "url 'http://127.0.0.1:5005/model/parse?token=***'"


def test_json_format_emits_one_parseable_object_per_record(log_to):
    buf = log_to("json")
    log = logging.getLogger("bot.tickets.service")
    log.info("ticket %s created", "SQ-20261124-0007", extra={"ticket": "SQ-20261124-0007", "phone": "13812345678"})
    try:
        1 / 0
    except ZeroDivisionError:
        log.error("boom", exc_info=True)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO" and first["logger"] == "bot.tickets.service"
    assert first["msg"] == "ticket SQ-20261124-0007 created"
    assert first["ticket"] == "SQ-20261124-0007" and first["phone"] == "138****5678"
    datetime.fromisoformat(first["ts"])
    assert second["level"] == "ERROR" and "ZeroDivisionError" in second["exc"]


def test_text_format_is_the_default(log_to):
    buf = log_to()
    logging.getLogger("bot.x").info("hello")
    assert buf.getvalue().rstrip().endswith("INFO bot.x: hello")


class _Records(logging.Handler):
    """Every record as logged, before any filter (to audit what the code itself logs)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))  # as written, before masking


async def test_what_drivers_write_never_reaches_info_logs(bot, log_to):
    buf = log_to("json", level="DEBUG")
    raw = _Records()
    root = logging.getLogger()
    root.handlers.insert(0, raw)  # sees records before the bot's handler masks them
    try:
        question, complaint = "龙溪大道那个限高杆好高啊", "运费三个月不给 老板电话13812345678 身份证11010519491231002X"
        await bot.say(question)
        await bot.say("/complain " + complaint)
        await bot.silent("早上好各位师傅 我电话13912345678")
        await bot.idle()
    finally:
        root.removeHandler(raw)
    loud = [(name, message) for name, level, message in raw.records if level >= logging.INFO]
    assert any(name.startswith("bot.") for name, _ in loud)  # the bot did log at INFO (e.g. the ticket)
    for name, message in loud:
        for secret in (question, "运费三个月不给", "早上好", "13812345678", "13912345678", "11010519491231002X"):
            assert secret not in message, (name, message)
    out = buf.getvalue()
    assert "13812345678" not in out and "13912345678" not in out and "11010519491231002X" not in out
    for line in out.splitlines():
        json.loads(line)


def test_the_filter_masks_records_of_child_loggers_too():
    record = logging.LogRecord("telegram.ext.Application", logging.WARNING, __file__, 1,
                               "update from %s", ("18600001111",), None)
    assert RedactFilter().filter(record) and record.getMessage() == "update from 186****1111"


# -- the real entry point -------------------------------------------------------------------------

def test_driverhome_run_serves_health_and_json_logs_and_stops_on_sigterm(tmp_path):
    """`driverhome run` as deployed: polling, /healthz on server.port, JSON logs, clean SIGTERM."""
    import os
    import signal
    import subprocess
    import time
    import urllib.request

    from conftest import DRIVERHOME

    port = closed_port()
    cfg = write_config(tmp_path, extra=f"server:\n  host: 127.0.0.1\n  port: {port}\n")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("logging:\n  level: WARNING\n",
                                                           "logging:\n  level: INFO\n  format: json\n"),
                   encoding="utf-8")
    with BotApiServer(token=TOKEN) as server:
        group = server.group(-100100, "贵阳货车司机群", type="supergroup", bot_status="administrator")
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": server.base_url}
        proc = subprocess.Popen([DRIVERHOME, "--config", str(cfg), "run"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, proc.communicate()[1]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                        assert resp.status == 200 and json.loads(resp.read())["status"] == "ok"
                        break
                except OSError:
                    assert time.monotonic() < deadline, "no /healthz within 90 s"
                    time.sleep(0.2)
            server.send_text(group, server.user(501, "老王"), "龙溪大道那个限高杆好高啊 电话13812345678")
            [reply] = server.wait_for_sync("sendMessage", chat_id=group, timeout=10)
            assert "5米" in reply.params["text"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                assert 'driverhome_messages_total{decision="answer"} 1.0' in resp.read().decode()
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    records = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert any("long polling" in r["msg"] for r in records) and any("stopping" in r["msg"] for r in records)
    assert "13812345678" not in stderr and "限高杆" not in stderr
