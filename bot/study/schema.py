"""The study item and the library file format admins and external checks exchange.

YAML: `items: [{id, title, body, source, tags?, date?, quiz?: {question, options, answer,
explanation?}}]`, in one file or a folder of files. Validation reports every problem with
entry id and field (like knowledge_base/schema.py) so an admin can fix a file in one go.
Limits are Telegram's: the rendered item must fit one message, the quiz one poll.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge_base.schema import validation_problems

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
MAX_BODY = 3000  # leaves room for the title, source and footer in a 4096-character message
MESSAGE_LIMIT = 4096


class StudyFileError(ValueError):
    """The file as a whole cannot be read (not YAML, no `items` list)."""


class Quiz(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    question: str = Field(min_length=1, max_length=300)
    options: list[str] = Field(min_length=2, max_length=10)
    answer: int  # index into options, from 0
    explanation: str = Field("", max_length=200)

    @field_validator("options", mode="before")
    @classmethod
    def _numbers_are_text(cls, v):
        """`[12328, 12345]` in YAML are numbers; as options they are text."""
        return [str(o) if isinstance(o, (int, float)) and not isinstance(o, bool) else o for o in v] \
            if isinstance(v, list) else v

    @field_validator("options")
    @classmethod
    def _options(cls, v: list[str]) -> list[str]:
        out = [str(o).strip() for o in v]
        if any(not o or len(o) > 100 for o in out):
            raise ValueError("every option needs 1 to 100 characters")
        if len(set(out)) != len(out):
            raise ValueError("options must differ")
        return out

    @field_validator("explanation")
    @classmethod
    def _explanation(cls, v: str) -> str:
        if v.count("\n") > 2:
            raise ValueError("at most 2 line breaks (Telegram's limit)")
        return v

    @model_validator(mode="after")
    def _answer(self):
        if not 0 <= self.answer < len(self.options):
            raise ValueError(f"answer must be an option index from 0 to {len(self.options) - 1}")
        return self


class StudyItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str
    title: str = Field(min_length=1, max_length=80)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    source: str = Field(min_length=1, max_length=200)
    tags: list[str] = []
    date: dt.date | None = None  # a dated item is sent only on that day, outside the rotation
    quiz: Quiz | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError("must be a slug: lowercase letters, digits, '-' or '_', at most 80")
        return v

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_text(cls, v):
        return [str(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else t for t in v] \
            if isinstance(v, list) else v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(t.strip() for t in v if t and t.strip()))

    def to_dict(self) -> dict:
        d: dict = {"id": self.id, "title": self.title, "body": self.body, "source": self.source}
        if self.tags:
            d["tags"] = list(self.tags)
        if self.date is not None:
            d["date"] = self.date
        if self.quiz is not None:
            d["quiz"] = self.quiz.model_dump(exclude_defaults=False)
        return d


@dataclass
class StudyReport:
    items: list[StudyItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_items(raw: list, where: str = "", report: StudyReport | None = None,
                seen: dict[str, str] | None = None) -> StudyReport:
    from .texts import render_item  # the message must fit, so validate the rendered form

    report = report if report is not None else StudyReport()
    seen = seen if seen is not None else {}
    for n, item in enumerate(raw, start=1):
        label = f"{where}entry #{n}"
        if not isinstance(item, dict):
            report.errors.append(f"{label}: must be a mapping with id, title, body, source")
            continue
        raw_id = item["id"].strip() if isinstance(item.get("id"), str) else None
        if raw_id:
            label = f"{label} ({raw_id})"
            if raw_id in seen:
                report.errors.append(f"{label}: id: duplicate of {seen[raw_id]}")
                continue
            seen[raw_id] = f"{where}entry #{n}"
        try:
            entry = StudyItem.model_validate(item)
        except ValidationError as exc:
            report.errors.extend(f"{label}: {problem}" for problem in validation_problems(exc))
            continue
        if len(render_item(entry, dt.date(2026, 12, 31))) > MESSAGE_LIMIT:
            report.errors.append(f"{label}: body: too long for one Telegram message")
            continue
        report.items.append(entry)
    return report


def read_text(text: str, where: str = "", report: StudyReport | None = None,
              seen: dict[str, str] | None = None) -> StudyReport:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StudyFileError(f"{where}not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise StudyFileError(f"{where}expected a mapping with a list under `items:`")
    return parse_items(data["items"], where, report, seen)


def read_path(path: str | Path) -> StudyReport:
    """A library file, or a folder of *.yml/*.yaml files (ids unique across all of them)."""
    path = Path(path)
    if not path.is_dir():
        return read_text(path.read_text(encoding="utf-8"))
    report, seen = StudyReport(), {}
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".yml", ".yaml"))
    if not files:
        raise StudyFileError(f"{path}: no .yml files in the folder")
    for p in files:
        read_text(p.read_text(encoding="utf-8"), f"{p.name}: ", report, seen)
    return report


def dump_yaml(items: list[StudyItem]) -> str:
    return yaml.safe_dump({"items": [i.to_dict() for i in items]}, allow_unicode=True,
                          sort_keys=False, width=120)
