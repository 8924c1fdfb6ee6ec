"""Where FAQ entries live. The service talks to this interface only, so a file, the
database or a test can back it (cf. rasa-sdk's knowledge-base interface)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone

from .schema import FaqEntry


@dataclass(frozen=True)
class Revision:
    faq_id: str
    action: str  # added | updated | removed
    actor: str
    at: datetime
    before: dict | None
    after: dict | None


class KbStore(ABC):
    @abstractmethod
    def all(self) -> list[FaqEntry]: ...

    @abstractmethod
    def get(self, faq_id: str) -> FaqEntry | None: ...

    @abstractmethod
    def save(self, changes: list[tuple[FaqEntry | None, FaqEntry | None]], actor: str) -> None:
        """Apply (before, after) pairs atomically and log them: after=None removes."""

    @abstractmethod
    def history(self, faq_id: str) -> list[Revision]: ...

    def count(self) -> int:
        return len(self.all())


class MemoryStore(KbStore):
    """A store that keeps everything in memory (`ask --kb FILE`, tests)."""

    def __init__(self, entries: list[FaqEntry] | None = None):
        self._entries = {e.id: e for e in entries or []}
        self._log: list[Revision] = []

    def all(self) -> list[FaqEntry]:
        return list(self._entries.values())

    def get(self, faq_id: str) -> FaqEntry | None:
        return self._entries.get(faq_id)

    def save(self, changes, actor: str) -> None:
        now = datetime.now(timezone.utc)
        for before, after in changes:
            if after is None:
                self._entries.pop(before.id, None)
            else:
                self._entries[after.id] = after
            action = "removed" if after is None else "added" if before is None else "updated"
            self._log.append(Revision((after or before).id, action, actor, now,
                                      before.to_dict() if before else None, after.to_dict() if after else None))

    def history(self, faq_id: str) -> list[Revision]:
        return [r for r in self._log if r.faq_id == faq_id]
