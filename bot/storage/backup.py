"""Back up and restore the bot's database, keeping it a driverhome database at the current schema.

SQLite: the sqlite3 online-backup API copies a consistent snapshot while the bot keeps writing
(WAL mode: readers never block the writer). PostgreSQL: `pg_dump --format=custom` and
`pg_restore`, which must be on PATH. A restore checks the file first (a driverhome database of
a revision this code knows), refuses while other connections are open, keeps what it replaces,
and runs the migrations afterwards so an older backup comes back at the current revision.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from .db import MIGRATIONS, Database

# Present in every driverhome database since the first revision (0001).
REQUIRED_TABLES = ("alembic_version", "faq_entries", "faq_revisions")
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class BackupInfo:
    """What a backup file holds: the kind of database, its schema revisions and tables."""

    path: Path
    kind: str  # "sqlite" or "postgresql"
    revisions: tuple[str, ...]
    tables: tuple[str, ...]
    size: int

    def line(self) -> str:
        return (f"{self.path}: {self.kind} backup, revision {', '.join(self.revisions)}, "
                f"{len(self.tables)} tables, {self.size / 1024:.0f} KiB")


@dataclass(frozen=True)
class RestoreResult:
    source: BackupInfo
    kept: Path | None  # the replaced database, copied aside; None when there was none
    revisions: tuple[str, ...] = field(default=())  # after the migrations

    def line(self) -> str:
        kept = f"; the replaced database is kept as {self.kept}" if self.kept else ""
        return (f"restored {self.source.path} (revision {', '.join(self.source.revisions)}), "
                f"now at revision {', '.join(self.revisions)}{kept}")


# -- entry points -------------------------------------------------------------------------------

def backup(url: str, dest: Path, *, overwrite: bool = False) -> BackupInfo:
    """Write a consistent copy of the database at `url` to `dest` (safe while the bot runs)."""
    dest = Path(dest)
    if dest.is_dir():
        raise BackupError(f"{dest} is a folder: give a file name")
    if dest.exists() and not overwrite:
        raise BackupError(f"{dest} already exists: choose another name or pass --force")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        if _kind(url) == "sqlite":
            _sqlite_backup(_sqlite_path(url, must_exist=True), part)
        else:
            _pg_dump(url, part)
        info = inspect_backup(url, part)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return BackupInfo(dest, info.kind, info.revisions, info.tables, dest.stat().st_size)


def inspect_backup(url: str, src: Path) -> BackupInfo:
    """Check that `src` is a backup of a driverhome database that fits the database at `url`."""
    src = Path(src)
    if not src.is_file():
        raise BackupError(f"{src}: no such file")
    with open(src, "rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    kind = _kind(url)
    found = "sqlite" if head.startswith(SQLITE_MAGIC) else "postgresql" if head.startswith(PGDUMP_MAGIC) else None
    if found is None:
        raise BackupError(f"{src} is neither a SQLite database nor a pg_dump archive: "
                          "not a driverhome backup (make one with `driverhome backup PATH`)")
    if found != kind:
        raise BackupError(f"{src} is a {found} backup but the configured database is {kind}: "
                          "restore it into a database of the same kind")
    tables, revisions = _sqlite_contents(src) if kind == "sqlite" else _pg_contents(src)
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing or not revisions:
        what = f"missing tables: {', '.join(missing)}" if missing else "alembic_version is empty"
        hint = ""
        if kind == "sqlite" and _sqlite_wal_header(src):
            hint = ("; a live WAL-mode file copied without its -wal file looks like this: "
                    "make backups with `driverhome backup PATH`")
        raise BackupError(f"{src} is a {kind} database but not a driverhome database ({what}){hint}")
    unknown = [r for r in revisions if r not in known_revisions()]
    if unknown:
        raise BackupError(f"{src} was made by a newer driverhome (revision {', '.join(unknown)} is unknown "
                          "here): upgrade driverhome before restoring it")
    return BackupInfo(src, kind, tuple(sorted(revisions)), tuple(sorted(tables)), src.stat().st_size)


def restore(url: str, src: Path, *, now: datetime | None = None) -> RestoreResult:
    """Replace the database at `url` with the backup `src`, then migrate it to the current revision.

    Refuses while other connections are open (stop the bot first). The replaced database is
    kept: SQLite as `<db>.before-restore-<UTC time>`, PostgreSQL as a pg_dump archive of that
    name next to `src`.
    """
    info = inspect_backup(url, src)
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if info.kind == "sqlite":
        kept = _sqlite_restore(_sqlite_path(url), info.path, stamp)
    else:
        kept = _pg_restore(url, info.path, stamp)
    db = Database(url)
    try:
        db.migrate()
    finally:
        db.dispose()
    return RestoreResult(info, kept, current_revisions(url))


def ensure_idle(url: str) -> None:
    """Raise `BackupError` while another process has the database open (a running bot).

    `restore` checks this itself; call it first to refuse before asking for a confirmation."""
    if _kind(url) == "sqlite":
        path = _sqlite_path(url)
        if path.exists():
            conn = _sqlite_lock(path)
            conn.close()
    else:
        _pg_ensure_idle(url)


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def current_revisions(url: str) -> tuple[str, ...]:
    db = Database(url)
    try:
        with db.engine.connect() as c:
            return tuple(sorted(c.execute(text("SELECT version_num FROM alembic_version")).scalars()))
    finally:
        db.dispose()


def _kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"database.url: backup supports SQLite and PostgreSQL, not {backend}")
    return backend


# -- SQLite -------------------------------------------------------------------------------------

def _sqlite_path(url: str, must_exist: bool = False) -> Path:
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(f"database.url: {url} is not a SQLite database file")
    path = Path(name)
    if must_exist and not path.is_file():
        raise BackupError(f"no database at {path} (database.url): nothing to back up")
    return path


def _sqlite_backup(src: Path, dest: Path, *, from_file: bool = False) -> None:
    """One backup step over the whole file: a single read snapshot, the writer is not blocked.

    `from_file`: `src` is a backup file, read as it is (no -wal beside it, no locks, nothing
    written next to it), the same way `_sqlite_contents` checked it.
    """
    source = sqlite3.connect(_readonly_uri(src), uri=True) if from_file else sqlite3.connect(src, timeout=30)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
        # A self-contained file: no -wal next to it, whatever mode the live database uses.
        target.execute("PRAGMA journal_mode=DELETE")
        ok = target.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise BackupError(f"the copy of {src} fails SQLite's check ({ok})")
    finally:
        target.close()
        source.close()


def _readonly_uri(path: Path) -> str:
    return f"{path.resolve().as_uri()}?mode=ro&immutable=1"


def _sqlite_wal_header(path: Path) -> bool:
    """Bytes 18-19 of the header are 2 in WAL mode (sqlite.org/fileformat.html)."""
    with open(path, "rb") as f:
        head = f.read(20)
    return head[18:20] == b"\x02\x02"


def _sqlite_contents(path: Path) -> tuple[set[str], list[str]]:
    conn = sqlite3.connect(_readonly_uri(path), uri=True)
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"{path} is damaged (SQLite check: {check})")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revisions = ([r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
                     if "alembic_version" in tables else [])
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as a SQLite database ({exc})") from None
    finally:
        conn.close()
    return tables, revisions


def _sqlite_restore(target: Path, src: Path, stamp: str) -> Path | None:
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".restore-part")
    part.unlink(missing_ok=True)
    kept = None
    try:
        _sqlite_backup(src, part, from_file=True)
        if target.exists():
            kept = _unique(target.with_name(f"{target.name}.before-restore-{stamp}"))
            _sqlite_keep(target, kept)
        for side in ("-wal", "-shm", "-journal"):  # belong to the old file; would corrupt the new one
            target.with_name(target.name + side).unlink(missing_ok=True)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return kept


def _sqlite_keep(target: Path, kept: Path) -> None:
    """Copy the live file aside while holding it exclusively: proves no one else has it open.

    Every driverhome connection runs in WAL mode, where an open connection holds a shared
    lock for as long as it is open (even idle in a pool), so the exclusive lock fails then.
    """
    conn = _sqlite_lock(target)
    try:
        copy = sqlite3.connect(kept)
        try:
            conn.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        conn.close()


def _sqlite_lock(path: Path) -> sqlite3.Connection:
    """A connection holding `path` exclusively until it is closed, or `BackupError` if in use."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        # Exclusive locking mode keeps the lock after the transaction; a backup needs none open.
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError:
        conn.close()
        raise BackupError(f"{path} is in use (another process has it open): stop the bot, then restore") from None
    return conn


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


# -- PostgreSQL ---------------------------------------------------------------------------------

def _pg_tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools of the server's "
                          "major version or newer (Debian: apt-get install postgresql-client)")
    return exe


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump/pg_restore (no SQLAlchemy driver name) and an environment with the
    password in PGPASSWORD, so it never shows in the process list."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tool = Path(args[0]).name
        raise BackupError(f"{tool} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _pg_dump(url: str, dest: Path) -> None:
    conninfo, env = _libpq(url)
    _run([_pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={dest}", f"--dbname={conninfo}"], env)


_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ", re.M)


def _pg_contents(path: Path) -> tuple[set[str], list[str]]:
    listing = _run([_pg_tool("pg_restore"), "--list", str(path)])
    tables = {name for _schema, name in _TOC_TABLE.findall(listing)}
    revisions: list[str] = []
    if "alembic_version" in tables:
        script = _run([_pg_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(path)])
        copying = False
        for line in script.splitlines():
            if line.startswith("COPY ") and "alembic_version" in line:
                copying = True
            elif copying and line == "\\.":
                break
            elif copying and line:
                revisions.append(line.strip())
    return tables, revisions


def _pg_ensure_idle(url: str) -> str:
    """The database's name, or `BackupError` while other sessions are connected to it."""
    db = Database(url)
    try:
        with db.engine.connect() as c:
            name = c.execute(text("SELECT current_database()")).scalar_one()
            others = c.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).scalar_one()
    finally:
        db.dispose()
    if others:
        raise BackupError(f"database {name} is in use ({others} other connection(s)): stop the bot, "
                          "then restore")
    return name


def _pg_restore(url: str, src: Path, stamp: str) -> Path:
    name = _pg_ensure_idle(url)
    kept = _unique(src.resolve().with_name(f"{name}.before-restore-{stamp}.dump"))
    _pg_dump(url, kept)
    _pg_empty_schema(url)
    conninfo, env = _libpq(url)
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", "--no-password", f"--dbname={conninfo}", str(src)], env)
    return kept


def _pg_empty_schema(url: str) -> None:
    """Empty the schema before pg_restore, as the SQLite path replaces the whole file: tables of
    newer revisions than the backup's would make the migrations afterwards fail ("already
    exists"). The database is driverhome's own; what was in it is kept in the dump beforehand."""
    db = Database(url)
    try:
        with db.engine.begin() as c:
            names = list(c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
                         .scalars())
            if names:
                quoted = ", ".join(c.dialect.identifier_preparer.quote(n) for n in names)
                c.execute(text(f"DROP TABLE IF EXISTS {quoted} CASCADE"))
    finally:
        db.dispose()
