"""The console chat, driven through its input and output."""

from __future__ import annotations

import io
import subprocess

from sqlalchemy import select

from bot.app import App
from bot.config import load_settings
from bot import texts
from bot.console.chat import ConsoleChat
from bot.tickets.models import Ticket
from conftest import DRIVERHOME


def chat(make_config, sample_kb, lines: list[str]) -> str:
    settings = load_settings(make_config())
    from knowledge_base.schema import read_file

    app = App.build(settings, entries=read_file(sample_kb).entries)
    out = io.StringIO()
    ConsoleChat(app, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out).run()
    return out.getvalue()


def test_question_gets_the_answer_and_chitchat_nothing(make_config, sample_kb):
    out = chat(make_config, sample_kb, ["龙溪大道限高是多少", "早上好师傅们"])
    assert "限高5米" in out
    assert out.count("助手：") == 1


def test_suggestion_can_be_picked_by_number(make_config, sample_kb):
    shown = chat(make_config, sample_kb, ["资格证"])
    assert "您是不是想问" in shown and "[2]" in shown
    pick = next(line.split("]")[0].strip(" [") for line in shown.splitlines() if "外省" in line)
    out = chat(make_config, sample_kb, ["资格证", pick])
    assert "带上身份证和驾驶证" in out.split("外省身份证在龙里考货运从业资格证要带什么？】")[-1]


def test_asked_directly_but_unsure_offers_the_closest_entries(make_config, sample_kb):
    assert "助手：" not in chat(make_config, sample_kb, ["党费可以晚点交不"])  # the group is left alone
    shown = chat(make_config, sample_kb, ["/ask 党费可以晚点交不"])
    assert "没把握" in shown and "[1] 党费每个月交多少？" in shown
    out = chat(make_config, sample_kb, ["/ask 党费可以晚点交不", "1"])
    assert "【党费每个月交多少？】" in out


def test_small_talk_asked_directly_gets_no_reading_list(make_config):
    app = App.build(load_settings(make_config()))  # the shipped KB, with the NLU and the inbox
    out = io.StringIO()
    lines = ["/ask 晚安 明天还要早起装货", "/ask 大家好 新人报到 跑贵阳到重庆的", "/ask 车是山东牌照 能在贵阳年减吗", "1"]
    ConsoleChat(app, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out).run()
    text = out.getvalue()
    small_talk, question = text.split("助手：")[1:3], text.split("助手：")[3]
    assert "早起" not in small_talk[0] and all("[1]" not in r and "答不上来" not in r for r in small_talk), text
    assert "您好" in small_talk[1]  # a greeting is greeted back
    pending = [i.text for i in app.inbox.pending(limit=50)]
    assert not any("晚安" in t or "新人报到" in t for t in pending)  # no inbox work for the admin
    assert "没把握" in question and "[1] 货车可以在外地年检吗？" in question
    [item] = [i for i in app.inbox.pending(limit=50) if "山东牌照" in i.text]
    assert item.picked == "vehicle-inspection-elsewhere"  # the console's pick reaches the inbox too
    app.close()


def test_ask_command_always_replies(make_config, sample_kb):
    out = chat(make_config, sample_kb, ["/ask 明天天气咋样"])
    assert "答不上来" in out


def test_driverhome_chat_process_reads_stdin(make_config):
    proc = subprocess.run([DRIVERHOME, "--config", str(make_config()), "chat"], input="龙溪大道限高多少\n/quit\n",
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "5米" in proc.stdout and "再见" in proc.stdout


def test_run_without_token_starts_console(make_config, monkeypatch):
    env = {k: v for k, v in __import__("os").environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    proc = subprocess.run([DRIVERHOME, "--config", str(make_config()), "run"], input="/quit\n", env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "本地聊天" in proc.stdout and "console chat" in proc.stderr


def test_help_names_what_is_switched_on_and_commands_work_as_in_a_group(make_config, sample_kb):
    bare = chat(make_config, sample_kb, ["/help"])  # in memory: no tickets, no study
    assert "/ask" in bare and "#诉求" not in bare and "/today" not in bare
    app = App.build(load_settings(make_config()))
    out = io.StringIO()
    lines = ["/help", "/today", "/complain 卸完货老板不给运费", "/weather", "/ask龙溪大道限高多少"]
    ConsoleChat(app, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out).run()
    replies = out.getvalue().split("助手：")[1:]
    assert "#诉求" in replies[0] and "/complain" in replies[0] and "/today" in replies[0]
    today = app.study.preview(app.settings.console.chat_id)
    assert today.title in replies[1]
    assert "已登记为诉求 SQ-" in replies[2]
    with app.db.session() as s:
        [ticket] = s.scalars(select(Ticket))
    assert (ticket.source, ticket.text, ticket.category) == ("command", "卸完货老板不给运费", "freight_payment")
    assert replies[3].strip() == texts.UNKNOWN_COMMAND
    assert "限高5米" in replies[4]
    app.close()
