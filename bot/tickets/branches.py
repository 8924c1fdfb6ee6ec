"""Branches, their groups and secretaries: config.yml is synced into the database at start,
and secretaries bound in a group (/bind_secretary) are kept next to the configured ones."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..storage import Database
from .models import Branch, BranchGroup, BranchSecretary
from .settings import BranchSettings


class BranchDirectory:
    def __init__(self, db: Database, clock):
        self.db = db
        self.clock = clock

    def sync(self, branches: list[BranchSettings]) -> None:
        """Make the database match config.yml for everything that came from it."""
        now = self.clock.now()
        with self.db.session() as s:
            for b in branches:
                row = s.get(Branch, b.id)
                if row is None:
                    s.add(Branch(id=b.id, name=b.name, source="config"))
                else:
                    row.name, row.source = b.name, "config"
            s.flush()
            s.execute(delete(BranchGroup).where(BranchGroup.source == "config"))
            s.execute(delete(BranchSecretary).where(BranchSecretary.source == "config"))
            s.flush()
            for b in branches:
                for chat_id in b.groups:
                    existing = s.get(BranchGroup, chat_id)
                    if existing is not None:
                        existing.branch_id, existing.source = b.id, "config"
                    else:
                        s.add(BranchGroup(chat_id=chat_id, branch_id=b.id, source="config"))
                for user_id in b.secretaries:
                    bound = s.scalar(select(BranchSecretary).where(BranchSecretary.branch_id == b.id,
                                                                   BranchSecretary.user_id == user_id))
                    if bound is None:
                        s.add(BranchSecretary(branch_id=b.id, user_id=user_id, source="config", added_at=now))

    # -- lookups -------------------------------------------------------------------------------
    @staticmethod
    def branch_of_chat(s: Session, chat_id: int | None) -> Branch | None:
        branch_id = BranchDirectory.branch_id_of_chat(s, chat_id)
        return s.get(Branch, branch_id) if branch_id else None

    @staticmethod
    def branch_id_of_chat(s: Session, chat_id: int | None) -> str | None:
        """The id alone (filing a report needs no more; the foreign key keeps the branch)."""
        link = s.get(BranchGroup, chat_id) if chat_id is not None else None
        return link.branch_id if link else None

    @staticmethod
    def secretaries(s: Session, branch_id: str | None) -> list[int]:
        if branch_id is None:
            return []
        return sorted(set(s.scalars(select(BranchSecretary.user_id).where(BranchSecretary.branch_id == branch_id))))

    @staticmethod
    def branches_of(s: Session, user_id: int) -> list[str]:
        return sorted(set(s.scalars(select(BranchSecretary.branch_id).where(BranchSecretary.user_id == user_id))))

    @staticmethod
    def name(s: Session, branch_id: str | None) -> str:
        row = s.get(Branch, branch_id) if branch_id else None
        return row.name if row else "未分配支部"

    def all(self) -> list[Branch]:
        with self.db.session() as s:
            return list(s.scalars(select(Branch).order_by(Branch.id)))

    # -- binding in a group ---------------------------------------------------------------------
    def branch_for_group(self, chat_id: int, title: str) -> tuple[str, str]:
        """The group's branch; a group no branch lists gets one of its own (named after it)."""
        with self.db.session() as s:
            branch = self.branch_of_chat(s, chat_id)
            if branch is not None:
                return branch.id, branch.name
            branch_id = f"chat{abs(chat_id)}"
            if s.get(Branch, branch_id) is None:
                s.add(Branch(id=branch_id, name=title or branch_id, source="chat"))
                s.flush()
            s.add(BranchGroup(chat_id=chat_id, branch_id=branch_id, source="chat"))
            return branch_id, title or branch_id

    def bind(self, branch_id: str, user_id: int, by: int | None) -> bool:
        """Add a secretary; False when they already are one."""
        with self.db.session() as s:
            exists = s.scalar(select(BranchSecretary.id).where(BranchSecretary.branch_id == branch_id,
                                                               BranchSecretary.user_id == user_id))
            if exists is not None:
                return False
            s.add(BranchSecretary(branch_id=branch_id, user_id=user_id, source="bound", added_by=by,
                                  added_at=self.clock.now()))
            return True
