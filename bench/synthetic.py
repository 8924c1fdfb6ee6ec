"""A synthetic FAQ base of any size, for scale benchmarks (deterministic per seed)."""

from __future__ import annotations

import random

from knowledge_base.schema import FaqEntry

PLACES = ["龙里", "贵阳", "遵义", "六盘水", "安顺", "毕节", "铜仁", "凯里", "都匀", "兴义", "息烽", "修文", "清镇",
          "开阳", "惠水", "福泉", "瓮安", "贵定", "谷脚", "花溪", "乌当", "白云", "观山湖", "仁怀", "赤水", "习水"]
ROADS = ["大道", "路", "街", "高速出口", "服务区", "物流园", "收费站", "立交", "隧道", "大桥", "停车场", "货运站"]
TOPICS = [
    ("限高多少", "限高{n}米"), ("限重多少吨", "限重{n}0吨"), ("几点可以通行货车", "货车{n}点以后可以通行"),
    ("有没有司机之家", "附近有司机之家，提供热水和休息"), ("停车收费吗", "停车每晚{n}0元"),
    ("加油站在哪", "出口右转{n}公里有加油站"), ("晚上安全吗", "夜间有巡逻，贵重物品别放车上"),
    ("能办从业资格证吗", "可以办理，带身份证和驾驶证"), ("ETC在哪办", "在服务大厅{n}号窗口办ETC"),
    ("修车的地方在哪", "附近{n}公里有24小时修车点"), ("有没有洗澡的地方", "司机之家有热水淋浴"),
    ("过路费怎么算", "按车型和轴数收费，{n}轴车另算"),
]


def synthetic_kb(n: int, seed: int = 7) -> list[FaqEntry]:
    rng = random.Random(seed)
    out: list[FaqEntry] = []
    i = 0
    while len(out) < n:
        # A numbered road keeps every question distinct, as in a real province-wide base.
        place = f"{rng.choice(PLACES)}{i % 997 + 1}号{rng.choice(ROADS)}"
        q, a = rng.choice(TOPICS)
        num = rng.randint(2, 9)
        out.append(FaqEntry(id=f"syn-{i}", question=f"{place}{q}？", alternates=[f"{place}那边{q}"],
                            answer=f"{place}{a.format(n=num)}。", tags=[place[:2]]))
        i += 1
    return out
