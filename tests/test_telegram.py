"""The Telegram bot end to end: a real PTB Application over HTTP against the stand-in."""

from __future__ import annotations

import asyncio
import time

import pytest
import yaml

from bot import texts
from tg_harness import running_bot, write_config


@pytest.fixture
def cfg(tmp_path):
    return write_config(tmp_path)


@pytest.fixture
async def bot(server, cfg):
    async with running_bot(server, cfg) as h:
        yield h


def buttons(call) -> list[tuple[str, str]]:
    markup = call.params.get("reply_markup") or {}
    return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]


async def test_group_question_is_answered_with_feedback_buttons(bot):
    reply = await bot.say("龙溪大道那个限高杆好高啊")
    assert "5米" in reply.params["text"]
    assert reply.params["reply_parameters"]["message_id"] == reply.params["reply_parameters"]["message_id"]
    labels = [label for label, _ in buttons(reply)]
    assert labels == ["👍有用", "👎没用", "转人工"]


async def test_chitchat_and_ads_are_ignored(bot):
    await bot.silent("早上好各位师傅")
    await bot.silent("贵阳到昆明 17米5平板 求货 13812345678")
    await bot.silent("今天太堵了")


async def test_suggestions_then_tap_shows_the_answer(bot):
    reply = await bot.say("党费")
    assert reply.params["text"] == "您是不是想问："
    options = buttons(reply)
    assert 2 <= len(options) <= 3
    before = len(bot.replies())
    await bot.press(reply, options[0][1])
    [shown] = (await bot.server.wait_for("sendMessage", chat_id=bot.group, count=before + 1))[before:]
    entry = bot.app.kb.get(options[0][1].split(":", 1)[1])
    assert entry.answer in shown.params["text"]
    await bot.server.wait_for("answerCallbackQuery")
    # a suggestion means the wording is worth a look: it is in the admins' inbox
    assert any(item.text == "党费" for item in bot.app.inbox.pending(limit=50))


async def test_feedback_is_recorded_once_per_member(bot):
    reply = await bot.say("驾驶证扣满12分了怎么办")
    up = buttons(reply)[0][1]
    faq_id = bot.app.answers.get(int(up.split(":")[1])).faq_id
    down = buttons(reply)[1][1]
    await bot.press(reply, up)
    await bot.press(reply, up)  # the same member again: not counted twice
    await bot.press(reply, down, user=bot.other)
    await bot.server.wait_for("answerCallbackQuery", count=3)
    await bot.idle(0.2)
    assert bot.app.answers.votes(faq_id) == {"up": 1, "down": 1}
    toasts = [c.params.get("text") for c in bot.server.sent("answerCallbackQuery")]
    assert "您已经反馈过啦" in toasts
    assert any(item.text == "驾驶证扣满12分了怎么办" for item in bot.app.inbox.pending(limit=50))


async def test_handover_notifies_admins(bot):
    reply = await bot.say("驾驶证扣满12分了怎么办")
    await bot.press(reply, buttons(reply)[2][1])
    [note] = await bot.server.wait_for("sendMessage", chat_id=bot.admin_chat)
    assert "驾驶证扣满12分了怎么办" in note.params["text"]


async def test_repeated_question_points_to_the_earlier_answer(bot):
    first = await bot.say("龙溪大道限高多少")
    second = await bot.say("龙溪大道限高是多少米", user=bot.other)
    assert second.params["text"].startswith("这个问题刚回答过")
    assert second.params["reply_parameters"]["message_id"] == first.result["message_id"]


async def test_mention_reply_and_ask_command_always_get_an_answer(bot):
    reply = await bot.say("/ask 明天贵阳下不下雨")
    assert reply.params["text"] in (texts.NOT_SURE, texts.NOT_SURE_HINTS)  # with the closest entries, if any
    mention = await bot.say("@driverhome_bot 股票能买不", user=bot.other)
    assert "答不上来" in mention.params["text"]
    item_texts = [i.text for i in bot.app.inbox.pending(limit=50)]
    assert "明天贵阳下不下雨" in item_texts


async def test_asked_directly_but_unsure_offers_the_closest_entries(bot):
    question = "车是山东牌照 能在贵阳年减吗"
    await bot.silent(question)  # not sure enough to speak up in the group unasked
    reply = await bot.say(f"@driverhome_bot {question}", user=bot.other)
    assert reply.params["text"] == texts.NOT_SURE_HINTS
    options = buttons(reply)
    assert 1 <= len(options) <= 3 and ("货车可以在外地年检吗？", "faq:vehicle-inspection-elsewhere") in options
    before = len(bot.replies())
    await bot.press(reply, "faq:vehicle-inspection-elsewhere", user=bot.other)
    [shown] = (await bot.server.wait_for("sendMessage", chat_id=bot.group, count=before + 1))[before:]
    assert "异地检验" in shown.params["text"]
    [item] = [i for i in bot.app.inbox.pending(limit=50) if question in i.text]
    assert item.picked == "vehicle-inspection-elsewhere"  # the asker's pick is kept for the admin


async def test_the_askers_pick_leads_the_admins_choices(bot):
    question = "车是山东牌照 能在贵阳年减吗"
    reply = await bot.say(f"/ask {question}", user=bot.other)
    options = [d for _, d in buttons(reply)]
    other_option = next(d for d in options if d != "faq:vehicle-inspection-elsewhere")
    await bot.press(reply, other_option)  # someone else's curiosity says nothing about the question
    await bot.server.wait_for("answerCallbackQuery")
    assert [i.picked for i in bot.app.inbox.pending(limit=50) if question in i.text] == [None]
    await bot.press(reply, "faq:vehicle-inspection-elsewhere", user=bot.other)
    await bot.server.wait_for("answerCallbackQuery", count=2)
    chat = bot.admin_chat
    await bot.say("/faq_pending", user=bot.admin, chat=chat)
    [card] = await bot.server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: question in c.params["text"])
    assert "提问的司机点开了：货车可以在外地年检吗？" in card.params["text"]
    alt = [d for label, d in buttons(card) if "同义" in label][0]
    await bot.press(card, alt, user=bot.admin, chat=chat)
    [choices] = await bot.server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "加到哪一条" in c.params["text"])
    assert buttons(choices)[0][0] == "货车可以在外地年检吗？"


async def test_bots_and_edits_are_ignored(bot):
    robot = bot.server.user(777, "别的机器人", is_bot=True)
    await bot.silent("龙溪大道限高多少", user=robot)
    msg = bot.server.send_text(bot.group, bot.driver, "大家好")
    await bot.idle(0.3)
    before = len(bot.replies())
    bot.server.edit_text(msg, "龙溪大道限高多少")
    await bot.idle()
    assert len(bot.replies()) == before
    bot.server.edit_text(msg, "/help",  # commands included
                         entities=[{"type": "bot_command", "offset": 0, "length": 5}])
    await bot.idle()
    assert len(bot.replies()) == before
    await bot.say("/ask 龙溪大道限高多少")  # a command sent, not edited, is answered
    assert len(bot.replies()) == before + 1


async def test_flood_guard_limits_help_in_groups(bot):
    for _ in range(6):
        bot.server.send_text(bot.group, bot.driver, "/help")
    await bot.idle(1.0)
    assert len(bot.replies()) == 4  # flood_rate 4/minute, as for answers
    chat = bot.server.private(bot.driver)
    for _ in range(6):  # in a private chat, every time
        bot.server.send_text(chat, bot.driver, "/help")
    await bot.idle(1.0)
    assert len(bot.replies(chat)) == 6


async def test_flood_guard_limits_one_member(bot):
    questions = ["龙溪大道限高多少", "党费怎么交", "驾驶证扣满12分了怎么办", "12328是什么电话",
                 "疲劳驾驶怎么算", "六轴车限重多少"]
    for q in questions:
        bot.server.send_text(bot.group, bot.driver, q)
    await bot.idle(1.0)
    assert len(bot.replies()) == 4  # flood_rate 4/minute
    chat = bot.server.private(bot.driver)
    for q in questions:  # a private chat disturbs nobody: every question gets its reply
        bot.server.send_text(chat, bot.driver, q)
    await bot.idle(1.0)
    assert len(bot.replies(chat)) == len(questions)


async def test_unknown_commands_get_a_pointer_to_help_when_meant_for_the_bot(bot):
    chat = bot.server.private(bot.driver)
    reply = await bot.say("/weather 贵阳", chat=chat)
    assert reply.params["text"] == texts.UNKNOWN_COMMAND
    await bot.silent("/weather")  # a bare command in a group may be for another bot
    await bot.silent("/weather@other_bot")
    reply = await bot.say("/weather@driverhome_bot")
    assert reply.params["text"] == texts.UNKNOWN_COMMAND
    before = len(bot.replies(chat))  # commands some handler takes get only that handler's reply
    for command in ("/today", "/complain", "/faq_list", "/study_show"):  # taken in three handler groups
        bot.server.send_text(chat, bot.driver, command)
    await bot.idle(1.0)
    replies = [c.params["text"] for c in bot.replies(chat)[before:]]
    assert len(replies) == 4 and texts.UNKNOWN_COMMAND not in replies, replies


async def test_photo_captions_are_read_and_bare_media_get_asked_for_text(bot):
    bot.server.send_photo(bot.group, bot.driver, b"\xff\xd8jpeg", caption="龙溪大道这个限高是多少")
    [answer] = await bot.server.wait_for("sendMessage", chat_id=bot.group)
    assert "5米" in answer.params["text"]
    bot.server.send_photo(bot.group, bot.driver, b"\xff\xd8jpeg")  # in a group a bare photo is left alone...
    bot.server.send_voice(bot.group, bot.other, b"OggS", duration=2,
                          reply_to=answer.result["message_id"])  # ...unless it answers the bot
    chat = bot.server.private(bot.driver)
    bot.server.send_photo(chat, bot.driver, b"\xff\xd8jpeg")
    bot.server.send_voice(chat, bot.driver, b"OggS", duration=3)
    bot.server.send_document(chat, bot.driver, "罚单.pdf", b"%PDF-1.4")
    bot.server.send_document(bot.admin_chat, bot.admin, "罚单.pdf", b"%PDF-1.4")  # not an FAQ file to import
    await bot.idle(1.0)
    assert [c.params["text"] for c in bot.replies()[1:]] == [texts.MEDIA_UNREADABLE]
    assert [c.params["text"] for c in bot.replies(chat)] == [texts.MEDIA_UNREADABLE] * 3
    assert [c.params["text"] for c in bot.replies(bot.admin_chat)] == [texts.MEDIA_UNREADABLE]


async def test_a_question_in_flight_while_its_group_is_upgraded_is_answered_in_the_new_group(bot):
    bot.app.chats.joined(bot.group["id"], "group", bot.group["title"])
    new = bot.server.migrate(bot.group, bot.admin, announce=False)  # the bot has not heard of it yet
    bot.server.send_text(bot.group, bot.driver, "/faq_list")  # sent just before the upgrade; its refusal
    await bot.idle(1.0)  # goes straight from the admin handler: lost, but the group is followed
    assert not bot.app.chats.get(bot.group["id"]).active and bot.app.chats.get(new["id"]).active
    assert not bot.server.sent("sendMessage", bot.admin_chat)  # an expected refusal, not an error to report
    bot.server.send_text(bot.group, bot.driver, "龙溪大道限高多少")
    [answer] = await bot.server.wait_for("sendMessage", chat_id=new["id"], timeout=8)
    assert "5米" in answer.params["text"]
    bot.server.send_text(bot.group, bot.other, "/help")  # a handler's own reply follows the group too
    [_, help_text] = await bot.server.wait_for("sendMessage", chat_id=new["id"], count=2, timeout=8)
    assert "#诉求" in help_text.params["text"]


async def test_cancel_with_nothing_to_cancel_says_so(bot):
    chat = bot.admin_chat
    assert (await bot.say("/cancel", chat=chat, user=bot.admin)).params["text"] == texts.NOTHING_TO_CANCEL
    for start in ("/faq_add", "/study_add"):  # conversations in two handler groups
        await bot.say(start, chat=chat, user=bot.admin)
        before = len(bot.replies(chat))
        bot.server.send_text(chat, bot.admin, "/cancel")
        await bot.idle(1.0)
        assert [c.params["text"] for c in bot.replies(chat)[before:]] == [texts.CANCELLED], start


async def test_help_names_complaints_and_study_and_in_private_the_askers_commands(bot):
    text = (await bot.say("/help")).params["text"]
    assert "#诉求" in text and "/complain" in text and "/today" in text
    assert "/faq_add" not in text and "/tickets" not in text
    driver = (await bot.say("/help", chat=bot.server.private(bot.driver))).params["text"]
    assert "/complain" in driver and "/faq_add" not in driver and "/tickets" not in driver
    admin = (await bot.say("/help", chat=bot.admin_chat, user=bot.admin)).params["text"]
    assert "/faq_add" in admin and "/study_add" in admin and "/tickets" in admin  # admins handle tickets too
    assert (await bot.say("/help", user=bot.admin)).params["text"] == text  # the group hears no admin commands


async def test_added_to_group_registers_and_welcomes(bot):
    new_group = bot.server.group(-100200, "遵义车队")
    bot.server.my_chat_member(new_group, bot.driver, "left", "member")
    [welcome] = await bot.server.wait_for("sendMessage", chat_id=new_group)
    assert "管理员" in welcome.params["text"] and "/help" in welcome.params["text"]
    assert bot.app.chats.get(-100200).active
    bot.server.my_chat_member(new_group, bot.driver, "member", "left")
    await bot.idle()
    assert not bot.app.chats.get(-100200).active


async def test_stale_updates_are_skipped(bot):
    bot.server.send_text(bot.group, bot.driver, "龙溪大道限高多少", date=time.time() - 3600)
    await bot.idle()
    assert bot.replies() == []


async def test_non_admin_is_refused_politely(bot):
    chat = bot.server.private(bot.driver)
    reply = await bot.say("/faq_add", chat=chat)
    assert "管理员" in reply.params["text"]
    reply = await bot.say("/faq_del longxi-height", chat=chat)
    assert "管理员" in reply.params["text"]
    assert bot.app.kb.get("longxi-height") is not None


async def add_entry(bot, question: str, alternates: str, answer: str, tags: str):
    chat = bot.admin_chat
    for text in ("/faq_add", question, alternates, answer):
        await bot.say(text, user=bot.admin, chat=chat)
    preview = await bot.say(tags, user=bot.admin, chat=chat)
    assert preview.params["text"].startswith("预览")
    await bot.press(preview, buttons(preview)[0][1], user=bot.admin, chat=chat)
    return (await bot.server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "马上生效" in c.params["text"]))[-1]


async def test_admin_adds_edits_and_deletes_live(bot):
    q = "息烽服务区晚上有没有热水洗澡"
    done = await add_entry(bot, "息烽服务区晚上有热水洗澡吗？", "息烽服务区能洗澡不\n息烽那边洗热水澡",
                           "息烽服务区司机之家24小时有热水，淋浴免费。", "司机之家，息烽")
    faq_id = done.params["text"].split("（")[1].split("）")[0]
    answered = await bot.say(q)
    assert "24小时有热水" in answered.params["text"]

    chat = bot.admin_chat
    card = await bot.say(f"/faq_edit {faq_id}", user=bot.admin, chat=chat)
    answer_field = [d for label, d in buttons(card) if label == "答案"][0]
    await bot.press(card, answer_field, user=bot.admin, chat=chat)
    await bot.server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "新的答案" in c.params["text"])
    preview = await bot.say("息烽服务区司机之家晚上10点前有热水。", user=bot.admin, chat=chat)
    await bot.press(preview, buttons(preview)[0][1], user=bot.admin, chat=chat)
    await bot.server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "已更新" in c.params["text"])
    answered = await bot.say(q + "啊", user=bot.other)
    assert "10点前" in answered.params["text"]

    confirm = await bot.say(f"/faq_del {faq_id}", user=bot.admin, chat=chat)
    await bot.press(confirm, buttons(confirm)[0][1], user=bot.admin, chat=chat)
    await bot.server.wait_for("editMessageText", predicate=lambda c: "已删除" in c.params["text"])
    assert bot.app.kb.get(faq_id) is None
    history = await bot.say(f"/faq_history {faq_id}", user=bot.admin, chat=chat)
    assert "added" in history.params["text"] and "removed" in history.params["text"]


async def test_forged_callback_is_refused(bot):
    chat = bot.admin_chat
    confirm = await bot.say("/faq_del longxi-height", user=bot.admin, chat=chat)
    # a stranger presses the admin's delete button (callback data copied from it)
    await bot.press(confirm, buttons(confirm)[0][1], user=bot.driver, chat=chat)
    [answer] = await bot.server.wait_for("answerCallbackQuery")
    assert answer.params.get("show_alert") is True
    assert bot.app.kb.get("longxi-height") is not None
    # made-up feedback data is refused too
    forged = bot.server.send_text(bot.group, bot.driver, "/help")
    await bot.idle(0.3)
    help_msg = bot.replies()[-1]
    msg = bot.message_of(help_msg)
    msg["reply_markup"] = {"inline_keyboard": [[{"text": "x", "callback_data": "fb:999999:up"}]]}
    bot.server._messages[(msg["chat"]["id"], msg["message_id"])] = msg
    bot.server.press(bot.driver, msg, "fb:999999:up")
    calls = await bot.server.wait_for("answerCallbackQuery", count=2)
    assert calls[-1].params.get("show_alert") is True and forged


async def test_document_import_reports_bad_entries_then_applies(bot, tmp_path):
    chat = bot.admin_chat
    bad = yaml.safe_dump({"faqs": [{"id": "ok-one", "question": "测试问题一", "answer": "答案一"},
                                   {"id": "bad", "question": "没有答案"}]}, allow_unicode=True).encode()
    bot.server.send_document(chat, bot.admin, "faq.yml", bad)
    [report] = await bot.server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "没有导入" in c.params["text"])
    assert "entry #2 (bad): answer" in report.params["text"]
    assert bot.app.kb.get("ok-one") is None

    good = yaml.safe_dump({"faqs": [{"id": "ok-one", "question": "贵阳绕城高速货车几点能走", "answer": "全天可以通行。"}]},
                          allow_unicode=True).encode()
    bot.server.send_document(chat, bot.admin, "faq.yml", good)
    [summary] = await bot.server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "确认导入" in c.params["text"])
    assert "新增 1" in summary.params["text"]
    assert bot.app.kb.get("ok-one") is None  # nothing applied before the confirm
    await bot.press(summary, buttons(summary)[0][1], user=bot.admin, chat=chat)
    await bot.server.wait_for("editMessageText", predicate=lambda c: "导入完成" in c.params["text"])
    assert bot.app.kb.get("ok-one").answer == "全天可以通行。"
    assert bot.app.kb.get("longxi-height") is not None  # the keep-others button removes nothing


async def test_export_sends_the_kb_as_yaml(bot):
    await bot.say("/faq_export", user=bot.admin, chat=bot.admin_chat, wait=False)
    [doc] = await bot.server.wait_for("sendDocument")
    data = yaml.safe_load(doc.params["document"].content.decode("utf-8"))
    assert len(data["faqs"]) == len(bot.app.kb.entries())


async def test_pending_item_becomes_an_alternate(bot):
    answer = await bot.say("/ask 龙溪那条路限高杆有好高")
    await bot.press(answer, buttons(answer)[1][1])  # 👎 puts the wording in the inbox
    await bot.server.wait_for("answerCallbackQuery")
    chat = bot.admin_chat
    await bot.say("/faq_pending", user=bot.admin, chat=chat)
    cards = await bot.server.wait_for("sendMessage", chat_id=chat,
                                      predicate=lambda c: "龙溪那条路限高杆有好高" in c.params["text"])
    card = cards[-1]
    alt = [d for label, d in buttons(card) if "同义" in label][0]
    await bot.press(card, alt, user=bot.admin, chat=chat)
    [choices] = await bot.server.wait_for("sendMessage", chat_id=chat, predicate=lambda c: "加到哪一条" in c.params["text"])
    labels = [label for label, _ in buttons(choices)]
    assert 1 <= len(labels) <= 3 and len(set(labels)) == len(labels), labels  # each entry offered once
    target = [d for label, d in buttons(choices) if "龙溪" in label][0]
    await bot.press(choices, target, user=bot.admin, chat=chat)
    await bot.server.wait_for("editMessageText", predicate=lambda c: "同义问法" in c.params["text"])
    assert "龙溪那条路限高杆有好高" in bot.app.kb.get("longxi-height").alternates
    assert all(i.text != "龙溪那条路限高杆有好高" for i in bot.app.inbox.pending(limit=50))


async def test_restart_keeps_every_edit(server, cfg):
    async with running_bot(server, cfg) as first:
        await add_entry(first, "花溪大道限高多少？", "花溪大道限高杆多高", "花溪大道限高4.5米。", "限高")
    async with running_bot(server, cfg) as again:
        reply = await again.say("花溪大道限高杆好高")
        assert "4.5米" in reply.params["text"]


async def test_failed_command_menu_does_not_stop_the_bot(server, cfg):
    server.fail("setMyCommands", 500, times=5)
    async with running_bot(server, cfg) as h:
        reply = await h.say("龙溪大道限高多少")
        assert "5米" in reply.params["text"]


async def test_overload_leaves_the_backlog_with_telegram(bot):
    """While every handler slot is busy the bot stops fetching: updates it has not taken stay
    unconfirmed at Telegram (a crash then loses none of them), and all are handled later."""
    gate = asyncio.Event()
    seen: list[str] = []
    handle = bot.app.pipeline.handle_message

    async def slow(msg):  # a pipeline that cannot keep up until the gate opens
        await gate.wait()
        seen.append(msg.text)
        return await handle(msg)

    bot.app.pipeline.handle_message = slow
    sent = 400
    for i in range(sent):
        bot.server.send_text(bot.group, bot.server.user(5000 + i, f"师傅{i}"), f"收到 {i}")
    await asyncio.sleep(1.5)
    inside = 4 * bot.app.settings.telegram.concurrent_updates  # UPDATES_INSIDE_PER_SLOT x slots
    unconfirmed = bot.server.pending_count
    gate.set()
    assert unconfirmed >= sent - inside - 100  # at most one more getUpdates batch
    deadline = time.monotonic() + 30
    while len(seen) < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert sorted(seen) == sorted(f"收到 {i}" for i in range(sent))
    await bot.idle(0)
    assert bot.server.pending_count == 0  # every update confirmed once handled
