"""Named leases in the database: which process runs a job that must run in one place only.

Several bot processes may share one database (PostgreSQL). The study dispatcher and the SLA
watcher are singletons: their rows are already claimed with compare-and-set updates, so a
second process could never send twice, but two of them would fight over the same rows. A
lease settles who works: the holder renews it on every run; the others skip their run; when
the holder dies, the lease runs out and another process takes over. A graceful stop gives
the lease back at once. Portable SQL only (a conditional UPDATE, then an INSERT guarded by the
primary key), so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import String, delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .db import Database
from .models import Base
from .types import UtcDateTime

log = logging.getLogger(__name__)


def process_id() -> str:
    """Readable and unique per process (host, pid, random suffix for pid reuse); <= 40 chars."""
    return f"{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class LeaseRow(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[datetime] = mapped_column(UtcDateTime())


class Lease:
    def __init__(self, db: Database, name: str, seconds: float, holder: str | None = None):
        self.db = db
        self.name = name
        self.seconds = seconds
        self.holder = holder or process_id()
        self.held = False

    def hold(self, now: datetime | None = None) -> bool:
        """Take the lease or renew it; False while another live process holds it."""
        now = now or datetime.now(timezone.utc)
        until = now + timedelta(seconds=self.seconds)
        with self.db.session() as s:
            renewed = s.execute(update(LeaseRow)
                                .where(LeaseRow.name == self.name,
                                       or_(LeaseRow.holder == self.holder, LeaseRow.until < now))
                                .values(holder=self.holder, until=until)
                                .execution_options(synchronize_session=False)).rowcount == 1
            exists = renewed or s.get(LeaseRow, self.name) is not None
        if not exists:
            try:
                with self.db.session() as s:
                    s.add(LeaseRow(name=self.name, holder=self.holder, until=until))
                renewed = True
            except IntegrityError:  # another process inserted it first
                renewed = False
        if renewed != self.held:
            log.info("lease %s %s by %s", self.name, "taken" if renewed else "lost", self.holder)
        self.held = renewed
        return renewed

    def release(self) -> None:
        """Give the lease back (graceful stop) so another process need not wait for it to run out."""
        if not self.held:
            return
        try:
            with self.db.session() as s:
                s.execute(delete(LeaseRow).where(LeaseRow.name == self.name, LeaseRow.holder == self.holder))
        except Exception:  # stopping anyway: the lease then simply runs out
            log.warning("could not release lease %s", self.name, exc_info=True)
        self.held = False
