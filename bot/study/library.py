"""The study library in the database (seeded from the library file on first start; after
that the database is the truth, and admins change it by import or /study_add)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

from knowledge_base.service import ImportSummary as ImportPlan  # one summary type for every import

from ..storage import Database
from .models import StudyItemRow
from .schema import Quiz, StudyFileError, StudyItem, read_path

log = logging.getLogger(__name__)


def _item(row: StudyItemRow) -> StudyItem:
    return StudyItem(id=row.id, title=row.title, body=row.body, source=row.source, tags=list(row.tags or []),
                     date=row.on_date, quiz=Quiz.model_validate(row.quiz) if row.quiz else None)


class StudyLibrary:
    def __init__(self, db: Database):
        self.db = db

    def all(self) -> list[StudyItem]:
        with self.db.session() as s:
            return [_item(r) for r in s.scalars(select(StudyItemRow).order_by(StudyItemRow.id))]

    def get(self, item_id: str) -> StudyItem | None:
        with self.db.session() as s:
            row = s.get(StudyItemRow, item_id)
            return _item(row) if row else None

    def count(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count()).select_from(StudyItemRow)) or 0

    def plan(self, items: list[StudyItem], replace: bool = False) -> ImportPlan:
        current = {i.id: i for i in self.all()}
        plan = ImportPlan()
        for item in items:
            before = current.get(item.id)
            if before is None:
                plan.added.append(item.id)
            elif before != item:
                plan.updated.append(item.id)
            else:
                plan.unchanged += 1
        if replace:
            wanted = {i.id for i in items}
            plan.removed = sorted(set(current) - wanted)
        return plan

    def apply(self, items: list[StudyItem], actor: str, replace: bool = False) -> ImportPlan:
        """Upsert by id in one transaction (and with `replace`, remove items not given)."""
        plan = self.plan(items, replace)
        changed = set(plan.added) | set(plan.updated)
        now = datetime.now(timezone.utc)
        with self.db.session() as s:
            for item in items:
                if item.id not in changed:
                    continue
                row = s.get(StudyItemRow, item.id) or StudyItemRow(id=item.id)
                row.title, row.body, row.source = item.title, item.body, item.source
                row.tags, row.on_date = list(item.tags), item.date
                row.quiz = item.quiz.model_dump() if item.quiz else None
                row.updated_at, row.updated_by = now, actor[:120]
                s.add(row)
            for item_id in plan.removed:
                row = s.get(StudyItemRow, item_id)
                if row is not None:
                    s.delete(row)
        return plan

    def upsert(self, item: StudyItem, actor: str) -> str:
        plan = self.apply([item], actor)
        return "added" if plan.added else "updated" if plan.updated else "unchanged"

    def seed(self, path: Path) -> int:
        """Fill an empty library from the shipped file; 0 when not empty or no file."""
        if self.count() or not path.exists():
            return 0
        try:
            report = read_path(path)
        except (StudyFileError, OSError, UnicodeDecodeError) as exc:
            log.warning("study library %s unreadable: %s", path, exc)
            return 0
        for err in report.errors:
            log.warning("study seed %s: %s", path, err)
        self.apply(report.items, actor="seed")
        log.info("seeded the study library with %d items from %s", len(report.items), path)
        return len(report.items)
