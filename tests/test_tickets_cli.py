"""`driverhome tickets ...` as real processes on the same database the bot writes."""

from __future__ import annotations

import csv
import json
import subprocess

from conftest import DRIVERHOME

from bot.config import load_settings
from bot.tickets.cli import _service
from bot.tickets.service import Report

BRANCHES = "branches:\n  - {id: gy, name: 贵阳流动党支部, groups: [-100100], secretaries: [700]}\n"


def run(cfg, *args):
    proc = subprocess.run([DRIVERHOME, "--config", str(cfg), "tickets", *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_list_show_stats_export(make_config, tmp_path):
    cfg = make_config(BRANCHES)
    service = _service(load_settings(cfg))
    a = service.report(Report(user_id=501, text="运费拖欠4200元", chat_id=-100100, user_name="老王"))
    b = service.report(Report(user_id=502, text="息烽服务区厕所没水", chat_id=-100100, user_name="小李"))
    service.act(a.ticket_id, "resolve", 700, "张书记", note="已追回")
    service.db.dispose()

    listed = run(cfg, "list")
    assert b.number in listed and a.number not in listed  # open ones by default
    assert a.number in run(cfg, "list", "--all")
    shown = run(cfg, "show", a.number)
    assert "4200" in shown and "已追回" in shown and "resolved" in shown
    stats = json.loads(run(cfg, "stats", "--json"))
    assert stats["collected"] == 2 and stats["resolved"] == 1 and stats["resolution_rate"] == 0.5
    assert stats["outbox"]["pending"] > 0  # nothing drains them here: they wait for the bot
    assert "办结率 50.0%" in run(cfg, "stats")
    out = tmp_path / "t.csv"
    assert "exported 2" in run(cfg, "export", str(out))
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["number"] for r in rows] == [a.number, b.number]
