"""Repair of voice-input homophone typos against the knowledge base's own words.

Voice input and pinyin keyboards swap a character for another that sounds the same
("诉球" for "诉求", "年减" for "年检"). Pinyin bigram features already give such a query
some credit, but the wrong character still counts against every entry. A span of the
query that is no Chinese word at all, sounds exactly like a word the knowledge base uses
and shares a character with it in place is read as that word. The words are the knowledge
base's own, kept up to date on every edit, so an admin's new term is repaired at once; when
none fits, the terms of the dialect and synonym tables are tried.
"""

from __future__ import annotations

import re

from .text import _CJK, STOP_UNITS, STOP_WORDS, Analyzer

_RUN_RE = re.compile(rf"[{_CJK}]+")
_NUMERALS = frozenset("零〇一二两三四五六七八九十百千万亿几")


class HomophoneIndex:
    """KB words by their toneless pinyin; `repair` rewrites homophone typos in a query."""

    LENGTHS = (4, 3, 2)  # longest span first
    MAX_CHANGED = {2: 1, 3: 1, 4: 2}  # characters a typo may change, by word length

    def __init__(self, analyzer: Analyzer):
        self.analyzer = analyzer
        self._count: dict[str, int] = {}  # KB word -> how many entries use it
        self._by_sound: dict[tuple[str, ...], set[str]] = {}
        # The domain dictionary's terms (dialect and synonym tables), tried when no KB word
        # fits: a typo of 钟头 is still worth repairing when the KB says 小时.
        self._dict_by_sound: dict[tuple[str, ...], set[str]] = {}
        for term in analyzer.rewrite_terms():
            if self._eligible(term):
                self._dict_by_sound.setdefault(self._sound(term), set()).add(term)

    def __len__(self) -> int:
        return len(self._count)

    def _sound(self, text: str) -> tuple[str, ...]:
        return tuple(self.analyzer.pinyin(ch) for ch in text)

    @staticmethod
    def _eligible(word: str) -> bool:
        """Content words only: one with a particle or function character (除了, 不想, 异地)
        sounds like too many ordinary spans."""
        return (len(word) in HomophoneIndex.MAX_CHANGED and word not in STOP_WORDS
                and bool(_RUN_RE.fullmatch(word)) and not any(ch in STOP_UNITS for ch in word))

    def add(self, word: str) -> None:
        """One more entry uses `word` (a jieba word of its text)."""
        if not self._eligible(word):
            return
        n = self._count.get(word, 0)
        self._count[word] = n + 1
        if n == 0:
            self._by_sound.setdefault(self._sound(word), set()).add(word)

    def discard(self, word: str) -> None:
        """One entry fewer uses `word`."""
        n = self._count.get(word)
        if n is None:
            return
        if n > 1:
            self._count[word] = n - 1
            return
        del self._count[word]
        key = self._sound(word)
        same = self._by_sound.get(key)
        if same is not None:
            same.discard(word)
            if not same:
                del self._by_sound[key]

    def _fits(self, span: str, word: str) -> bool:
        """`word` (same sound as `span`) differs from it in a few characters, none of them a
        particle of the span: a particle is meant (车在 is not 车载, 车太 not 车胎). Only 个
        between two characters is a common slip (资个证 for 资格证)."""
        changed = [(i, a) for i, (a, b) in enumerate(zip(span, word)) if a != b]
        return (0 < len(changed) <= self.MAX_CHANGED[len(span)]
                and not any(a in STOP_UNITS and not (a == "个" and 0 < i < len(span) - 1) for i, a in changed))

    def _target(self, span: str) -> str | None:
        """The one KB word (else dictionary term) `span` is a homophone typo of, if any."""
        if span in self._count or self.analyzer.is_word(span) or span[0] in _NUMERALS or span[-1] in _NUMERALS:
            return None  # a real word is never a typo, nor is a numeral (8千运费, 一地)
        words = self._kb_homophones(span)
        if words:  # the KB's own words first; the most used one if several fit
            top = max(self._count.get(w, 0) for w in words)
            words = [w for w in words if self._count.get(w, 0) == top]
        else:
            words = [t for t in self._dict_by_sound.get(self._sound(span), ()) if self._fits(span, t)]
        return words[0] if len(words) == 1 else None

    def repair(self, text: str) -> str:
        """`text` (canonical) with homophone typos replaced by the words they stand for.
        A span that cuts into a real word of the query's segmentation is left alone."""
        if not (self._by_sound or self._dict_by_sound) or not _RUN_RE.search(text):
            return text
        return _RUN_RE.sub(lambda m: self._repair_run(m.group(0)), text)

    def _kb_homophones(self, span: str) -> list[str]:
        """The KB words that sound exactly like `span` and differ from it as a typo would."""
        same = tuple(self._by_sound.get(self._sound(span), ()))  # a copy: edits may run meanwhile
        return [w for w in same if self._fits(span, w)]

    def sound_alikes(self, words, known) -> list[str]:
        """KB words that real `words` of a query sound exactly like, for the words
        `known(word)` says the knowledge base does not use: voice input picks a real word
        for a typo too (工商 for 工伤, 火车 for 货车). Read beside the word, not instead of
        it, since the driver may have meant it."""
        out = []
        for tok in words:
            if self._eligible(tok) and self.analyzer.is_word(tok) and not known(tok):
                same = self._kb_homophones(tok)
                if len(same) == 1:
                    out.append(same[0])
        return out

    def _repair_run(self, run: str) -> str:
        if len(run) < 2:
            return run
        inside: list[bool] | None = None  # segmented only once a typo is found (rarely)
        out, i = [], 0
        while i < len(run):
            for length in self.LENGTHS:
                j = i + length
                word = self._target(run[i:j]) if j <= len(run) else None
                if word is None:
                    continue
                if inside is None:
                    inside = self._inside_words(run)
                if inside[i] or inside[j]:
                    continue
                out.append(word)
                i = j
                break
            else:
                out.append(run[i])
                i += 1
        return "".join(out)

    def _inside_words(self, run: str) -> list[bool]:
        """Per position of `run`, whether it falls inside a real dictionary word of the
        segmentation: a span may not start or end there."""
        inside = [False] * (len(run) + 1)
        pos = 0
        for tok in self.analyzer.words(run):
            if len(tok) > 1 and self.analyzer.is_word(tok):
                for k in range(pos + 1, pos + len(tok)):
                    inside[k] = True
            pos += len(tok)
        return inside
