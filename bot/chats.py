"""Which chats the bot is in, and who may administer the knowledge base."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .storage import Database
from .storage.models import AdminRow, ChatRow, utcnow


class ChatRegistry:
    def __init__(self, db: Database):
        self.db = db

    def joined(self, chat_id: int, chat_type: str, title: str) -> bool:
        """Register (or re-activate) a chat; True when it is new or was inactive."""
        with self.db.session() as s:
            row = s.get(ChatRow, chat_id)
            if row is None:
                s.add(ChatRow(id=chat_id, type=chat_type, title=title or "", active=True, joined_at=utcnow()))
                return True
            was_active = row.active
            row.active, row.title, row.left_at = True, title or row.title, None
            return not was_active

    def left(self, chat_id: int) -> None:
        with self.db.session() as s:
            row = s.get(ChatRow, chat_id)
            if row is not None:
                row.active, row.left_at = False, utcnow()

    @staticmethod
    def move(s: Session, old: int, new: int) -> None:
        """The group lives on as `new` (see App.chat_moved): registered there, inactive here."""
        row = s.get(ChatRow, old)
        if row is None:
            return
        if s.get(ChatRow, new) is None:
            s.add(ChatRow(id=new, type="supergroup", title=row.title, active=True, joined_at=row.joined_at))
        row.active, row.left_at = False, utcnow()

    def get(self, chat_id: int) -> ChatRow | None:
        with self.db.session() as s:
            return s.get(ChatRow, chat_id)

    def active_groups(self) -> list[ChatRow]:
        with self.db.session() as s:
            q = select(ChatRow).where(ChatRow.active.is_(True), ChatRow.type.in_(["group", "supergroup"]))
            return list(s.scalars(q.order_by(ChatRow.id)))


class AdminDirectory:
    """Admins = ids in config.yml plus those added in chat with /admin_add."""

    def __init__(self, db: Database, configured: list[int]):
        self.db = db
        self.configured = set(configured)

    def is_admin(self, user_id: int) -> bool:
        if user_id in self.configured:
            return True
        with self.db.session() as s:
            return s.get(AdminRow, user_id) is not None

    def add(self, user_id: int, added_by: int) -> bool:
        with self.db.session() as s:
            if user_id in self.configured or s.get(AdminRow, user_id) is not None:
                return False
            s.add(AdminRow(user_id=user_id, added_by=added_by, added_at=utcnow()))
            return True

    def all(self) -> list[int]:
        with self.db.session() as s:
            return sorted(self.configured | set(s.scalars(select(AdminRow.user_id))))
