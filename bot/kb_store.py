"""The knowledge-base store backed by the application database."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from knowledge_base.schema import FaqEntry
from knowledge_base.store import KbStore, Revision

from .storage import Database
from .storage.models import FaqRevision, FaqRow


def _entry(row: FaqRow) -> FaqEntry:
    """A stored entry, as validated when it was written: a schema tightened since (ids of
    at most 60 characters) must not stop the bot from starting on older rows."""
    return FaqEntry.model_construct(id=row.id, question=row.question, alternates=list(row.alternates or []),
                    answer=row.answer, tags=list(row.tags or []))


class SqlKbStore(KbStore):
    def __init__(self, db: Database):
        self.db = db

    def all(self) -> list[FaqEntry]:
        with self.db.session() as s:
            return [_entry(r) for r in s.scalars(select(FaqRow).order_by(FaqRow.id))]

    def get(self, faq_id: str) -> FaqEntry | None:
        with self.db.session() as s:
            row = s.get(FaqRow, faq_id)
            return _entry(row) if row else None

    def count(self) -> int:
        from sqlalchemy import func

        with self.db.session() as s:
            return s.scalar(select(func.count()).select_from(FaqRow)) or 0

    def save(self, changes, actor: str) -> None:
        now = datetime.now(timezone.utc)
        with self.db.session() as s:  # one transaction for the whole batch
            for before, after in changes:
                faq_id = (after or before).id
                row = s.get(FaqRow, faq_id)
                if after is None:
                    if row is not None:
                        s.delete(row)
                    action = "removed"
                else:
                    if row is None:
                        row = FaqRow(id=after.id)
                        s.add(row)
                    row.question, row.answer = after.question, after.answer
                    row.alternates, row.tags = list(after.alternates), list(after.tags)
                    row.updated_at, row.updated_by = now, actor
                    action = "added" if before is None else "updated"
                s.add(FaqRevision(faq_id=faq_id, action=action, actor=actor, at=now,
                                  before=before.to_dict() if before else None,
                                  after=after.to_dict() if after else None))

    def history(self, faq_id: str) -> list[Revision]:
        with self.db.session() as s:
            rows = s.scalars(select(FaqRevision).where(FaqRevision.faq_id == faq_id).order_by(FaqRevision.id))
            return [Revision(r.faq_id, r.action, r.actor, r.at, r.before, r.after) for r in rows]
