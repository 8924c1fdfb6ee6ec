"""The database-backed knowledge base: migrations, revision log, restart."""

from __future__ import annotations

from sqlalchemy import inspect

from bot.app import App
from bot.config import load_settings
from knowledge_base.schema import FaqEntry


def test_migrations_create_tables_and_seed(make_config, db_url):
    settings = load_settings(make_config(db_url=db_url))
    app = App.build(settings)
    try:
        tables = set(inspect(app.db.engine).get_table_names())
        assert {"faq_entries", "faq_revisions", "alembic_version"} <= tables
        assert len(app.kb.entries()) >= 80  # seeded from knowledge_base/faq.yml
    finally:
        app.close()


def test_edits_survive_a_restart_and_are_logged(make_config, db_url):
    settings = load_settings(make_config(db_url=db_url))
    app = App.build(settings)
    entry = FaqEntry(id="test-new", question="测试新问题：夜里哪里能修车？", answer="打12122或找支部书记。")
    assert app.kb.upsert(entry, actor="admin:42") == "added"
    assert app.kb.upsert(entry.model_copy(update={"answer": "先打12122。"}), actor="admin:43") == "updated"
    first = app.kb.entries()[0]
    app.kb.remove(first.id, actor="admin:42")
    app.close()

    again = App.build(load_settings(make_config(db_url=db_url)))
    try:
        assert again.kb.get("test-new").answer == "先打12122。"
        assert again.kb.get(first.id) is None
        assert again.kb.ask("测试新问题夜里哪里能修车").faq_id == "test-new"
        hist = again.kb.history("test-new")
        assert [h.action for h in hist] == ["added", "updated"]
        assert hist[1].before["answer"] == "打12122或找支部书记。" and hist[1].actor == "admin:43"
        assert again.kb.history(first.id)[-1].action == "removed"
    finally:
        again.close()


def test_env_overrides_database_url(make_config, tmp_path, monkeypatch):
    target = tmp_path / "elsewhere.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{target}")
    settings = load_settings(make_config())
    assert settings.db_url == f"sqlite:///{target}"
