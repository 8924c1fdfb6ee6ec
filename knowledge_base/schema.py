"""The FAQ entry and the file format admins and external checks exchange.

YAML: `faqs: [{id, question, alternates?, answer, tags?}]`; CSV: the same columns,
lists separated by `|`. Validation reports every problem with entry id and field
instead of stopping at the first one, so an admin can fix a file in one go.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

# At most 60 characters: "faq:<id>" is a button's callback data, which Telegram caps at 64 bytes.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")
MAX_ALTERNATES = 60  # the dense index reserves 64 vector slots per entry
LIST_SEP = "|"


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str
    question: str
    alternates: list[str] = []
    answer: str
    tags: list[str] = []

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError("must be a slug: letters, digits, '-' or '_', at most 60")
        return v

    @field_validator("question", "answer")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("alternates", "tags")
    @classmethod
    def _clean_list(cls, v: list[str]) -> list[str]:
        out = [s.strip() for s in v if s and s.strip()]
        if len(out) > MAX_ALTERNATES:
            raise ValueError(f"at most {MAX_ALTERNATES} items")
        return list(dict.fromkeys(out))

    def texts(self) -> list[str]:
        """The ways this entry is asked: the question first, then alternates."""
        return [self.question, *self.alternates]

    def to_dict(self) -> dict:
        d = {"id": self.id, "question": self.question}
        if self.alternates:
            d["alternates"] = list(self.alternates)
        d["answer"] = self.answer
        if self.tags:
            d["tags"] = list(self.tags)
        return d


@dataclass
class ValidationReport:
    entries: list[FaqEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validation_problems(exc: ValidationError) -> list[str]:
    """`field: message` per problem, worded for people who edit the files."""
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "entry"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        problems.append(f"{loc}: {msg}")
    return problems


class KbFileError(ValueError):
    """The file as a whole cannot be read (not YAML/CSV, no `faqs` list)."""


def parse_entries(raw: list, where: str = "") -> ValidationReport:
    report = ValidationReport()
    seen: dict[str, int] = {}
    for n, item in enumerate(raw, start=1):
        label = f"entry #{n}"
        if not isinstance(item, dict):
            report.errors.append(f"{where}{label}: must be a mapping with id, question, answer")
            continue
        raw_id = item["id"].strip() if isinstance(item.get("id"), str) else None
        problems = []  # every problem of the entry, not only the first
        if raw_id:
            label = f"entry #{n} ({raw_id})"
            if raw_id in seen:
                problems.append(f"id: duplicate of entry #{seen[raw_id]}")
            else:
                seen[raw_id] = n
        try:
            entry = FaqEntry.model_validate(item)
        except ValidationError as exc:
            problems.extend(validation_problems(exc))
        if problems:
            report.errors.extend(f"{where}{label}: {problem}" for problem in problems)
            continue
        report.entries.append(entry)
    return report


def _split(value) -> list[str]:
    if value is None:
        return []
    return [s.strip() for s in str(value).split(LIST_SEP) if s.strip()]


def read_text(text: str, fmt: str = "yaml") -> ValidationReport:
    """Parse and validate a KB document; `fmt` is 'yaml' or 'csv'."""
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        missing = {"id", "question", "answer"} - set(rows[0].keys() if rows else [])
        if missing:
            raise KbFileError(f"CSV needs columns id, question, answer (missing: {', '.join(sorted(missing))})")
        raw = [{**r, "alternates": _split(r.get("alternates")), "tags": _split(r.get("tags"))} for r in rows]
        raw = [{k: v for k, v in r.items() if k is not None} for r in raw]
        return parse_entries(raw)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KbFileError(f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("faqs"), list):
        raise KbFileError("expected a mapping with a list under `faqs:`")
    return parse_entries(data["faqs"])


def read_file(path: str | Path) -> ValidationReport:
    path = Path(path)
    fmt = "csv" if path.suffix.lower() == ".csv" else "yaml"
    return read_text(path.read_text(encoding="utf-8"), fmt)


def dump_yaml(entries: list[FaqEntry]) -> str:
    return yaml.safe_dump({"faqs": [e.to_dict() for e in entries]}, allow_unicode=True,
                          sort_keys=False, width=120)


def dump_csv(entries: list[FaqEntry]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "question", "alternates", "answer", "tags"])
    for e in entries:
        w.writerow([e.id, e.question, LIST_SEP.join(e.alternates), e.answer, LIST_SEP.join(e.tags)])
    return buf.getvalue()
