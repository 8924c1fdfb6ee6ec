"""User-facing Chinese text in one place, so tone stays consistent and reviewable."""

HELP = (
    "我是司机之家助手 🚚\n"
    "• 在群里直接问：限高、限重、从业资格证、ETC 过路费、司机之家、党费和组织关系……我有把握就回答，没把握就不打扰。\n"
    "• /ask 问题：专门问我一个问题。\n"
    "有急事请打 12328（交通运输服务监督）、12122（高速救援）或 110/120。"
)
SUGGEST_INTRO = "您是不是想问："
NOT_SURE = "这个我还答不上来 🙏 已经记下了，会请管理员补充。急事可以找支部书记，或打 12328。"
ASK_USAGE = "用法：/ask 你的问题，比如 /ask 龙溪大道限高多少"
EMPTY = "没看到问题内容，再发一次试试？"
GONE = "这个问题的答案刚被管理员删掉了，换个问法再问问我？"
