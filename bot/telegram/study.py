"""Telegram side of the daily study feature: the sender the dispatcher pushes through, the
dispatcher's job, group commands, quiz answers, and library admin in a private chat.

Handler groups: the admin conversation, the library import and its buttons run in group
EARLY (before the FAQ handlers, which would otherwise take the admin's text as a question or
the file as an FAQ import) and stop the update there; plain commands and poll answers run in
group LATE, after the stale-update check.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import re
import time
import warnings
from datetime import date, datetime

from pydantic import ValidationError
from telegram import (BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Poll, ReplyParameters, Update)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (Application, ApplicationHandlerStop, CallbackQueryHandler, CommandHandler,
                          ConversationHandler, MessageHandler, PollAnswerHandler, filters)
from telegram.warnings import PTBUserWarning

from .. import texts as common_texts
from ..study import texts
from ..study.branches import secretaries_of
from ..study.dispatch import Dispatcher, Gone, Moved, Refused, Temporary, Unknown
from ..study.report import stats_text
from ..study.schema import Quiz, StudyFileError, StudyItem, dump_yaml, read_text
from ..study.settings import parse_hhmm
from ..study.stats import week_of
from . import admin
from .context import SERVICES, BotContext
from .group import reply_with

log = logging.getLogger(__name__)

EARLY, LATE = -2, 1
DISPATCHER = "study_dispatcher"
GROUP_COMMANDS = [BotCommand("today", "今天的学习内容"), BotCommand("study_stats", "本周学习打卡"),
                  BotCommand("study_time", "设置每日学习推送时间"), BotCommand("study_on", "开启每日学习"),
                  BotCommand("study_off", "关闭每日学习")]
ADMIN_COMMANDS = [BotCommand("study_add", "新增学习内容"), BotCommand("study_show", "查看学习内容"),
                  BotCommand("study_export", "导出学习库")]
MANAGERS = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
GONE_HINTS = ("chat not found", "kicked", "not a member", "deactivated", "bot was blocked", "have no rights")


# -- the sender the dispatcher pushes through ------------------------------------------
class TelegramSender:
    """Maps PTB's errors to the dispatcher's four outcomes (see bot/study/dispatch.py)."""

    def __init__(self, bot):
        self.bot = bot

    async def _guard(self, request):
        try:
            return await request
        except ChatMigrated as exc:  # a group upgraded to a supergroup
            raise Moved(exc.new_chat_id) from exc
        except Forbidden as exc:
            raise Gone(str(exc)) from exc
        except RetryAfter as exc:  # left after AIORateLimiter's own retries
            raise Temporary(f"rate limited: {exc}") from exc
        except BadRequest as exc:
            if any(h in exc.message.lower() for h in GONE_HINTS):
                raise Gone(exc.message) from exc
            raise Refused(exc.message) from exc
        except TimedOut as exc:  # may have arrived: never resent
            raise Unknown(str(exc)) from exc
        except NetworkError as exc:  # server errors, connection refused: nothing was posted
            raise Temporary(str(exc)) from exc
        except TelegramError as exc:
            raise Refused(str(exc)) from exc

    async def send_item(self, chat_id: int, text: str) -> int:
        message = await self._guard(self.bot.send_message(chat_id, text))
        return message.message_id

    async def send_quiz(self, chat_id: int, question: str, item: StudyItem, reply_to: int | None):
        quiz = item.quiz
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        message = await self._guard(self.bot.send_poll(
            chat_id, question, quiz.options, is_anonymous=False, type=Poll.QUIZ, correct_option_ids=[quiz.answer],
            explanation=quiz.explanation or None, reply_parameters=reply))
        return message.message_id, message.poll.id

    async def send_private(self, user_id: int, text: str) -> None:
        await self._guard(self.bot.send_message(user_id, text))


def _study(context: BotContext):
    return context.services.app.study


async def _tick(context: BotContext) -> None:
    dispatcher: Dispatcher = context.bot_data[DISPATCHER]
    application = context.application
    if not application.running:  # stopping: the next start catches up
        return
    await dispatcher.tick(spawn=application.create_task, stopping=lambda: not application.running)


def install(application: Application) -> None:
    """Add the study handlers and the dispatcher's job (one per process, reading due groups
    from the database every `study.tick_s`, so nothing per group needs re-registering)."""
    app = application.bot_data[SERVICES].app
    if app.study is None:
        return
    for handler in early_handlers():
        application.add_handler(handler, group=EARLY)
    for handler in late_handlers():
        application.add_handler(handler, group=LATE)
    settings = app.settings.study
    if not settings.enabled:
        log.info("daily study is switched off (study.enabled: false)")
        return
    if application.job_queue is None:
        log.warning("no job queue (install python-telegram-bot[job-queue]): daily study is not pushed")
        return

    def title(chat_id: int) -> str:
        row = app.chats.get(chat_id)
        return (row.title if row is not None and row.title else str(chat_id))

    dispatcher = Dispatcher(app.study, TelegramSender(application.bot), group_titles=title)
    dispatcher.on_moved = app.chat_moved
    application.bot_data[DISPATCHER] = dispatcher
    tick = settings.tick_s
    application.job_queue.run_once(_tick, when=0.5, name="study-catch-up")  # downtime catch-up at start
    application.job_queue.run_repeating(
        _tick, interval=tick, first=tick - (time.time() % tick) + 0.05, name="study-dispatch",
        job_kwargs={"misfire_grace_time": max(30, int(tick)), "coalesce": True, "max_instances": 1})


# -- group commands ----------------------------------------------------------------------
def _in_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


async def _may_manage(update: Update, context: BotContext) -> bool:
    """Group admins, the branch secretary, and knowledge-base admins."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True  # an anonymous group admin
    if user is None:
        return False
    app = context.services.app
    if app.admins is not None and app.admins.is_admin(user.id):
        return True
    if user.id in secretaries_of(app.settings, chat.id, app.db):
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.info("cannot check %s in %s: %s", user.id, chat.id, exc)
        return False
    return member.status in MANAGERS


async def on_today(update: Update, context: BotContext) -> None:
    text = _study(context).today_text(update.effective_chat.id, group=_in_group(update))
    await reply_with(update.effective_message, context, text)


def _time_text(schedule) -> str:
    return f"{schedule.send_time.hour:02d}:{schedule.send_time.minute:02d}"


async def on_study_time(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if not _in_group(update):
        await reply_with(message, context, texts.GROUP_ONLY)
        return
    study, chat_id = _study(context), update.effective_chat.id
    if not context.args:
        schedule = study.schedule(chat_id)
        state = texts.STATE_ON if schedule.enabled else texts.STATE_OFF
        await reply_with(message, context, texts.TIME_SHOW.format(time=_time_text(schedule), state=state))
        return
    try:
        send_time = parse_hhmm(context.args[0].replace("：", ":"))
    except ValueError:
        await reply_with(message, context, texts.TIME_USAGE)
        return
    if not await _may_manage(update, context):
        await reply_with(message, context, texts.NOT_ALLOWED)
        return
    schedule = study.set_schedule(chat_id, update.effective_user.id if update.effective_user else 0,
                                  send_time=send_time)
    log.info("study time of %s set to %s", chat_id, _time_text(schedule))
    await reply_with(message, context, texts.TIME_SET.format(time=_time_text(schedule)))


async def _switch(update: Update, context: BotContext, enabled: bool) -> None:
    message = update.effective_message
    if not _in_group(update):
        await reply_with(message, context, texts.GROUP_ONLY)
        return
    if not await _may_manage(update, context):
        await reply_with(message, context, texts.NOT_ALLOWED)
        return
    by = update.effective_user.id if update.effective_user else 0
    schedule = _study(context).set_schedule(update.effective_chat.id, by, enabled=enabled)
    log.info("study in %s switched %s", update.effective_chat.id, "on" if enabled else "off")
    await reply_with(message, context, texts.TURNED_ON.format(time=_time_text(schedule)) if enabled else texts.TURNED_OFF)


async def on_study_on(update: Update, context: BotContext) -> None:
    await _switch(update, context, True)


async def on_study_off(update: Update, context: BotContext) -> None:
    await _switch(update, context, False)


async def on_study_stats(update: Update, context: BotContext) -> None:
    if not _in_group(update):
        await reply_with(update.effective_message, context, texts.GROUP_ONLY)
        return
    study = _study(context)
    today = study.today()
    start, end = week_of(today)
    week = study.stats.week(update.effective_chat.id, start, end, today)
    await reply_with(update.effective_message, context, stats_text(week, study.settings.stats_top))


async def on_poll_answer(update: Update, context: BotContext) -> None:
    answer = update.poll_answer
    if answer is None or answer.user is None:  # a vote on behalf of a chat is nobody's 打卡
        return
    study = _study(context)
    for attempt in range(4):  # a very quick answer may arrive before the poll id is recorded
        result = await asyncio.to_thread(study.ledger.answer, answer.poll_id, answer.user.id,
                                         answer.user.full_name, list(answer.option_ids), study.now())
        if result is not None:
            log.debug("quiz answer from %s on %s: %s", answer.user.id, answer.poll_id, result)
            return
        await asyncio.sleep(0.25 * (attempt + 1))
    log.info("answer to an unknown poll %s ignored", answer.poll_id)


def late_handlers() -> list:
    return [
        CommandHandler("today", on_today),
        CommandHandler("study_time", on_study_time),
        CommandHandler("study_on", on_study_on),
        CommandHandler("study_off", on_study_off),
        CommandHandler("study_stats", on_study_stats),
        PollAnswerHandler(on_poll_answer),
    ]


# -- library admin (private chat) --------------------------------------------------------
(TITLE, BODY, SOURCE, TAGS, DAY, QUESTION, OPTIONS, ANSWER, EXPLAIN, CONFIRM) = range(100, 110)
SKIP = admin.SKIP
DRAFT = "study_draft"


def _stop(handler):
    """Handled here: no FAQ handler may see this update too (the result is the next state)."""
    @functools.wraps(handler)
    async def run(update: Update, context: BotContext):
        raise ApplicationHandlerStop(await handler(update, context))
    return run


def _show(item: StudyItem) -> str:
    lines = [f"ID：{item.id}", f"标题：{item.title}", f"正文：{item.body}", f"来源：{item.source}"]
    if item.tags:
        lines.append("标签：" + "、".join(item.tags))
    if item.date:
        lines.append(f"只在 {item.date.isoformat()} 推送")
    if item.quiz:
        opts = "；".join(f"{n}. {o}" for n, o in enumerate(item.quiz.options, start=1))
        lines.append(f"小题：{item.quiz.question}\n选项：{opts}\n答案：第{item.quiz.answer + 1}个")
        if item.quiz.explanation:
            lines.append(f"解析：{item.quiz.explanation}")
    return "\n".join(lines)


def _new_id(context: BotContext, title: str) -> str:
    from pypinyin import lazy_pinyin

    syllables = [s for s in lazy_pinyin(title.lower()) if re.fullmatch(r"[a-z0-9]+", s)][:6]
    base = ("study-" + "-".join(syllables))[:60].strip("-")
    library = _study(context).library
    slug, n = base, 2
    while library.get(slug) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _ask(prompt: str, key: str, next_state: int, parse=lambda text: text.strip()):
    async def step(update: Update, context: BotContext) -> int:
        context.user_data[DRAFT][key] = parse(update.message.text)
        await update.message.reply_text(prompt)
        return next_state
    return _stop(step)


@_stop
@admin.admin_only(end_conversation=True)
async def start_add(update: Update, context: BotContext) -> int:
    context.user_data[DRAFT] = {}
    await update.effective_message.reply_text("新增学习内容 ✍️ 请发送标题（/cancel 取消）：")
    return TITLE


@_stop
async def got_day(update: Update, context: BotContext) -> int:
    text = update.message.text.strip()
    draft = context.user_data[DRAFT]
    if text in SKIP:
        draft["date"] = None
    else:
        try:
            draft["date"] = date.fromisoformat(text)
        except ValueError:
            await update.message.reply_text("日期格式像 2026-10-01，不限日期发 -：")
            return DAY
    await update.message.reply_text("小测验的题目（不出题就发 -）：")
    return QUESTION


@_stop
async def got_question(update: Update, context: BotContext) -> int:
    text = update.message.text.strip()
    if text in SKIP:
        return await _preview(update, context)
    context.user_data[DRAFT]["question"] = text
    await update.message.reply_text("选项，每行一个（2 到 10 个）：")
    return OPTIONS


@_stop
async def got_answer(update: Update, context: BotContext) -> int:
    text = update.message.text.strip()
    options = context.user_data[DRAFT].get("options", [])
    if not text.isdigit() or not 1 <= int(text) <= len(options):
        await update.message.reply_text(f"请发一个 1 到 {len(options)} 的数字：")
        return ANSWER
    context.user_data[DRAFT]["answer"] = int(text) - 1
    await update.message.reply_text("答案解析，答完题后显示（200字以内，没有就发 -）：")
    return EXPLAIN


@_stop
async def got_explanation(update: Update, context: BotContext) -> int:
    text = update.message.text.strip()
    context.user_data[DRAFT]["explanation"] = "" if text in SKIP else text
    return await _preview(update, context)


async def _preview(update: Update, context: BotContext) -> int:
    draft = context.user_data[DRAFT]
    try:
        quiz = None
        if draft.get("question"):
            quiz = Quiz(question=draft["question"], options=draft.get("options", []), answer=draft.get("answer", 0),
                        explanation=draft.get("explanation", ""))
        item = StudyItem(id=_new_id(context, draft["title"]), title=draft["title"], body=draft["body"],
                         source=draft["source"], tags=draft.get("tags", []), date=draft.get("date"), quiz=quiz)
    except ValidationError as exc:
        problems = "；".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        await update.effective_message.reply_text(f"内容有问题：{problems}\n请重新开始（/study_add）。")
        context.user_data.pop(DRAFT, None)
        return ConversationHandler.END
    draft["item"] = item
    owner, tokens = update.effective_user.id, context.services.tokens
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("✅ 保存", callback_data=tokens.issue(owner, "ssave")),
                                      InlineKeyboardButton("✖️ 取消", callback_data=tokens.issue(owner, "sdrop"))]])
    await update.effective_message.reply_text("预览：\n" + _show(item), reply_markup=keyboard)
    return CONFIRM


@_stop
@admin.admin_only(end_conversation=True)
async def confirm_save(update: Update, context: BotContext) -> int:
    if await admin._take(update, context) is None:
        return CONFIRM
    draft = context.user_data.pop(DRAFT, None)
    if not draft or "item" not in draft:
        await update.effective_message.reply_text("这个按钮已经失效了")
        return ConversationHandler.END
    item: StudyItem = draft["item"]
    result = _study(context).library.upsert(item, actor=admin._actor(update))
    word = {"added": "已新增", "updated": "已更新", "unchanged": "没有变化"}[result]
    await update.effective_message.reply_text(f"{word}（{item.id}），以后会加入各群的每日学习 ✅")
    return ConversationHandler.END


@_stop
async def confirm_drop(update: Update, context: BotContext) -> int:
    if await admin._take(update, context) is None:
        return CONFIRM
    context.user_data.pop(DRAFT, None)
    await update.effective_message.reply_text("已取消，什么都没改。")
    return ConversationHandler.END


@_stop
async def cancel(update: Update, context: BotContext) -> int:
    context.user_data.pop(DRAFT, None)
    await update.effective_message.reply_text(common_texts.CANCELLED)
    raise ApplicationHandlerStop(ConversationHandler.END)  # handled: not "nothing to cancel" too


def _lines(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n+", text) if p.strip()]


def conversation() -> ConversationHandler:
    text = filters.TEXT & ~filters.COMMAND
    steps = {
        TITLE: _ask("请发送正文（一条消息放得下的长度，3000字以内）：", "title", BODY),
        BODY: _ask("来源（例如：《道路交通安全法》第四十三条）：", "body", SOURCE),
        SOURCE: _ask("标签，用逗号分隔（没有就发 -）：", "source", TAGS),
        TAGS: _ask("只在某一天推送吗？发日期如 2026-10-01，不限日期发 -：", "tags", DAY, admin._split),
        OPTIONS: _ask("正确答案是第几个？发数字，比如 2：", "options", ANSWER, _lines),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)  # per_message=False: it follows the admin
        return ConversationHandler(
            entry_points=[CommandHandler("study_add", start_add)],
            states={
                **{state: [MessageHandler(text, step)] for state, step in steps.items()},
                DAY: [MessageHandler(text, got_day)],
                QUESTION: [MessageHandler(text, got_question)],
                ANSWER: [MessageHandler(text, got_answer)],
                EXPLAIN: [MessageHandler(text, got_explanation)],
                CONFIRM: [CallbackQueryHandler(confirm_save, pattern=r"^a:ssave:"),
                          CallbackQueryHandler(confirm_drop, pattern=r"^a:sdrop:")],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="study_add", allow_reentry=True, per_chat=True, per_user=True,
        )


@_stop
@admin.admin_only()
async def study_show(update: Update, context: BotContext) -> None:
    item = _study(context).library.get((context.args or [""])[0])
    if item is None:
        await update.message.reply_text("用法：/study_show ID" if not context.args else f"没有找到 {context.args[0]}")
        return
    await update.message.reply_text(_show(item))


@_stop
@admin.admin_only()
async def study_export(update: Update, context: BotContext) -> None:
    items = _study(context).library.all()
    name = f"study-{datetime.now():%Y%m%d-%H%M}.yml"
    await update.message.reply_document(io.BytesIO(dump_yaml(items).encode("utf-8")), filename=name,
                                        caption=f"学习库共 {len(items)} 条（改好后发回来就能导入）")


@_stop
@admin.admin_only()
async def on_library_file(update: Update, context: BotContext) -> None:
    doc = update.message.document
    raw = await (await doc.get_file()).download_as_bytearray()
    try:
        report = read_text(bytes(raw).decode("utf-8-sig"))
    except (StudyFileError, UnicodeDecodeError) as exc:
        await update.message.reply_text(f"文件读不了：{exc}")
        return
    if not report.ok:
        await admin.reply_file_problems(update, report.errors)
        return
    plan = _study(context).library.plan(report.items, replace=True)
    owner, tokens = update.effective_user.id, context.services.tokens
    keyboard = InlineKeyboardMarkup([
        [InlineKeyboardButton("✅ 导入（保留文件外的条目）", callback_data=tokens.issue(owner, "simp", (report.items, False)))],
        [InlineKeyboardButton("♻️ 导入并删除文件外的条目", callback_data=tokens.issue(owner, "simp", (report.items, True)))],
        [InlineKeyboardButton("取消", callback_data=tokens.issue(owner, "snop"))]])
    await update.message.reply_text(
        f"学习库文件共 {len(report.items)} 条：新增 {len(plan.added)}，修改 {len(plan.updated)}，"
        f"不变 {plan.unchanged}；库里有 {len(plan.removed)} 条不在文件中。\n确认导入吗？", reply_markup=keyboard)


@_stop
@admin.admin_only()
async def on_import(update: Update, context: BotContext) -> None:
    payload = await admin._take(update, context)
    if payload is None:
        return
    items, replace = payload
    plan = _study(context).library.apply(items, actor=admin._actor(update), replace=replace)
    await update.callback_query.edit_message_text(
        f"学习库导入完成 ✅ 新增 {len(plan.added)}，修改 {len(plan.updated)}，删除 {len(plan.removed)}，"
        f"不变 {plan.unchanged}。新内容会加入各群的轮换。")


@_stop
async def on_import_cancel(update: Update, context: BotContext) -> None:
    if await admin._take(update, context) is not None:
        await update.callback_query.edit_message_text("好的，学习库没有改动。")


# A library file: a .yml/.yaml document whose name mentions "study" (what /study_export sends).
LIBRARY_FILE = filters.ChatType.PRIVATE & (filters.Document.FileExtension("yml")
                                           | filters.Document.FileExtension("yaml"))


class _StudyName(filters.MessageFilter):
    def filter(self, message) -> bool:
        return "study" in ((message.document.file_name if message.document else "") or "").lower()


def early_handlers() -> list:
    return [
        conversation(),
        CommandHandler("study_show", study_show),
        CommandHandler("study_export", study_export),
        MessageHandler(LIBRARY_FILE & _StudyName(), on_library_file),
        CallbackQueryHandler(on_import, pattern=r"^a:simp:"),
        CallbackQueryHandler(on_import_cancel, pattern=r"^a:snop:"),
    ]
