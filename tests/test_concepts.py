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


def test_the_shipped_table_loads_and_every_cue_is_a_real_cue(analyzer):
    assert len(analyzer.concepts) >= 300  # cues, not rows
    assert analyzer.concepts.expand("今天天气不错") == []


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
