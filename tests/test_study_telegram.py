"""Daily study end to end: the real bot (PTB, job queue, SQLite file) against the Bot API
stand-in, with the study clock under test control."""

from __future__ import annotations

import pytest
import yaml
from study_helpers import Clock, register, settle, study_config, study_posts
from tg_harness import running_bot, write_config

from bot.study.ledger import SendLedger
from bot.study.models import SENT, UNKNOWN
from bot.study.settings import StudySettings

DAY1 = "2026-03-02"  # a Monday
DAY2 = "2026-03-03"


@pytest.fixture
def cfg(tmp_path, db_url):
    return write_config(tmp_path, study_config(), db_url=db_url)


def polls(server, chat) -> list:
    return server.sent("sendPoll", chat)


async def test_item_and_quiz_go_out_at_the_group_time(server, cfg):
    clock = Clock(f"{DAY1} 07:29:00")
    async with running_bot(server, cfg, clock=clock) as h:
        group = register(h, -100501, "遵义车队")
        await settle()
        assert study_posts(server, group) == []  # not yet
        expected = h.app.study.preview(group["id"])  # what `study today` would print
        clock.set(f"{DAY1} 07:30:00")
        [post] = await server.wait_for("sendMessage", chat_id=group, timeout=5)
        assert f"【{expected.title}】" in post.params["text"] and expected.body in post.params["text"]
        assert "3月2日" in post.params["text"]
        [quiz] = await server.wait_for("sendPoll", chat_id=group, timeout=5)
        assert quiz.params["type"] == "quiz" and quiz.params["is_anonymous"] is False
        assert quiz.params["correct_option_ids"] == [expected.quiz.answer]
        assert quiz.params["reply_parameters"]["message_id"] == post.result["message_id"]
        await settle(0.3)  # the bot records the answer it got
        rec = h.app.study.ledger.get(group["id"], clock.now.date())
        assert (rec.state, rec.item_id, rec.message_id) == (SENT, expected.id, post.result["message_id"])
        assert rec.poll_id == quiz.result["poll"]["id"]
        await settle()
        assert len(study_posts(server, group)) == 1 and len(polls(server, group)) == 1


async def test_restart_neither_repeats_nor_skips(server, cfg):
    clock = Clock(f"{DAY1} 07:30:00")
    async with running_bot(server, cfg, clock=clock) as h:
        group = register(h, -100502, "毕节车队")
        clock.set(f"{DAY1} 07:00:00")
        await settle(0.3)
        clock.set(f"{DAY1} 07:30:00")
        await server.wait_for("sendPoll", chat_id=group)
        first = study_posts(server, group)[0].params["text"]
    clock.set(f"{DAY1} 07:31:00")
    async with running_bot(server, cfg, clock=clock):
        await settle(1.0)
        assert len(study_posts(server, group)) == 1 and len(polls(server, group)) == 1
    clock.set(f"{DAY2} 07:30:00")
    async with running_bot(server, cfg, clock=clock):
        await server.wait_for("sendPoll", chat_id=group, count=2)
        posts = study_posts(server, group)
        assert len(posts) == 2 and posts[1].params["text"].split("【")[1] != first.split("【")[1]


async def test_catch_up_after_downtime_and_crash_recovery(server, cfg):
    clock = Clock(f"{DAY1} 06:00:00")
    async with running_bot(server, cfg, clock=clock) as h:
        down = register(h, -100503, "安顺车队")
        claimed = register(h, -100504, "铜仁车队")
        in_flight = register(h, -100505, "六盘水车队")
        await settle(0.4)  # schedules exist from 06:00
        assert study_posts(server, down) == []
        # a process that died at 07:30: one claim not yet sent, one request in flight
        dead = SendLedger(h.app.db, owner="dead-process")
        day = clock.now.date()
        dead.claim(claimed["id"], day, "law-seat-belt", 0, True, clock.now)
        send_id = dead.claim(in_flight["id"], day, "law-tunnel", 0, True, clock.now)
        assert dead.start(send_id, clock.now)
    clock.set(f"{DAY1} 09:15:00")  # back after the downtime, before the 12:00 cutoff
    async with running_bot(server, cfg, clock=clock) as h:
        await server.wait_for("sendPoll", chat_id=down)
        await server.wait_for("sendPoll", chat_id=claimed)
        [post] = study_posts(server, claimed)
        assert "系上才管用" in post.params["text"]  # the claimed item, not a new pick
        await settle(0.5)
        assert study_posts(server, in_flight) == []  # may have been posted: never twice
        ledger = h.app.study.ledger
        assert ledger.get(in_flight["id"], day).state == UNKNOWN
        assert ledger.get(claimed["id"], day).state == SENT
    clock.set(f"{DAY2} 13:00:00")  # too late for day 2: skipped, not sent in the afternoon
    async with running_bot(server, cfg, clock=clock) as h:
        await settle(0.8)
        assert len(study_posts(server, down)) == 1
        assert h.app.study.ledger.get(down["id"], clock.now.date()) is None


async def test_time_and_switch_commands_need_a_group_admin(server, cfg):
    clock = Clock(f"{DAY1} 06:00:00")
    async with running_bot(server, cfg, clock=clock) as h:
        group = h.group
        h.app.chats.joined(group["id"], "supergroup", group["title"])
        refused = await h.say("/study_time 06:45")
        assert "管理员" in refused.params["text"]
        assert h.app.study.schedule(group["id"]).send_time.strftime("%H:%M") == "07:30"
        server.set_member(group, h.driver, "administrator")
        done = await h.say("/study_time 6:45")
        assert "06:45" in done.params["text"]
        shown = await h.say("/study_time", user=h.other)  # anyone may look
        assert "06:45" in shown.params["text"] and "已开启" in shown.params["text"]
        clock.set(f"{DAY1} 06:44:00")
        await settle(0.4)
        assert study_posts(server, group) == []
        clock.set(f"{DAY1} 06:45:00")
        await server.wait_for("sendPoll", chat_id=group)
        assert len(study_posts(server, group)) == 1

        refused = await h.say("/study_off", user=h.other)
        assert "管理员" in refused.params["text"]
        off = await h.say("/study_off")
        assert "已关闭" in off.params["text"]
        clock.set(f"{DAY2} 06:50:00")
        await settle(0.5)
        assert len(study_posts(server, group)) == 1  # switched off: nothing on day 2
        on = await h.say("/study_on")
        assert "已开启" in on.params["text"]
        await server.wait_for("sendPoll", chat_id=group, count=2)  # still within the day's window
        assert len(study_posts(server, group)) == 2

        private = await h.say("/study_off", user=h.driver, chat=server.private(h.driver))
        assert "群里" in private.params["text"]


async def test_today_shows_the_item_anywhere(server, cfg):
    clock = Clock(f"{DAY1} 07:00:00")
    async with running_bot(server, cfg, clock=clock) as h:
        group = h.group
        h.app.chats.joined(group["id"], "supergroup", group["title"])
        expected = h.app.study.preview(group["id"])
        early = await h.say("/today")
        assert f"【{expected.title}】" in early.params["text"] and "还没到推送时间" in early.params["text"]
        clock.set(f"{DAY1} 07:30:00")
        await server.wait_for("sendPoll", chat_id=group)
        later = await h.say("/today", user=h.other)
        assert f"【{expected.title}】" in later.params["text"] and "还没到" not in later.params["text"]
        private = await h.say("/today", chat=server.private(h.driver))
        assert "【" in private.params["text"] and "每日学习" in private.params["text"]


async def test_quiz_answers_are_recorded_and_counted(server, cfg):
    clock = Clock(f"{DAY1} 07:30:00")
    async with running_bot(server, cfg, clock=clock) as h:
        group = h.group
        h.app.chats.joined(group["id"], "supergroup", group["title"])
        clock.set(f"{DAY1} 07:00:00")
        await settle(0.3)
        for n, day in enumerate((DAY1, DAY2), start=1):
            clock.set(f"{day} 07:30:00")
            quizzes = await server.wait_for("sendPoll", chat_id=group, count=n)
            poll = quizzes[-1].result["poll"]
            right = quizzes[-1].params["correct_option_ids"][0]
            wrong = (right + 1) % len(poll["options"])
            server.poll_answer(poll["id"], h.driver, [right])
            if n == 1:
                server.poll_answer(poll["id"], h.other, [wrong])
        await h.idle(0.4)
        stats = await h.say("/study_stats")
        text = stats.params["text"]
        assert "已推送 2 天" in text and "2 人答题 3 次" in text and "正确率 67%" in text
        assert "老王：答题 2 次，答对 2 次，连续打卡 2 天" in text
        assert "小李：答题 1 次，答对 0 次，连续打卡 1 天" in text  # today is not over yet
        # a changed answer replaces the earlier one
        server.poll_answer(quizzes[-1].result["poll"]["id"], h.driver, [wrong])
        await h.idle(0.4)
        week = h.app.study.stats.week(group["id"], clock.now.date().replace(day=2), clock.now.date().replace(day=8),
                                      clock.now.date())
        driver = next(m for m in week.members if m.user_id == h.driver["id"])
        assert (driver.answers, driver.correct) == (2, 1)


async def test_failures_are_retried_and_removed_groups_stop(server, cfg):
    clock = Clock(f"{DAY1} 07:00:00")
    async with running_bot(server, cfg, clock=clock) as h:
        flaky = register(h, -100506, "凯里车队")
        kicked = register(h, -100507, "都匀车队")
        limited = register(h, -100508, "兴义车队")
        await settle(0.3)
        server.set_member(kicked, {"id": h.application.bot.id}, "kicked")  # removed while the bot was away
        server.fail("sendMessage", 500, times=1)  # the first item send hits a server error
        clock.set(f"{DAY1} 07:30:00")
        await server.wait_for("sendPoll", timeout=8)  # one of the two others went through
        failed = await server.wait_for("sendMessage", failed=True, count=2)
        assert sorted(c.error["error_code"] for c in failed) == [403, 500]
        day = clock.now.date()
        await settle(0.3)
        retried = [g for g in (flaky, limited) if h.app.study.ledger.get(g["id"], day).state != SENT]
        assert len(retried) == 1  # exactly one of them got the 500
        clock.advance(seconds=31)  # retry_after_s: 30
        await server.wait_for("sendPoll", chat_id=retried[0], timeout=5)
        assert not h.app.chats.get(kicked["id"]).active
        server.fail("sendPoll", 429, retry_after=1)  # RetryAfter: PTB's limiter waits and retries
        clock.set(f"{DAY2} 07:30:00")
        await server.wait_for("sendPoll", chat_id=flaky, count=2, timeout=8)
        await server.wait_for("sendPoll", chat_id=limited, count=2, timeout=8)
        assert server.sent("sendMessage", kicked) == []
        assert h.app.study.ledger.get(kicked["id"], clock.now.date()) is None


async def test_a_group_upgraded_unannounced_gets_its_item_under_the_new_id(server, cfg):
    clock = Clock(f"{DAY1} 07:00:00")
    async with running_bot(server, cfg, clock=clock) as h:
        group = register(h, -100509, "毕节车队")
        await settle(0.3)
        expected = h.app.study.preview(group["id"])
        new = server.migrate(group, {"id": 501, "is_bot": False, "first_name": "老王"}, announce=False)
        clock.set(f"{DAY1} 07:30:00")  # the push hits the old id, learns the new one and goes there
        [post] = await server.wait_for("sendMessage", chat_id=new, timeout=8)
        assert f"【{expected.title}】" in post.params["text"]
        await server.wait_for("sendPoll", chat_id=new, timeout=5)
        await settle(0.3)
        assert h.app.study.ledger.get(new["id"], clock.now.date()).state == SENT
        assert h.app.chats.get(new["id"]).active and not h.app.chats.get(group["id"]).active


async def test_weekly_summary_goes_to_the_secretary_once(server, tmp_path, db_url):
    branches = ("branches:\n  - id: zunyi\n    name: 遵义货车司机党支部\n    groups: [-100100]\n"
                "    secretaries: [777001]\n")
    cfg = write_config(tmp_path, study_config() + branches, db_url=db_url)
    clock = Clock("2026-03-01 06:00:00")  # Sunday
    async with running_bot(server, cfg, clock=clock) as h:
        group = h.group
        h.app.chats.joined(group["id"], "supergroup", group["title"])
        secretary = server.user(777001, "张书记")
        server.private(secretary)  # the secretary has started the bot
        allowed = await h.say("/study_time 07:00", user=secretary)  # not a group admin, but the secretary
        assert "07:00" in allowed.params["text"]
        clock.set("2026-03-01 07:00:00")
        [quiz] = await server.wait_for("sendPoll", chat_id=group)
        server.poll_answer(quiz.result["poll"]["id"], h.driver, quiz.params["correct_option_ids"])
        await h.idle(0.3)
        clock.set("2026-03-02 06:59:00")
        await settle(0.4)
        assert server.sent("sendMessage", secretary) == []
        clock.set("2026-03-02 08:00:00")
        [summary] = await server.wait_for("sendMessage", chat_id=secretary)
        text = summary.params["text"]
        assert "遵义货车司机党支部" in text and group["title"] in text and "1 人答题 1 次" in text
        assert "2月23日–3月1日" in text
        await settle(0.5)
    async with running_bot(server, cfg, clock=clock):
        await settle(0.6)
        assert len(server.sent("sendMessage", secretary)) == 1  # once, also across a restart


async def test_admin_imports_adds_and_exports_the_library(server, cfg):
    async with running_bot(server, cfg, clock=Clock(f"{DAY1} 05:00:00")) as h:
        chat = h.admin_chat
        library = h.app.study.library
        before = library.count()
        bad = yaml.safe_dump({"items": [{"id": "new-one", "title": "标题", "body": "正文", "source": "来源",
                                         "quiz": {"question": "题", "options": ["甲"], "answer": 3}}]},
                             allow_unicode=True).encode()
        server.send_document(chat, h.admin, "study-new.yml", bad)
        [report] = await server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "没有导入" in c.params["text"])
        assert "entry #1 (new-one): quiz.options" in report.params["text"]
        good = yaml.safe_dump({"items": [{"id": "new-one", "title": "新的学习内容", "body": "正文内容", "source": "测试",
                                          "quiz": {"question": "选哪个？", "options": ["甲", "乙"], "answer": 1}}]},
                              allow_unicode=True).encode()
        server.send_document(chat, h.admin, "study-new.yml", good)
        [confirm] = await server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "确认导入" in c.params["text"])
        assert library.get("new-one") is None  # nothing before the confirm
        await h.press(confirm, 0, user=h.admin, chat=chat)
        await server.wait_for("editMessageText", predicate=lambda c: "学习库导入完成" in c.params["text"])
        assert library.get("new-one").quiz.answer == 1 and library.count() == before + 1
        assert not server.sent("sendMessage", chat, failed=None)[-1].params["text"].startswith("文件里有")

        for text in ("/study_add", "司机之家怎么找", "导航里搜司机之家。", "测试来源", "司机之家", "-", "哪里找？",
                     "导航\n问交警", "1"):
            await h.say(text, user=h.admin, chat=chat)
        preview = await h.say("-", user=h.admin, chat=chat)
        assert preview.params["text"].startswith("预览") and "司机之家怎么找" in preview.params["text"]
        assert h.replies(chat)[-2].params["text"].startswith("答案解析")  # no FAQ answer in between
        await h.press(preview, 0, user=h.admin, chat=chat)
        await server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "已新增" in c.params["text"])
        added = [i for i in library.all() if i.title == "司机之家怎么找"]
        assert added and added[0].quiz.options == ["导航", "问交警"] and added[0].quiz.answer == 0

        await h.say("/study_export", user=h.admin, chat=chat, wait=False)
        [doc] = await server.wait_for("sendDocument")
        exported = yaml.safe_load(doc.params["document"].content.decode("utf-8"))
        assert len(exported["items"]) == before + 2
        refused = await h.say("/study_export", user=h.driver, chat=server.private(h.driver))
        assert "管理员" in refused.params["text"]


def test_study_settings_reject_bad_values():
    with pytest.raises(ValueError):
        StudySettings(send_time="25:00")
    with pytest.raises(ValueError):
        StudySettings(timezone="Mars/Olympus")
    assert StudySettings(send_time="7:05").send_time == "07:05"
