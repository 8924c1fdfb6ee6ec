"""`driverhome backup` / `driverhome restore`, run as real processes on SQLite files and (when
DRIVERHOME_TEST_PG_URL is set) PostgreSQL databases: a consistent copy while another connection
keeps writing, refusal of files that are not driverhome databases and of a database in use,
and migration of an older backup to the current revision."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.app import open_database
from bot.chats import AdminDirectory
from bot.config import load_settings
from bot.kb_store import SqlKbStore
from bot.storage import Database
from bot.storage.backup import known_revisions
from bot.storage.models import FaqRevision
from bot.tickets.models import Ticket
from bot.tickets.service import Report, TicketService
from bot.tickets.settings import BranchSettings, TicketSettings
from conftest import DRIVERHOME, write_test_config
from knowledge_base.schema import FaqEntry

GROUP, SECRETARY, DRIVER = -100100, 700, 501
WRITER = "writer"


def cli(cfg: Path, *args: str, stdin: str | None = None, env: dict | None = None):
    return subprocess.run([DRIVERHOME, "--config", str(cfg), *args], input=stdin, capture_output=True,
                          text=True, timeout=300, env=env)




@pytest.fixture
def other_db_url(db_url, tmp_path):
    """A second, empty database of the same kind as `db_url` (the restore target)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh' / 'data' / 'restored.db'}"
        return
    from conftest import pg_database

    with pg_database("dh_restore") as url:
        yield url


def ticket_service(db: Database) -> TicketService:
    branches = [BranchSettings(id="gy", name="贵阳流动党支部", groups=[GROUP], secretaries=[SECRETARY])]
    svc = TicketService(db, TicketSettings(), branches=branches, admins=AdminDirectory(db, []))
    svc.branches.sync(branches)
    return svc


class PairWriter(threading.Thread):
    """A second connection that keeps committing transactions of two revision rows each, so a
    consistent snapshot holds only whole pairs."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.db = Database(url)
        self.commits = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.started_pairs = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                n = self.commits
                with self.db.engine.begin() as c:
                    for half in ("a", "b"):
                        c.execute(FaqRevision.__table__.insert().values(
                            faq_id=f"w{n}{half}", action="added", actor=WRITER, at=datetime.now(timezone.utc), before=None,
                            after=None))
                self.commits += 1
                if self.commits >= 20:
                    self.started_pairs.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.started_pairs.set()
        finally:
            self.db.dispose()


def writer_rows(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(FaqRevision.faq_id).where(FaqRevision.actor == WRITER)))


def test_backup_while_another_connection_writes_then_restore_on_a_fresh_config(make_config, db_url,
                                                                               other_db_url, tmp_path):
    cfg = make_config(db_url=db_url)
    db = open_database(load_settings(cfg))
    kb = SqlKbStore(db)
    edited = FaqEntry(id="night-repair", question="夜里车坏了哪里能修？", answer="打12122，或找支部书记。")
    kb.save([(None, edited)], actor="admin:42")
    kb.save([(edited, edited.model_copy(update={"answer": "先打12122。"}))], actor="admin:43")
    ticket = ticket_service(db).report(Report(user_id=DRIVER, text="运费拖欠4200元，老板不给", chat_id=GROUP,
                                              user_name="老王"))
    db.dispose()

    writer = PairWriter(db_url)
    writer.start()
    assert writer.started_pairs.wait(60) and writer.error is None
    before = writer.commits
    dump = tmp_path / "backups" / "driverhome.backup"
    made = cli(cfg, "backup", str(dump))
    after_backup = writer.commits
    while writer.commits < after_backup + 5 and writer.is_alive():  # it goes on writing afterwards
        writer.join(0.05)
    writer.stop.set()
    writer.join(30)
    assert made.returncode == 0, made.stderr
    assert writer.error is None and writer.commits > after_backup > before
    assert "revision" in made.stdout and dump.is_file()
    assert not list(dump.parent.glob("*.part"))

    fresh = write_test_config(tmp_path / "fresh", db_url=other_db_url)
    open_database(load_settings(fresh)).dispose()  # a fresh install's (empty) database to replace
    again = cli(fresh, "restore", str(dump), "--yes")
    assert again.returncode == 0, again.stderr
    assert "now at revision" in again.stdout

    restored = Database(load_settings(fresh).db_url)
    try:
        assert SqlKbStore(restored).get("night-repair").answer == "先打12122。"
        assert [h.actor for h in SqlKbStore(restored).history("night-repair")] == ["admin:42", "admin:43"]
        t = ticket_service(restored).find(ticket.number)
        assert t is not None and "4200" in t.text
        rows = writer_rows(restored)
        pairs = {r[:-1] for r in rows}
        assert len(rows) == 2 * len(pairs)  # whole transactions only: a consistent snapshot
        assert pairs == {f"w{n}" for n in range(len(pairs))}  # and a prefix of what was written
        assert before <= len(pairs) <= after_backup < writer.commits
    finally:
        restored.dispose()
    if other_db_url.startswith("sqlite"):
        kept = list((tmp_path / "fresh" / "data").glob("restored.db.before-restore-*"))
    else:
        kept = list(dump.parent.glob("*.before-restore-*.dump"))
    assert len(kept) == 1, "the replaced database is kept"


def test_restore_refuses_files_that_are_not_driverhome_databases(make_config, tmp_path):
    import sqlite3

    cfg = make_config()
    db = open_database(load_settings(cfg))
    SqlKbStore(db).save([(None, FaqEntry(id="keep-me", question="留着吗？", answer="留着。"))], actor="t")
    db.dispose()
    live = tmp_path / "data" / "test.db"
    digest = hashlib.sha256(live.read_bytes()).hexdigest()

    notes = tmp_path / "notes.db"
    notes.write_text("这不是数据库\n", encoding="utf-8")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()

    for path, says in ((notes, "neither a SQLite database nor a pg_dump archive"),
                       (other, "not a driverhome database (missing tables: alembic_version, faq_entries")):
        proc = cli(cfg, "restore", str(path), "--yes")
        assert proc.returncode == 1
        assert says in proc.stderr
    missing = cli(cfg, "restore", str(tmp_path / "nowhere.db"), "--yes")
    assert missing.returncode == 1 and "no such file" in missing.stderr

    assert hashlib.sha256(live.read_bytes()).hexdigest() == digest
    assert not list(live.parent.glob("*before-restore*"))


def test_restore_refuses_a_database_in_use_and_asks_before_replacing(make_config, db_url, tmp_path):
    cfg = make_config(db_url=db_url)
    dump = tmp_path / "b.backup"
    open_database(load_settings(cfg)).dispose()
    assert cli(cfg, "backup", str(dump)).returncode == 0
    again = cli(cfg, "backup", str(dump))
    assert again.returncode == 1 and "already exists" in again.stderr

    running = Database(load_settings(cfg).db_url)  # a bot process: a pooled connection stays open
    with running.session() as s:
        s.execute(text("SELECT 1"))
    try:
        busy = cli(cfg, "restore", str(dump), "--yes")
        assert busy.returncode == 1 and "in use" in busy.stderr and "stop the bot" in busy.stderr
    finally:
        running.dispose()

    declined = cli(cfg, "restore", str(dump), stdin="n\n")
    assert declined.returncode == 1 and "Replace the database" in declined.stdout
    assert not list(tmp_path.rglob("*before-restore*"))
    accepted = cli(cfg, "restore", str(dump), stdin="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert len(list(tmp_path.rglob("*before-restore*"))) == 1


def test_restore_of_an_older_revision_brings_it_up_to_date(make_config, db_url, other_db_url, tmp_path):
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from bot.storage.db import MIGRATIONS

    old = Database(other_db_url)  # a database as the first release left it: revision 0002
    cfg_alembic = Config()
    cfg_alembic.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as conn:
        cfg_alembic.attributes["connection"] = conn
        command.upgrade(cfg_alembic, "0002")
    SqlKbStore(old).save([(None, FaqEntry(id="old-entry", question="老版本的问题？", answer="老答案。"))],
                         actor="admin:1")
    old.dispose()
    dump = tmp_path / "old.backup"
    made = cli(write_test_config(tmp_path / "old", db_url=other_db_url), "backup", str(dump))
    assert made.returncode == 0, made.stderr
    assert "revision 0002," in made.stdout

    target = make_config(db_url=db_url)  # at the newest revision, with a ticket
    current = open_database(load_settings(target))
    ticket_service(current).report(Report(user_id=DRIVER, text="服务区夜里油被偷了", chat_id=GROUP))
    current.dispose()

    done = cli(target, "restore", str(dump), "--yes")
    assert done.returncode == 0, done.stderr
    restored = Database(load_settings(target).db_url)
    try:
        with restored.engine.connect() as c:
            revisions = set(c.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert revisions == set(ScriptDirectory(str(MIGRATIONS)).get_heads()) and "0002" not in revisions
        assert SqlKbStore(restored).get("old-entry").answer == "老答案。"
        with restored.session() as s:  # the newer tables exist, and hold the backup's (no) tickets
            assert s.scalar(select(func.count()).select_from(Ticket)) == 0
    finally:
        restored.dispose()
    assert revisions <= known_revisions()


def test_postgresql_without_client_tools_says_what_to_install(make_config, tmp_path):
    cfg = make_config()
    env = {**os.environ, "PATH": str(Path(DRIVERHOME).parent),
           "DATABASE_URL": "postgresql://driverhome:secret@127.0.0.1:1/driverhome"}
    proc = cli(cfg, "backup", str(tmp_path / "x.dump"), env=env)
    assert proc.returncode == 1
    assert "pg_dump is not on PATH" in proc.stderr and "postgresql-client" in proc.stderr
    assert "secret" not in proc.stderr
    assert not (tmp_path / "x.dump").exists()
