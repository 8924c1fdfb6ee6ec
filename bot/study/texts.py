"""User-facing Chinese text of the daily study feature, in one place so the tone stays
friendly, brief and reviewable (the shared bot/texts.py keeps the other features')."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .schema import StudyItem

WEEKDAYS = "一二三四五六日"


def day_label(d: date) -> str:
    return f"{d.month}月{d.day}日 星期{WEEKDAYS[d.weekday()]}"


def render_item(item: "StudyItem", day: date, *, with_quiz_hint: bool = True) -> str:
    """The study message: plain text, so nothing in an item can break Telegram's parser."""
    lines = [f"📚 每日学习 · {day_label(day)}", "", f"【{item.title}】", item.body, "", f"📖 来源：{item.source}"]
    if item.quiz is not None and with_quiz_hint:
        lines.append("👇 下面有道小题，答一下就算今天打卡了！")
    return "\n".join(lines)


def quiz_question(item: "StudyItem") -> str:
    q = f"每日一题：{item.quiz.question}"
    return q if len(q) <= 300 else item.quiz.question


TODAY_NONE = "学习库还是空的，请管理员先导入学习内容 🙏"
TODAY_PREVIEW_NOTE = "（这是本群今天要推送的内容，还没到推送时间）"
TIME_USAGE = "用法：/study_time 06:45（24小时制）"
TIME_SET = "好的 ✅ 本群以后每天 {time} 推送每日学习。"
TIME_SHOW = "本群每天 {time} 推送每日学习（{state}）。改时间：/study_time 06:45；关闭：/study_off；开启：/study_on"
STATE_ON = "已开启"
STATE_OFF = "已关闭"
TURNED_ON = "每日学习已开启 ✅ 每天 {time} 推送。"
TURNED_OFF = "每日学习已关闭。想恢复时发 /study_on。"
NOT_ALLOWED = "只有群管理员或支部书记可以改这个设置 🙏"
GROUP_ONLY = "这个命令请在司机群里用 🙏"
STATS_HEADER = "📊 本周学习打卡（{start}–{end}）\n已推送 {days} 天，{people} 人答题 {answers} 次，正确率 {rate}"
STATS_LINE = "{n}. {name}：答题 {answers} 次，答对 {correct} 次，连续打卡 {streak} 天"
STATS_EMPTY = "这周还没有人答题，明天的小题等你来 💪"
SUMMARY_HEADER = "📊 {branch} 上周学习情况（{start}–{end}）"
SUMMARY_GROUP = "• {title}：推送 {days} 天，{people} 人答题 {answers} 次，正确率 {rate}"
SUMMARY_TOP = "  打卡之星：{names}"
SUMMARY_FOOT = "在群里发 /study_stats 可以随时看本周情况。"


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "—"
