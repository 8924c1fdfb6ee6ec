"""Complaints in the local console chat: answered directly (the console has no outbox), while
the secretary's card still waits in the outbox for the Telegram bot."""

from __future__ import annotations

import io

from sqlalchemy import select

from bot.app import App
from bot.config import load_settings
from bot.console.chat import ConsoleChat
from bot.outbox import OutboxRow

BRANCHES = "branches:\n  - {id: gy, name: 贵阳流动党支部, groups: [-1], secretaries: [700]}\n"


def test_console_files_a_complaint_and_adds_a_repeat(make_config):
    app = App.build(load_settings(make_config(BRANCHES)))
    out = io.StringIO()
    lines = ["#诉求 运费拖欠4200元两个月", "#诉求 运费的事有人管吗", "/quit"]
    ConsoleChat(app, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out).run()
    text = out.getvalue()
    assert "已登记为诉求 SQ-" in text and "已补充到您的诉求" in text and "4200" not in text.split("助手：")[1]
    assert "按钮" not in text  # the console shows no details button, so its acknowledgement names none
    with app.db.session() as s:
        rows = list(s.scalars(select(OutboxRow)))
    assert {r.chat_id for r in rows} == {700}  # the card and the addition note; nothing for the console
    app.close()
