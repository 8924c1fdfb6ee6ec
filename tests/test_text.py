from knowledge_base.text import normalize


def test_full_width_and_case_are_folded():
    assert normalize("ＥＴＣ　卡１２３") == "etc卡123"


def test_traditional_becomes_simplified(analyzer):
    assert analyzer.normalize("駕駛證過期了怎麼辦") == "驾驶证过期了怎么办"


def test_punctuation_emoji_and_spaces_are_dropped(analyzer):
    assert analyzer.normalize("限高 多少？？😂😂 龙溪 大道！") == "限高多少龙溪大道"


def test_zero_width_characters_are_gaps(analyzer):
    assert analyzer.normalize("限\u200b高") == "限高"


def test_chinese_numerals_before_units_become_digits(analyzer):
    assert analyzer.normalize("限高四米") == "限高4米"
    assert analyzer.normalize("扣了十二分") == "扣了12分"
    assert analyzer.normalize("欠我四千二块") == "欠我4200块"


def test_synonyms_map_to_one_canonical_term(analyzer):
    # whatever the canonical term is, variants of one concept must agree
    assert analyzer.canonical("过路费") == analyzer.canonical("通行费")


def test_features_include_words_and_pinyin(analyzer):
    feats = analyzer.features("限高多少").weights
    assert any(k.startswith("w") for k in feats)
    # a homophone typo shares the pinyin bigram with the right spelling
    typo = analyzer.features("现高").weights
    assert set(k for k in feats if k.startswith("p")) & set(k for k in typo if k.startswith("p"))


def test_measure_word_ge_is_not_rejoined(analyzer):
    # 洗了个澡 -> 洗澡, but 几个钟头 keeps its measure word (几种 would be a different word)
    assert "洗澡" in analyzer.canonical("想洗了个澡")
    assert "几种" not in analyzer.canonical("连续开几个钟头要停")
