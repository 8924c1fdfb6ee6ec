"""Question or ticket: the wording check, the rule that combines it with the NLU and the FAQ,
and what a driver sees in the console (real embedded NLU, shipped KB, SQLite file)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from bot import texts as bot_texts
from bot.app import App
from bot.config import load_settings
from bot.console.chat import ConsoleChat
from bot.tickets import texts as ticket_texts
from bot.tickets.intake import ASK, FILE, complaint_action, tells_how_to_file
from bot.tickets.models import Ticket, TicketDraft
from bot.tickets.settings import TicketSettings
from nlu.understanding import Understanding
from nlu.wording import asks_question

BRANCHES = "branches:\n  - {id: gy, name: 贵阳流动党支部, groups: [-1], secretaries: [700]}\n"


@pytest.mark.parametrize("text", [
    "拉危险品一定要带押运员吗", "超重不到一吨罚不罚款", "我那个六桥半挂 车货一起四十九吨超没超",
    "司机之家有热水没", "遵义到毕节那段路下雪了没有", "高速那个服务热线我忘了 几多号",
    "入党申请往哪交", "我是党员 常年在外跑 组织生活咋过", "困了在应急车道眯一会儿行不哦",
    "半挂多久审一次车", "A2本本换证要带什么", "為什麼ETC扣了兩次錢", "12328按几",
])
def test_questions_are_worded_as_questions(text):
    assert asks_question(text)


@pytest.mark.parametrize("text", [
    "收费站多扣了我一百多过路费", "运费拖了两个月还不给 咋整？？", "老板欠我三千块 电话都不接 咋个办",
    "司机之家的淋浴没热水了 好几天了", "有几个人围着我的车转", "连申诉的入口都没有",
    "挂靠公司啥事都不管", "车坏在半路走不了",
    # asking someone to act is a request, not a question
    "书记能不能帮我反映一下 运费拖了半年", "平台扣了我五百保证金 能帮忙问下不",
])
def test_grievances_and_requests_are_not(text):
    assert not asks_question(text)


def reading(confidence: float, *, asks: bool = False, urgent: bool = False, kind: str = "complaint"):
    return Understanding(kind, "complain_freight_payment" if kind == "complaint" else "ask_question",
                         confidence, "freight_payment" if kind == "complaint" else None, urgent, asks=asks)


@pytest.mark.parametrize("u,faq_answered,action", [
    (reading(0.95), False, FILE),  # a confident complaint that tells what happened
    (reading(0.95), True, FILE),  # ... is filed even when the FAQ answers too
    (reading(0.95, asks=True), False, ASK),  # worded as a question: offered
    (reading(0.95, asks=True), True, None),  # ... unless the FAQ answers it: a question
    (reading(0.95, asks=True, urgent=True), True, FILE),  # urgent: filed whatever the wording
    (reading(0.6), False, ASK),  # unsure, and the FAQ has nothing: offered
    (reading(0.6), True, None),  # unsure, and the FAQ answers: it was a question
    (reading(0.3), False, None),
    (reading(0.99, kind="question"), False, None),
    (None, False, None),
])
def test_complaint_action(u, faq_answered, action):
    assert complaint_action(u, "有件事想说", TicketSettings(), faq_answered) == action


def test_an_urgent_keyword_files_a_complaint_worded_as_a_question():
    worded = reading(0.95, asks=True)
    assert complaint_action(worded, "车着火了 咋个灭", TicketSettings(), False) == FILE
    assert complaint_action(worded, "车冒烟了 咋个灭", TicketSettings(), False) == ASK


def chat(app, lines: list[str]) -> list[str]:
    """Everything the console prints for `lines` (then /quit)."""
    out = io.StringIO()
    ConsoleChat(app, stdin=io.StringIO("\n".join(lines + ["/quit"]) + "\n"),
                stdout=out).run()
    return out.getvalue()


def counts(app) -> tuple[int, int]:
    with app.db.session() as s:
        return s.scalar(select(func.count(Ticket.id))), s.scalar(select(func.count(TicketDraft.id)))


@pytest.fixture
def app(make_config):
    app = App.build(load_settings(make_config(BRANCHES)))
    yield app
    app.close()


def test_question_the_nlu_is_unsure_about_gets_its_answer_and_nothing_else(app):
    text = "驾照扣满12分了咋办"
    u = app.pipeline.nlu.embedded.parse(text)
    assert u.kind == "complaint" and app.settings.tickets.confirm_threshold <= u.confidence \
        < app.settings.tickets.complaint_threshold  # the case under test: an unsure complaint reading
    out = chat(app, [text])
    assert app.kb.get("license-full-points").answer in out
    assert ticket_texts.ASK_CONFIRM not in out and "SQ-" not in out
    assert counts(app) == (0, 0)


def test_question_read_as_a_sure_complaint_gets_its_answer_and_nothing_else(app):
    text = "入党申请能交给我们流动党员支部不"
    u = app.pipeline.nlu.embedded.parse(text)
    assert u.kind == "complaint" and u.confidence >= app.settings.tickets.complaint_threshold and u.asks
    out = chat(app, [text])
    answer = app.kb.ask(text)
    assert answer.decision == "answer" and answer.answer in out
    assert ticket_texts.ASK_AFTER_FAQ not in out and ticket_texts.ASK_CONFIRM not in out and "SQ-" not in out
    assert counts(app) == (0, 0)


def test_grievance_the_faq_also_answers_gets_both(app):
    text = "收费站多扣了我一百多过路费"
    u = app.pipeline.nlu.embedded.parse(text)
    assert u.kind == "complaint" and u.confidence >= app.settings.tickets.complaint_threshold and not u.asks
    out = chat(app, [text])
    answer = app.kb.ask(text)
    assert answer.decision == "answer" and answer.answer in out
    assert "已登记为诉求 SQ-" in out and counts(app) == (1, 0)


def test_a_filed_grievance_gets_no_answer_that_only_tells_how_to_file(app):
    text = "运费拖了两个月"
    u = app.pipeline.nlu.embedded.parse(text)
    assert u.kind == "complaint" and u.confidence >= app.settings.tickets.complaint_threshold and not u.asks
    answer = app.kb.ask(text)
    assert answer.decision == "answer" and tells_how_to_file(answer.answer)  # the case under test
    out = chat(app, [text])
    assert out.count("助手：") == 1 and "已登记为诉求 SQ-" in out and answer.answer not in out
    assert counts(app) == (1, 0)


@pytest.mark.parametrize("answer,tells", [
    ("在群里发“#诉求”加上情况说明，支部书记会帮你协调。", True),
    ("在群里发“/complain 内容”就行。", True),
    ("马上打110报警，然后在群里提诉求，支部会帮你跟进。", False),  # advice beyond filing stays
])
def test_tells_how_to_file(answer, tells):
    assert tells_how_to_file(answer) == tells


def test_question_offered_as_a_complaint_still_shows_the_faq_suggestions(app):
    text = "有个老板叫我先转500信息费再给货 可信不"
    u = app.pipeline.nlu.embedded.parse(text)
    assert u.kind == "complaint" and u.confidence >= app.settings.tickets.complaint_threshold and u.asks
    decision = app.kb.ask(text)
    assert decision.decision == "suggest"  # the case under test: the FAQ is not sure
    out = chat(app, [text])
    first = app.kb.get(decision.suggestions[0]).question
    assert bot_texts.SUGGEST_INTRO in out and first in out
    assert out.index(first) < out.index(ticket_texts.ASK_AFTER_FAQ)
    assert "SQ-" not in out and counts(app) == (0, 1)


def test_question_read_as_chitchat_gets_a_confident_answer_and_chatter_stays_unanswered(app):
    nlu = app.pipeline.nlu.embedded
    question = "云南考的资格证 来贵州跑车认不认"
    u = nlu.parse(question)
    assert u.kind == "chitchat" and u.asks  # the case under test: a question the NLU takes for chatter
    decision = app.kb.ask(question)
    assert decision.decision == "answer"
    # chatter the FAQ would answer, and a cargo ad worded as a question it only has a guess for
    chatter = ["又下雨了", "有没有安顺回贵阳的车 一吨多零担"]
    assert [nlu.parse(t).kind for t in chatter] == ["chitchat", "chitchat"]
    assert [app.kb.ask(t).decision for t in chatter] == ["answer", "suggest"]
    out = chat(app, [question] + chatter)
    assert out.count("助手：") == 1 and decision.answer in out
