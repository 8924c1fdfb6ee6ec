"""What a question asks for, read from its wording.

A question about the right topic can still ask something the entry does not answer:
"龙溪大道限高多少" asks for an amount, "龙溪大道的限高杆好久拆" asks when, and
"那个限高杆是哪家公司做的" asks who. Comparing the kinds a query asks for with the kinds
the entry's own question and alternates ask for is cheap evidence against answering
such trap questions (one feature of the calibration model, see calibration.py).
Only kinds that change which fact is wanted are listed; "how" and yes/no wordings are
too loose to tell entries apart. One kind vetoes an answer outright: a question
for a brand, product or maker ("北斗定位设备哪个牌子好", "哪个刷题app好用") is never
answered by an entry that does not itself ask for one, however well the topic matches.
"""

from __future__ import annotations

import re

_KINDS = {
    "when": r"什么时候|啥时候|啥时|哪天|几时|何时|几点|哪年|几号|几月份|好久(?!没|不|都|了)|多久|多长时间|多少天|几天",
    "where": r"哪里|哪儿|哪点|在哪|去哪|到哪|哪有|哪个地方|什么地方|啥地方|何处|哪边|地址|位置",
    "who": r"谁|哪家|哪个公司|什么公司|哪个单位|什么单位|哪个部门|什么部门|找哪个|哪个管|哪个取",
    "maker": r"(?:哪个|哪种|哪款|哪家|什么|啥子|啥).{0,3}?(?:牌子|品牌|型号|app|软件)|厂家|厂商|哪个厂|哪家厂|(?:哪家|哪个|什么)公司(?:做|造|生产|建|装|修)|谁(?:做|造|生产|建|装)的(?!主)",
    "amount": r"多少|好多|几多|几米|几吨|几分|几个|几类|几级|几岁|几年|几次|几轴|几桥|多高|多重|多宽|多长(?!时间)|"
              r"多大|多远|多快|百分之几|几成|几折|收费|要钱|收钱|免费|价格|费用|多钱",
    "why": r"为什么|为啥|咋个会|怎么会|凭什么|啥原因|什么原因",
}
_KIND_RE = {k: re.compile(v) for k, v in _KINDS.items()}
KINDS = tuple(_KINDS)


def question_types(normalized: str) -> frozenset[str]:
    """The kinds of fact a normalised (not synonym-replaced) question asks for."""
    return frozenset(k for k, rx in _KIND_RE.items() if rx.search(normalized))


# "Where" is left out: "在哪办" asks the same as "怎么办" too often to count against an entry.
MISMATCH_KINDS = frozenset(KINDS) - {"where"}


VETO_KINDS = frozenset({"maker"})


def vetoed(query_types: frozenset[str], entry_types: frozenset[str]) -> bool:
    """True when the query asks for a kind of fact that no entry answers unless it says so."""
    return bool((query_types - entry_types) & VETO_KINDS)


def type_mismatch(query_types: frozenset[str], entry_types: frozenset[str]) -> float:
    """1.0 when the query asks for a kind of fact that none of the entry's wordings ask for."""
    return float(bool((query_types - entry_types) & MISMATCH_KINDS))
