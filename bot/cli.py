"""`driverhome` command line: run the bot, chat locally, ask, and manage the knowledge base."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from .cli_files import write_output
from .jsonl import texts as jsonl_texts
from .config import ConfigError, Settings, load_settings


def _setup_logging(level: str, fmt: str = "text") -> None:
    from .observability.logs import setup_logging  # text or JSON lines, personal numbers masked

    setup_logging(level, fmt)


class _Commands(click.Group):
    """The command group: a database that cannot be reached at all (down, wrong host or
    password) ends any command with one line saying so, not a driver's traceback."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import OperationalError

        try:
            return super().invoke(ctx)
        except OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise click.ClickException(f"cannot reach the database: {reason}") from None


@click.group(cls=_Commands)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Config file (default: $DRIVERHOME_CONFIG or ./config.yml).")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """司机之家助手 (driverhome)."""
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    _setup_logging(settings.logging.level, settings.logging.format)
    ctx.obj = settings


def _app(settings: Settings, kb_file: Path | None = None):
    from .app import App

    try:
        return App.build(settings, kb_file=kb_file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.pass_obj
def run(settings: Settings) -> None:
    """Start the bot: Telegram with TELEGRAM_BOT_TOKEN set, otherwise the console chat."""
    if settings.token:
        from .telegram.app import run as run_telegram  # polling or webhook, per telegram.mode

        if settings.telegram.mode == "webhook":
            try:
                settings.webhook_secret()  # fail before the slow start-up
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        app = _app(settings)
        try:
            run_telegram(app, settings.token)
        except ConfigError as exc:  # e.g. server.port already in use
            raise click.ClickException(str(exc)) from None
        finally:
            app.close()
        return
    click.echo("TELEGRAM_BOT_TOKEN is not set: starting the local console chat.", err=True)
    _chat(settings)


@main.command()
@click.pass_obj
def chat(settings: Settings) -> None:
    """A local terminal chat that behaves like one driver group."""
    _chat(settings)


def _chat(settings: Settings) -> None:
    from .console.chat import ConsoleChat

    app = _app(settings)
    try:
        ConsoleChat(app).run()
    finally:
        app.close()


@main.command()
@click.option("--kb", "kb_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this FAQ file instead of the database (writes nothing).")
@click.option("--jsonl", is_flag=True, help='Read {"text": ...} per line on stdin, write one JSON line each.')
@click.argument("text", required=False)
@click.pass_obj
def ask(settings: Settings, kb_file: Path | None, jsonl: bool, text: str | None) -> None:
    """Ask the knowledge base one question (or many with --jsonl)."""
    if not jsonl and not text:
        raise click.UsageError("give TEXT or use --jsonl")
    app = _app(settings, kb_file)
    try:
        if not jsonl:
            click.echo(json.dumps(app.kb.ask(text).as_json(text), ensure_ascii=False))
            return
        for query, error in jsonl_texts(sys.stdin):
            if error is not None:
                click.echo(json.dumps({"text": None, "error": error}, ensure_ascii=False))
                continue
            click.echo(json.dumps(app.kb.ask(query).as_json(query), ensure_ascii=False))
            sys.stdout.flush()
    finally:
        app.close()


@main.group()
def kb() -> None:
    """Manage the FAQ knowledge base."""


@kb.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def kb_validate(file: Path) -> None:
    """Check a YAML/CSV FAQ file; lists every problem with entry and field."""
    report = _read(file)
    for err in report.errors:
        click.echo(err)
    if not report.ok:
        raise click.ClickException(f"{file}: {len(report.errors)} problem(s), {len(report.entries)} valid entries")
    click.echo(f"{file}: OK, {len(report.entries)} entries")


def _read(file: Path):
    from knowledge_base.schema import KbFileError, read_file

    try:
        return read_file(file)
    except (KbFileError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file}: {exc}") from None


@kb.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Also remove entries that are not in the file.")
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the revision log.")
@click.pass_obj
def kb_import(settings: Settings, file: Path, replace: bool, actor: str) -> None:
    """Upsert entries by id into the database; prints added/updated/removed."""
    report = _read(file)
    if not report.ok:
        for err in report.errors:
            click.echo(err, err=True)
        raise click.ClickException(f"{file}: nothing imported, fix the {len(report.errors)} problem(s) first")
    t0 = time.perf_counter()
    app = _app(settings)
    try:
        summary = app.kb.apply_import(report.entries, actor=actor, replace=replace)
    finally:
        app.close()
    click.echo(f"{summary.line()} ({time.perf_counter() - t0:.1f} s)")


@kb.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def kb_export(settings: Settings, file: Path) -> None:
    """Write the database's entries to FILE (.yml or .csv)."""
    from knowledge_base.schema import dump_csv, dump_yaml

    from .kb_store import SqlKbStore
    from .app import open_database

    db = open_database(settings)
    try:
        entries = SqlKbStore(db).all()
    finally:
        db.dispose()
    body = dump_csv(entries) if file.suffix.lower() == ".csv" else dump_yaml(entries)
    write_output(file, body)
    click.echo(f"exported {len(entries)} entries to {file}")


@kb.command("reindex")
@click.pass_obj
def kb_reindex(settings: Settings) -> None:
    """Rebuild the search index from the database and refresh the embedding cache."""
    t0 = time.perf_counter()
    app = _app(settings)
    try:
        click.echo(f"indexed {len(app.kb.retriever)} entries with {app.kb.retriever.backend} "
                   f"in {time.perf_counter() - t0:.1f} s")
    finally:
        app.close()


@kb.command("eval")
@click.option("--kb", "kb_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--queries", "queries_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--show-failures", is_flag=True, help="List every query that was not answered correctly.")
@click.pass_obj
def kb_eval(settings: Settings, kb_file: Path, queries_file: Path, show_failures: bool) -> None:
    """Accuracy and latency of the retriever on `queries: [{q, expect}]`."""
    from knowledge_base.evaluate import evaluate, load_queries, unknown_expectations

    try:
        queries = load_queries(queries_file)  # before the models load: a bad file fails at once
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    app = _app(settings, kb_file)
    unknown = unknown_expectations(app.kb.retriever, queries)
    if unknown:
        click.echo(f"warning: {len(unknown)} expected id(s) not in the knowledge base, their queries count as misses: "
                   + ", ".join(unknown), err=True)
    result = evaluate(app.kb.retriever, queries)
    click.echo(f"backend: {app.kb.retriever.backend}")
    for line in result.lines():
        click.echo(line)
    if show_failures:
        for f in result.failures:
            click.echo(json.dumps(f, ensure_ascii=False))


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@click.pass_obj
def backup_command(settings: Settings, path: Path, force: bool) -> None:
    """Copy the database to PATH (SQLite: online copy, safe while the bot runs; PostgreSQL: pg_dump)."""
    from .storage.backup import BackupError, backup

    t0 = time.perf_counter()
    try:
        info = backup(settings.db_url, path, overwrite=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{info.line()} ({time.perf_counter() - t0:.1f} s)")


@main.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def restore_command(settings: Settings, path: Path, yes: bool) -> None:
    """Replace the database with the backup PATH (stop the bot first), then migrate it."""
    from .storage.backup import BackupError, ensure_idle, inspect_backup, restore

    try:
        info = inspect_backup(settings.db_url, path)
        ensure_idle(settings.db_url)
        click.echo(info.line())
        if not yes:
            click.confirm(f"Replace the database {_shown_url(settings.db_url)} with this backup? "
                          "The current one is kept as a .before-restore file", abort=True)
        result = restore(settings.db_url, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.line())


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


from .study.cli import study as _study_cli  # noqa: E402  (daily study: bot/study/cli.py)

main.add_command(_study_cli)

from .tickets.cli import tickets as _tickets_cli  # noqa: E402  (complaints/tickets: bot/tickets/cli.py)

main.add_command(_tickets_cli)


from nlu.cli import classify_command, nlu_group  # noqa: E402  (understanding: nlu/cli.py)

main.add_command(classify_command)
main.add_command(nlu_group)


if __name__ == "__main__":  # pragma: no cover
    main()
