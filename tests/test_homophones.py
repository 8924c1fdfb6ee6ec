"""Homophone typo repair against the knowledge base's own words, and the brand veto."""

import pytest

from knowledge_base.homophones import HomophoneIndex
from knowledge_base.qtypes import question_types, vetoed
from knowledge_base.retriever import ANSWER, SILENT, Retriever
from knowledge_base.schema import FaqEntry
from knowledge_base.settings import RetrievalSettings


@pytest.fixture
def words(analyzer):
    index = HomophoneIndex(analyzer)
    for w in ["年检", "诉求", "党费", "资格证", "除了", "不想"]:
        index.add(w)
    return index


@pytest.mark.parametrize("typo, fixed", [
    ("能在贵阳年减吗", "能在贵阳年检吗"),
    ("诉球要咋个发", "诉求要咋个发"),
    ("档费交好多", "党费交好多"),
    ("考资个证要带啥", "考资格证要带啥"),
])
def test_voice_typos_of_kb_words_are_repaired(words, typo, fixed):
    assert words.repair(typo) == fixed


@pytest.mark.parametrize("text", [
    "出了事故谁赔",  # 出了 sounds like the KB's 除了, but function words are never targets
    "滴不响杆子不抬",  # 不想: has a particle character
    "年检要带啥",  # already right
    "党费和年检",
])
def test_real_words_and_function_words_are_left_alone(words, text):
    assert words.repair(text) == text


def test_words_follow_edits(words):
    words.add("遵义")
    assert words.repair("去尊义年检") == "去遵义年检"
    words.add("遵义")
    words.discard("遵义")  # one entry still uses it
    assert words.repair("尊义") == "遵义"
    words.discard("遵义")
    assert words.repair("尊义") == "尊义"


def test_two_kb_words_with_one_sound_are_not_guessed(analyzer):
    index = HomophoneIndex(analyzer)
    index.add("诉求")
    index.add("诉囚")  # same sound, one character off, equally used: ambiguous
    assert index.repair("诉球") == "诉球"


def test_retriever_repairs_typos_with_its_own_words(analyzer):
    r = Retriever(RetrievalSettings(), analyzer, None)
    r.load([FaqEntry(id="inspection-elsewhere", question="货车可以在外地年检吗？",
                     answer="可以，全国通检，带齐行驶证和交强险保单到当地检测站就行。"),
            FaqEntry(id="zunyi-home", question="遵义的司机之家在哪里？", answer="在汇川区。"),
            FaqEntry(id="city-limits", question="货车进城有限行吗？", answer="看各地规定。")])
    assert r.search("车是山东牌照 能在贵阳年减吗").faq_id == "inspection-elsewhere"
    assert r.search("尊义司机之家在哪").faq_id == "zunyi-home"
    r.remove("zunyi-home")
    assert r.lexical.homophones.repair("尊义") == "尊义"


@pytest.mark.parametrize("text, expect", [
    ("北斗定位设备哪个牌子好", True),
    ("洗衣房那个洗衣机是什么牌子", True),
    ("那个限高杆是哪家公司做的", True),
    ("桥头牌子写限重30吨 是只算货还是连车一起", False),  # 牌子 here is a road sign
    ("这事谁做的主", False),
])
def test_brand_or_maker_questions_are_recognised(text, expect):
    assert ("maker" in question_types(text)) is expect


def test_brand_question_on_a_matching_topic_stays_silent(analyzer):
    r = Retriever(RetrievalSettings(), analyzer, None)
    r.load([FaqEntry(id="beidou", question="北斗定位设备必须装吗？", alternates=["北斗定位设备要装吗"],
                     answer="12吨以上的货车必须装北斗定位设备并保持在线。")])
    assert r.search("北斗定位设备必须装吗").decision == ANSWER
    assert r.search("北斗定位设备哪个牌子好").decision == SILENT
    assert vetoed(question_types("哪个牌子好"), frozenset()) and not vetoed(frozenset({"maker"}), frozenset({"maker"}))


def test_product_questions_count_as_brand_questions():
    assert "maker" in question_types("从业资格证考试哪个刷题app好用")
    assert "maker" not in question_types("从业资格证考试在哪里报名")


def test_dictionary_terms_are_repaired_when_no_kb_word_fits(analyzer):
    index = HomophoneIndex(analyzer)  # no KB words at all
    assert index.repair("连续开几个种头要停") == "连续开几个钟头要停"  # 钟头: a synonym-table term
    assert analyzer.canonical(index.repair("走绿同免费不")) == analyzer.canonical("走绿色通道免费不")


@pytest.mark.parametrize("text", ["车在高速上坏了", "车太重了", "8千运费", "货散了一地"])
def test_particles_and_numerals_are_never_typos(analyzer, text):
    index = HomophoneIndex(analyzer)
    for w in ["车载", "车胎", "欠运费", "异地"]:
        index.add(w)
    assert index.repair(text) == text


def test_real_word_homophones_the_kb_lacks_are_read_beside_it(analyzer):
    index = HomophoneIndex(analyzer)
    for w in ["工伤", "货车"]:
        index.add(w)
    kb_uses = {"工伤", "货车"}.__contains__
    assert index.sound_alikes(analyzer.words("摔断了腿算不算工商"), kb_uses) == ["工伤"]
    assert index.sound_alikes(analyzer.words("开火车的也算吗"), kb_uses) == ["货车"]
    assert index.sound_alikes(analyzer.words("工伤怎么认定"), kb_uses) == []  # the KB's own word: nothing to add


def test_retriever_reads_a_real_word_typo_beside_the_word(analyzer):
    r = Retriever(RetrievalSettings(), analyzer, None)
    r.load([FaqEntry(id="work-injury", question="开车受伤了能不能算工伤？", answer="签了劳动合同的可以申请工伤认定。"),
            FaqEntry(id="unpaid-wages", question="给老板开车被拖欠工资怎么办？", answer="先找劳动监察。"),
            FaqEntry(id="load-height", question="货车装货后车货总高度最高允许多少米？", answer="4米。")])
    # Read as written, 给老板开车 makes the wages entry the closer one.
    assert r.search("给老板开车摔了算工商不").faq_id == "work-injury"
