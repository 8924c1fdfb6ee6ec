"""The Bot API stand-in, driven by a real python-telegram-bot ``Bot`` and ``Application``.

These tests pin what later bot tests rely on: that PTB's real requests (form and multipart,
JSON-encoded fields, long polling, file downloads, error answers) are understood and answered
the way Telegram answers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import subprocess
import sys
import time

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from botapi import BotApiServer, Upload

TOKEN = "123:TEST"
# PTB drops "Bad Request: " and capitalizes error descriptions, so matches ignore case.


@pytest.fixture
async def server():
    async with BotApiServer(token=TOKEN, bot_username="driverhome_bot") as srv:
        yield srv


@pytest.fixture
async def bot(server):
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b


@pytest.fixture
def group(server):
    return server.group(-1001234567890, "龙里车队", type="supergroup")


@pytest.fixture
def driver(server):
    return server.user(42, "老王", "laowang")


@contextlib.asynccontextmanager
async def polling(server, *handlers):
    """A real Application polling the stand-in; fails the test if a handler raised."""
    app = (ApplicationBuilder().token(TOKEN).base_url(server.base_url)
           .base_file_url(server.base_file_url).build())
    for handler in handlers:
        app.add_handler(handler)
    errors = []

    async def keep_error(update, context):
        errors.append(context.error)

    app.add_error_handler(keep_error)
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
    assert not errors, f"handlers raised: {errors!r}"


def keyboard(*pairs):
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)
                                  for text, data in pairs]])


async def test_get_me_answers_the_configured_bot(bot, server):
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123, "driverhome_bot", True)
    assert [call.method for call in server.calls] == ["getMe", "getMe"]  # Bot.initialize too


async def test_group_message_reaches_handler_and_reply_quotes_it(server, group, driver):
    async def echo(update, context):
        await update.message.reply_text(f"收到: {update.message.text}")

    async with polling(server, MessageHandler(filters.TEXT & ~filters.COMMAND, echo)):
        asked = server.send_text(group, driver, "龙溪大道限高多少")
        [reply] = await server.wait_for("sendMessage", chat_id=group)

    assert reply.params["chat_id"] == group["id"]
    assert reply.params["text"] == "收到: 龙溪大道限高多少"
    assert reply.params["reply_parameters"]["message_id"] == asked["message_id"]
    assert reply.result["reply_to_message"]["message_id"] == asked["message_id"]
    assert reply.result["from"]["id"] == server.bot_id
    assert reply.result["message_id"] > asked["message_id"]
    assert server.pending_updates == []  # the updater confirmed what it got


async def test_command_gets_its_entity_and_arguments(server, group, driver):
    async def ask(update, context):
        await update.message.reply_text(" ".join(context.args))

    async with polling(server, CommandHandler("ask", ask)):
        server.send_text(group, driver, "/ask 党费 怎么交")
        [reply] = await server.wait_for("sendMessage")
    assert reply.params["text"] == "党费 怎么交"


async def test_inline_keyboard_arrives_decoded(bot, server, group):
    markup = keyboard(("是", "yes"), ("否", "no"))
    message = await bot.send_message(group["id"], "对吗？", reply_markup=markup)

    [call] = server.sent("sendMessage", chat_id=group)
    assert call.params["reply_markup"] == {"inline_keyboard": [[
        {"text": "是", "callback_data": "yes"}, {"text": "否", "callback_data": "no"}]]}
    assert message.reply_markup == markup


async def test_callback_query_reaches_handler_and_answer_is_recorded(server, group, driver):
    pressed = []

    async def on_press(update, context):
        pressed.append(update.callback_query.data)
        await update.callback_query.answer("已记录")

    async with polling(server, CallbackQueryHandler(on_press)) as app:
        await app.bot.send_message(group["id"], "有用吗？",
                                   reply_markup=keyboard(("有用", "useful")))
        [sent] = server.sent("sendMessage")
        query_id = server.press(driver, sent.result, "useful")
        [answer] = await server.wait_for("answerCallbackQuery")

    assert answer.params == {"callback_query_id": query_id, "text": "已记录"}
    assert pressed == ["useful"]
    with pytest.raises(ValueError, match="no button"):
        server.press(driver, sent.result, "not-offered")


async def test_callback_query_can_be_answered_once(bot, server, group, driver):
    message = await bot.send_message(group["id"], "?", reply_markup=keyboard(("ok", "ok")))
    query_id = server.press(driver, message.to_dict(), "ok")
    assert await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="(?i)query ID is invalid"):
        await bot.answer_callback_query(query_id)


async def test_send_document_stores_the_uploaded_bytes(bot, server, group):
    content = "id,question\nlongxi-height,龙溪大道限高多少？\n".encode()
    message = await bot.send_document(group["id"], document=content, filename="faq.csv",
                                      caption="导出")

    [call] = server.sent("sendDocument")
    upload = call.params["document"]
    assert isinstance(upload, Upload)
    assert (upload.filename, upload.content) == ("faq.csv", content)
    assert (message.document.file_name, message.caption) == ("faq.csv", "导出")
    assert message.document.mime_type == "text/csv"
    assert server.files[message.document.file_id].content == content


async def test_user_document_is_downloaded_by_the_bot(server, group, driver):
    content = "faqs:\n  - id: a\n    question: 问\n    answer: 答\n".encode()

    async def on_document(update, context):
        file = await update.message.document.get_file()
        data = await file.download_as_bytearray()
        await update.message.reply_text(f"{update.message.document.file_name}: {len(data)}")

    async with polling(server, MessageHandler(filters.Document.ALL, on_document)):
        sent = server.send_document(group, driver, "faq.yml", content, caption="新题库")
        [reply] = await server.wait_for("sendMessage")

    assert reply.params["text"] == f"faq.yml: {len(content)}"
    stored = server.files[sent["document"]["file_id"]]
    assert server.downloads == [stored.file_path]


async def test_unknown_file_id_is_refused(bot):
    with pytest.raises(BadRequest, match="(?i)invalid file_id"):
        await bot.get_file("no-such-file")


async def test_429_raises_retry_after_and_sends_nothing(bot, server, group):
    server.fail("sendMessage", 429, times=1, retry_after=1)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group["id"], "第一条")
    assert caught.value.retry_after in (1, dtm.timedelta(seconds=1))

    [failed] = server.sent("sendMessage", failed=True)
    assert failed.error == {"ok": False, "error_code": 429,
                            "description": "Too Many Requests: retry after 1",
                            "parameters": {"retry_after": 1}}
    assert server.sent("sendMessage") == []
    await bot.send_message(group["id"], "第一条")  # the fault was used up
    assert len(server.sent("sendMessage")) == 1


async def test_500_raises_network_error(bot, server, group):
    server.fail("sendMessage", 500)
    with pytest.raises(NetworkError, match="(?i)Internal Server Error") as caught:
        await bot.send_message(group["id"], "hi")
    assert type(caught.value) is NetworkError  # not BadRequest, which subclasses it


async def test_403_raises_forbidden(bot, server, group):
    server.fail("sendMessage", 403)
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(group["id"], "hi")


async def test_delay_times_the_bot_out_but_the_message_still_goes(bot, server, group):
    server.delay("sendMessage", 0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(group["id"], "慢", read_timeout=0.1)
    [call] = await server.wait_for("sendMessage")  # as on Telegram: a retry would duplicate it
    assert call.params["text"] == "慢"


async def test_long_poll_returns_as_soon_as_an_update_is_queued(bot, server, group, driver):
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, server.send_text, group, driver, "在吗")
    started = time.monotonic()
    [update] = await bot.get_updates(timeout=10)
    assert time.monotonic() - started < 2
    assert update.message.text == "在吗"

    again = await bot.get_updates(timeout=0)  # not confirmed yet
    assert [u.update_id for u in again] == [update.update_id]
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert server.pending_updates == []


async def test_get_updates_honours_limit_and_allowed_updates(bot, server, group, driver):
    admin = server.user(7, "书记")
    for text in ("一", "二", "三"):
        server.send_text(group, driver, text)
    server.my_chat_member(group, admin, "member", "administrator")

    first_two = await bot.get_updates(limit=2, timeout=0)
    assert [u.message.text for u in first_two] == ["一", "二"]
    only = await bot.get_updates(allowed_updates=["my_chat_member"], timeout=0)
    assert [u.my_chat_member.new_chat_member.status for u in only] == ["administrator"]
    assert len(server.pending_updates) == 1  # the messages were dropped, never to be sent


async def test_built_updates_parse_as_ptb_objects(bot, server, group, driver):
    an_hour_ago = int(time.time()) - 3600
    old = server.send_text(group, driver, "旧消息", date=an_hour_ago)
    server.edit_text(old, "改过的旧消息")
    reply = server.send_text(group, driver, "回复", reply_to=old)
    poll_message = await bot.send_poll(group["id"], "明天几点学习？", ["8点", "9点"],
                                       is_anonymous=False)
    server.poll_answer(poll_message.poll.id, driver, [1])
    server.my_chat_member(group, driver, "administrator", "kicked")

    updates = await bot.get_updates(timeout=0)
    assert [u.effective_message.message_id if u.effective_message else None for u in updates] \
        == [old["message_id"], old["message_id"], reply["message_id"], None, None]
    assert updates[0].message.date.timestamp() == an_hour_ago
    assert updates[1].edited_message.text == "改过的旧消息"
    assert updates[2].message.reply_to_message.text == "改过的旧消息"  # as it is now
    assert updates[3].poll_answer.option_ids == (1,)
    assert updates[4].my_chat_member.new_chat_member.status == "kicked"

    stopped = await bot.stop_poll(group["id"], poll_message.message_id)
    assert stopped.is_closed and [o.voter_count for o in stopped.options] == [0, 1]
    with pytest.raises(Forbidden, match="(?i)kicked"):  # the bot was just removed
        await bot.send_message(group["id"], "还在吗")


async def test_chat_and_member_queries(bot, server, group, driver):
    secretary = server.user(7, "书记")
    server.set_member(group, secretary, "creator")
    server.set_member(group, driver, "member")

    chat = await bot.get_chat(group["id"])
    assert (chat.title, chat.type) == ("龙里车队", "supergroup")
    assert (await bot.get_chat_member(group["id"], 7)).status == "creator"
    assert (await bot.get_chat_member(group["id"], server.bot_id)).status == "member"
    admins = await bot.get_chat_administrators(group["id"])
    assert [a.user.id for a in admins] == [7]
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.get_chat(-999)


async def test_telegram_rules_that_catch_bot_bugs(bot, server, group, driver):
    html = await bot.send_message(group["id"], "<b>限高</b> 5米 &lt;注意&gt;",
                                  parse_mode="HTML")
    assert html.text == "限高 5米 <注意>"
    assert [(e.type, e.offset, e.length) for e in html.entities] == [("bold", 0, 2)]
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(group["id"], "a<br>b", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)reserved"):
        await bot.send_message(group["id"], "限高5.0米", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="(?i)too long"):
        await bot.send_message(group["id"], "长" * 4097)
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(group["id"], "x", reply_markup=keyboard(("x", "d" * 65)))

    with_buttons = await bot.send_message(group["id"], "选", reply_markup=keyboard(("a", "a")))
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("选", group["id"], with_buttons.message_id,
                                    reply_markup=keyboard(("a", "a")))
    edited = await bot.edit_message_text("已选", group["id"], with_buttons.message_id)
    assert edited.reply_markup is None  # an edit that does not repeat the keyboard drops it
    assert await bot.delete_message(group["id"], with_buttons.message_id)
    with pytest.raises(BadRequest, match="(?i)not found"):
        await bot.delete_message(group["id"], with_buttons.message_id)

    with pytest.raises(Forbidden, match="(?i)can't initiate conversation"):
        await bot.send_message(driver["id"], "私聊")
    server.private(driver)
    await bot.send_message(driver["id"], "私聊")


async def test_privacy_mode_delivers_only_what_addresses_the_bot(driver):
    async with BotApiServer(token=TOKEN, privacy_mode=True) as server, \
            Bot(TOKEN, base_url=server.base_url) as bot:
        group = server.group(-100, "车队")
        server.send_text(group, driver, "闲聊")
        server.send_text(group, driver, "@driverhome_bot 限高多少")
        server.send_text(group, driver, "/ask 限高")
        texts = [u.message.text for u in await bot.get_updates(timeout=0)]
        assert texts == ["@driverhome_bot 限高多少", "/ask 限高"]
        assert not (await bot.get_me()).can_read_all_group_messages


def test_serves_a_bot_subprocess_from_a_thread():
    script = (
        "import asyncio, sys\n"
        "from telegram import Bot\n"
        "async def main():\n"
        "    async with Bot(sys.argv[1], base_url=sys.argv[2]) as bot:\n"
        "        for update in await bot.get_updates(timeout=5):\n"
        "            await update.message.reply_text('pong')\n"
        "asyncio.run(main())\n"
    )
    with BotApiServer(token=TOKEN) as server:
        group = server.group(-100, "车队")
        server.send_text(group, server.user(42, "老王"), "ping")
        subprocess.run([sys.executable, "-c", script, TOKEN, server.base_url], check=True,
                       timeout=60)
        [reply] = server.wait_for_sync("sendMessage", chat_id=group)
    assert reply.params["text"] == "pong"
    with pytest.raises(RuntimeError):
        server.base_url  # noqa: B018 - stopped servers have no address
