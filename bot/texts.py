"""User-facing Chinese text in one place, so tone stays consistent and reviewable."""

HELP_INTRO = "我是司机之家助手 🚚"
HELP_ASK = ("• 在群里直接问：限高、限重、从业资格证、ETC 过路费、司机之家、党费和组织关系……我有把握就回答，没把握就不打扰。\n"
            "• /ask 问题：专门问我一个问题。")
HELP_TICKETS = "• 遇到难处（运费被拖、乱收费、被刁难……）：发“#诉求 情况说明”或 /complain 情况说明，我登记好交给支部书记，进度会告诉您。"
HELP_STUDY = "• /today：看今天的每日学习，群里每天也会按时推送。"
HELP_URGENT = "有急事请打 12328（交通运输服务监督）、12122（高速救援）或 110/120。"
UNKNOWN_COMMAND = "没有这个命令 🤔 发 /help 看看我能做什么。"
MEDIA_UNREADABLE = "图片、语音和文件我还看不懂 🙏 麻烦打字说一下，用输入法的语音转文字也行。"
CANCELLED = "已取消。"
NOTHING_TO_CANCEL = "现在没有进行中的操作，不用取消 👌"


HELP_SECRETARY = ("书记常用（私聊我）：/tickets 待办诉求，/ticket 编号 查看一件，/stats 统计，/report 图表，"
                  "/export 导出；直接回复诉求卡片，就是回复司机。")
HELP_STUDY_TIME = "在群里发 /study_time 06:45 改本群的学习推送时间，/study_off、/study_on 关开（群管理员或书记）。"
HELP_ADMIN = ("管理员（私聊我）：/faq_add 新增问答，/faq_edit、/faq_del 修改删除，/faq_find 搜索，"
              "/faq_pending 没答上的问题，/faq_export 导出，发 .yml/.csv 文件导入；/admin_add 添加管理员。")
HELP_ADMIN_STUDY = "学习库：/study_add 新增，/study_show 查看，/study_export 导出，发文件名带 study 的 .yml 文件导入。"


def help_text(*, tickets: bool, study: bool, secretary: bool = False, admin: bool = False) -> str:
    """/help names only what this deployment has switched on, plus (in a private chat) the
    commands of the asker's roles."""
    lines = [HELP_INTRO, HELP_ASK]
    if tickets:
        lines.append(HELP_TICKETS)
    if study:
        lines.append(HELP_STUDY)
    lines.append(HELP_URGENT)
    if secretary and tickets:
        lines.append("\n" + HELP_SECRETARY)
    if secretary and study:
        lines.append(HELP_STUDY_TIME)
    if admin:
        lines.append("\n" + HELP_ADMIN)
    if admin and study:
        lines.append(HELP_ADMIN_STUDY)
    return "\n".join(lines)


SUGGEST_INTRO = "您是不是想问："
NOT_SURE_HINTS = "这个我没把握答准 🙏 看看是不是下面哪条？都不是的话已经记下了，会请管理员补充。"
NOT_SURE = "这个我还答不上来 🙏 已经记下了，会请管理员补充。急事可以找支部书记，或打 12328。"
# Small talk addressed to the bot, by NLU intent (nlu/understanding.py INTENTS).
SMALL_TALK = {
    "greet": "您好师傅 👋 限高、证件、ETC、司机之家、党务这些事，直接问我就行。",
    "thank": "不客气 😊 路上注意安全！",
    "acknowledge": "好嘞 👍",
}
SMALL_TALK_OTHER = "😄 我是司机之家助手，限高、证件、ETC、司机之家、党务这些问题随时问我。"
ASK_USAGE = "用法：/ask 你的问题，比如 /ask 龙溪大道限高多少"
EMPTY = "没看到问题内容，再发一次试试？"
GONE = "这个问题的答案刚被管理员删掉了，换个问法再问问我？"
ANSWERED_ABOVE = "这个问题刚回答过，看这条 👆"
BTN_UP = "👍有用"
BTN_DOWN = "👎没用"
BTN_HUMAN = "转人工"
THANKS_FEEDBACK = "收到，谢谢反馈！"
VOTED_ALREADY = "您已经反馈过啦"
BUTTON_EXPIRED = "这个按钮已经失效了"
HANDOVER_GROUP = "好的，已经转给管理员，稍后会有人跟进 🙏"
HANDOVER_NOTICE = "已转人工"
HANDOVER_ADMIN = "有司机需要人工解答：\n「{question}」\n（群 {chat}）"
COMPLAINT_PLACEHOLDER = ("听起来您遇到麻烦了 😟 请直接找本群支部书记反映，或打 12328 转 3（货运投诉）。"
                         "紧急情况请打 110 / 120 / 12122。")
NOT_ADMIN = "抱歉，这个功能只有知识库管理员能用 🙏"
WELCOME = ("大家好，我是司机之家助手 🚚\n"
           "群里问限高、证件、ETC、司机之家、党费这些问题，我有把握就直接回答，没把握就不打扰。"
           "也可以用 /ask 问题 专门问我，/help 看说明。\n"
           "⚠️ 请把我设为群管理员（或在 BotFather 关闭隐私模式），不然我只能看到 /命令 和 @我 的消息。")
PRIVATE_ONLY = "这个操作请私聊我进行 🙏"
NOT_YOURS = "这个按钮不是给您的"
