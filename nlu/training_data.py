"""Reads the Rasa 3.x NLU training file (nlu/data/nlu.yml): intents with their examples
(entity markup stripped, spans kept) and the regex, lookup and synonym blocks.

The embedded backend and the entity extractor read the same file the Rasa server is
trained on, so there is one source of truth for both backends."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# [text](entity), [text](entity:value) and [text]{"entity": ...} as written by Rasa.
_MARKUP = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<ent>[^)]+)\)|(?P<json>\{[^}]*\}))")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[tuple[str, int, int], ...] = ()  # (entity, start, end) on `text`


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)  # variant -> canonical value

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})


def strip_markup(annotated: str) -> tuple[str, tuple[tuple[str, int, int], ...]]:
    """Plain text and entity spans of one annotated example."""
    out, spans, pos = [], [], 0
    for m in _MARKUP.finditer(annotated):
        out.append(annotated[pos:m.start()])
        start = sum(map(len, out))
        text = m.group("text")
        if m.group("ent"):
            entity = m.group("ent").split(":", 1)[0]
        else:
            entity = (yaml.safe_load(m.group("json")) or {}).get("entity", "")
        out.append(text)
        if entity:
            spans.append((entity, start, start + len(text)))
        pos = m.end()
    out.append(annotated[pos:])
    return "".join(out), tuple(spans)


def _items(block: str | None) -> list[str]:
    return [line.strip()[2:].strip() for line in (block or "").splitlines() if line.strip().startswith("- ")]


def load(path: Path) -> TrainingData:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    data = TrainingData()
    for item in doc.get("nlu") or []:
        examples = _items(item.get("examples"))
        if "intent" in item:
            for ex in examples:
                text, spans = strip_markup(ex)
                data.examples.append(Example(text, item["intent"], spans))
        elif "regex" in item:
            data.regexes.setdefault(item["regex"], []).extend(examples)
        elif "lookup" in item:
            data.lookups.setdefault(item["lookup"], []).extend(examples)
        elif "synonym" in item:
            for ex in examples:
                data.synonyms[ex] = str(item["synonym"])
    return data
