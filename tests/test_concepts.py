"""Situation cues (concepts.py): a described situation reaches the entry about its topic."""

import pytest

from knowledge_base.concepts import ConceptTable
from knowledge_base.retriever import Retriever
from knowledge_base.schema import FaqEntry
from knowledge_base.settings import RetrievalSettings
from knowledge_base.text import Analyzer

ROWS = {"突发疾病 急救": ["胸口痛", "喘不过气"], "中暑 高温": ["空调坏+热", "热得遭不住"]}


def test_a_cue_adds_its_topic_words_once_and_only_those_missing():
    table = ConceptTable(ROWS)
    assert table.expand("副驾突然胸口痛喘不过气咋办") == ["突发疾病", "急救"]
    assert table.expand("今天热得遭不住中暑了") == ["高温"]  # 中暑 is already there


def test_a_cue_with_parts_needs_all_of_them():
    table = ConceptTable(ROWS)
    assert table.expand("车上空调坏了找哪个修") == []
    assert table.expand("车上空调坏了人热得很") == ["中暑", "高温"]


def test_cues_are_normalised_like_messages():
    import opencc

    table = ConceptTable({"突發疾病": ["胸口痛"]}, opencc.OpenCC("t2s"))
    assert table.expand("胸口痛") == ["突发疾病"]


def test_the_shipped_table_loads_whole_and_leaves_everyday_chat_alone(analyzer):
    import yaml

    from conftest import ROOT

    rows = yaml.safe_load((ROOT / "knowledge_base/dict/concepts.yml").read_text(encoding="utf-8"))["concepts"]
    cues = [c for row in rows.values() for c in row]
    assert len(cues) == len(set(cues)) == len(analyzer.concepts)  # none dropped, none under two topics
    for line in ("今天天气不错", "大家早上好", "你在哪呢", "出车了兄弟们", "车多得很", "哈哈哈哈"):
        assert analyzer.concepts.expand(analyzer.canonical(line)) == [], line
    assert analyzer.concepts.expand(analyzer.canonical("副驾突然胸口痛")) == ["突发疾病", "急救"]


@pytest.fixture(scope="module")
def own_analyzer():
    a = Analyzer()  # no shipped dictionaries: the test owns its cue table
    a.concepts = ConceptTable(ROWS)
    return a


KB = [FaqEntry(id="emergency", question="路上有人突发疾病怎么呼叫急救？", answer="拨打120，说清位置和症状。"),
      FaqEntry(id="chest-x-ray", question="体检要拍胸片吗？", answer="从业资格证体检一般要拍胸片，查心肺。"),
      FaqEntry(id="breath-test", question="交警查酒驾吹气怎么算？", answer="呼气酒精含量达到20毫克算酒驾。")]


@pytest.mark.parametrize("weight, expected", [(0.0, False), (0.5, True)])
def test_a_described_situation_ranks_its_topic_first_only_with_cues(own_analyzer, weight, expected):
    r = Retriever(RetrievalSettings(concept_weight=weight), own_analyzer, None)
    r.load(KB)
    ranked, _ = r.rank("副驾胸口痛喘不过气")
    assert (ranked[0].faq_id == "emergency") is expected


def test_a_cue_the_knowledge_base_uses_itself_bridges_nothing(own_analyzer):
    r = Retriever(RetrievalSettings(concept_weight=0.5), own_analyzer, None)
    r.load(KB)
    assert "b急救" in r.query_features("副驾胸口痛")
    r.upsert(FaqEntry(id="chest-pain", question="开车时胸口痛怎么办？", answer="马上靠边停车。"))
    assert "b急救" not in r.query_features("副驾胸口痛")  # the new entry matches it directly
    assert r.rank("副驾胸口痛")[0][0].faq_id == "chest-pain"
    r.remove("chest-pain")
    assert "b急救" in r.query_features("副驾胸口痛")
