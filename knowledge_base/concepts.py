"""Situation cues that name the topic a driver describes without naming it.

"副驾突然胸口痛喘不过气" is about 突发疾病 and "卸完货老板电话都不接" about 运费拖欠, but they
share no word with the entries that answer them. `dict/concepts.yml` lists such cues per
topic; a message that contains a cue gets the topic words added to its query at a lower
weight (the message keeps its own words, so an entry that really is about 胸口痛 still wins).
Queries only: entries are written in the standard terms already.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .text import normalize


class ConceptTable:
    """Cue -> concept words. A cue "A+B" fires only when both parts occur in the message
    (the longest part needs two characters at least)."""

    def __init__(self, rows: dict[str, list[str]] | None = None, converter=None):
        self._cues: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}  # first part -> rules
        self._longest = 0
        for key, cues in (rows or {}).items():
            terms = tuple(t for t in (normalize(w, converter) for w in str(key).split()) if len(t) >= 2)
            if not terms:
                continue
            for cue in cues or []:
                # the longest part is the one looked up; the others are only checked
                parts = tuple(sorted((p for p in (normalize(p, converter).replace(" ", "")
                                                   for p in str(cue).split("+")) if p), key=len, reverse=True))
                if not parts or len(parts[0]) < 2:
                    continue
                self._cues.setdefault(parts[0], []).append((parts[1:], terms))
                self._longest = max(self._longest, len(parts[0]))

    @classmethod
    def load(cls, path: Path, converter=None) -> ConceptTable:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls(data.get("concepts") or {}, converter)

    def __len__(self) -> int:
        return sum(map(len, self._cues.values()))

    def expand(self, canonical: str, known=None) -> list[str]:
        """Concept words the message's cues point to, in order of first cue, without words
        the message already contains. `known(cue)` true skips a cue the knowledge base
        itself uses: its entries match it directly, no bridge needed."""
        text = canonical.replace(" ", "")
        out: list[str] = []
        for i in range(len(text) - 1):
            for n in range(2, min(self._longest, len(text) - i) + 1):
                cue = text[i:i + n]
                for rest, terms in self._cues.get(cue, ()):
                    if all(p in text for p in rest) and not (known and known(cue)):
                        out += [t for t in terms if t not in out and t not in text]
        return out
