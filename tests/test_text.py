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


def test_southwestern_speech_reads_as_mandarin(analyzer):
    # dialect first, then synonyms: 歇一哈 -> 歇一下 -> the canonical term for resting
    assert analyzer.canonical("开好久要歇一哈") == analyzer.canonical("开好久要休息")
    assert analyzer.canonical("油遭偷了咋整") == analyzer.canonical("油被偷了怎么办")
    assert analyzer.canonical("楚雄有莫得司机之家") == analyzer.canonical("楚雄有没有司机之家")
    assert analyzer.canonical("好多人") == "好多人"  # 好多 can mean "many": left alone
    assert analyzer.canonical("统一回复") == "统一回复"  # 一回 is 一次 only in frames (半年一回)
    assert analyzer.canonical("审车半年一回") == analyzer.canonical("年检半年一次")


def test_a_mandarin_word_does_not_hide_the_dialect_word_after_it(analyzer):
    # 去哪 is the canonical form of 克哪; it must not swallow the 哪 of 哪点 (= 哪里)
    assert analyzer.canonical("etc去哪点办") == analyzer.canonical("etc去哪里办")
    assert analyzer.canonical("明天晚黑走") == analyzer.canonical("明天晚上走")
    # domain terms still guard themselves: 资格证 inside 从业资格证 is left as it is
    assert analyzer.canonical("从业资格证") == analyzer.canonical("资格证") == "从业资格证"


def test_two_bare_digits_before_a_unit_are_not_one_number(analyzer):
    assert "45米" not in analyzer.normalize("四五米")  # four or five metres
    assert analyzer.canonical("前四后八四个桥") == analyzer.canonical("前四后八") + "4个桥"
    assert analyzer.normalize("六十一岁") == "61岁" and analyzer.normalize("一二三二八") == "12328"
