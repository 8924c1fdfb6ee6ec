"""Complaints → tickets end to end: the real PTB Application, the real database (a SQLite
file) and the outbox, against the local Bot API stand-in. "Driver writes X, secretary gets
Y, presses Z, driver hears W"."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select
from tg_harness import running_bot, write_config

from bot import texts as common_texts
from bot.app import App
from bot.config import load_settings
from bot.outbox import Drainer, OutboxRow
from bot.tickets.intake import tells_how_to_file
from bot.tickets.models import BranchGroup, Complainant, Ticket, TicketEvent
from bot.tickets.service import Report

SH = timezone(timedelta(hours=8))
SECRETARY, ESCALATION = 700, -100900
BRANCH_CONFIG = f"""
branches:
  - id: gy
    name: 贵阳流动党支部
    groups: [-100100]
    secretaries: [{SECRETARY}]
tickets:
  escalation_chat_id: {ESCALATION}
  watch_interval_s: 0.2
outbox:
  interval_s: 0.3
  backoff_base_s: 0.05
  backoff_max_s: 0.3
"""


@pytest.fixture
def cfg(tmp_path, db_url):
    return write_config(tmp_path, extra=BRANCH_CONFIG, db_url=db_url)


class People:
    """The secretary (who started the bot) and the industry committee's group."""

    def __init__(self, h):
        self.h = h
        self.secretary = h.server.user(SECRETARY, "张书记")
        self.sec_chat = h.server.private(self.secretary)
        self.committee = h.server.group(ESCALATION, "行业党委", type="supergroup", bot_status="administrator")


@pytest.fixture
async def bot(server, cfg):
    async with running_bot(server, cfg) as h:
        h.people = People(h)
        yield h


def text_of(call) -> str:
    return call.params.get("text") or call.params.get("caption") or ""


def buttons(call) -> list[tuple[str, str]]:
    markup = call.params.get("reply_markup") or {}
    return [(b["text"], b.get("callback_data") or b.get("url")) for row in markup.get("inline_keyboard", [])
            for b in row]


def button(call, label: str) -> str:
    return next(data for text, data in buttons(call) if label in text)


async def said(h, chat, needle: str, count: int = 1, timeout: float = 8.0) -> list:
    return await h.server.wait_for("sendMessage", chat_id=chat, count=count, timeout=timeout,
                                   predicate=lambda c: needle in text_of(c))


async def file_complaint(h, text: str, user=None):
    """A driver posts `#诉求 ...` in the group; returns (group ack, secretary card, ticket)."""
    user = user or h.driver
    before = len(h.server.sent("sendMessage", h.people.sec_chat))
    msg = h.server.send_text(h.group, user, f"#诉求 {text}")
    [ack] = await h.server.wait_for(
        "sendMessage", chat_id=h.group, timeout=8,
        predicate=lambda c: "SQ-" in text_of(c) and (c.params.get("reply_parameters") or {}).get("message_id")
        == msg["message_id"])
    cards = await h.server.wait_for("sendMessage", chat_id=h.people.sec_chat, count=before + 1, timeout=8)
    number = next(w for w in text_of(ack).replace("，", " ").split() if w.startswith("SQ-"))
    return ack, cards[-1], h.app.tickets.service.find(number)


async def press(h, call, data: str, user=None):
    """Press a button by its callback data (messages here also carry URL buttons)."""
    return h.server.press(user or h.driver, h.message_of(call), data)


def state(h, ticket) -> Ticket:
    return h.app.tickets.service.find(ticket.number)


# -- the whole flow ----------------------------------------------------------------------------------
async def test_complaint_accept_relay_resolve_rate_close(bot):
    h, p = bot, bot.people
    ack, card, ticket = await file_complaint(h, "老板拖欠运费4200元两个月了，车牌贵A12345，电话13812345678")
    # the group hears the number, who handles it and by when, never the details
    group_text = text_of(ack)
    assert ticket.number in group_text and "贵阳流动党支部" in group_text and "前受理" in group_text
    for secret in ("4200", "贵A12345", "13812345678"):
        assert secret not in group_text
    assert button(ack, "私聊") == f"https://t.me/driverhome_bot?start=tk_{ticket.id}"
    # the secretary's card has everything, and the five buttons
    assert "4200" in text_of(card) and "贵A12345" in text_of(card) and "运费" in text_of(card)
    assert [label for label, _ in buttons(card)] == ["受理", "需补充", "办结", "转上级", "非诉求"]

    # 受理: the driver (no private chat yet) is mentioned in the group, without details
    await press(h, card, button(card, "受理"), user=p.secretary)
    [note] = await said(h, h.group, "有新进展")
    assert "4200" not in text_of(note)
    assert any(e["type"] == "text_link" and e["url"] == "tg://user?id=501"
               for e in h.message_of(note).get("entities", []))
    assert state(h, ticket).state == "accepted"

    # the driver opens the private chat from the button and sends a photo of the waybill
    driver_chat = h.server.private(h.driver)
    opened = await h.say(f"/start tk_{ticket.id}", chat=driver_chat)
    assert ticket.number in text_of(opened)
    h.server.send_document(driver_chat, h.driver, "运单.jpg", b"\xff\xd8fake", caption="运单")
    [doc] = await h.server.wait_for("sendDocument", chat_id=p.sec_chat)
    assert ticket.number in text_of(doc) and "运单" in text_of(doc)

    # replying to the card relays to the driver, now privately
    h.server.send_text(p.sec_chat, p.secretary, "已联系货主，明天打款", reply_to=card.result["message_id"])
    [relayed] = await said(h, driver_chat, "明天打款")
    assert ticket.number in text_of(relayed)
    await said(h, p.sec_chat, "已转给司机")
    assert state(h, ticket).state == "in_progress"

    # 办结 asks for a note; the reply to that prompt resolves and asks the driver to rate
    fresh_card = h.server.sent("sendMessage", p.sec_chat)[0]
    await press(h, fresh_card, button(fresh_card, "办结"), user=p.secretary)
    [prompt] = await said(h, p.sec_chat, "办结说明")
    assert prompt.params["reply_markup"].get("force_reply") is True
    h.server.send_text(p.sec_chat, p.secretary, "4200元运费已追回", reply_to=prompt.result["message_id"])
    [resolved] = await said(h, driver_chat, "已办结")
    assert "4200元运费已追回" in text_of(resolved)
    assert [label for label, _ in buttons(resolved)] == ["😊 满意", "🙂 基本满意", "😞 不满意", "❌ 未解决"]
    assert state(h, ticket).state == "resolved"

    await press(h, resolved, button(resolved, "满意"))
    await h.server.wait_for("editMessageText", predicate=lambda c: "谢谢您的评价" in text_of(c))
    final = state(h, ticket)
    assert final.state == "closed" and final.rating == "satisfied"
    await said(h, p.sec_chat, "评价「满意」")


async def test_unsolved_reopens_the_ticket(bot):
    h, p = bot, bot.people
    driver_chat = h.server.private(h.driver)
    await h.say("/start", chat=driver_chat)  # the driver has a private chat with the bot
    _, card, ticket = await file_complaint(h, "龙里收费站乱罚款200元")
    await press(h, card, button(card, "办结"), user=p.secretary)
    [prompt] = await said(h, p.sec_chat, "办结说明")
    h.server.send_text(p.sec_chat, p.secretary, "已核实，罚款撤销", reply_to=prompt.result["message_id"])
    [resolved] = await said(h, driver_chat, "已办结")
    await press(h, resolved, button(resolved, "未解决"))
    await said(h, p.sec_chat, "重新打开")
    await said(h, driver_chat, "重新交办")
    t = state(h, ticket)
    assert t.state == "reopened" and t.round == 1


async def test_duplicates_are_added_and_linked(bot):
    h, p = bot, bot.people
    _, _, ticket = await file_complaint(h, "息烽服务区晚上被偷油了，损失2000元")
    # the same driver again: added to the open ticket
    again = await h.say("#诉求 息烽服务区偷油的事有人管吗")
    assert "已补充到您的诉求" in text_of(again) and ticket.number in text_of(again)
    # another driver about the same event: linked, not a second ticket
    linked = await h.say("#诉求 息烽服务区昨晚我的车也被抽油了", user=h.other)
    assert "同一件事已有诉求" in text_of(linked) and ticket.number in text_of(linked)
    await said(h, p.sec_chat, "也反映了同一件事")
    with h.app.db.session() as s:
        assert s.scalar(select(Ticket.id).where(Ticket.id != ticket.id)) is None
        people = sorted(s.scalars(select(Complainant.user_id).where(Complainant.ticket_id == ticket.id)))
    assert people == [501, 502]


async def test_deadlines_remind_then_escalate_with_a_moved_clock(bot):
    h, p = bot, bot.people
    admin_chat = h.admin_chat
    clock = h.app.tickets.clock
    start = clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=SH))  # Tuesday morning
    _, _, ticket = await file_complaint(h, "运费拖欠3000元")
    clock.set(start + timedelta(minutes=95))  # 75% of the 2 working hours to accept
    [remind] = await said(h, p.sec_chat, "快到时限")
    assert ticket.number in text_of(remind)
    clock.set(start + timedelta(minutes=125))
    [up] = await said(h, p.committee, "超时上报")
    assert ticket.number in text_of(up) and "受理" in [label for label, _ in buttons(up)]
    await said(h, p.sec_chat, "已上报")
    clock.set(start + timedelta(minutes=245))
    [alarm] = await said(h, admin_chat, "严重超时")
    assert ticket.number in text_of(alarm)
    await h.idle(0.6)  # the watcher keeps running: nothing is sent twice
    assert len(h.server.sent("sendMessage", p.committee)) == 1
    assert state(h, ticket).escalation_level == 2


async def test_a_stranger_cannot_press_the_secretary_buttons(bot):
    h, p = bot, bot.people
    _, card, ticket = await file_complaint(h, "平台压价，一车少给800块")
    for who in (h.other, h.driver):  # the card's callback data pressed by someone else
        await press(h, card, button(card, "办结"), user=who)
        await press(h, card, button(card, "非诉求"), user=who)
    answers = await h.server.wait_for("answerCallbackQuery", count=4)
    assert all(a.params.get("show_alert") is True and "只有本支部书记" in a.params["text"] for a in answers)
    assert state(h, ticket).state == "new"
    # and a rating button in the group is only for the complainant
    await press(h, card, button(card, "办结"), user=p.secretary)
    [prompt] = await said(h, p.sec_chat, "办结说明")
    h.server.send_text(p.sec_chat, p.secretary, "已协调补齐", reply_to=prompt.result["message_id"])
    [ask] = await said(h, h.group, "请点下面按钮评价")
    await press(h, ask, button(ask, "满意"), user=h.other)
    answer = (await h.server.wait_for("answerCallbackQuery", count=6))[-1]
    assert answer.params.get("show_alert") is True
    assert state(h, ticket).state == "resolved"
    await press(h, ask, button(ask, "基本满意"))
    await h.server.wait_for("editMessageText", predicate=lambda c: "谢谢您的评价" in text_of(c))
    assert state(h, ticket).rating == "basically"


async def test_failing_bot_api_still_delivers_every_notification_once(bot):
    h, p = bot, bot.people
    h.server.fail("sendMessage", 500, times=6)
    h.server.fail("sendMessage", 429, times=2, retry_after=1)
    messages = [h.server.send_text(h.group, user, f"#诉求 {text}") for user, text in (
        (h.driver, "运费拖欠1000元"), (h.other, "息烽服务区厕所坏了没人修"), (h.admin, "龙里收费站乱收费"))]
    await h.server.wait_for("sendMessage", chat_id=h.group, count=3, timeout=20,
                            predicate=lambda c: "已登记为诉求" in text_of(c))
    await h.server.wait_for("sendMessage", chat_id=p.sec_chat, count=3, timeout=20)
    await h.idle(1.0)
    acks = [c for c in h.server.sent("sendMessage", h.group) if "已登记为诉求" in text_of(c)]
    replied_to = Counter(c.params["reply_parameters"]["message_id"] for c in acks)
    assert replied_to == Counter(m["message_id"] for m in messages)  # each exactly once
    cards = h.server.sent("sendMessage", p.sec_chat)
    assert len(cards) == 3 and len({text_of(c) for c in cards}) == 3
    assert len(h.server.sent("sendMessage", failed=True)) == 8
    with h.app.db.session() as s:
        rows = list(s.scalars(select(OutboxRow)))
    assert all(r.state == "sent" for r in rows) and any(r.attempts > 1 for r in rows)


async def test_driver_who_blocked_the_bot_gets_the_group_mention_instead(bot):
    h, p = bot, bot.people
    driver_chat = h.server.private(h.driver)
    await h.say("/start", chat=driver_chat)
    _, card, ticket = await file_complaint(h, "运费拖欠2500元")
    h.server.block(h.driver)
    await press(h, card, button(card, "受理"), user=p.secretary)
    [mention] = await said(h, h.group, "有新进展")
    assert "2500" not in text_of(mention)
    assert h.server.sent("sendMessage", driver_chat, failed=True)  # tried privately first
    with h.app.db.session() as s:
        failed = s.scalar(select(OutboxRow).where(OutboxRow.chat_id == 501, OutboxRow.state == "failed"))
    assert failed is not None and "blocked" in failed.last_error


async def test_unreachable_secretary_falls_back_to_the_committee(server, tmp_path, db_url):
    cfg = write_config(tmp_path, extra=BRANCH_CONFIG.replace(f"[{SECRETARY}]", "[701]"), db_url=db_url)
    async with running_bot(server, cfg) as h:
        committee = server.group(ESCALATION, "行业党委", type="supergroup", bot_status="administrator")
        server.user(701, "李书记")  # never started the bot: Telegram refuses to write to him
        h.server.send_text(h.group, h.driver, "#诉求 运费拖欠6000元")
        [fallback] = await said(h, committee, "发不到书记")
        assert "6000" in text_of(fallback) and "受理" in [label for label, _ in buttons(fallback)]


async def test_killed_between_commit_and_send_sends_each_notification_once(server, cfg):
    # 1) a process commits tickets (and their outbox rows), claims some rows, and dies
    app = App.build(load_settings(cfg))
    service = app.tickets.service
    for user, text in ((501, "运费拖欠1000元"), (502, "平台收费太高"), (503, "服务区被偷油了")):
        service.report(Report(user_id=user, text=text, chat_id=-100100, user_name=f"司机{user}", message_id=None))
    dead = Drainer(app.db, sender=None, settings=app.tickets.outbox.model_copy(update={"batch": 2}),
                   clock=service.clock)
    claimed = dead.claim()
    assert len(claimed) == 2  # leased to a worker that will never finish
    with app.db.session() as s:
        keys = [r.key for r in s.scalars(select(OutboxRow))]
    app.close()
    assert len(keys) == 6  # 3 group replies + 3 cards

    # 2) a fresh process on the same database file sends each exactly once
    async with running_bot(server, cfg) as h:
        h.people = People(h)
        await h.server.wait_for("sendMessage", count=4, timeout=30)
        await h.idle(0.5)
        assert len(server.sent("sendMessage")) == 4  # the leased rows wait for the lease
        h.app.tickets.clock.advance(timedelta(seconds=h.app.tickets.outbox.lease_s + 1))  # the dead lease expires
        await h.server.wait_for("sendMessage", count=6, timeout=30)
        await h.idle(1.0)
    sent = server.sent("sendMessage")
    assert len(sent) == 6 and len({(c.params["chat_id"], text_of(c)) for c in sent}) == 6
    # 3) and another restart sends nothing again
    async with running_bot(server, cfg) as h:
        await h.idle(1.0)
    assert len(server.sent("sendMessage")) == 6


class StubNlu:
    """Our NLU protocol (`parse(text)`), answering with a fixed reading."""

    def __init__(self, confidence: float, category: str = "freight_payment"):
        self.confidence, self.category = confidence, category

    async def parse(self, text: str):
        from types import SimpleNamespace

        return SimpleNamespace(kind="complaint", intent="complain_freight_payment", confidence=self.confidence,
                               category=self.category, urgent=False, entities=[])


async def test_nlu_confidence_decides_ticket_or_question(bot):
    h, p = bot, bot.people
    h.app.pipeline.nlu = StubNlu(0.95)
    # The FAQ knows this one: its answer goes out beside the acknowledgement (which takes the
    # outbox, so either may arrive first).
    decision = h.app.kb.ask("收费站多扣了我一百多过路费")
    assert decision.decision == "answer" and not tells_how_to_file(decision.answer)
    h.server.send_text(h.group, h.driver, "收费站多扣了我一百多过路费")
    [direct] = await said(h, h.group, "已登记为诉求")
    [answer] = await said(h, h.group, decision.answer)
    assert text_of(answer) == decision.answer
    t = h.app.tickets.service.find(next(w for w in text_of(direct).replace("，", " ").split() if w.startswith("SQ-")))
    assert t.category == "freight_payment" and t.source == "nlu"
    # An answer that only tells how to file is left out: the driver has just filed.
    how_to_file = h.app.kb.ask("运费要不到，咋办？")
    assert how_to_file.decision == "answer" and tells_how_to_file(how_to_file.answer)
    h.server.send_text(h.group, h.server.user(509, "老李"), "运费要不到，咋办？")
    await said(h, h.group, "已登记为诉求", count=2)
    await h.idle()
    assert not any(how_to_file.answer in text_of(c) for c in h.server.sent("sendMessage", h.group))

    h.app.pipeline.nlu = StubNlu(0.6, "platform")
    h.server.send_text(h.group, h.other, "那个平台抽成又涨了")  # the FAQ's guesses go out beside the offer
    await said(h, h.group, "您是不是想问")
    [question] = await said(h, h.group, "登记成诉求")
    await press(h, question, button(question, "登记诉求"))  # not the driver who wrote it
    [refused] = await h.server.wait_for("answerCallbackQuery")
    assert refused.params.get("show_alert") is True
    await press(h, question, button(question, "登记诉求"), user=h.other)
    ack = (await said(h, h.group, "已登记为诉求", count=3))[-1]
    assert ack.params["reply_parameters"]["message_id"] == question.params["reply_parameters"]["message_id"]
    await said(h, p.sec_chat, "平台", count=1)


async def test_a_secretary_s_private_help_lists_the_ticket_commands(bot):
    h, p = bot, bot.people
    text = text_of(await h.say("/help", user=p.secretary, chat=p.sec_chat))
    assert "/tickets" in text and "/study_time" in text and "/faq_add" not in text


async def test_voice_note_adds_to_an_open_ticket_and_is_otherwise_asked_as_text(bot):
    h, p = bot, bot.people
    driver_chat = h.server.private(h.driver)
    h.server.send_voice(driver_chat, h.driver, b"OggS-fake-opus", duration=7)  # no ticket open
    [asked] = await said(h, driver_chat, "看不懂")
    assert text_of(asked) == common_texts.MEDIA_UNREADABLE

    _, _, ticket = await file_complaint(h, "在龙里服务区被偷了两桶油")
    await h.say(f"/start tk_{ticket.id}", chat=driver_chat)
    h.server.send_voice(driver_chat, h.driver, b"OggS-what-happened", duration=12)
    [voice] = await h.server.wait_for("sendVoice", chat_id=p.sec_chat, timeout=8)
    assert ticket.number in voice.params["caption"]
    assert h.server.files[voice.params["voice"]].content == b"OggS-what-happened"  # the driver's own note
    await said(h, driver_chat, "已补充到诉求")
    h.server.send_video(driver_chat, h.driver, b"mp4-dashcam", duration=30, caption="行车记录仪拍到的")
    [video] = await h.server.wait_for("sendVideo", chat_id=p.sec_chat, timeout=8)
    assert h.server.files[video.params["video"]].content == b"mp4-dashcam" and "行车记录仪" in video.params["caption"]
    await said(h, driver_chat, "已补充到诉求", count=2)
    assert len(h.server.sent("sendMessage", driver_chat)) == 4  # the ask, the ticket, two additions: no "看不懂"
    with h.app.db.session() as s:
        notes = list(s.scalars(select(TicketEvent.note).where(TicketEvent.ticket_id == ticket.id,
                                                              TicketEvent.action == "added")))
    assert notes == ["[语音]", "行车记录仪拍到的"]


async def test_evidence_sent_privately_right_after_filing_goes_with_the_ticket(bot):
    h, p = bot, bot.people
    driver_chat = h.server.private(h.driver)
    await h.say("/complain 龙里服务区晚上车被撬了 丢了一个备胎", chat=driver_chat)  # filed privately...
    [ack] = await said(h, driver_chat, "已登记为诉求")
    assert "直接发给我" in text_of(ack) and buttons(ack)
    number = next(w for w in text_of(ack).replace("，", " ").split() if w.startswith("SQ-"))
    h.server.send_photo(driver_chat, h.driver, PNG + b"pry-marks")  # ...and the photo right after, no button
    [photo] = await h.server.wait_for("sendPhoto", chat_id=p.sec_chat, timeout=8)
    assert number in photo.params["caption"] and h.server.files[photo.params["photo"]].content == PNG + b"pry-marks"
    [added] = await said(h, driver_chat, "已补充到诉求")
    assert number in text_of(added)
    answer = await h.say("龙溪大道限高多少", chat=driver_chat)  # text in that window is still a question
    assert "5米" in text_of(answer)

    _, _, ticket = await file_complaint(h, "在龙里服务区被偷了两桶油", user=h.other)  # filed in the group
    other_chat = h.server.private(h.other)
    h.server.send_voice(other_chat, h.other, b"OggS-the-night", duration=9)
    [voice] = await h.server.wait_for("sendVoice", chat_id=p.sec_chat, timeout=8)
    assert ticket.number in voice.params["caption"]
    stranger = h.server.private(h.server.user(777, "路人"))  # no ticket: still asked for text
    h.server.send_photo(stranger, h.server.user(777, "路人"), b"\xff\xd8")
    [asked] = await said(h, stranger, "看不懂")
    assert text_of(asked) == common_texts.MEDIA_UNREADABLE


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + b"scratch"


async def test_a_photo_with_a_complaint_as_its_caption_goes_with_the_ticket(bot):
    h, p = bot, bot.people
    h.server.send_photo(h.group, h.driver, PNG, caption="#诉求 车在龙里服务区被撬了 油箱也被划了")
    [ack] = await said(h, h.group, "已登记为诉求")
    [card] = await said(h, p.sec_chat, "新诉求")
    [photo] = await h.server.wait_for("sendPhoto", chat_id=p.sec_chat, timeout=8)
    number = next(w for w in text_of(ack).replace("，", " ").split() if w.startswith("SQ-"))
    assert number in text_of(card) and number in photo.params["caption"]
    assert h.server.files[photo.params["photo"]].content == PNG  # the driver's own photo, by its file id
    assert card.result["message_id"] < photo.result["message_id"]  # the card first, then the evidence
    ticket = h.app.tickets.service.find(number)
    with h.app.db.session() as s:
        notes = list(s.scalars(select(TicketEvent.note).where(TicketEvent.ticket_id == ticket.id,
                                                              TicketEvent.action == "added")))
    assert ticket.text == "车在龙里服务区被撬了 油箱也被划了" and notes == ["[照片]"]

    # offered with buttons first (an unsure reading): the photo waits in the draft
    h.app.pipeline.nlu = StubNlu(0.6, "platform")
    h.server.send_photo(h.group, h.other, PNG + b"2", caption="那个平台抽成又涨了")
    [question] = await said(h, h.group, "登记成诉求")
    await press(h, question, button(question, "登记诉求"), user=h.other)
    later = (await h.server.wait_for("sendPhoto", chat_id=p.sec_chat, count=2, timeout=8))[-1]
    assert h.server.files[later.params["photo"]].content == PNG + b"2"


async def test_a_group_upgraded_to_a_supergroup_keeps_its_branch_tickets_and_study_time(bot):
    h, p = bot, bot.people
    _, card, ticket = await file_complaint(h, "龙里服务区晚上有人偷油 丢了两桶")
    h.app.chats.joined(h.group["id"], "group", h.group["title"])
    h.app.study.set_schedule(h.group["id"], 501, send_time=time(6, 45))
    new = h.server.migrate(h.group, h.driver)  # both chats get their service message
    await h.idle()
    assert state(h, ticket).chat_id == new["id"]
    assert not h.app.chats.get(h.group["id"]).active and h.app.chats.get(new["id"]).active
    assert h.app.study.schedule(new["id"]).send_time == time(6, 45)
    with h.app.db.session() as s:
        moved = s.get(BranchGroup, new["id"])
        assert (moved.branch_id, moved.source) == ("gy", "moved")
    await press(h, card, button(card, "受理"), user=p.secretary)  # the driver hears it in the new group
    [note] = await said(h, new["id"], "有新进展")
    assert ticket.number in text_of(note)
    h.server.send_text(new, h.other, "#诉求 货运平台扣了我500块保证金 一直不退")  # and files there again
    await said(h, new["id"], "已登记为诉求")
    second = (await said(h, p.sec_chat, "贵阳流动党支部", count=2))[-1]  # the branch still knows the group
    assert "新诉求" in text_of(second) and "保证金" in text_of(second)


async def test_a_notice_to_a_group_upgraded_unannounced_follows_it_to_the_new_id(bot):
    h, p = bot, bot.people
    _, card, ticket = await file_complaint(h, "龙里服务区晚上有人偷油 丢了两桶")
    new = h.server.migrate(h.group, h.driver, announce=False)  # the bot learns it from the failed send
    await press(h, card, button(card, "受理"), user=p.secretary)
    [note] = await said(h, new["id"], "有新进展")
    assert ticket.number in text_of(note) and state(h, ticket).chat_id == new["id"]
    assert not h.server.sent("sendMessage", h.group["id"], failed=False)[1:]  # only the first ack got there


async def test_private_message_without_nlu_is_offered_as_a_complaint(bot):
    h = bot
    h.app.pipeline.nlu = None  # the case under test, whatever NLU the app was built with
    chat = h.server.private(h.other)
    offer = await h.say("我在龙里被货主扣了押金3000块", user=h.other, chat=chat)
    assert "要不要登记成诉求" in text_of(offer)
    await press(h, offer, button(offer, "登记诉求"), user=h.other)
    [ack] = await said(h, chat, "已登记为诉求")
    t = h.app.tickets.service.find(next(w for w in text_of(ack).replace("，", " ").split() if w.startswith("SQ-")))
    assert t.chat_id is None and t.branch_id == "gy" and t.reporter_id == 502


async def test_complain_command_and_secretary_commands(bot):
    h, p = bot, bot.people
    usage = await h.say("/complain")
    assert "用法" in text_of(usage)
    await h.say("/complain 运费拖欠8000元三个月", wait=False)
    await said(h, h.group, "已登记为诉求")
    await said(h, p.sec_chat, "8000")
    listing = await h.say("/tickets", user=p.secretary, chat=p.sec_chat)
    assert "待办诉求（1）" in text_of(listing)
    number = next(w for w in text_of(listing).split() if w.startswith("SQ-"))
    detail = await h.say(f"/ticket {number}", user=p.secretary, chat=p.sec_chat)
    assert "8000" in text_of(detail) and "created" in text_of(detail) and buttons(detail)
    stats = await h.say("/stats", user=p.secretary, chat=p.sec_chat)
    assert "收到 1" in text_of(stats) and "办结率" in text_of(stats)
    h.server.send_text(p.sec_chat, p.secretary, "/report")
    [photo] = await h.server.wait_for("sendPhoto", timeout=15)
    assert photo.params["photo"].content.startswith(b"\x89PNG") and "办结率" in photo.params["caption"]
    h.server.send_text(p.sec_chat, p.secretary, "/export")
    [doc] = await h.server.wait_for("sendDocument")
    rows = list(csv.DictReader(io.StringIO(doc.params["document"].content.decode("utf-8-sig"))))
    assert [r["number"] for r in rows] == [number]
    refused = await h.say("/stats", user=h.other, chat=h.server.private(h.other))
    assert "书记和管理员" in text_of(refused)


async def test_bind_secretary_in_the_group(bot):
    h = bot
    chief = h.server.user(800, "群主")
    h.server.set_member(h.group, chief, "creator")
    target_msg = h.server.send_text(h.group, h.other, "我来当书记")
    await h.idle(0.3)
    refused = await h.say("/bind_secretary", user=h.driver, reply_to=target_msg)  # not a group admin
    assert "群管理员" in text_of(refused)
    ask = await h.say("/bind_secretary", user=chief, reply_to=target_msg)
    assert "小李" in text_of(ask)
    await press(h, ask, buttons(ask)[0][1], user=h.driver)  # only the named person may confirm
    [no] = await h.server.wait_for("answerCallbackQuery")
    assert no.params.get("show_alert") is True
    await press(h, ask, buttons(ask)[0][1], user=h.other)
    await h.server.wait_for("editMessageText", predicate=lambda c: "已担任" in text_of(c))
    service = h.app.tickets.service
    with service.db.session() as s:
        from bot.tickets.branches import BranchDirectory

        assert 502 in BranchDirectory.secretaries(s, "gy")
