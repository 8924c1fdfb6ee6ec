"""Text normalisation and lexical features for colloquial Chinese.

Drivers type on phones between loads: full-width characters, traditional characters,
emoji, no punctuation, voice-input homophones ("现高" for "限高"). Everything the
retriever compares goes through `Analyzer.features`, so queries and entries are
treated identically.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT_RE = re.compile(rf"[{_CJK}]|[0-9]+(?:\.[0-9]+)?|[a-z]+")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM_RE = re.compile(
    r"[零〇一二两三四五六七八九十百千]+(?:点[零一二三四五六七八九]+)?(?=[米吨轴桥块元分小个天年月号公斤千万条位档座次人岁倍成趟辆箱升])"
    r"|[一二三四五六七八九]?十[一二三四五六七八九]?|[一二三四五六七八九]百[零一二三四五六七八九十]*"
    r"|[零〇一二三四五六七八九]{3,}"
)
# Chinese numerals that are surely numbers: before a unit ("四米", "两桥", "十二分"),
# with 十/百 ("六十一"), or digit by digit ("一二三二八").

_SPLIT_WORD_RE = re.compile(rf"([{_CJK}])(了个|个)([{_CJK}])")

# Particles and filler words: they carry tone, not topic. They still count, but little.
STOP_UNITS = set("的了吗呢啊吧嘛噻撒哦呀么是我你他她们这那个下请问有在要都就也还和与及能会可以想"
                 "知道怎样咋啥什哪谁给被把对为去来到上中里嗯呗哈喂啦咧额诶么儿得地着过又很太")
STOP_WORDS = {"请问", "一下", "怎么", "怎么样", "什么", "知道", "可以", "这个", "那个", "我们", "你们",
              "大家", "师傅", "师傅们", "谁知道", "有没有", "是不是", "能不能", "要不要", "咋个", "哪样",
              "咋办", "怎么办", "问下", "问问", "想问", "我想", "为什么", "多少", "哪里", "哪儿",
              "时候", "现在", "需要", "还是", "就是", "如果", "的话"}


def units(text: str) -> list[str]:
    """The units features are built from: CJK characters, numbers, Latin words."""
    return _UNIT_RE.findall(text)


def _cn_to_int(s: str) -> str:
    """Convert a Chinese numeral ("四", "十二", "四千二", "一百五") to digits; keep the text if odd."""
    if "点" in s:
        whole, frac = s.split("点", 1)
        w = _cn_to_int(whole)
        f = "".join(str(_CN_DIGITS[c]) for c in frac if c in _CN_DIGITS)
        return f"{w}.{f}" if w.isdigit() and f else s
    if all(c in _CN_DIGITS for c in s):
        return "".join(str(_CN_DIGITS[c]) for c in s) if len(s) > 1 else str(_CN_DIGITS[s])
    total, current, last_unit = 0, 0, 1
    units = {"十": 10, "百": 100, "千": 1000}
    for c in s:
        if c in _CN_DIGITS:
            current = _CN_DIGITS[c]
        elif c in units:
            u = units[c]
            total += (current or (1 if u == 10 else 0)) * u
            current, last_unit = 0, u
        else:
            return s
    if current:  # "四千二" means 4200, "十二" means 12
        total += current * (last_unit // 10 if last_unit >= 100 else 1)
    return str(total) if total else s


def _numeral(m: re.Match) -> str:
    """Digits for one matched numeral. Two bare digits before a unit are no number:
    "四五米" is "four or five metres" and "前四后八四个桥" a truck type and a count, so
    only the digit next to the unit is converted."""
    s = m.group(0)
    if len(s) == 2 and all(c in _CN_DIGITS for c in s):
        return s[0] + _cn_to_int(s[1])
    return _cn_to_int(s)


def normalize(text: str, converter=None) -> str:
    """Canonical form: half width, simplified, lower case, digits for numerals,
    no punctuation, emoji or spaces between Chinese characters."""
    text = unicodedata.normalize("NFKC", text or "")
    if converter is not None:
        text = converter.convert(text)
    text = text.lower()
    text = _CN_NUM_RE.sub(_numeral, text)
    # Keep letters, digits and CJK; everything else (punctuation, emoji, zero-width) is a gap.
    text = re.sub(rf"[^0-9a-z{_CJK}.+·]+", " ", text)
    text = re.sub(r"(?<![0-9])\.|\.(?![0-9])", " ", text)
    text = re.sub(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])", "", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Features:
    """Weighted bag of lexical features of one text (weights before IDF)."""

    weights: dict[str, float]

    def __bool__(self) -> bool:
        return bool(self.weights)


class Analyzer:
    """Turns text into features: characters, character bigrams, jieba words and
    pinyin bigrams (the last catch homophone typos from voice input)."""

    # Single characters carry much of the meaning in short colloquial Chinese (床, 电, 澡);
    # tuned on held-out sets with their own knowledge base, see bench/.
    TYPE_WEIGHT = {"u": 1.0, "b": 0.4, "w": 0.6, "p": 0.3}
    # Rewrite tables in the dictionary folder, in order, and whether their canonical terms
    # guard themselves (load_rewrites).
    REWRITE_FILES = (("dialect", False), ("synonyms", True))

    def __init__(self, dict_dir: Path | None = None):
        import jieba
        import opencc
        import pypinyin

        from .concepts import ConceptTable  # it reads normalize() from this module

        self._pinyin = pypinyin
        self._t2s = opencc.OpenCC("t2s")
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        jieba.setLogLevel(logging.WARNING)
        # Rewrites applied in order, each in one pass with the longest match first (no
        # cascades within a pass): local speech to Mandarin, then variants to canonical terms.
        self._passes: list[tuple[re.Pattern, dict[str, str]]] = []
        self.concepts = ConceptTable()
        if dict_dir and Path(dict_dir).is_dir():
            for words in sorted(Path(dict_dir).glob("*.txt")):
                self._jieba.load_userdict(str(words))
            for name, guard in self.REWRITE_FILES:
                path = Path(dict_dir) / f"{name}.yml"
                pairs = load_rewrites(path, self._t2s, key=name, guard=guard) if path.exists() else {}
                if pairs:
                    keys = sorted(pairs, key=len, reverse=True)
                    self._passes.append((re.compile("|".join(map(re.escape, keys))), pairs))
            concepts = Path(dict_dir) / "concepts.yml"
            if concepts.exists():
                self.concepts = ConceptTable.load(concepts, self._t2s)
        self._jieba.initialize()
        self._py_cache: dict[str, str] = {}
        self._prior_cache: dict[str, float] = {}

    def normalize(self, text: str) -> str:
        return normalize(text, self._t2s)

    def rewrite_terms(self) -> set[str]:
        """Every term of the dialect and synonym tables, both the variants and what they become."""
        return {t for _, pairs in self._passes for pair in pairs.items() for t in pair}

    # Rejoin a two-character dictionary word split by 个 ("冲个凉", "洗了个澡", "理个发"),
    # so it matches the entry's "冲凉"/"洗澡"/"理发"; particles on either side never join.
    SPLIT_WORDS = True

    # After these, 个 is a measure word ("几个钟头", "这个证"), not a split: nothing to rejoin.
    _QUANTIFIERS = frozenset("几多每这那哪某半整一二两三四五六七八九十百千万0123456789")

    def _join_split_word(self, m: re.Match) -> str:
        a, b = m.group(1), m.group(3)
        if a in STOP_UNITS or b in STOP_UNITS or a in self._QUANTIFIERS or not self.is_word(a + b):
            return m.group(0)
        return a + b

    def canonical(self, text: str) -> str:
        """Normalised text with dialect forms in Mandarin and colloquial variants replaced by
        their canonical term."""
        t = self.normalize(text)
        if self.SPLIT_WORDS:
            t = _SPLIT_WORD_RE.sub(self._join_split_word, t)
        for pattern, pairs in self._passes:
            t = pattern.sub(lambda m: pairs[m.group(0)], t)
        return t

    def words(self, canonical_text: str) -> list[str]:
        with self._lock:  # jieba's tokenizer is not thread-safe while it initialises
            return [w for w in self._jieba.cut(canonical_text) if w.strip()]

    def is_word(self, text: str) -> bool:
        """Whether jieba's dictionaries (its own and the domain's) know `text` as a word."""
        return bool(self._jieba.FREQ.get(text))

    def pinyin(self, ch: str) -> str:
        """Toneless pinyin of one character (its most common reading)."""
        p = self._py_cache.get(ch)
        if p is None:
            p = self._pinyin.lazy_pinyin(ch)[0]
            self._py_cache[ch] = p
        return p

    # Weight of a feature *= prior(its text): 1 for words rare in Chinese at large, down to
    # about 0.3 for everyday ones. Measured on both evaluation sets (bench/): alpha 0.5 helps both.
    PRIOR_ALPHA = 0.5
    # A lone digit (the 1 of 1次, 1年) says as little as an everyday word; 12328 or 49 do not.
    DIGIT_WEIGHT = 0.3
    PRIOR_RANGE = (2.0, 6.0)  # -log10 frequency share: at or below lo is "everyday", at or above hi "rare"

    def prior(self, surface: str) -> float:
        """How informative a word or character is in Chinese at large (jieba's word
        frequencies): everyday words (现在, 老板, 问题) say little about which entry is meant,
        however rare they happen to be inside one small knowledge base."""
        v = self._prior_cache.get(surface)
        if v is None:
            f = self._jieba.FREQ.get(surface, 0)
            info = math.log10(self._jieba.total / (f + 1))
            lo, hi = self.PRIOR_RANGE
            v = max(0.05, min(1.0, (info - lo) / (hi - lo))) ** self.PRIOR_ALPHA
            if len(self._prior_cache) < 200_000:
                self._prior_cache[surface] = v
        return v

    def features(self, text: str, *, canonical: bool = False) -> Features:
        t = text if canonical else self.canonical(text)
        w: dict[str, float] = {}

        def add(key: str, kind: str, stop: bool, surface: str) -> None:
            val = self.TYPE_WEIGHT[kind] * (0.15 if stop else 1.0)
            if not surface.isascii():  # numbers and Latin words (etc, a2, 12328) keep their weight
                val *= self.prior(surface)
            elif kind == "u" and len(surface) == 1 and surface.isdigit():
                val *= self.DIGIT_WEIGHT
            if val > w.get(key, 0.0):
                w[key] = val

        for chunk in t.split(" "):
            parts = units(chunk)
            for i, u in enumerate(parts):
                add("u" + u, "u", u in STOP_UNITS, u)
                if i + 1 < len(parts):
                    bg = u + parts[i + 1]
                    add("b" + bg, "b", bg in STOP_WORDS or (u in STOP_UNITS and parts[i + 1] in STOP_UNITS), bg)
                    if len(u) == 1 and len(parts[i + 1]) == 1 and not u.isascii() and not parts[i + 1].isascii():
                        add("p" + self.pinyin(u) + self.pinyin(parts[i + 1]), "p", bg in STOP_WORDS, bg)
            for word in self.words(chunk):
                if len(word) >= 2 and not word.isdigit():
                    add("w" + word, "w", word in STOP_WORDS, word)
        return Features(w)

    def query_features(self, canonical_text: str, concept_weight: float, known=None) -> Features:
        """Features of a query: its own, plus the words of the topics its situation cues
        point to (concepts.py) at `concept_weight` of their weight; `known(cue)` true
        skips a cue (ConceptTable.expand)."""
        w = dict(self.features(canonical_text, canonical=True).weights)
        if concept_weight > 0:
            for term in self.concepts.expand(canonical_text, known):
                for key, val in self.features(term, canonical=True).weights.items():
                    if val * concept_weight > w.get(key, 0.0):
                        w[key] = val * concept_weight
        return Features(w)


def load_rewrites(path: Path, converter=None, key: str = "synonyms", guard: bool = True) -> dict[str, str]:
    """Read a rewrite table `<key>: {canonical: [variants]}` (dialect.yml, synonyms.yml)
    into variant -> canonical. A canonical term that contains a variant maps to itself, so
    that the longer term wins (从业资格证 is not rewritten around 资格证). With `guard`, every
    canonical term maps to itself: a domain term in the text (绿色通道) is then never split
    by a variant that overlaps its end. The dialect table has no guard: its canonical
    forms are everyday words (去哪, 没有) that must not hide the dialect word after them
    (去哪点 is 去哪里)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    pairs: dict[str, str] = {}
    for canon, variants in (data.get(key) or {}).items():
        canon_n = normalize(str(canon), converter)
        if len(canon_n) < 2:
            continue
        pairs.setdefault(canon_n, canon_n)
        for v in variants or []:
            v_n = normalize(str(v), converter)
            if len(v_n) >= 2 and v_n not in pairs:
                pairs[v_n] = canon_n
    if not guard:
        variants = [v for v, c in pairs.items() if v != c]
        pairs = {v: c for v, c in pairs.items() if v != c or any(x in v for x in variants)}
    return pairs
