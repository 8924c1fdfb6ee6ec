"""Is a message worded as a question (asking for a fact), or as a statement or a request?

The complaint classifier sees topic words (运费, 罚款, 服务区) and a driver's own situation, and
reads many plain questions about those topics as complaints: "入党申请能交给我们流动党员支部不",
"超重不到一吨罚不罚款". Filing such a message as a ticket sends the secretary work nobody asked
for, while the driver, who wanted an answer, gets none. The wording tells the two apart well:
a question ends in 吗/不/没, repeats a verb with 不 in between (罚不罚), or asks 多少/哪里/什么;
a grievance states what happened ("运费拖了两个月还不给") and ends in "咋办" at most, and a
request asks someone to act ("书记能不能帮我反映"), which is a complaint whatever its wording.

Matched on simplified, half-width text (the message's cached shadow); the question mark is ignored, since drivers put one
after "咋办" as often as after a real question. Rhetorical questions ("这不是逼人吗") count as
questions: the ticket flow then asks the driver first instead of filing at once, which costs
one tap, not the complaint.
"""

from __future__ import annotations

import re

from .text import message_shadow

# Sentence-final particles that may follow the interrogative ending (行不哦, 有热水没嘛).
_TAIL = r"(?:哦|啊|嘛|呀|哈|嘞|喃|嗦|噻|撒|呢|啦|哟|咯|吧)*\s*$"

_QUESTION = re.compile(
    rf"(?:吗|么|不|否|没得|得不得|行不行|对不对|是不是|有没有){_TAIL}"
    rf"|(?:有\S{{1,8}}|了)没有?{_TAIL}"  # 有热水没, 下雪了没有 (not 都没有 or 没热水了)
    r"|([\u4e00-\u9fff])[不没]\1"  # 罚不罚, 过不过, 超没超, 能不能
    r"|多少|几多|好多(?:钱|吨|米|分|号|公里)"
    r"|(?<![好十有])几(?!十)[个米吨点号天年分岁轴桥类级次种]"  # not 好几天, 有几个人
    rf"|几{_TAIL}"  # 12328按几
    r"|好久(?!没|不|都|了)|多久|多长|多高|多重|多宽|多远|多大"
    r"|哪(?!怕|\S?[都也])"  # 哪里, 往哪交, 哪样 (not 哪怕, 哪个都能进)
    r"|什么(?!\S?[都也])|啥(?!\S?[都也])|谁(?!\S?[都也])|为什么|为啥|如何|干嘛"  # not 啥事都不管, 谁都不管
    r"|怎么(?!办|整|搞)|咋(?!个?[办整搞])个?[\u4e00-\u9fff]"  # 咋过, 咋个交 (not 咋办, 咋个整)
)
# Asking someone to act is a request, whatever the wording: "能不能帮我反映一下".
_REQUEST = re.compile(r"帮(?:我|忙|下|一下|着)|跟进|催(?:一下|下|促)|做主|主持公道")


def asks_question(text: str) -> bool:
    """True when the message asks for a fact rather than telling what happened or asking
    for help (see the module docstring)."""
    s = message_shadow(text or "")
    return bool(_QUESTION.search(s)) and not _REQUEST.search(s)
