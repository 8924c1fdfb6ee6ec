"""A Bot API outage of a full minute (issue #7): what is delivered, lost, duplicated, and how
long the backlog takes to drain afterwards.

python -m bench.fault_bench [--outage 60] [--kinds 429,5xx,timeout] [--questions 20]
[--complaints 10] [--groups 20]. The whole bot (PTB, SQLite file, outbox, study dispatcher)
runs against the local Bot API stand-in with the settings' defaults for retries and backoff
(the test, tests/test_faults.py, shortens them). When the outage starts, drivers ask FAQ
questions and file complaints in a group (answers, acknowledgements and the secretary's
cards), and the daily study falls due in the study groups. Every Bot API call but getUpdates
fails meanwhile, the kinds taking turns call by call. Prints, per flow, expected / delivered
once / lost / duplicated, the time from the outage's end until the last delivery, and the
failed calls by error code. A study item whose request timed out is recorded as `unknown`
and never resent (bot/study/ledger.py: a double post is worse than a rare miss); it is
counted apart."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Bot API stand-in and the harness are test tools

SECRETARY = 700
QUESTIONS = ["龙溪大道限高多少？", "六轴半挂车限重多少吨？", "驾驶证扣满12分了怎么办？", "货车ETC在哪里办？",
             "货车车货总宽度限多少？", "车货总长超过多少米算超限？", "五轴半挂车限重多少吨？", "四轴货车限重多少？",
             "三轴货车限重多少吨？", "超限和超载有什么区别？", "超限运输被查到怎么罚？", "货车超载扣几分罚多少？",
             "拉大件超限货要办什么手续？", "货车进城有限行吗？", "考货运从业资格证要什么条件？", "从业资格证丢了怎么补办？",
             "从业资格证到期了怎么换？", "驾驶证一年多少分，怎么算？", "学法减分怎么弄？", "怎么查驾驶证扣了多少分？"]
COMPLAINTS = ["运费拖欠1000元两个月了", "息烽服务区厕所坏了没人修", "龙里收费站乱收费", "平台押金三个月不退",
              "昨晚在久长服务区油被偷了", "遵义货运站装卸费乱涨", "清镇交警罚款不给票据", "修文停车场晚上没有灯",
              "货主压价还拖着不结账", "都匀物流园司机之家热水坏了"]


def _replied_to(call) -> int | None:
    return (call.params.get("reply_parameters") or {}).get("message_id")


def _tally(expected: list, got: Counter) -> tuple[int, int, int, int]:
    """expected, delivered once, lost, duplicated (items delivered more than once)."""
    once = sum(got[key] == 1 for key in expected)
    lost = sum(got[key] == 0 for key in expected)
    dup = sum(got[key] > 1 for key in expected)
    return len(expected), once, lost, dup


async def run(args) -> None:
    from botapi import BotApiServer
    from study_helpers import FlowingClock, register, study_config, study_posts
    from tg_harness import TOKEN, running_bot, write_config

    from bot.study.models import UNKNOWN

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    n_questions = min(args.questions, len(QUESTIONS))
    n_complaints = min(args.complaints, len(COMPLAINTS))
    config = (f"branches:\n  - id: gy\n    name: 贵阳流动党支部\n    groups: [-100100]\n"
              f"    secretaries: [{SECRETARY}]\n" + study_config(tick_s=60, retry_after_s=60))  # the defaults
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(Path(tmp), ROOT, config)
        clock = FlowingClock("2026-03-02 07:00:00")
        async with BotApiServer(token=TOKEN, bot_username="driverhome_bot") as server:
            async with running_bot(server, cfg, clock=clock) as h:
                secretary = server.private(server.user(SECRETARY, "张书记"))
                groups = [register(h, -100600 - i, f"车队{i}") for i in range(args.groups)]
                await h.idle(1.0)
                users = [server.user(600 + i, f"司机{i}") for i in range(n_questions + n_complaints)]

                print(f"outage: {args.outage:.0f} s of {', '.join(kinds)} on every call but getUpdates")
                started = time.time()
                server.outage(args.outage, kinds=kinds, retry_after=args.retry_after)
                questions = [server.send_text(h.group, users[i], QUESTIONS[i]) for i in range(n_questions)]
                complaints = [server.send_text(h.group, users[n_questions + i], "#诉求 " + COMPLAINTS[i])
                              for i in range(n_complaints)]
                clock.set("2026-03-02 07:30:00")  # the daily study falls due inside the outage
                while server.outage_active:
                    await asyncio.sleep(0.2)
                ended = time.time()

                def state() -> dict:
                    replies = Counter(_replied_to(c) for c in server.sent("sendMessage", h.group))
                    cards = server.sent("sendMessage", secretary)
                    posts = Counter({g["id"]: len(study_posts(server, g)) for g in groups})
                    polls = Counter({g["id"]: len(server.sent("sendPoll", g)) for g in groups})
                    ledger = h.app.study.ledger
                    unknown = [g["id"] for g in groups
                               if (r := ledger.get(g["id"], clock().date())) is not None and r.state == UNKNOWN]
                    return {
                        "answers": _tally([m["message_id"] for m in questions], replies),
                        "complaint acks": _tally([m["message_id"] for m in complaints], replies),
                        "secretary cards": (len(complaints), min(len(cards), len(complaints)),
                                            max(len(complaints) - len(cards), 0), max(len(cards) - len(complaints), 0)),
                        "study items": _tally([g["id"] for g in groups if g["id"] not in unknown], posts),
                        "study quizzes": _tally([g["id"] for g in groups if g["id"] not in unknown], polls),
                        "unknown": len(unknown),
                    }

                deadline = time.monotonic() + args.wait
                while time.monotonic() < deadline:
                    now = state()
                    if all(v[2] == 0 for k, v in now.items() if k != "unknown"):
                        break
                    await asyncio.sleep(0.5)
                await h.idle(3.0)  # let any duplicate show up
                final = state()
                sends = [c for c in server.sent(None) if c.method.startswith("send") and c.time >= started]
                last = max((c.time for c in sends), default=ended)
                failed = Counter(c.error["error_code"] for c in server.sent(None, failed=True) if c.time >= started)

    print(f"{'flow':<16} {'expected':>8} {'once':>6} {'lost':>6} {'dup':>5}")
    for flow, value in final.items():
        if flow != "unknown":
            print(f"{flow:<16} {value[0]:>8} {value[1]:>6} {value[2]:>6} {value[3]:>5}")
    print(f"study items recorded unknown after a timeout (never resent): {final['unknown']}")
    print(f"time to drain after the outage: {last - ended:.1f} s (last delivery {last - started:.1f} s "
          "after the outage began)")
    print("failed calls by error code: " + ", ".join(f"{code}: {n}" for code, n in sorted(failed.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--kinds", default="429,5xx,timeout", help="taking turns call by call")
    parser.add_argument("--retry-after", type=int, default=5, help="seconds a 429 asks for")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--complaints", type=int, default=10)
    parser.add_argument("--groups", type=int, default=20, help="study groups")
    parser.add_argument("--wait", type=float, default=600.0, help="give up waiting after this long")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
