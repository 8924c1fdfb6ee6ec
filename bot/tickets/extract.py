"""Details in a complaint that the secretary needs and that link reports of one event:
amounts, plates, phones, places and parties. Works without the NLU (whose entities are
merged in when it runs), and a text similarity for spotting repeats."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(万|千)?\s*(?:元|块钱|块)")
_PLATE = re.compile(rf"[{_PROVINCES}]\s?[A-Z][\s·.-]?[A-Z0-9]{{5,6}}")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
_PLACE = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{2,8}?(?:服务区|收费站|停车场|物流园|货运站|司机之家|加油站|检查站|治超站|"
                    r"高速|货场|园区|码头|工地)")
_PARTY = re.compile(r"[\u4e00-\u9fa5A-Za-z]{2,10}?(?:公司|物流|平台|货站|车队|厂)")
_LEAD = "在到去从于我他她们的了是被就也还刚那这个有"
_WORDS = re.compile(r"[\W_]+", re.UNICODE)
# A keyword guess at the category when the NLU is off or gave none (order: most specific first).
_CATEGORIES = (
    ("emergency", re.compile(r"救命|抢劫|车祸|着火|起火|受伤|被困|持刀|拿刀|快报警")),
    ("theft", re.compile(r"偷|盗|抽油|被撬|扒货|少了货|油被")),
    ("freight_payment", re.compile(r"运费|欠款|拖欠|结账|结款|工钱|不给钱|要不到钱|赖账|押金")),
    ("platform", re.compile(r"平台|抽成|信息费|压价|会员费|服务费|派单")),
    ("enforcement", re.compile(r"罚款|罚单|扣分|执法|交警|路政|检查站|治超|乱罚|扣车")),
    ("facility", re.compile(r"厕所|热水|停车场|司机之家|洗澡|充电|加水|设施|没水|没电|太脏")),
)
# What a group may never see repeated back (the secretary does).
SENSITIVE = ("amount", "plate", "phone")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    return _t2s().convert(unicodedata.normalize("NFKC", text or "")).upper()


def _trim(value: str) -> str:
    while len(value) > 2 and value[0] in _LEAD:
        value = value[1:]
    return value


def extract(text: str) -> list[dict]:
    """[{entity, value}] found in `text`, in order, without duplicates."""
    norm = normalize(text)
    found: list[dict] = []

    def add(entity: str, value: str) -> None:
        item = {"entity": entity, "value": value}
        if value and item not in found:
            found.append(item)

    for m in _AMOUNT.finditer(norm):
        value = float(m.group(1)) * {"万": 10000, "千": 1000}.get(m.group(2) or "", 1)
        add("amount", f"{value:g}")
    for m in _PLATE.finditer(norm):
        add("plate", re.sub(r"[\s·.-]", "", m.group(0)))
    for m in _PHONE.finditer(norm):
        add("phone", m.group(1).replace("-", ""))
    for m in _PLACE.finditer(norm):
        add("place", _trim(m.group(0)))
    for m in _PARTY.finditer(norm):
        add("party", _trim(m.group(0)))
    return found


def categorize(text: str) -> str:
    """The complaint's category from keywords (when no NLU category is known)."""
    norm = normalize(text)
    return next((name for name, pattern in _CATEGORIES if pattern.search(norm)), "other")


def merge(nlu_entities, text: str) -> list[dict]:
    """NLU entities (objects with .entity/.value) first, then what the patterns find."""
    merged: list[dict] = []
    for e in nlu_entities or []:
        item = {"entity": str(getattr(e, "entity", "")), "value": str(getattr(e, "value", ""))}
        if item["entity"] and item["value"] and item not in merged:
            merged.append(item)
    for item in extract(text):
        if item not in merged:
            merged.append(item)
    return merged


def bigrams(text: str) -> set[str]:
    t = _WORDS.sub("", normalize(text))
    return {t[i:i + 2] for i in range(len(t) - 1)} or ({t} if t else set())


@lru_cache(maxsize=1024)
def _kept_bigrams(text: str) -> frozenset[str]:
    return frozenset(bigrams(text))


def _bigrams_of(text: str) -> frozenset[str] | set[str]:
    """A text's bigrams, kept for short texts: every report is compared with the same recent
    tickets' texts (a long text's would cost too much memory)."""
    return _kept_bigrams(text) if len(text) <= 200 else bigrams(text)


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams (0..1): cheap and fine for short messages."""
    x, y = _bigrams_of(a), _bigrams_of(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def shared_anchor(a: list[dict], b: list[dict], kinds=("place", "party", "highway", "stake", "plate")) -> bool:
    """Whether two reports name the same place or party (what ties drivers' reports together)."""
    left = {(e["entity"], e["value"]) for e in a if e["entity"] in kinds}
    return any((e["entity"], e["value"]) in left for e in b if e["entity"] in kinds)
