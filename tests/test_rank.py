"""Ranking and decision evidence: question kinds, word priors, split words, trap questions."""

import pytest

from knowledge_base.calibration import Calibrator
from knowledge_base.qtypes import question_types, type_mismatch
from knowledge_base.retriever import ANSWER, SILENT, Retriever
from knowledge_base.schema import FaqEntry
from knowledge_base.settings import RetrievalSettings


def test_question_kinds_are_read_from_colloquial_wording(analyzer):
    kinds = lambda text: question_types(analyzer.normalize(text))  # noqa: E731
    assert kinds("龙溪大道限高多少？") == {"amount"}
    assert kinds("龍溪大道的限高桿好久拆") == {"when"}  # 好久 = 多久 / 什么时候 in Guizhou speech
    assert kinds("那个限高杆是哪家公司做的") == {"who", "maker"}
    assert kinds("司机之家在哪里") == {"where"}
    assert kinds("为啥不让进城") == {"why"}
    assert kinds("党费怎么交") == frozenset()
    assert kinds("好久没交党费了") == frozenset()  # "for a long time", not "when"


def test_a_kind_only_the_query_asks_for_is_a_mismatch():
    assert type_mismatch(frozenset({"when"}), frozenset({"amount"})) == 1.0
    assert type_mismatch(frozenset({"amount"}), frozenset({"amount", "where"})) == 0.0
    assert type_mismatch(frozenset(), frozenset({"amount"})) == 0.0
    # "在哪办" asks what "怎么办" asks too often to count against an entry
    assert type_mismatch(frozenset({"where"}), frozenset()) == 0.0


def test_everyday_words_weigh_less_than_specific_ones(analyzer):
    assert analyzer.prior("现在") < analyzer.prior("结账") == 1.0
    assert 0 < analyzer.prior("问题") < 0.7
    feats = analyzer.features("现在结账").weights
    assert feats["w现在"] < feats["w结账"]
    assert analyzer.features("etc").weights["uetc"] == analyzer.TYPE_WEIGHT["u"]  # Latin/digits: no prior
    assert analyzer.features("12328").weights["u12328"] == analyzer.TYPE_WEIGHT["u"]
    assert analyzer.features("1次").weights["u1"] < 0.5 * analyzer.TYPE_WEIGHT["u"]  # a lone digit says little


def test_words_split_by_ge_are_rejoined(analyzer):
    assert analyzer.canonical("想冲个凉") == analyzer.canonical("想冲凉")
    assert analyzer.canonical("理个发") == "理发"
    assert analyzer.canonical("洗了个澡") == analyzer.canonical("洗澡")
    assert analyzer.canonical("这个月") == "这个月"  # particles never join
    assert "个" in analyzer.canonical("要讲个事")  # 讲事 is no word: left alone


def test_lexical_score_reports_precision_and_unmatched_content(analyzer):
    r = Retriever(RetrievalSettings(), analyzer, None)
    r.load([FaqEntry(id="a", question="龙溪大道限高多少", answer="限高5米。"),
            FaqEntry(id="b", question="司机之家能洗澡吗", answer="可以。")])
    q = r.lexical.weigh(analyzer.features("龙溪大道限高多少").weights)
    exact = r.lexical.score(q, r._num["a"])
    assert exact.precision > 0.99 and exact.best_recall > 0.99 and exact.unmatched == 0.0
    q2 = r.lexical.weigh(analyzer.features("龙溪大道的股票").weights)
    partial = r.lexical.score(q2, r._num["a"])
    assert partial.unmatched > 0.2 and partial.phrase_coverage < 1.0


def test_trap_question_on_a_known_topic_is_less_likely_answered(analyzer, sample_kb):
    from knowledge_base.schema import read_file

    r = Retriever(RetrievalSettings(), analyzer, None)
    r.load(read_file(sample_kb).entries)
    real = r.search("龙溪大道限高杆多高")
    assert real.decision == ANSWER and real.faq_id == "longxi-height"
    trap = r._rank("龙溪大道的限高杆好久拆")
    feats = r.evidence(r.asks("龙溪大道的限高杆好久拆"), trap[0], trap[2], trap[3])
    assert feats["type_mismatch"] == 1.0
    cal = Calibrator.load()
    assert cal.weights["type_mismatch"] < 0
    assert cal.probability(feats) < cal.probability({**feats, "type_mismatch": 0.0})


def test_a_long_message_that_barely_matches_is_not_answered(analyzer, embedder):
    """A rambling report of unpaid freight shares a word or two with many entries; message
    length alone once made it look certain (p 0.996 for the accident hotline)."""
    from pathlib import Path

    from bench.evalsets import config_settings
    from knowledge_base.schema import read_file

    r = Retriever(config_settings(), analyzer, embedder)
    r.load(read_file(Path(__file__).parent.parent / "bench" / "data" / "fresh_kb.yml").entries)
    d = r.search("各位师傅 我上个月从曲靖拉了一车水泥到文山 卸完货老板说过两天结 现在电话都不接了 这种咋整")
    assert d.decision == SILENT


def test_whole_entry_cosine_is_tfidf_cosine_and_follows_live_edits(analyzer):
    import math

    from knowledge_base.lexical import LexicalIndex, unit_counts

    index = LexicalIndex(analyzer)
    index.add(0, ["党费怎么交"], "党费按月交，党费标准看收入。")
    index.add(1, ["高速怎么交费"], "ETC自动扣费。")
    index.add(2, ["司机之家在哪"], "服务区里有。")
    q = unit_counts([analyzer.canonical("党费交多少")])

    def by_hand(num_texts):  # TF-IDF cosine over characters, with the index's IDF
        n = len(num_texts)
        docs = [{k: 1 + math.log(c) for k, c in unit_counts([analyzer.canonical(x) for x in t]).items()} for t in num_texts]
        idf = {k: math.log1p((n - df + 0.5) / (df + 0.5))
               for k in set().union(*docs) for df in [sum(k in d for d in docs)]}
        qv = {k: (1 + math.log(c)) * idf[k] for k, c in q.items() if k in idf}
        out = []
        for d in docs:
            dv = {k: w * idf[k] for k, w in d.items()}
            dot = sum(qv.get(k, 0) * v for k, v in dv.items())
            out.append(dot / (math.sqrt(sum(v * v for v in dv.values())) * math.sqrt(sum(v * v for v in qv.values()))))
        return out

    texts = [["党费怎么交", "党费按月交，党费标准看收入。"], ["高速怎么交费", "ETC自动扣费。"], ["司机之家在哪", "服务区里有。"]]
    got = index.cosine(q, [0, 1, 2])
    assert got.tolist() == pytest.approx(by_hand(texts))
    assert got[0] > got[1] > got[2] == 0.0
    index.remove(2)  # IDF changes with every edit
    assert index.cosine(q, [0, 1]).tolist() == pytest.approx(by_hand(texts[:2]))
