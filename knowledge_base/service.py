"""The knowledge base as the rest of the bot sees it: ask, edit, import, export.

Every change goes to the store first and then into the live index, so a question
asked right after an edit already sees it, and a restart rebuilds the same state.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from .retriever import Decision, Retriever
from .schema import FaqEntry
from .store import KbStore, Revision

log = logging.getLogger(__name__)


class UnknownEntry(KeyError):
    pass


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def line(self) -> str:
        return (f"added {len(self.added)}, updated {len(self.updated)}, removed {len(self.removed)}, "
                f"unchanged {self.unchanged}")


class KnowledgeBase:
    def __init__(self, store: KbStore, retriever: Retriever):
        self.store = store
        self.retriever = retriever
        self._write = threading.Lock()

    def load_index(self) -> int:
        entries = self.store.all()
        self.retriever.load(entries)
        return len(entries)

    # -- reading -----------------------------------------------------------------
    def ask(self, text: str) -> Decision:
        return self.retriever.search(text)

    def get(self, faq_id: str) -> FaqEntry | None:
        return self.store.get(faq_id)

    def entries(self) -> list[FaqEntry]:
        return sorted(self.store.all(), key=lambda e: e.id)

    def history(self, faq_id: str) -> list[Revision]:
        return self.store.history(faq_id)

    # -- writing -----------------------------------------------------------------
    def plan_import(self, entries: list[FaqEntry], replace: bool = False) -> ImportSummary:
        """What `apply_import` would do, without doing it (for a confirm step)."""
        summary = ImportSummary()
        incoming = {e.id for e in entries}
        for e in entries:
            old = self.store.get(e.id)
            if old is None:
                summary.added.append(e.id)
            elif old != e:
                summary.updated.append(e.id)
            else:
                summary.unchanged += 1
        if replace:
            summary.removed = sorted(e.id for e in self.store.all() if e.id not in incoming)
        return summary

    def apply_import(self, entries: list[FaqEntry], actor: str, replace: bool = False) -> ImportSummary:
        with self._write:
            summary = self.plan_import(entries, replace)
            changes: list[tuple[FaqEntry | None, FaqEntry | None]] = []
            by_id = {e.id: e for e in entries}
            for faq_id in summary.added + summary.updated:
                changes.append((self.store.get(faq_id), by_id[faq_id]))
            for faq_id in summary.removed:
                changes.append((self.store.get(faq_id), None))
            self.store.save(changes, actor)
            changed = [after for _, after in changes if after is not None]
            self.retriever.load(changed)
            for faq_id in summary.removed:
                self.retriever.remove(faq_id)
        log.info("knowledge base import by %s: %s", actor, summary.line())
        return summary

    def upsert(self, entry: FaqEntry, actor: str) -> str:
        """Add or change one entry; returns 'added', 'updated' or 'unchanged'."""
        with self._write:
            before = self.store.get(entry.id)
            if before == entry:
                return "unchanged"
            self.store.save([(before, entry)], actor)
            self.retriever.upsert(entry)
        return "added" if before is None else "updated"

    def remove(self, faq_id: str, actor: str) -> FaqEntry:
        with self._write:
            before = self.store.get(faq_id)
            if before is None:
                raise UnknownEntry(faq_id)
            self.store.save([(before, None)], actor)
            self.retriever.remove(faq_id)
        return before
