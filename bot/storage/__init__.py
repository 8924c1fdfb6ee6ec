"""Persistence: SQLAlchemy models and Alembic migrations (SQLite by default, PostgreSQL-ready)."""

from .db import Database

__all__ = ["Database"]
