"""The `--jsonl` input of the command-line contracts: `{"text": ...}` per line on stdin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TextIO


def texts(stream: TextIO) -> Iterator[tuple[str | None, str | None]]:
    """(text, None) per good line, (None, error) per bad one; blank lines are skipped, so
    every input line gets exactly one output line."""
    for line in stream:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield None, f"bad input line: not JSON ({exc})"
            continue
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str):
            yield None, 'bad input line: expected an object with a string "text"'
            continue
        yield text, None
