"""Tickets and the outbox without any chat platform: calendar, grading, the state machine,
duplicates and linking, the SLA watcher with a moved clock, stats, CSV, and the drainer's
retries, leases and fallbacks (with a scripted Sender: the outbox's own protocol)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.chats import AdminDirectory
from bot.clock import Clock
from bot.outbox import Drainer, OutboxRow, RetryLater, Undeliverable, enqueue
from bot.outbox.settings import OutboxSettings
from bot.tickets import texts
from bot.tickets.calendar import WorkCalendar
from bot.tickets.export import export_csv
from bot.tickets.grading import Grader
from bot.tickets.models import Complainant, Ticket, TicketEvent
from bot.tickets.service import Report, TicketError, TicketService
from bot.tickets.settings import BranchSettings, TicketSettings
from bot.tickets.stats import compute, render
from bot.tickets.watcher import SlaWatcher

SH = timezone(timedelta(hours=8))
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=SH)  # a Tuesday, 10:00 in Shanghai
GROUP, SECRETARY, ADMIN, DRIVER, OTHER = -100100, 700, 900, 501, 502


@pytest.fixture
def svc(db):
    clock = Clock()
    clock.set(TUESDAY_10)
    branches = [BranchSettings(id="gy", name="贵阳流动党支部", groups=[GROUP], secretaries=[SECRETARY])]
    service = TicketService(db, TicketSettings(escalation_chat_id=-100900), branches=branches,
                            admins=AdminDirectory(db, [ADMIN]), clock=clock)
    service.branches.sync(branches)
    return service


def outbox(db, **where) -> list[OutboxRow]:
    with db.session() as s:
        q = select(OutboxRow).order_by(OutboxRow.id)
        for k, v in where.items():
            q = q.where(getattr(OutboxRow, k) == v)
        return list(s.scalars(q))


def report(svc, text, user=DRIVER, **kw) -> object:
    return svc.report(Report(user_id=user, text=text, chat_id=kw.pop("chat_id", GROUP), user_name=f"司机{user}",
                             message_id=kw.pop("message_id", 10), **kw))


# -- calendar and grading ------------------------------------------------------------------------
def test_working_days_skip_weekends_and_holidays():
    cal = WorkCalendar(holidays=[date(2026, 11, 26)], extra_workdays=[date(2026, 11, 29)])
    # Tuesday + 2 working days: Wed (25), [Thu 26 holiday], Fri (27) -> Friday 18:00 Shanghai
    assert cal.add_workdays(TUESDAY_10, 2) == datetime(2026, 11, 27, 18, 0, tzinfo=SH)
    # Friday + 1: Saturday off, Sunday 29 is a make-up working day
    assert cal.add_workdays(datetime(2026, 11, 27, 12, 0, tzinfo=SH), 1) == datetime(2026, 11, 29, 18, 0, tzinfo=SH)
    # 120 working minutes from Friday 17:00 -> 60 on Friday, 60 on Sunday (make-up day) 9:00-10:00
    fri = datetime(2026, 11, 27, 17, 0, tzinfo=SH)
    assert cal.add_working_minutes(fri, 120) == datetime(2026, 11, 29, 10, 0, tzinfo=SH)
    # at night the clock starts at 9:00 the next working morning
    assert WorkCalendar().add_working_minutes(datetime(2026, 11, 24, 23, 0, tzinfo=SH), 30) == \
        datetime(2026, 11, 25, 9, 30, tzinfo=SH)
    assert cal.describe(datetime(2026, 11, 25, 9, 0, tzinfo=SH), TUESDAY_10) == "明天 09:00"


def test_grades_and_deadlines_follow_12328_defaults():
    settings = TicketSettings()
    grader = Grader(settings, WorkCalendar())
    assert grader.grade("emergency", False, "车坏了") == "urgent"
    assert grader.grade("theft", False, "有人正在偷油，救命") == "urgent"
    assert grader.grade("freight_payment", False, "运费拖了两个月") == "normal"
    urgent = grader.deadlines("urgent", TUESDAY_10)
    assert urgent.accept == TUESDAY_10 + timedelta(minutes=30)
    normal = grader.deadlines("normal", TUESDAY_10)
    assert normal.accept == TUESDAY_10 + timedelta(hours=2)
    assert normal.progress == datetime(2026, 11, 26, 18, 0, tzinfo=SH)
    assert normal.resolve == datetime(2026, 12, 1, 18, 0, tzinfo=SH)


def test_details_and_category_without_nlu():
    from bot.tickets.extract import categorize, extract

    found = extract("在息烽服务区被偷油了，车牌贵A·12345，损失2千元，电话13812345678")
    assert {"entity": "amount", "value": "2000"} in found and {"entity": "plate", "value": "贵A12345"} in found
    assert {"entity": "phone", "value": "13812345678"} in found and {"entity": "place", "value": "息烽服务区"} in found
    assert categorize("运费要不到，咋办？") == "freight_payment"
    assert categorize("半夜油箱被人抽油") == "theft"
    assert categorize("平台又压价") == "platform"
    assert categorize("路政乱罚款") == "enforcement"
    assert categorize("司机之家没热水") == "facility"
    assert categorize("今天天气不错") == "other"


# -- the state machine -------------------------------------------------------------------------------
def test_created_ticket_is_committed_with_its_notifications(svc, db):
    out = report(svc, "老板拖欠运费4200元两个月了，车牌贵A12345，电话13812345678")
    assert out.kind == "created" and out.number == "SQ-20261124-0001"
    t = svc.find(out.number)
    assert t.state == "new" and t.branch_id == "gy" and t.grade == "normal"
    assert {"entity": "amount", "value": "4200"} in t.entities
    rows = outbox(db)
    group_ack = [r for r in rows if r.chat_id == GROUP]
    cards = [r for r in rows if r.chat_id == SECRETARY]
    assert len(group_ack) == 1 and len(cards) == 1
    ack = group_ack[0].payload["text"]
    assert out.number in ack and "4200" not in ack and "贵A12345" not in ack and "138" not in ack
    assert "4200" in cards[0].payload["text"] and cards[0].payload["buttons"]
    assert report(svc, "另一件事：服务区厕所没水", user=OTHER).number == "SQ-20261124-0002"


def test_only_the_branch_secretary_and_admins_can_act(svc):
    t = svc.find(report(svc, "运费拖欠3000元").number)
    with pytest.raises(TicketError):
        svc.act(t.id, "accept", OTHER)
    with pytest.raises(TicketError):
        svc.act(t.id, "accept", DRIVER)
    assert svc.act(t.id, "accept", SECRETARY).ticket.state == "accepted"
    assert svc.act(t.id, "need_info", ADMIN).ticket.state == "need_info"
    with pytest.raises(TicketError):  # a wrong state is refused too
        svc.act(t.id, "reopen", SECRETARY)


def test_full_lifecycle_with_need_info_resolve_rate(svc, db):
    t = svc.find(report(svc, "运费拖欠3000元").number)
    svc.act(t.id, "accept", SECRETARY)
    svc.act(t.id, "need_info", SECRETARY)
    svc.add_detail(DRIVER, t.id, "合同照片我晚点发")
    assert svc.find(t.number).state == "accepted"  # back to where it was
    res = svc.act(t.id, "resolve", SECRETARY)  # asks for the note first
    assert res.ticket.state == "accepted"
    assert outbox(db, ref=f"tk:{t.id}:note")
    svc.act(t.id, "resolve", SECRETARY, note="已追回运费3000元")
    t = svc.find(t.number)
    assert t.state == "resolved" and t.resolution == "已追回运费3000元" and t.followup_due is not None
    with pytest.raises(TicketError):
        svc.rate(t.id, OTHER, "s")
    svc.rate(t.id, DRIVER, "s")
    t = svc.find(t.number)
    assert t.state == "closed" and t.rating == "satisfied"
    with db.session() as s:
        actions = [e.action for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                                              .order_by(TicketEvent.id))]
    assert actions[:2] == ["created", "accepted"] and "info_added" in actions and actions[-2:] == ["rated", "closed"]


def test_unsolved_reopens_with_fresh_deadlines(svc):
    t = svc.find(report(svc, "运费拖欠3000元").number)
    svc.act(t.id, "resolve", SECRETARY, note="已协调")
    svc.clock.advance(timedelta(days=1))
    svc.rate(t.id, DRIVER, "x")
    t2 = svc.find(t.number)
    assert t2.state == "reopened" and t2.round == 1 and t2.resolved_at is None
    assert t2.resolve_due > t.resolve_due


def test_same_driver_repeating_adds_to_the_open_ticket(svc):
    first = report(svc, "息烽服务区晚上被偷油了，损失2000元")
    again = report(svc, "息烽服务区偷油的事有人管吗", message_id=11)
    assert again.kind == "added" and again.number == first.number
    other = report(svc, "平台抽成太高了", message_id=12)  # a different matter: a new ticket
    assert other.kind == "created"
    svc.clock.advance(timedelta(hours=25))  # the next day: a new ticket
    assert report(svc, "息烽服务区偷油的事有人管吗", message_id=13).kind == "created"


def test_media_sent_privately_goes_to_the_ticket_reported_within_the_details_window(svc):
    assert svc.media_ticket(DRIVER) is None
    first = svc.find(report(svc, "运费拖欠3000元").number)
    assert svc.media_ticket(DRIVER) == first.id and svc.media_ticket(OTHER) is None
    assert svc.active_ticket(DRIVER) is None  # text still goes to the FAQ: only media are taken
    svc.clock.advance(timedelta(minutes=10))
    second = svc.find(report(svc, "平台抽成太高了", message_id=11).number)
    assert svc.media_ticket(DRIVER) == second.id  # the newest report
    svc.act(second.id, "reject", SECRETARY, note="不是诉求")
    assert svc.media_ticket(DRIVER) == first.id  # a finished ticket takes nothing
    svc.clock.advance(timedelta(minutes=svc.settings.details_window_min))
    assert svc.media_ticket(DRIVER) is None  # too late: the details button opens it again
    svc.open_details(DRIVER, first.id)
    assert svc.media_ticket(DRIVER) == first.id


def test_several_drivers_about_one_event_are_linked(svc, db):
    first = report(svc, "在息烽服务区晚上被偷油了", user=DRIVER)
    second = report(svc, "息烽服务区昨晚我的车也被抽油了", user=OTHER, message_id=20)
    assert second.kind == "linked" and second.number == first.number
    with db.session() as s:
        people = s.scalars(select(Complainant.user_id).where(Complainant.ticket_id == first.ticket_id)).all()
    assert sorted(people) == [DRIVER, OTHER]
    # an unrelated report from the second driver is its own ticket
    assert report(svc, "龙里收费站乱罚款", user=OTHER, message_id=21).kind == "created"
    # resolution asks both; the case closes when both have answered
    svc.act(first.ticket_id, "resolve", SECRETARY, note="已报警并加强巡逻")
    svc.rate(first.ticket_id, DRIVER, "s")
    assert svc.find(first.number).state == "resolved"
    svc.rate(first.ticket_id, OTHER, "b")
    assert svc.find(first.number).state == "closed"


def test_concurrent_writers_do_not_overwrite_each_other(svc, db):
    from sqlalchemy.orm.exc import StaleDataError

    t = svc.find(report(svc, "运费拖欠3000元").number)
    with pytest.raises(StaleDataError):
        with db.session() as first:
            mine = first.get(Ticket, t.id)  # read...
            with db.session() as second:  # ...meanwhile someone else changes it and commits
                second.get(Ticket, t.id).escalation_level = 1
            mine.state = "closed"  # ...and this write, based on the stale read, is refused
    after = svc.find(t.number)
    assert after.escalation_level == 1 and after.state == "new"
    assert svc.act(t.id, "accept", SECRETARY).ticket.state == "accepted"  # later writers carry on


# -- the SLA watcher ---------------------------------------------------------------------------------
def test_watcher_reminds_escalates_then_tells_admins(svc, db):
    watcher = SlaWatcher(svc)
    t = svc.find(report(svc, "运费拖欠3000元").number)  # accept within 2 working hours: 12:00
    assert watcher.run() == {}
    svc.clock.set(TUESDAY_10 + timedelta(minutes=95))  # 75% used
    assert watcher.run()["reminded"] == 1
    assert watcher.run() == {}  # idempotent
    svc.clock.set(TUESDAY_10 + timedelta(minutes=121))
    assert watcher.run()["escalated"] == 1
    assert [r for r in outbox(db) if r.chat_id == -100900 and "超时" in r.payload["text"]]
    svc.clock.set(TUESDAY_10 + timedelta(minutes=241))
    assert watcher.run()["to_admins"] == 1
    assert [r for r in outbox(db) if r.chat_id == ADMIN and "严重超时" in r.payload["text"]]
    assert svc.find(t.number).escalation_level == 2
    assert watcher.run() == {}


def test_watcher_follows_up_then_closes_without_rating(svc, db):
    watcher = SlaWatcher(svc)
    t = svc.find(report(svc, "运费拖欠3000元").number)
    svc.act(t.id, "resolve", SECRETARY, note="已追回")
    svc.clock.advance(timedelta(days=3))  # past the 2-working-day follow-up
    assert watcher.run()["followups"] == 1
    svc.clock.advance(timedelta(days=5))
    assert watcher.run()["auto_closed"] == 1
    t = svc.find(t.number)
    assert t.state == "closed" and t.rating is None


# -- numbers ---------------------------------------------------------------------------------------------
def test_stats_and_csv(svc, db):
    a = svc.find(report(svc, "运费拖欠3000元", category="freight_payment").number)
    b = svc.find(report(svc, "息烽服务区厕所没水", user=OTHER, category="facility").number)
    c = svc.find(report(svc, "问一下ETC怎么办", user=503).number)
    svc.clock.advance(timedelta(minutes=30))
    svc.act(a.id, "resolve", SECRETARY, note="已追回")
    svc.rate(a.id, DRIVER, "s")
    svc.act(b.id, "accept", SECRETARY)
    svc.act(c.id, "reject", SECRETARY)
    st = compute(db, now=svc.clock.now(), days=30)
    assert (st.collected, st.resolved, st.rejected) == (3, 1, 1)
    assert st.resolution_rate == 0.5 and st.on_time_rate == 1.0 and st.satisfaction == 1.0
    assert st.median_first_response_min == pytest.approx(30, abs=1)
    assert st.by_category["运费拖欠"] == [1, 1]
    text = render(st, "全部支部")
    assert "办结率 50.0%" in text and "满意度 100.0%" in text
    rows = list(csv.DictReader(io.StringIO(export_csv(db, svc.calendar, now=svc.clock.now()).lstrip("\ufeff"))))
    assert [r["number"] for r in rows] == [a.number, b.number, c.number]
    assert rows[0]["state"] == "closed" and rows[0]["on_time"] == "yes" and rows[0]["rating"] == "满意"
    assert compute(db, now=svc.clock.now(), branches=["nope"]).collected == 0


def test_private_report_goes_to_the_only_branch(svc, db):
    out = svc.report(Report(user_id=DRIVER, text="运费拖欠5000元", chat_id=None, user_name="老王", message_id=3))
    t = svc.find(out.number)
    assert t.branch_id == "gy" and t.chat_id is None
    [ack] = [r for r in outbox(db) if r.chat_id == DRIVER]
    assert ack.payload["buttons"] == [[{"label": texts.BTN_DETAILS, "start": f"tk_{t.id}"}]]
    assert ack.payload["text"].endswith(texts.ACK_DETAILS_PRIVATE)  # no "私聊我": this is the private chat


# -- the outbox ----------------------------------------------------------------------------------------------
class ScriptedSender:
    """Fails as scripted per key, then succeeds; records every delivery."""

    def __init__(self, script: dict[str, list[Exception]] | None = None):
        self.script = script or {}
        self.delivered: list[tuple[int, str]] = []
        self.calls = 0

    async def send(self, message):
        self.calls += 1
        await asyncio.sleep(0)
        errors = self.script.get(message.key)
        if errors:
            raise errors.pop(0)
        self.delivered.append((message.chat_id, message.key))
        return 1000 + len(self.delivered)


FAST = OutboxSettings(backoff_base_s=0.01, backoff_max_s=0.05, max_attempts=4, batch=10)


def _put(db, clock, key, chat, payload=None):
    with db.session() as s:
        return enqueue(s, key, chat, payload or {"text": key}, now=clock.now())


async def test_outbox_retries_with_backoff_then_delivers_once(db):
    clock = Clock()
    sender = ScriptedSender({"a": [RetryLater("429", retry_after=0.02), RetryLater("500")]})
    drainer = Drainer(db, sender, FAST, clock)
    _put(db, clock, "a", 1)
    assert _put(db, clock, "a", 1) is None  # idempotent by key
    for _ in range(50):
        await drainer.drain()
        if sender.delivered:
            break
        await asyncio.sleep(0.01)
    assert sender.delivered == [(1, "a")]
    [row] = outbox(db)
    assert row.state == "sent" and row.attempts == 3 and row.message_id == 1001
    await drainer.drain()
    assert sender.delivered == [(1, "a")]


async def test_outbox_gives_up_records_and_falls_back(db):
    clock = Clock()
    sender = ScriptedSender({"down": [RetryLater("500")] * 10, "blocked": [Undeliverable("forbidden: blocked")]})
    drainer = Drainer(db, sender, FAST, clock)
    _put(db, clock, "down", 1)
    _put(db, clock, "blocked", 2, {"text": "hi", "fallback": {"chat_id": -5, "payload": {"text": "group"}}})
    for _ in range(100):
        await drainer.drain()
        if all(r.state != "pending" for r in outbox(db)):
            break
        await asyncio.sleep(0.01)
    rows = {r.key: r for r in outbox(db)}
    assert rows["down"].state == "failed" and rows["down"].attempts == 4 and "500" in rows["down"].last_error
    assert rows["blocked"].state == "failed" and "blocked" in rows["blocked"].last_error
    assert rows["blocked:fb"].state == "sent" and (-5, "blocked:fb") in sender.delivered


async def test_outbox_keeps_each_chat_in_order(db):
    clock = Clock()
    sender = ScriptedSender({"c1-1": [RetryLater("500")]})
    drainer = Drainer(db, sender, FAST, clock)
    for key, chat in (("c1-1", 1), ("c2-1", 2), ("c1-2", 1), ("c2-2", 2)):
        _put(db, clock, key, chat)
    for _ in range(50):
        await drainer.drain()
        if len(sender.delivered) == 4:
            break
        await asyncio.sleep(0.01)
    chat1 = [k for c, k in sender.delivered if c == 1]
    assert chat1 == ["c1-1", "c1-2"]


async def test_two_drainers_never_send_a_row_twice_and_leases_expire(db):
    clock = Clock()
    sender = ScriptedSender()
    one, two = Drainer(db, sender, FAST, clock), Drainer(db, sender, FAST, clock)
    for i in range(30):
        _put(db, clock, f"k{i}", i % 7)
    await asyncio.gather(one.drain(), two.drain())
    assert sorted(k for _, k in sender.delivered) == sorted(f"k{i}" for i in range(30))
    # a worker that claimed and died: its rows wait for the lease, then another takes them
    _put(db, clock, "orphan", 1)
    dead = Drainer(db, sender, FAST, clock)
    assert [r.key for r in dead.claim()] == ["orphan"]
    await one.drain()
    assert ("orphan" not in [k for _, k in sender.delivered])
    clock.advance(timedelta(seconds=FAST.lease_s + 1))
    await one.drain()
    assert [k for _, k in sender.delivered].count("orphan") == 1


async def test_a_chat_waiting_for_a_retry_does_not_hold_up_the_others(db):
    clock = Clock()
    sender = ScriptedSender({"x-0": [RetryLater("500")]})
    drainer = Drainer(db, sender, FAST.model_copy(update={"backoff_base_s": 30, "backoff_max_s": 30}), clock)
    for i in range(60):  # many rows for one chat whose first message keeps failing...
        _put(db, clock, f"x-{i}", 1)
    _put(db, clock, "y", 2)  # ...and one for another chat, far down the table
    await drainer.drain()
    await drainer.drain()
    assert [k for _, k in sender.delivered] == ["y"]  # chat 1 waits in order, chat 2 is not starved
