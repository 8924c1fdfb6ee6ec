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

from . import texts
from .config import Settings
from .pipeline import MessagePipeline, PipelineSettings
from .storage import Database

log = logging.getLogger(__name__)
STARTUP_LOCK = "driverhome-start-up"  # migrations and seeding: one process at a time


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
    with db.exclusive(STARTUP_LOCK):
        db.migrate()
    return db


def build_nlu(settings: Settings):
    """What decides question / complaint / chit-chat (see nlu/service.py for the backends)."""
    from nlu.service import NluService

    return NluService(settings.nlu, settings.root)


def build_study(settings: Settings, db: Database, chats):
    """The daily study service, its library seeded from the shipped file on first start."""
    from .study.service import StudyService

    study = StudyService(db, settings.study, chats, library_path=settings.path(settings.study.library_file),
                         branch_source=settings)
    study.seed()
    return study


@dataclass
class App:
    settings: Settings
    kb: KnowledgeBase
    pipeline: MessagePipeline
    db: Database | None = None
    chats: object | None = None  # ChatRegistry
    admins: object | None = None  # AdminDirectory
    answers: object | None = None  # AnswerLog
    inbox: object | None = None  # UnansweredInbox
    study: object | None = None  # StudyService (bot/study)
    tickets: object | None = None  # Tickets (bot/tickets/wiring.py)

    @classmethod
    def build(cls, settings: Settings, *, kb_file: Path | None = None,
              entries: list[FaqEntry] | None = None) -> "App":
        """With `kb_file`/`entries` the knowledge base is read-only and in memory;
        otherwise it lives in the database (seeded from `knowledge_base.faq_file`)."""
        if kb_file is not None or entries is not None:
            if entries is None:
                report = read_file(kb_file)
                if report.errors and not report.entries:
                    raise ValueError(f"{kb_file}: no valid entries" + "".join(f"; {e}" for e in report.errors))
                for err in report.errors:  # one bad entry should not take the others down with it
                    log.warning("%s: %s (entry skipped)", kb_file, err)
                entries = report.entries
            return cls._build(settings, None, MemoryStore(entries))
        from .kb_store import SqlKbStore

        db = open_database(settings)
        with db.exclusive(STARTUP_LOCK):  # processes starting together seed the database once
            return cls._build(settings, db, SqlKbStore(db))

    @classmethod
    def _build(cls, settings: Settings, db: Database | None, store: KbStore) -> "App":
        kb = KnowledgeBase(store, build_retriever(settings))
        seed = settings.path(settings.knowledge_base.faq_file)
        if db is not None and store.count() == 0 and seed.is_file():
            report = read_file(seed)
            for err in report.errors:
                log.warning("seed %s: %s", seed, err)
            kb.apply_import(report.entries, actor="seed")
            log.info("seeded the knowledge base with %d entries from %s", len(report.entries), seed)
        else:
            n = kb.load_index()
            log.info("knowledge base ready: %d entries, %s", n, kb.retriever.backend)
        pipe_settings = PipelineSettings(repeat_window_s=settings.assistant.repeat_window_s,
                                         flood_rate=settings.assistant.flood_rate)
        if db is None:
            return cls(settings, kb, MessagePipeline(kb, settings=pipe_settings))
        from .chats import AdminDirectory, ChatRegistry
        from .feedback import AnswerLog, UnansweredInbox

        inbox = UnansweredInbox(db, kb.retriever.analyzer.normalize)
        answers = AnswerLog(db, inbox)
        admins = AdminDirectory(db, settings.telegram.admins)
        pipeline = MessagePipeline(kb, answers=answers, inbox=inbox, admins=admins, settings=pipe_settings,
                                   nlu=build_nlu(settings))
        app = cls(settings, kb, pipeline, db, ChatRegistry(db), admins, answers, inbox)
        app.study = build_study(settings, db, app.chats)
        from .tickets.wiring import build_tickets

        app.tickets = build_tickets(settings, db, admins=admins, chats=app.chats)
        pipeline.tickets = app.tickets.desk if app.tickets is not None else None
        return app

    def help_text(self, user_id: int | None = None, *, private: bool = False) -> str:
        """What /help says, in every adapter; in a private chat also the commands of the
        asker's roles (branch secretary, admin)."""
        study = self.study is not None and self.settings.study.enabled
        known = private and user_id is not None
        secretary = known and self.tickets is not None and self.tickets.service.is_handler(user_id)
        admin = known and self.admins is not None and self.admins.is_admin(user_id)
        return texts.help_text(tickets=self.tickets is not None, study=study, secretary=secretary, admin=admin)

    def chat_moved(self, old: int, new: int) -> None:
        """A group changed its id (Telegram upgrades a growing group to a supergroup): its
        registration, branch, study schedule and history, tickets and waiting notifications move
        to the new id in one transaction, so nothing is lost or sent to a dead chat."""
        if self.db is None or old == new:
            return
        from .chats import ChatRegistry
        from .outbox import move_chat

        with self.db.session() as s:
            ChatRegistry.move(s, old, new)
            move_chat(s, old, new)
            if self.study is not None:
                self.study.move_chat(s, old, new)
            in_config = self.tickets is not None and self.tickets.service.move_chat(s, old, new)
        log.info("chat %s moved to %s", old, new)
        if in_config:
            log.warning("chat %s is now %s: replace it in branches[].groups in config.yml", old, new)

    def close(self) -> None:
        """Stop cleanly: give back the leases at once (another process may take over)."""
        if self.study is not None:
            self.study.lease.release()
        if self.tickets is not None:
            self.tickets.watcher.lease.release()
        if self.answers is not None:
            self.answers.flush()  # message ids of the last replies (written in batches)
        if self.db is not None:
            self.db.dispose()
