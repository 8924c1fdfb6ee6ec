"""The daily study core without Telegram: library validation, rotation, preview, the
exactly-once ledger, streaks, branch lookup and pacing (real SQLite files)."""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import yaml
from conftest import ROOT

from bot.chats import ChatRegistry
from bot.study.branches import branches, secretaries_of
from bot.study.dispatch import Pacer
from bot.study.ledger import SendLedger
from bot.study.models import FAILED, PENDING, SENT, UNKNOWN
from bot.study.rotation import DATED, Rotation, RotationState
from bot.study.schema import StudyItem, read_path, read_text
from bot.study.service import StudyService
from bot.study.settings import StudySettings
from bot.study.stats import streak

LIBRARY = ROOT / "knowledge_base" / "study.yml"
NOW = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)  # 08:00 in Shanghai


def item(item_id: str, day: date | None = None) -> StudyItem:
    return StudyItem(id=item_id, title=f"标题{item_id}", body="正文", source="来源", date=day)


@pytest.fixture
def service(db):
    clock = SimpleNamespace(now=NOW)
    svc = StudyService(db, StudySettings(), ChatRegistry(db), library_path=LIBRARY, clock=lambda: clock.now)
    svc.seed()
    svc.test_clock = clock
    return svc


# -- the library file ---------------------------------------------------------------------
def test_shipped_library_is_valid_and_big_enough():
    report = read_path(LIBRARY)
    assert report.ok, report.errors[:5]
    assert len(report.items) >= 60
    assert all(i.quiz is not None and 2 <= len(i.quiz.options) <= 10 for i in report.items)
    dated = {i.date for i in report.items if i.date}
    assert {date(2026, 7, 1), date(2027, 7, 1), date(2026, 10, 1), date(2027, 10, 1),
            date(2026, 2, 17), date(2027, 2, 6)} <= dated
    assert any("待核实" in i.tags for i in report.items)
    tags = {t for i in report.items for t in i.tags}
    assert {"交通法规", "安全", "健康", "权益", "党的知识", "榜样故事"} <= tags


def test_validation_reports_every_problem_with_id_and_field():
    text = yaml.safe_dump({"items": [
        {"id": "Bad ID", "title": "t", "body": "b", "source": "s"},
        {"id": "no-body", "title": "t", "source": "s"},
        {"id": "quiz-bad", "title": "t", "body": "b", "source": "s",
         "quiz": {"question": "q", "options": ["a"], "answer": 0}},
        {"id": "answer-bad", "title": "t", "body": "b", "source": "s",
         "quiz": {"question": "q", "options": ["a", "b"], "answer": 2}},
        {"id": "no-body", "title": "t", "body": "b", "source": "s"},
        {"id": "extra", "title": "t", "body": "b", "source": "s", "colour": "red", "date": "not a date"},
        {"id": "long", "title": "t", "body": "长" * 3001, "source": "s"},
        {"id": "fine", "title": "t", "body": "b", "source": "s", "tags": [12328]},
    ]}, allow_unicode=True)
    report = read_text(text)
    errors = "\n".join(report.errors)
    assert "entry #1 (Bad ID): id: must be a slug" in errors
    assert "entry #2 (no-body): body: Field required" in errors
    assert "entry #3 (quiz-bad): quiz.options: List should have at least 2 items" in errors
    assert "entry #4 (answer-bad): quiz: answer must be an option index from 0 to 1" in errors
    assert "entry #5 (no-body): id: duplicate of entry #2" in errors
    assert "entry #6 (extra): colour: unknown field" in errors and "entry #6 (extra): date:" in errors
    assert "entry #7 (long): body:" in errors
    assert [i.id for i in report.items] == ["fine"] and report.items[0].tags == ["12328"]


def test_a_folder_of_files_is_one_library(tmp_path):
    (tmp_path / "a.yml").write_text(yaml.safe_dump({"items": [item("one").to_dict()]}, allow_unicode=True))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"items": [item("one").to_dict(), item("two").to_dict()]},
                                                    allow_unicode=True))
    report = read_path(tmp_path)
    assert [i.id for i in report.items] == ["one", "two"]
    assert report.errors == ["b.yaml: entry #1 (one): id: duplicate of a.yml: entry #1"]


# -- rotation -------------------------------------------------------------------------------
def test_rotation_gives_every_item_once_before_repeating():
    items = [item(f"i{n}") for n in range(7)]
    rotation = Rotation(items)
    start = date(2026, 3, 1)
    _, picks = rotation.simulate(-1001, start, start + timedelta(days=20), RotationState())
    ids = [p[1] for p in picks]
    for k in (0, 7, 14):
        assert sorted(ids[k:k + 7]) == sorted(i.id for i in items)
    assert all(a != b for a, b in zip(ids, ids[1:]))  # never the same two days running
    _, again = rotation.simulate(-1001, start, start + timedelta(days=20), RotationState())
    assert again == picks  # deterministic
    _, other = rotation.simulate(-1002, start, start + timedelta(days=20), RotationState())
    assert [p[1] for p in other] != ids  # each group its own order


def test_new_items_join_and_dated_items_take_their_day():
    items = [item(f"i{n}") for n in range(5)]
    start = date(2026, 3, 1)
    state, picks = Rotation(items).simulate(-7, start, start + timedelta(days=2), RotationState())
    festival = date(2026, 3, 5)
    grown = Rotation(items + [item("new"), item("festival", festival)])
    state, more = grown.simulate(-7, start + timedelta(days=3), start + timedelta(days=6), state)
    days = {d: i for d, i, _ in picks + more}
    assert days[festival] == "festival"
    rotated = [i for d, i, c in picks + more if c != DATED]
    assert len(rotated) == 6 and set(rotated) == {f"i{n}" for n in range(5)} | {"new"}


def test_preview_does_not_consume_and_matches_the_claim(service):
    chat = -100900
    day = service.today()
    ahead = service.preview(chat, day + timedelta(days=5))
    for _ in range(3):
        assert service.preview(chat, day + timedelta(days=5)) == ahead
    assert service.ledger.on_day(day) == {}
    expected = service.preview(chat, day)
    [job] = service.claim([chat], day, service.now())
    assert job.item == expected
    assert service.preview(chat, day) == expected  # the recorded item from now on
    assert service.preview(chat, day + timedelta(days=1)) != expected


# -- the ledger -------------------------------------------------------------------------------
def test_a_group_day_is_claimed_once(db):
    a, b = SendLedger(db, "proc-a"), SendLedger(db, "proc-b")
    day = date(2026, 3, 2)
    first = a.claim(-1, day, "x", 0, True, NOW)
    assert first is not None
    assert b.claim(-1, day, "y", 0, True, NOW) is None
    assert not b.start(first, NOW)  # not the owner
    assert a.start(first, NOW) and not a.start(first, NOW)  # pending -> sending only once
    a.sent(first, 42, NOW)
    assert a.get(-1, day).state == SENT and a.get(-1, day).message_id == 42


def test_after_a_crash_pending_is_taken_over_and_in_flight_is_not_resent(db):
    dead, alive = SendLedger(db, "dead"), SendLedger(db, "alive", max_attempts=2)
    day = date(2026, 3, 2)
    waiting = dead.claim(-1, day, "x", 0, True, NOW)
    flying = dead.claim(-2, day, "y", 0, True, NOW)
    dead.start(flying, NOW)
    assert alive.resolve_orphans() == 1
    assert alive.get(-2, day).state == UNKNOWN and alive.get(-2, day).given
    assert alive.take_over(waiting, NOW) and not alive.take_over(waiting, NOW)
    assert alive.get(-1, day).state == PENDING and alive.get(-1, day).owner == "alive"
    # a failed send is retried when due, at most max_attempts times
    assert alive.start(waiting, NOW)
    alive.failed(waiting, "500", NOW + timedelta(seconds=60))
    assert not alive.get(-1, day).given
    assert not alive.take_over(waiting, NOW)  # not yet
    assert alive.take_over(waiting, NOW + timedelta(seconds=61))
    assert alive.start(waiting, NOW)
    alive.failed(waiting, "500", NOW)
    assert not alive.take_over(waiting, NOW + timedelta(days=1))  # 2 attempts used
    assert alive.get(-1, day).state == FAILED


def test_due_claims_only_groups_whose_time_has_come(service):
    service.chats.joined(-1, "supergroup", "早")
    service.chats.joined(-2, "supergroup", "晚")
    clock = service.test_clock
    clock.now = datetime(2026, 3, 1, 22, 0, tzinfo=timezone.utc)  # 06:00 in Shanghai: schedules start
    assert service.due() == []
    service.set_schedule(-2, by=1, send_time=datetime.strptime("09:00", "%H:%M").time())
    clock.now = datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc)  # 07:30
    jobs = service.due()
    assert [(j.kind, j.chat_id) for j in jobs] == [("item", -1)]
    assert service.due(busy={-1}) == []
    assert [j.chat_id for j in service.due()] == [-1]  # pending and ours, not busy: resumed
    rec = service.ledger.get(-1, date(2026, 3, 2))
    assert rec.state == PENDING and rec.item_id == jobs[0].item.id


# -- stats, branches, pacing --------------------------------------------------------------------
def test_streak_counts_quiz_days_in_a_row():
    d = [date(2026, 3, n) for n in (5, 4, 3, 1)]  # newest first; no quiz on the 2nd
    assert streak(d, {d[0], d[1], d[2], d[3]}, date(2026, 3, 5)) == 4
    assert streak(d, {d[1], d[2]}, date(2026, 3, 5)) == 2  # today's quiz still open
    assert streak(d, {d[1], d[2]}, date(2026, 3, 6)) == 0  # missed yesterday's
    assert streak(d, set(), date(2026, 3, 5)) == 0


def test_branches_are_optional_and_read_in_either_shape():
    assert branches(SimpleNamespace()) == [] and secretaries_of(None, -1) == []
    settings = SimpleNamespace(branches=[
        {"id": "b1", "name": "一支部", "groups": [-1, "-2"], "secretaries": [7, {"id": 8}]},
        SimpleNamespace(id="b2", name="二支部", groups=[-2], secretaries=[9]),
    ])
    assert secretaries_of(settings, -2) == [7, 8, 9] and secretaries_of(settings, -3) == []


def test_pacer_spaces_sends_evenly():
    async def run() -> list[float]:
        pacer, stamps = Pacer(100), []
        for _ in range(31):
            await pacer.wait()
            stamps.append(time.monotonic())
        return stamps

    stamps = asyncio.run(run())
    assert 0.299 <= stamps[-1] - stamps[0] < 0.45  # 30 slots of 10 ms: paced, and not slower
    assert min(b - a for a, b in zip(stamps, stamps[1:])) >= 0.005  # never a burst

    async def held() -> float:
        pacer = Pacer(100)
        await pacer.wait()
        pacer.hold(0.2)  # after a RetryAfter pause released a burst
        t0 = time.monotonic()
        assert await pacer.wait(prepare=lambda: asyncio.sleep(0, result=True))
        return time.monotonic() - t0

    assert asyncio.run(held()) >= 0.19
