"""Files the command line writes for its user (exports): a path that cannot be written stops
the command with one clear line instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import click


def write_output(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:  # a missing folder, no permission, a full disk
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
