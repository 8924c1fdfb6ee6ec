"""What drivers and secretaries read about tickets: brief, friendly Chinese, in one place."""

CATEGORY = {
    "freight_payment": "运费拖欠", "theft": "偷油偷货", "platform": "平台收费/压价", "enforcement": "执法罚款",
    "facility": "场站设施", "emergency": "紧急求助", "other": "其他",
}
STATE = {
    "new": "待受理", "accepted": "已受理", "in_progress": "办理中", "need_info": "待补充", "escalated": "已转上级",
    "resolved": "已办结待评价", "closed": "已办结", "rejected": "非诉求", "reopened": "重新办理",
}
GRADE = {"urgent": "🚨紧急", "normal": "一般"}
RATING = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}
ENTITY = {"amount": "金额", "plate": "车牌", "phone": "电话", "place": "地点", "party": "对方", "highway": "高速",
          "stake": "桩号", "time": "时间"}

# -- group / driver ---------------------------------------------------------------------
ACK = "收到 ✅ 已登记为诉求 {number}，由{handler}跟进，{accept}。"
ACK_DETAILS = "要补充细节或照片，点下面按钮私聊我。"  # beside the details button (not in the console)
ACK_DETAILS_PRIVATE = "照片、语音、视频直接发给我就行；要补充文字，点下面按钮。"  # media_ticket takes them
ACK_ACCEPT_URGENT = "{minutes}分钟内受理"
ACK_ACCEPT = "{when} 前受理"
ADDED = "已补充到您的诉求 {number} 👍 书记会看到。"
LINKED = "同一件事已有诉求 {number}，已把您一起登记，办理进度会同步告诉您。"
ASK_CONFIRM = "听起来您遇到麻烦了 😟 要不要登记成诉求，交给支部书记处理？"
# The same offer right after the FAQ's suggestions: one of them may be all the driver wanted.
ASK_AFTER_FAQ = "要是想让支部书记帮着处理，也可以登记成诉求 👇"
BTN_CONFIRM = "📋 登记诉求"
BTN_DROP = "不用了"
DROPPED = "好的，没登记。有事随时说 🙏"
BTN_DETAILS = "📎 私聊补充细节"
BTN_OPEN_PRIVATE = "💬 私聊查看"
COMPLAIN_USAGE = "用法：/complain 您遇到的事，比如 /complain 运费拖了两个月不给"
HANDLER_BRANCH = "「{branch}」书记"
HANDLER_ADMINS = "管理员"

DRIVER_ACCEPTED = "您的诉求 {number} 已受理 👍 书记正在处理，预计 {when} 前办结。"
DRIVER_NEED_INFO = "您的诉求 {number} 需要补充一些情况，点按钮私聊我，把细节或照片发给我就行。"
DRIVER_RELAY = "关于诉求 {number}，书记回复：\n{text}"
DRIVER_ESCALATED = "您的诉求 {number} 已转交行业党委协调，有进展会告诉您。"
DRIVER_REJECTED = ("您反映的情况书记看过了 🙏 这条不需要按诉求办理（可能是咨询，或已经解决）。"
                   "还有问题随时在群里说，或打 12328。")
DRIVER_RESOLVED = "您的诉求 {number} 已办结 ✅\n办理结果：{note}\n问题解决了吗？请点一下评价："
DRIVER_RESOLVED_GROUP = "您的诉求 {number} 已办结，请点下面按钮评价一下（办理结果请私聊我查看）。"
DRIVER_REOPENED = "收到，诉求 {number} 已重新交办，书记会继续跟进。"
DRIVER_CLOSED = "谢谢您的评价！诉求 {number} 已归档 🙏"
DRIVER_FOLLOWUP = "诉求 {number} 办结后还没收到您的评价，问题解决了吗？"
GROUP_MENTION = "{mention}，{body}"
GROUP_UPDATE = "您的诉求 {number} 有新进展（{state}），点按钮私聊我查看。"
BTN_RATE = {"satisfied": "😊 满意", "basically": "🙂 基本满意", "unsatisfied": "😞 不满意", "unsolved": "❌ 未解决"}

DETAILS_OPEN = ("这是您的诉求 {number}（{state}）。直接把细节、照片、语音或视频发给我，我会补充到工单里转给书记。"
                "{recent}")
DETAILS_RECENT = "\n\n书记最近的回复：\n{text}"
DETAILS_ADDED = "已补充到诉求 {number} ✅ 书记会看到。"
NOT_YOUR_TICKET = "这个诉求不是您登记的哦，看不了 🙏"
TICKET_GONE = "找不到这个诉求编号，核对一下？"

# -- secretary --------------------------------------------------------------------------
CARD_TITLE = {"urgent": "🚨 紧急诉求 {number}", "normal": "📋 新诉求 {number}"}
CARD = ("{title}\n支部：{branch} · 群：{group}\n司机：{reporter}{more}\n类别：{category} · 分级：{grade} · 状态：{state}\n"
        "内容：「{text}」{entities}{additions}\n时限：{limits}{resolution}\n\n直接回复这条消息，内容会转给司机。")
CARD_MORE = "（另有 {n} 位司机反映同一件事）"
CARD_LIMITS = "{accept} 前受理；{resolve} 前办结"
BTN_ACCEPT, BTN_INFO, BTN_RESOLVE, BTN_ESCALATE, BTN_REJECT = "受理", "需补充", "办结", "转上级", "非诉求"
ASK_NOTE = "请回复这条消息，写一句办结说明（怎么解决的），我会转给司机：诉求 {number}"
ADDITION = "📝 诉求 {number} 补充：\n「{text}」"
ADDITION_FROM = "📝 诉求 {number}：{name} 也反映了同一件事：\n「{text}」"
MEDIA_CAPTION = "📎 诉求 {number} 的补充材料{caption}"
MEDIA_NOTE = {"photo": "[照片]", "voice": "[语音]", "video": "[视频]", "document": "[文件]"}  # in the ticket's history
RELAYED = "已转给司机 ✅"
RELAY_UNREACHABLE = "已转给司机（他没私聊过机器人，在群里提醒他来看）✅"
NOTE_SAVED = "已办结 ✅ 已请司机评价。"
STATE_CHANGED = "已更新：{state}"
NOT_ALLOWED = "只有本支部书记和管理员能处理这个诉求 🙏"
BUSY = "这个诉求刚被别人更新了，请再试一次 🙏"
WRONG_STATE = "这个诉求现在是「{state}」，不能这样操作了"
SECRETARY_UNREACHABLE = ("⚠️ 诉求 {number} 的通知发不到书记 {user}（还没私聊过机器人，或屏蔽了机器人）。"
                         "请提醒他先私聊机器人一次。下面是原卡片：")
REMIND = "⏰ 诉求 {number} 快到时限了：{what}（{when} 前）。"
OVERDUE = "⚠️ 诉求 {number} 超时未{what}（时限 {when}），已上报。"
OVERDUE_ESCALATION = "⚠️ 超时上报：诉求 {number} 超时未{what}（时限 {when}，{branch}）。"
OVERDUE_ADMINS = "‼️ 诉求 {number} 严重超时未{what}（时限 {when}，{branch}），请协调。"
ESCALATED_CARD = "⬆️ {branch} 转上级：\n"
URGENT_COPY = "🚨 紧急诉求抄送：\n"
DEADLINE_WHAT = {"accept": "受理", "progress": "反馈进展", "resolve": "办结"}
REOPENED_CARD = "🔁 司机反馈未解决，诉求 {number} 已重新打开，请继续办理（{when} 前办结）。"
RATED_CARD = "⭐ 诉求 {number}：{name} 评价「{rating}」。"
DRIVER_ADDED_INFO = "📝 诉求 {number}：司机补充了情况，状态回到「{state}」。"

# -- lists, stats, binding --------------------------------------------------------------------
NO_OPEN = "没有待办的诉求 👍"
OPEN_LIST = "待办诉求（{n}）：\n{lines}\n\n用 /ticket 编号 查看详情。"
TICKET_USAGE = "用法：/ticket SQ-20261124-0007"
NOT_SECRETARY = "这个功能给支部书记和管理员用 🙏"
BIND_USAGE = "请回复要绑定的那个人的消息，发 /bind_secretary"
BIND_ONLY_ADMINS = "只有群管理员能绑定支部书记 🙏"
BIND_ASK = "{name}，群管理员请您担任「{branch}」的支部书记，负责处理群里的诉求。同意请点确认："
BTN_BIND = "✅ 确认担任"
BIND_DONE = "✅ {name} 已担任「{branch}」书记。请先私聊我一次（点我头像→发消息），才能收到诉求通知。"
BIND_ALREADY = "{name} 已经是「{branch}」书记了"
STATS_HEAD = "📊 诉求统计（近 {days} 天，{scope}）"
REPORT_CAPTION = "📈 近 30 天诉求（{scope}）：收到 {collected}，办结 {resolved}，办结率 {rate}"
