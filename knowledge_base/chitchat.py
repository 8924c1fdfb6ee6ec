"""Cheap guards for messages that are clearly not questions for the FAQ.

The NLU layer makes the real call in the bot; these rules keep the retriever itself
quiet on greetings, acknowledgements and freight ads when it is used alone
(`driverhome ask`)."""

from __future__ import annotations

import re

_PHONE = re.compile(r"1[3-9][0-9]{9}|1[3-9][0-9]\*{4}[0-9]{4}|1[3-9][0-9]x{4,8}")
_CARGO = re.compile(r"求货|有货|配货|回头车|车找货|货找车|找车|急走|需要车|要车|拉货|求车|空车|"
                    r"运费面议|价格面议|整车|零担|平板|高栏|厢车|冷藏车|[0-9.]+米[0-9]?(?:板|车|箱)")
_SALE = re.compile(r"出售|转让|求购|收购|代办|包办|包过|低价|价格优惠|优惠价|有意私聊|有意者|私聊|联系电话|"
                   r"电话联系|微信同号|招聘|急招|高薪|诚聘")
_ROUTE = re.compile(r".{1,6}(?:到|发|至|→|-)[^ ]{1,8}")
_PLEASANTRIES = re.compile(
    r"^(?:(?:你们|大家|各位|师傅们?|兄弟们?|书记|老师|群主|伙计们?|朋友们?|助手|小助手|机器人)?"
    r"(?:好|早|早上好|早安|晚上好|晚安|中午好|下午好|你好|您好|在吗|在不在|有人吗|"
    r"吃饭没|吃了没|吃饭了没|吃饭了吗|吃了吗|吃了饭没|睡了没|"
    r"谢谢|感谢|多谢|谢了|辛苦了|辛苦|好的|收到|明白|明白了|知道了|了解|懂了|嗯+|哦+|行|可以|"
    r"ok|okay|好嘞|好滴|对|是的|学习了|点赞|赞|哈+|呵+|666+|牛|厉害|加油|平安|一路平安|注意安全)"
    r"(?:大家|各位|师傅们?|兄弟们?|书记|助手|小助手|机器人|啊|呀|哦|哈|啦|了|哈哈|嘛|呢|的)*)+$"
)


# _PLEASANTRIES backtracks exponentially on long runs ("哈" * 20 + "x" took over a minute), so
# runs of one character are cut to three and only short messages are tried: a greeting is short.
_RUN = re.compile(r"(.)\1{3,}")
_PLEASANTRY_MAX = 20


def is_chitchat(canonical: str) -> bool:
    """True for greetings/thanks/acks and ads: freight, trucks for sale, paid services
    (text already normalised)."""
    compact = canonical.replace(" ", "")
    if not compact:
        return True
    short = _RUN.sub(r"\1\1\1", compact)
    if len(short) <= _PLEASANTRY_MAX and _PLEASANTRIES.match(short):
        return True
    ad_signals = (bool(_PHONE.search(compact)) + bool(_CARGO.search(compact)) + bool(_SALE.search(compact))
                  + bool(_ROUTE.search(canonical)))
    return ad_signals >= 2 and "?" not in canonical and not re.search(r"吗|怎么|咋|能不能|可以不", compact)
