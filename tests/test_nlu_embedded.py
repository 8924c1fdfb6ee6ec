"""The embedded NLU backend, entity extraction, settings and the circuit breaker."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "nlu" / "data" / "nlu.yml"


@pytest.fixture(scope="session")
def nlu():
    from nlu.embedded import EmbeddedNlu

    t0 = time.perf_counter()
    model = EmbeddedNlu(DATA, ROOT / "nlu" / "dict")
    model.startup_s = time.perf_counter() - t0
    return model


def test_startup_is_fast(nlu):
    assert nlu.startup_s < 5


def test_schema(nlu):
    u = nlu.parse("老板欠我4200运费 拖了三个月了")
    d = u.as_json()
    assert set(d) == {"kind", "intent", "confidence", "category", "urgent", "entities", "backend", "asks"}
    assert d["asks"] is False  # it tells what happened; it does not ask
    assert d["kind"] in ("question", "complaint", "chitchat")
    assert 0.0 <= d["confidence"] <= 1.0 and isinstance(d["urgent"], bool)
    assert d["backend"] == "embedded"
    assert all(set(e) == {"entity", "value", "start", "end"} for e in d["entities"])


@pytest.mark.parametrize("text,kind,category", [
    # The hard boundary: a driver's own grievance vs a general question on the same topic.
    ("老板欠我4200运费", "complaint", "freight_payment"),
    ("运费被拖欠一般怎么处理？", "question", None),
    ("运费要不到，咋办？", "complaint", "freight_payment"),
    ("货主一般拖多久运费算违法", "question", None),
    ("我昨晚在息烽服务区被偷了两百升油", "complaint", "theft"),
    ("服务区被偷油了一般找哪个部门", "question", None),
    ("平台把我账号封了半个月 一直不给解", "complaint", "platform"),
    ("平台封号了可以去哪里申诉", "question", None),
    ("今天在G75被罚了800 还不给票", "complaint", "enforcement"),
    ("被罚款不服可以申请复议吗", "question", None),
    ("车在兰海高速抛锚了 天黑了 快来人", "complaint", "emergency"),
    ("高速上抛锚了一般先做哪样", "question", None),
    ("谢谢书记 运费拿到了", "chitchat", None),
    ("贵阳到昆明 9米6 求货", "chitchat", None),
])
def test_hard_boundary(nlu, text, kind, category):
    u = nlu.parse(text)
    assert (u.kind, u.category) == (kind, category), u


def test_urgent(nlu):
    assert nlu.parse("车在兰海高速K1234抛锚了 天黑了 后面的车好快").urgent
    theft_now = nlu.parse("有人正在偷我的油 快来人")
    assert theft_now.category == "theft" and theft_now.urgent
    assert not nlu.parse("昨晚油被偷了 已经报了警").urgent


def test_traditional_characters(nlu):
    u = nlu.parse("老闆欠我運費四千二 拖了三個月")
    assert (u.kind, u.category) == ("complaint", "freight_payment")
    assert [(e.entity, e.value) for e in u.entities] == [("amount", "4200")]
    assert nlu.parse("貨車司機投訴電話是幾號").kind == "question"
    assert nlu.parse("車在蘭海高速拋錨了 天黑了").category == "emergency"


def _ents(nlu, text):
    ents = nlu.entities.extract(text)
    for e in ents:  # offsets are on the original text
        assert 0 <= e.start < e.end <= len(text)
    return [(e.entity, e.value, text[e.start:e.end]) for e in ents]


@pytest.mark.parametrize("text,expected", [
    ("老板欠我四千二", [("amount", "4200", "四千二")]),
    ("物流公司欠我1.2万运费", [("amount", "12000", "1.2万")]),
    ("运费被压了半年 2万3", [("amount", "23000", "2万3")]),
    ("说好一趟1500 结账只给1200", [("amount", "1500", "1500"), ("amount", "1200", "1200")]),
    ("罚了我200块", [("amount", "200", "200块")]),
    ("9米6厢车 4米2 两百多升 打12328", []),
    ("车是贵A·12345", [("plate", "贵A12345", "贵A·12345")]),
    ("车是贵A12345", [("plate", "贵A12345", "贵A12345")]),
    ("新能源车贵AD12345", [("plate", "贵AD12345", "贵AD12345")]),
    ("我电话13698512345", [("phone", "13698512345", "13698512345")]),
    ("在G75上", [("highway", "兰海高速", "G75")]),
    ("在沪昆高速上", [("highway", "沪昆高速", "沪昆高速")]),
    ("G75K1234+500着火", [("highway", "兰海高速", "G75"), ("stake", "K1234+500", "K1234+500")]),
    ("在久长服务区", [("place", "久长服务区", "久长服务区")]),
    ("我在开阳县被罚", [("place", "开阳县", "开阳县")]),
    ("今天凌晨在龙里", [("time", "今天凌晨", "今天凌晨"), ("place", "龙里", "龙里")]),
    ("車在蘭海高速K1320拋錨", [("highway", "兰海高速", "蘭海高速"), ("stake", "K1320", "K1320")]),
])
def test_entities(nlu, text, expected):
    assert _ents(nlu, text) == expected


def test_full_width_offsets(nlu):
    text = "车牌贵Ａ１２３４５，电话１３６９８５１２３４５"
    assert _ents(nlu, text) == [("plate", "贵A12345", "贵Ａ１２３４５"), ("phone", "13698512345", "１３６９８５１２３４５")]


def test_targets_on_held_out_sets(nlu):
    from nlu.evaluate import evaluate, load_messages

    for name in ("test_messages.yml", "unseen_messages.yml"):
        nlu.parse("预热")
        r = evaluate(nlu.parse, load_messages(ROOT / "nlu" / "data" / name), "embedded")
        assert r.complaint_recall >= 0.97 and r.complaint_precision >= 0.92, (name, r.lines())
        assert r.urgent_recall >= 0.95 and r.macro_f1 >= 0.92 and r.category_accuracy >= 0.85, (name, r.lines())
        assert r.p95_ms <= 10, (name, r.lines())


def test_latency(nlu):
    texts = ["老板欠我4200运费 拖了三个月了", "运费被拖欠一般怎么处理", "大家好", "車在蘭海高速K1320拋錨 天黑了"] * 25
    nlu.parse("预热")
    lat = []
    for t in texts:
        t0 = time.perf_counter()
        nlu.parse(t)
        lat.append((time.perf_counter() - t0) * 1000)
    assert np.percentile(lat, 95) < 10


# Inputs beyond the labelled sets: nothing, only emoji, a very long text, traditional
# characters, only digits, only spaces, Latin letters in both cases.
ODD_TEXTS = ["", "😀🚚👍🙏", ("老板欠我4200运费 拖了三个月了 " * 300)[:5000], "老闆欠我運費四千二 拖了三個月",
             "13698512345", "   ", "ABC abc K1234+500 G75"]


def _parity_texts() -> list[str]:
    from nlu.evaluate import load_messages

    texts = [m["text"] for name in ("test_messages.yml", "unseen_messages.yml")
             for m in load_messages(ROOT / "nlu" / "data" / name)]
    assert len(texts) > 300
    return texts + ODD_TEXTS


def _assert_same(model, texts):
    """The single-message path against scikit-learn: per-model probabilities, combined
    scores and the decision taken from them."""
    from nlu.understanding import from_scores

    for text in texts:
        norm = model.normalize(text)
        for fast, ref in zip(model.probabilities(norm), model.reference_probabilities(norm)):
            assert np.allclose(fast, ref, rtol=0, atol=1e-9), text
            assert int(np.argmax(fast)) == int(np.argmax(ref)), text
        fast, ref = model.scores(text), model.reference_scores(text)
        assert list(fast) == list(ref)
        assert np.allclose(list(fast.values()), list(ref.values()), rtol=0, atol=1e-9), text
        u_fast, u_ref = from_scores(fast, text, [], "embedded"), from_scores(ref, text, [], "embedded")
        assert (u_fast.kind, u_fast.intent, u_fast.category, u_fast.urgent) == \
            (u_ref.kind, u_ref.intent, u_ref.category, u_ref.urgent), text
        assert abs(u_fast.confidence - u_ref.confidence) <= 1e-9, text


def test_single_message_path_matches_sklearn(nlu):
    _assert_same(nlu, _parity_texts())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # norm=None trains slowly
@pytest.mark.parametrize("options", [
    {"analyzer": "char", "ngram_range": (2, 3), "norm": "l1", "lowercase": False},
    {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": False, "smooth_idf": False, "norm": None},
    {"analyzer": "char_wb", "ngram_range": (1, 2), "binary": True, "use_idf": False},
])
def test_single_message_path_follows_vectorizer_settings(nlu, options):
    """Other TfidfVectorizer settings than the ones in use: the fast path still agrees."""
    import copy

    from nlu import training_data

    model = copy.copy(nlu)  # the session model keeps its own vectorizer
    model.vectorizer_options = options
    model.fit(training_data.load(DATA).examples)
    _assert_same(model, _parity_texts()[::7] + ODD_TEXTS + ["ABC Abc abc 货车ABC"])


async def test_service_embedded():
    from nlu.service import NluService
    from nlu.settings import NluSettings

    svc = NluService(NluSettings(backend="embedded"), ROOT)
    u = await svc.parse("我的油在息烽服务区被偷了")
    assert (u.kind, u.category, u.backend) == ("complaint", "theft", "embedded")
    assert svc.rasa is None and svc.fallbacks == 0
    await svc.aclose()


def test_settings(monkeypatch):
    from nlu.settings import NluSettings

    s = NluSettings()
    assert (s.backend, s.timeout_ms, s.breaker_failures, s.breaker_reset_s) == ("auto", 300, 3, 30)
    with pytest.raises(ValidationError):
        NluSettings(unknown=1)
    with pytest.raises(ValidationError):
        NluSettings(timeout_ms=0)
    monkeypatch.setenv("RASA_TOKEN", "from-env")
    assert NluSettings(rasa_token="from-file").token == "from-env"
    monkeypatch.delenv("RASA_TOKEN")
    assert NluSettings(rasa_token="from-file").token == "from-file"


def test_circuit_breaker_states():
    from nlu.rasa_backend import CircuitBreaker

    now = [0.0]
    b = CircuitBreaker(failures=2, reset_s=10, clock=lambda: now[0])
    assert b.allow()
    b.failure()
    assert b.state == "closed" and b.allow()
    b.failure()
    assert b.state == "open" and not b.allow()
    now[0] = 10.0
    assert b.allow() and b.state == "half-open"
    assert not b.allow()  # one trial at a time
    b.failure()
    assert b.state == "open" and not b.allow()
    now[0] = 20.0
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow()


async def test_rasa_unreachable_answers_from_embedded_without_waiting():
    """auto with nothing listening: each message falls back at once, the breaker opens."""
    import socket

    from nlu.service import NluService
    from nlu.settings import NluSettings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    svc = NluService(NluSettings(rasa_url=f"http://127.0.0.1:{port}", breaker_failures=2), ROOT)
    for _ in range(4):
        t0 = time.perf_counter()
        u = await svc.parse("老板欠我4200运费")
        assert (u.backend, u.kind) == ("embedded", "complaint") and time.perf_counter() - t0 < 0.3
    assert svc.fallbacks == 4 and svc.rasa.requests == 2 and svc.rasa.breaker.state == "open"
    await svc.aclose()
