"""Knowledge-base administration from a private chat with the bot.

Every change goes through the knowledge-base service, so it is live at once and written
to the revision log. Buttons that change things carry a server-side token (see tokens.py)
checked against the person who pressed them.
"""

from __future__ import annotations

import functools
import io
import logging
import re
import warnings
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.warnings import PTBUserWarning
from telegram.ext import (ApplicationHandlerStop, CallbackQueryHandler, CommandHandler, ConversationHandler,
                          MessageHandler, filters)

from knowledge_base.schema import FaqEntry, KbFileError, dump_yaml, read_text
from pydantic import ValidationError

from .. import texts
from .context import BotContext
from .tokens import ActionError

log = logging.getLogger(__name__)

# Conversation states (faq_add and faq_edit share the preview/confirm step).
ASK_QUESTION, ASK_ALTERNATES, ASK_ANSWER, ASK_TAGS, CONFIRM, PICK_FIELD, ASK_VALUE = range(7)
PAGE_SIZE = 10
SKIP = {"-", "无", "没有", "跳过", "/skip"}
FIELDS = {"question": "问题", "alternates": "同义问法", "answer": "答案", "tags": "标签"}


# -- guards ----------------------------------------------------------------------
def _admin_check(update: Update, context: BotContext) -> str | None:
    """None when allowed; otherwise the refusal to show."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or not context.services.app.admins.is_admin(user.id):
        return texts.NOT_ADMIN
    if chat is not None and chat.type != ChatType.PRIVATE:
        return texts.PRIVATE_ONLY
    return None


def admin_only(end_conversation: bool = False):
    def wrap(handler):
        @functools.wraps(handler)
        async def guarded(update: Update, context: BotContext):
            refusal = _admin_check(update, context)
            if refusal is None:
                return await handler(update, context)
            log.info("refused %s for user %s", handler.__name__, getattr(update.effective_user, "id", None))
            if update.callback_query is not None:
                await update.callback_query.answer(refusal, show_alert=True)
            elif update.effective_message is not None:
                await update.effective_message.reply_text(refusal)
            return ConversationHandler.END if end_conversation else None
        return guarded
    return wrap


async def _take(update: Update, context: BotContext, peek: bool = False):
    """The payload behind an action button, or None (after telling the presser why)."""
    query = update.callback_query
    tokens = context.services.tokens
    try:
        payload = (tokens.peek if peek else tokens.take)(query.data, query.from_user.id)
    except ActionError as exc:
        log.warning("refused button %r from %s: %s", query.data, query.from_user.id, exc)
        await query.answer(texts.NOT_YOURS if str(exc) == "not yours" else texts.BUTTON_EXPIRED, show_alert=True)
        return None
    await query.answer()
    return payload


def _kb(context: BotContext):
    return context.services.app.kb


def _actor(update: Update) -> str:
    user = update.effective_user
    return f"tg:{user.id}:{user.full_name}"[:120]


def _split(text: str) -> list[str]:
    if text.strip() in SKIP:
        return []
    return [p.strip() for p in re.split(r"[\n,，、;；|]+", text) if p.strip()]


def _show(entry: FaqEntry) -> str:
    lines = [f"ID：{entry.id}", f"问题：{entry.question}"]
    if entry.alternates:
        lines.append("同义问法：" + "；".join(entry.alternates))
    lines.append(f"答案：{entry.answer}")
    if entry.tags:
        lines.append("标签：" + "、".join(entry.tags))
    return "\n".join(lines)


def _new_id(context: BotContext, question: str) -> str:
    """A readable, stable slug from the question's pinyin (e.g. longxi-dadao-xiangao)."""
    from pypinyin import lazy_pinyin

    norm = context.services.app.kb.retriever.analyzer.normalize(question)
    syllables = [s for s in lazy_pinyin(norm) if re.fullmatch(r"[a-z0-9]+", s)][:6]
    base = "-".join(syllables)[:60].strip("-") or "faq"
    slug, n = base, 2
    while _kb(context).get(slug) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


# -- /faq_add and /faq_edit (one conversation) -------------------------------------
@admin_only(end_conversation=True)
async def start_add(update: Update, context: BotContext) -> int:
    context.user_data["draft"] = {"mode": "add"}
    await update.effective_message.reply_text("新增问答 ✍️ 请发送标准问题（/cancel 取消）：")
    return ASK_QUESTION


@admin_only(end_conversation=True)
async def start_add_from_pending(update: Update, context: BotContext) -> int:
    item_id = await _take(update, context)
    item = context.services.app.inbox.get(item_id) if item_id is not None else None
    if item is None:
        return ConversationHandler.END
    context.user_data["draft"] = {"mode": "add", "question": item.text, "pending": item.id}
    await update.effective_message.reply_text(
        f"用这个问题新建：「{item.text}」\n请发送同义问法，每行一个（没有就发 -）：")
    return ASK_ALTERNATES


async def got_question(update: Update, context: BotContext) -> int:
    context.user_data["draft"]["question"] = update.message.text.strip()
    await update.message.reply_text("同义问法：司机可能怎么问？每行一个（没有就发 -）：")
    return ASK_ALTERNATES


async def got_alternates(update: Update, context: BotContext) -> int:
    context.user_data["draft"]["alternates"] = _split(update.message.text)
    await update.message.reply_text("请发送答案：")
    return ASK_ANSWER


async def got_answer(update: Update, context: BotContext) -> int:
    context.user_data["draft"]["answer"] = update.message.text.strip()
    await update.message.reply_text("标签，用逗号分隔（没有就发 -）：")
    return ASK_TAGS


async def got_tags(update: Update, context: BotContext) -> int:
    context.user_data["draft"]["tags"] = _split(update.message.text)
    return await _preview(update, context)


async def _preview(update: Update, context: BotContext) -> int:
    draft = context.user_data["draft"]
    faq_id = draft.get("id") or _new_id(context, draft["question"])
    try:
        entry = FaqEntry(id=faq_id, question=draft["question"], alternates=draft.get("alternates", []),
                         answer=draft["answer"], tags=draft.get("tags", []))
    except ValidationError as exc:
        problems = "；".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        await update.effective_message.reply_text(f"内容有问题：{problems}\n请重新开始（/faq_add）。")
        context.user_data.pop("draft", None)
        return ConversationHandler.END
    draft["entry"] = entry
    owner = update.effective_user.id
    tokens = context.services.tokens
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("✅ 保存", callback_data=tokens.issue(owner, "save")),
                                      InlineKeyboardButton("✖️ 取消", callback_data=tokens.issue(owner, "drop"))]])
    await update.effective_message.reply_text("预览：\n" + _show(entry), reply_markup=keyboard)
    return CONFIRM


@admin_only(end_conversation=True)
async def confirm_save(update: Update, context: BotContext) -> int:
    if await _take(update, context) is None:
        return CONFIRM
    draft = context.user_data.pop("draft", None)
    if not draft or "entry" not in draft:
        await update.effective_message.reply_text(texts.BUTTON_EXPIRED)
        return ConversationHandler.END
    entry: FaqEntry = draft["entry"]
    result = _kb(context).upsert(entry, actor=_actor(update))
    if draft.get("pending"):
        context.services.app.inbox.close(draft["pending"], by=_actor(update))
    word = {"added": "已新增", "updated": "已更新", "unchanged": "没有变化"}[result]
    await update.effective_message.reply_text(f"{word}（{entry.id}），马上生效 ✅")
    return ConversationHandler.END


async def confirm_drop(update: Update, context: BotContext) -> int:
    if await _take(update, context) is None:
        return CONFIRM
    context.user_data.pop("draft", None)
    await update.effective_message.reply_text("已取消，什么都没改。")
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    context.user_data.pop("draft", None)
    await update.effective_message.reply_text(texts.CANCELLED)
    raise ApplicationHandlerStop(ConversationHandler.END)  # handled: not "nothing to cancel" too


@admin_only(end_conversation=True)
async def start_edit(update: Update, context: BotContext) -> int:
    entry = _kb(context).get((context.args or [""])[0])
    if entry is None:
        await update.message.reply_text("用法：/faq_edit ID（ID 可以用 /faq_find 查）" if not context.args
                                        else f"没有找到 {context.args[0]}")
        return ConversationHandler.END
    context.user_data["draft"] = {"mode": "edit", "id": entry.id, **entry.model_dump(exclude={"id"})}
    owner = update.effective_user.id
    tokens = context.services.tokens
    rows = [[InlineKeyboardButton(label, callback_data=tokens.issue(owner, "field", name))]
            for name, label in FIELDS.items()]
    await update.message.reply_text(_show(entry) + "\n\n要改哪一项？", reply_markup=InlineKeyboardMarkup(rows))
    return PICK_FIELD


async def picked_field(update: Update, context: BotContext) -> int:
    name = await _take(update, context)
    if name is None:
        return PICK_FIELD
    context.user_data["draft"]["field"] = name
    hint = "（多个用逗号或换行分开，清空发 -）" if name in ("alternates", "tags") else ""
    await update.effective_message.reply_text(f"请发送新的{FIELDS[name]}{hint}：")
    return ASK_VALUE


async def got_value(update: Update, context: BotContext) -> int:
    draft = context.user_data["draft"]
    name = draft.pop("field")
    text = update.message.text
    draft[name] = _split(text) if name in ("alternates", "tags") else text.strip()
    return await _preview(update, context)


def conversation() -> ConversationHandler:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # per_message=False on purpose: the conversation follows the admin, not one message.
        warnings.simplefilter("ignore", PTBUserWarning)
        return _conversation(text)


def _conversation(text) -> ConversationHandler:
    return ConversationHandler(
        entry_points=[CommandHandler("faq_add", start_add), CommandHandler("faq_edit", start_edit),
                      CallbackQueryHandler(start_add_from_pending, pattern=r"^a:new:")],
        states={
            ASK_QUESTION: [MessageHandler(text, got_question)],
            ASK_ALTERNATES: [MessageHandler(text, got_alternates)],
            ASK_ANSWER: [MessageHandler(text, got_answer)],
            ASK_TAGS: [MessageHandler(text, got_tags)],
            PICK_FIELD: [CallbackQueryHandler(picked_field, pattern=r"^a:field:")],
            ASK_VALUE: [MessageHandler(text, got_value)],
            CONFIRM: [CallbackQueryHandler(confirm_save, pattern=r"^a:save:"),
                      CallbackQueryHandler(confirm_drop, pattern=r"^a:drop:")],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="faq_edit", allow_reentry=True, per_chat=True, per_user=True,
    )


# -- one-shot commands -------------------------------------------------------------
@admin_only()
async def faq_show(update: Update, context: BotContext) -> None:
    entry = _kb(context).get((context.args or [""])[0])
    if entry is None:
        await update.message.reply_text("用法：/faq_show ID" if not context.args else f"没有找到 {context.args[0]}")
        return
    votes = context.services.app.answers.votes(entry.id)
    await update.message.reply_text(_show(entry) + f"\n反馈：👍{votes.get('up', 0)} 👎{votes.get('down', 0)}")


@admin_only()
async def faq_find(update: Update, context: BotContext) -> None:
    query = " ".join(context.args or []).strip()
    if not query:
        await update.message.reply_text("用法：/faq_find 文本")
        return
    kb = _kb(context)
    ranked, _ = kb.retriever.rank(query)
    hits = [c.faq_id for c in ranked[:8]]
    hits += [e.id for e in kb.entries() if query in e.question and e.id not in hits][:5]
    if not hits:
        await update.message.reply_text("没有找到相关问答。")
        return
    lines = [f"{faq_id} — {kb.get(faq_id).question}" for faq_id in hits if kb.get(faq_id)]
    await update.message.reply_text("找到这些：\n" + "\n".join(lines))


def _list_page(context: BotContext, owner: int, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    entries = _kb(context).entries()
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    chunk = entries[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    body = "\n".join(f"{e.id} — {e.question}" for e in chunk) or "知识库是空的。"
    nav = []
    tokens = context.services.tokens
    if page > 0:
        nav.append(InlineKeyboardButton("◀ 上一页", callback_data=tokens.issue(owner, "page", page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("下一页 ▶", callback_data=tokens.issue(owner, "page", page + 1)))
    return f"问答列表 第{page + 1}/{pages}页（共{len(entries)}条）\n{body}", InlineKeyboardMarkup([nav]) if nav else None


@admin_only()
async def faq_list(update: Update, context: BotContext) -> None:
    page = int(context.args[0]) - 1 if context.args and context.args[0].isdigit() else 0
    text, markup = _list_page(context, update.effective_user.id, page)
    await update.message.reply_text(text, reply_markup=markup)


@admin_only()
async def on_page(update: Update, context: BotContext) -> None:
    page = await _take(update, context)
    if page is None:
        return
    text, markup = _list_page(context, update.effective_user.id, page)
    await update.callback_query.edit_message_text(text, reply_markup=markup)


@admin_only()
async def faq_history(update: Update, context: BotContext) -> None:
    faq_id = (context.args or [""])[0]
    history = _kb(context).history(faq_id) if faq_id else []
    if not history:
        await update.message.reply_text("用法：/faq_history ID" if not faq_id else f"{faq_id} 没有修改记录")
        return
    lines = []
    for rev in history[-10:]:
        when = rev.at.strftime("%Y-%m-%d %H:%M") if isinstance(rev.at, datetime) else str(rev.at)
        changes = []
        for key, label in FIELDS.items():
            before = (rev.before or {}).get(key)
            after = (rev.after or {}).get(key)
            if before != after:
                changes.append(f"  {label}：{before or '—'} → {after or '—'}")
        lines.append(f"{when} {rev.actor} {rev.action}\n" + "\n".join(changes))
    await update.message.reply_text(f"{faq_id} 的修改记录：\n" + "\n".join(lines))


@admin_only()
async def faq_delete(update: Update, context: BotContext) -> None:
    entry = _kb(context).get((context.args or [""])[0])
    if entry is None:
        await update.message.reply_text("用法：/faq_del ID" if not context.args else f"没有找到 {context.args[0]}")
        return
    owner = update.effective_user.id
    tokens = context.services.tokens
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("🗑 确认删除", callback_data=tokens.issue(owner, "del", entry.id)),
                                      InlineKeyboardButton("取消", callback_data=tokens.issue(owner, "nop"))]])
    await update.message.reply_text("确定删除这条吗？\n" + _show(entry), reply_markup=keyboard)


@admin_only()
async def on_delete(update: Update, context: BotContext) -> None:
    faq_id = await _take(update, context)
    if faq_id is None:
        return
    try:
        _kb(context).remove(faq_id, actor=_actor(update))
    except KeyError:
        await update.callback_query.edit_message_text(f"{faq_id} 已经不在了。")
        return
    await update.callback_query.edit_message_text(f"已删除 {faq_id}，马上生效。")


async def on_nop(update: Update, context: BotContext) -> None:
    if await _take(update, context) is not None:
        await update.callback_query.edit_message_text("好的，没有改动。")


@admin_only()
async def faq_export(update: Update, context: BotContext) -> None:
    entries = _kb(context).entries()
    data = dump_yaml(entries).encode("utf-8")
    name = f"faq-{datetime.now():%Y%m%d-%H%M}.yml"
    await update.message.reply_document(io.BytesIO(data), filename=name, caption=f"共 {len(entries)} 条问答")


async def reply_file_problems(update: Update, errors: list[str]) -> None:
    """An uploaded file was not imported: list the first problems so the admin can fix them."""
    shown = "\n".join(errors[:20]) + ("\n…" if len(errors) > 20 else "")
    await update.message.reply_text(f"文件里有 {len(errors)} 个问题，没有导入：\n{shown}\n改好后再发一次。")


# An FAQ file to import; any other file goes on to the ticket and "cannot read it" handlers.
KB_FILE = (filters.Document.FileExtension("yml") | filters.Document.FileExtension("yaml")
           | filters.Document.FileExtension("csv"))


@admin_only()
async def on_document(update: Update, context: BotContext) -> None:
    doc = update.message.document
    name = (doc.file_name or "").lower()
    raw = await (await doc.get_file()).download_as_bytearray()
    try:
        report = read_text(bytes(raw).decode("utf-8-sig"), "csv" if name.endswith(".csv") else "yaml")
    except (KbFileError, UnicodeDecodeError) as exc:
        await update.message.reply_text(f"文件读不了：{exc}")
        return
    if not report.ok:
        await reply_file_problems(update, report.errors)
        return
    plan = _kb(context).plan_import(report.entries, replace=True)
    owner = update.effective_user.id
    tokens = context.services.tokens
    keyboard = InlineKeyboardMarkup([
        [InlineKeyboardButton("✅ 导入（保留文件外的条目）", callback_data=tokens.issue(owner, "imp", (report.entries, False)))],
        [InlineKeyboardButton("♻️ 导入并删除文件外的条目", callback_data=tokens.issue(owner, "imp", (report.entries, True)))],
        [InlineKeyboardButton("取消", callback_data=tokens.issue(owner, "nop"))]])
    await update.message.reply_text(
        f"文件共 {len(report.entries)} 条：新增 {len(plan.added)}，修改 {len(plan.updated)}，"
        f"不变 {plan.unchanged}；知识库里有 {len(plan.removed)} 条不在文件中。\n确认导入吗？", reply_markup=keyboard)


@admin_only()
async def on_import(update: Update, context: BotContext) -> None:
    payload = await _take(update, context)
    if payload is None:
        return
    entries, replace = payload
    summary = _kb(context).apply_import(entries, actor=_actor(update), replace=replace)
    await update.callback_query.edit_message_text(
        f"导入完成 ✅ 新增 {len(summary.added)}，修改 {len(summary.updated)}，删除 {len(summary.removed)}，"
        f"不变 {summary.unchanged}。马上生效。")


@admin_only()
async def faq_pending(update: Update, context: BotContext) -> None:
    items = context.services.app.inbox.pending(limit=5)
    if not items:
        await update.message.reply_text("待处理的问题是空的 👍")
        return
    owner = update.effective_user.id
    tokens = context.services.tokens
    for item in items:
        keyboard = InlineKeyboardMarkup([[
            InlineKeyboardButton("➕ 新建问答", callback_data=tokens.issue(owner, "new", item.id)),
            InlineKeyboardButton("🔗 加为同义问法", callback_data=tokens.issue(owner, "alt", item.id)),
            InlineKeyboardButton("忽略", callback_data=tokens.issue(owner, "ign", item.id))]])
        picked = _kb(context).get(item.picked) if item.picked else None
        seen = f"\n提问的司机点开了：{picked.question}" if picked is not None else ""
        await update.message.reply_text(f"「{item.text}」被问了 {item.count} 次{seen}", reply_markup=keyboard)


@admin_only()
async def on_pending_alternate(update: Update, context: BotContext) -> None:
    item_id = await _take(update, context)
    item = context.services.app.inbox.get(item_id) if item_id is not None else None
    if item is None:
        return
    kb = _kb(context)
    ranked, _ = kb.retriever.rank(item.text)
    entries = []  # the entry the asker picked first, then the closest others; each read once
    for faq_id in dict.fromkeys(([item.picked] if item.picked else []) + [c.faq_id for c in ranked]):
        entry = kb.get(faq_id)  # None when an admin removed it meanwhile
        if entry is not None:
            entries.append(entry)
        if len(entries) == 3:
            break
    owner = update.effective_user.id
    tokens = context.services.tokens
    rows = [[InlineKeyboardButton(e.question[:60], callback_data=tokens.issue(owner, "altto", (item.id, e.id)))]
            for e in entries]
    if not rows:
        await update.effective_message.reply_text("没有相近的问答，请用“新建问答”。")
        return
    await update.effective_message.reply_text(f"把「{item.text}」加到哪一条？", reply_markup=InlineKeyboardMarkup(rows))


@admin_only()
async def on_pending_alternate_to(update: Update, context: BotContext) -> None:
    payload = await _take(update, context)
    if payload is None:
        return
    item_id, faq_id = payload
    inbox, kb = context.services.app.inbox, _kb(context)
    item, entry = inbox.get(item_id), kb.get(faq_id)
    if item is None or entry is None:
        await update.callback_query.edit_message_text(texts.BUTTON_EXPIRED)
        return
    kb.upsert(entry.model_copy(update={"alternates": [*entry.alternates, item.text]}), actor=_actor(update))
    inbox.close(item_id, by=_actor(update))
    await update.callback_query.edit_message_text(f"已把「{item.text}」加为 {faq_id} 的同义问法，马上生效 ✅")


@admin_only()
async def on_pending_ignore(update: Update, context: BotContext) -> None:
    item_id = await _take(update, context)
    if item_id is None:
        return
    context.services.app.inbox.close(item_id, by=_actor(update))
    await update.callback_query.edit_message_text("已忽略。")


@admin_only()
async def admin_add(update: Update, context: BotContext) -> None:
    arg = (context.args or [""])[0]
    if not arg.lstrip("-").isdigit():
        await update.message.reply_text("用法：/admin_add 用户ID（数字）")
        return
    added = context.services.app.admins.add(int(arg), added_by=update.effective_user.id)
    await update.message.reply_text(f"已添加管理员 {arg}" if added else f"{arg} 已经是管理员了")


def handlers() -> list:
    """All admin handlers, the conversation first so its states win."""
    private = filters.ChatType.PRIVATE
    return [
        conversation(),
        CommandHandler("faq_show", faq_show),
        CommandHandler("faq_find", faq_find),
        CommandHandler("faq_list", faq_list),
        CommandHandler("faq_history", faq_history),
        CommandHandler("faq_del", faq_delete),
        CommandHandler("faq_export", faq_export),
        CommandHandler("faq_pending", faq_pending),
        CommandHandler("admin_add", admin_add),
        MessageHandler(private & KB_FILE, on_document),
        CallbackQueryHandler(on_page, pattern=r"^a:page:"),
        CallbackQueryHandler(on_delete, pattern=r"^a:del:"),
        CallbackQueryHandler(on_import, pattern=r"^a:imp:"),
        CallbackQueryHandler(on_pending_alternate, pattern=r"^a:alt:"),
        CallbackQueryHandler(on_pending_alternate_to, pattern=r"^a:altto:"),
        CallbackQueryHandler(on_pending_ignore, pattern=r"^a:ign:"),
        CallbackQueryHandler(on_nop, pattern=r"^a:"),  # anything else with a token: check and refuse
    ]
