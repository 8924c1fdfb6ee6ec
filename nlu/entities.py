"""Rule-based entity extraction: amount, plate, phone, highway, stake, place, time.

The regexes, lookup tables and synonyms come from nlu/data/nlu.yml, the file the Rasa
server is trained on, so both backends find the same plates, phones and amounts. Code adds
only what a Rasa regex cannot express: the value of a Chinese numeral (四千二 = 4200),
bare numbers that are amounts because of money words nearby, and place names built from a
suffix (XX服务区, XX收费站, XX县) whose start must be found by trimming function words.

Matching runs on a simplified, half-width copy of the text with the same length, so
offsets are those of the original message."""

from __future__ import annotations

import re
from pathlib import Path

from .text import message_shadow, shadow, t2s
from .training_data import TrainingData
from .understanding import Entity

ENTITIES = ("amount", "plate", "phone", "highway", "stake", "place", "time")
# On overlap the longer span wins; on equal length, the earlier entity in this order.
_PRIORITY = {e: i for i, e in enumerate(("phone", "plate", "stake", "highway", "amount", "place", "time"))}

_CJK = "\u4e00-\u9fff"
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
# Chinese numerals that are money: with 百/千/万 in them or followed by 元/块 (四千二, 两万, 三百块),
# not a percentage (百分之) and not followed by a measure (千斤顶, 十几箱, 两百多升).
_CN_AMOUNT = re.compile(r"(?<!百分之)(?<![零一二两三四五六七八九十百千万几])"
                        r"[一二两三四五六七八九十][零一二两三四五六七八九十百千万]+(?:多|来)?(?:块钱|块|元)?"
                        r"(?![零一二两三四五六七八九十百千万几多分米吨斤升箱件个次趟天年月号台辆轴点人车条卷桶袋公里方])")
_MEASURE = "米吨斤升箱件个次趟天年月号台辆轴点人车条卷桶袋分秒岁公方倍度级%％"
# A bare number is an amount when money words are near it (6800到现在还没结, 说好一趟1500),
# unless it is a hotline (12328, 12345, 110, 120 ...) or the second half of 9米6 / 4吨5.
_HOTLINE = re.compile(r"1(?:10|19|20|22)|12\d{3}|9\d{4}")
_BARE_NUMBER = re.compile(rf"(?<![0-9A-Za-z.+米吨点])\d+(?:\.\d+)?(?![0-9A-Za-z.+]|[{_MEASURE}])")
_MONEY_CUE = re.compile(r"运费|欠|罚|扣|给|付|结|赔|押金|保证金|费|钱|价|抽|退|交|损失|值|工资|收了|收我|要了|"
                        r"一趟|到手|块|元|现金|没到账|打款|压|少算|少给")
_PLACE_SUFFIX = re.compile(r"服务区|收费站|县")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_AMOUNT_NOISE = re.compile(r"\s+|块钱|块|元|塊錢|塊|多|来|左右")
_AMOUNT_UNIT = re.compile(r"(\d+(?:\.\d+)?)([万千])(\d?)")
_DECIMAL = re.compile(r"\d+(?:\.\d+)?")
_PLATE_SEPARATOR = re.compile(r"[·•\s]")
_NON_DIGIT = re.compile(r"\D")
_PLACE_STOP = set("请问在到从去往的了是个那这我你他她们里上下边和跟与就都也还又被把给让向对说叫一有没进出过离近区站园县号段"
                  "停拉跑走来回住睡歇吃洗")


def cn_number(s: str) -> int | None:
    """Value of a Chinese numeral: 四千二 = 4200, 一万二 = 12000, 三百五 = 350, 十五 = 15."""
    if not s:
        return None
    if "万" in s:
        hi, lo = s.split("万", 1)
        h = cn_number(hi) if hi else 1
        if h is None:
            return None
        if lo and len(lo) == 1 and lo in _CN_DIGIT:  # 一万二 = 12000
            return h * 10000 + _CN_DIGIT[lo] * 1000
        low = cn_number(lo) if lo else 0
        return None if low is None else h * 10000 + low
    total, current, last_unit = 0, None, 1
    for c in s:
        if c in _CN_DIGIT:
            current = _CN_DIGIT[c]
        elif c in _CN_UNIT:
            total += (1 if current is None else current) * _CN_UNIT[c]
            current, last_unit = None, _CN_UNIT[c]
        else:
            return None
    if current is not None:  # trailing digit after a unit: 四千二 = 4200, 三百五 = 350
        total += current * (last_unit // 10 if last_unit >= 100 else 1)
    return total


def amount_value(span: str) -> str:
    """Canonical amount in yuan as a string: 1.2万 -> 12000, 2万3 -> 23000, 四千二 -> 4200,
    3000多块 -> 3000. The span itself when it cannot be read."""
    s = _AMOUNT_NOISE.sub("", span).replace("萬", "万")
    m = _AMOUNT_UNIT.fullmatch(s)
    if m:
        unit = 10000 if m.group(2) == "万" else 1000
        value = float(m.group(1)) * unit + (int(m.group(3)) * unit // 10 if m.group(3) else 0)
    elif _DECIMAL.fullmatch(s):
        value = float(s)
    else:
        n = cn_number(s)
        if n is None:
            return span
        value = float(n)
    return str(int(value)) if value == int(value) else f"{value:g}"


class EntityExtractor:
    """Extracts entities with the patterns of one training file (see module doc)."""

    def __init__(self, data: TrainingData, dict_dir: Path | None = None):
        conv = t2s().convert
        lookups = {k: list(v) for k, v in data.lookups.items()}
        # Words of the jieba dictionary tagged `ns` (place names) are places too.
        for words in sorted(Path(dict_dir).glob("*.txt")) if dict_dir else []:
            for line in words.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[-1] == "ns":
                    lookups.setdefault("place", []).append(parts[0])
        self._regexes: list[tuple[str, re.Pattern]] = []
        for name, patterns in data.regexes.items():
            if name in ENTITIES:
                self._regexes += [(name, re.compile(p, re.IGNORECASE)) for p in patterns]
        self._lookups: list[tuple[str, re.Pattern]] = []
        for name, items in lookups.items():
            if name in ENTITIES and items:
                words = sorted({conv(w) for w in items}, key=len, reverse=True)  # longest first
                self._lookups.append((name, re.compile("|".join(map(re.escape, words)), re.IGNORECASE)))
        self._synonyms = {conv(k).upper(): conv(v) for k, v in data.synonyms.items()}
        self._patterns = self._regexes + self._lookups

    def extract(self, text: str) -> list[Entity]:
        s = message_shadow(text)
        found: list[tuple[str, int, int]] = []
        for name, rx in self._patterns:
            found += [(name, m.start(), m.end()) for m in rx.finditer(s) if m.end() > m.start()]
        found += [("amount", m.start(), m.end()) for m in _CN_AMOUNT.finditer(s)]
        found += self._places_by_suffix(s)
        taken = [(a, b) for n, a, b in found if n in ("phone", "plate", "stake", "highway")]
        for m in _BARE_NUMBER.finditer(s):
            if any(a < m.end() and m.start() < b for a, b in taken) or _HOTLINE.fullmatch(m.group()):
                continue
            window = s[max(0, m.start() - 6):m.start()] + " " + s[m.end():m.end() + 6]
            if _MONEY_CUE.search(window) and "百分之" not in s[max(0, m.start() - 3):m.start()]:
                found.append(("amount", m.start(), m.end()))
        return [Entity(n, self.value(n, text[a:b]), a, b) for n, a, b in _resolve(found)]

    @staticmethod
    def _places_by_suffix(s: str) -> list[tuple[str, int, int]]:
        out = []
        for m in _PLACE_SUFFIX.finditer(s):
            start = m.start()
            while start > 0 and m.start() - start < 4 and _CJK_CHAR.match(s[start - 1]) \
                    and s[start - 1] not in _PLACE_STOP:
                start -= 1
            name = s[start:m.start()]
            if len(name) >= 2 and not name.endswith("高速"):  # 2-4 characters: 久长服务区, 开阳县
                out.append(("place", start, m.end()))
        return out

    def value(self, entity: str, span: str) -> str:
        """Canonical value of a span, whichever backend found it: amount in yuan, plate
        without separator, digits of a phone, synonyms of nlu.yml applied (G75 -> 兰海高速)."""
        simple = shadow(span).strip()
        if entity == "amount":
            return amount_value(simple)
        if entity == "plate":
            return _PLATE_SEPARATOR.sub("", simple).upper()
        if entity == "phone":
            return _NON_DIGIT.sub("", simple)
        if entity in ("stake", "highway"):
            simple = simple.upper()
        return self._synonyms.get(simple.upper(), simple)

    def merge(self, text: str, found: list[Entity]) -> list[Entity]:
        """Entities another extractor (Rasa) found, with canonical values and without
        overlaps, plus ours for every entity type it found none of, so that both backends
        agree on amounts, plates and phones."""
        spans = [(e.entity, e.start, e.end) for e in found
                 if e.entity in ENTITIES and 0 <= e.start < e.end <= len(text)]
        kinds = {n for n, _, _ in spans}
        spans = _resolve(spans)
        for e in self.extract(text):
            if e.entity not in kinds and all(e.end <= a or e.start >= b for _, a, b in spans):
                spans.append((e.entity, e.start, e.end))
        return [Entity(n, self.value(n, text[a:b]), a, b) for n, a, b in sorted(spans, key=lambda x: x[1])]


def _resolve(found: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Non-overlapping spans: longer first, then by entity priority; in text order."""
    chosen: list[tuple[str, int, int]] = []
    for n, a, b in sorted(set(found), key=lambda x: (-(x[2] - x[1]), _PRIORITY[x[0]], x[1])):
        if all(b <= a2 or a >= b2 for _, a2, b2 in chosen):
            chosen.append((n, a, b))
    return sorted(chosen, key=lambda x: x[1])
