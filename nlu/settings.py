"""Configuration schema of the NLU component (the `nlu:` section of config.yml)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Development default only; deployments set RASA_TOKEN (which always wins, see `token`).
DEV_RASA_TOKEN = "driverhome-dev-token"


class NluSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["embedded", "rasa", "auto"] = "auto"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = DEV_RASA_TOKEN
    timeout_ms: int = Field(300, ge=10, le=10_000)
    breaker_failures: int = Field(3, ge=1, le=100)
    breaker_reset_s: float = Field(30.0, gt=0, le=3600)
    data_file: Path = Path("nlu/data/nlu.yml")
    dict_dir: Path = Path("nlu/dict")
    # What to do with a complaint's confidence is the ticket flow's call (tickets: in config.yml).

    @property
    def token(self) -> str:
        """The Rasa auth token: $RASA_TOKEN when set, else the configured one."""
        return os.environ.get("RASA_TOKEN") or self.rasa_token

    def resolve(self, root: Path) -> "NluSettings":
        """Copy with data_file and dict_dir made absolute against `root` (the config's folder)."""
        fix = lambda p: p if p.is_absolute() else (root / p).resolve()  # noqa: E731
        return self.model_copy(update={"data_file": fix(self.data_file), "dict_dir": fix(self.dict_dir)})
