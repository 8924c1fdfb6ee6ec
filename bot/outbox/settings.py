"""Configuration schema of the outbox (the `outbox:` section of config.yml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OutboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How often the drain job runs; new notifications also wake it at once.
    interval_s: float = Field(2.0, gt=0, le=3600)
    # Rows claimed per round, and chats sent to at the same time (one chat is always in order).
    batch: int = Field(50, ge=1, le=1000)
    concurrency: int = Field(8, ge=1, le=100)
    # A claim is a lease: rows of a worker that died are taken over after this long.
    lease_s: float = Field(60.0, gt=0)
    # Retries with exponential backoff (base * 2^(attempt-1), capped); then the row is `failed`.
    max_attempts: int = Field(12, ge=1, le=100)
    backoff_base_s: float = Field(2.0, gt=0)
    backoff_max_s: float = Field(600.0, gt=0)
