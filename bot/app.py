"""Wiring: builds the services once from settings (the one place that knows them all)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from knowledge_base.dense import load_embedder
from knowledge_base.retriever import Retriever
from knowledge_base.schema import FaqEntry, read_file
from knowledge_base.service import KnowledgeBase
from knowledge_base.store import KbStore, MemoryStore
from knowledge_base.text import Analyzer

from .config import Settings
from .pipeline import MessagePipeline
from .storage import Database

log = logging.getLogger(__name__)


def build_retriever(settings: Settings) -> Retriever:
    kb_cfg, r_cfg = settings.knowledge_base, settings.retrieval
    analyzer = Analyzer(settings.path(kb_cfg.dict_dir))
    embedder = None
    if r_cfg.dense:
        embedder = load_embedder(r_cfg.model, r_cfg.fallback_model,
                                 settings.path(kb_cfg.cache_dir) / "embeddings.sqlite", r_cfg.quantize)
    return Retriever(r_cfg, analyzer, embedder)


def open_database(settings: Settings) -> Database:
    db = Database(settings.db_url)
    db.migrate()
    return db


@dataclass
class App:
    settings: Settings
    kb: KnowledgeBase
    pipeline: MessagePipeline
    db: Database | None = None

    @classmethod
    def build(cls, settings: Settings, *, kb_file: Path | None = None,
              entries: list[FaqEntry] | None = None) -> "App":
        """With `kb_file`/`entries` the knowledge base is read-only and in memory;
        otherwise it lives in the database (seeded from `knowledge_base.faq_file`)."""
        db = None
        store: KbStore
        if kb_file is not None or entries is not None:
            if entries is None:
                report = read_file(kb_file)
                if not report.ok:
                    raise ValueError(f"{kb_file}: " + "; ".join(report.errors))
                entries = report.entries
            store = MemoryStore(entries)
        else:
            from .kb_store import SqlKbStore

            db = open_database(settings)
            store = SqlKbStore(db)
        kb = KnowledgeBase(store, build_retriever(settings))
        if db is not None and store.count() == 0:
            seed = settings.path(settings.knowledge_base.faq_file)
            if seed.is_file():
                report = read_file(seed)
                for err in report.errors:
                    log.warning("seed %s: %s", seed, err)
                kb.apply_import(report.entries, actor="seed")
                log.info("seeded the knowledge base with %d entries from %s", len(report.entries), seed)
                return cls(settings, kb, MessagePipeline(kb), db)
        n = kb.load_index()
        log.info("knowledge base ready: %d entries, %s", n, kb.retriever.backend)
        return cls(settings, kb, MessagePipeline(kb), db)

    def close(self) -> None:
        if self.db is not None:
            self.db.dispose()
