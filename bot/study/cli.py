"""`driverhome study ...`: validate/import/export the library, preview a group's item, and
summarise the rotation. External checks call `today` and `plan` exactly as documented."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import click

from ..cli_files import write_output


def _service(settings, seed: bool = False):
    """With `seed`, an empty database gets the shipped library first (as the bot's start does);
    the read-only commands fall back to the library file instead of writing it."""
    from ..chats import ChatRegistry
    from ..storage import Database
    from .service import StudyService

    db = Database(settings.db_url)  # not bot.app: no need to load the retrieval stack
    db.migrate()
    service = StudyService(db, settings.study, ChatRegistry(db),
                           library_path=settings.path(settings.study.library_file), branch_source=settings)
    if seed:
        service.seed()
    return service


def _read(path: Path):
    from .schema import StudyFileError, read_path

    try:
        return read_path(path)
    except (StudyFileError, OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-03-02") from None


@click.group()
def study() -> None:
    """Daily study items (每日学习): library and rotation."""


@study.command("validate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def validate(path: Path) -> None:
    """Check a library file (or folder); lists every problem with entry id and field."""
    report = _read(path)
    for err in report.errors:
        click.echo(err)
    if not report.ok:
        raise click.ClickException(f"{path}: {len(report.errors)} problem(s), {len(report.items)} valid items")
    dated = sum(1 for i in report.items if i.date)
    click.echo(f"{path}: OK, {len(report.items)} items ({dated} dated)")


@study.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--replace", is_flag=True, help="Also remove items that are not in the file.")
@click.option("--actor", default="cli", show_default=True)
@click.pass_obj
def import_(settings, path: Path, replace: bool, actor: str) -> None:
    """Upsert items by id into the database; prints added/updated/removed."""
    report = _read(path)
    if not report.ok:
        for err in report.errors:
            click.echo(err, err=True)
        raise click.ClickException(f"{path}: nothing imported, fix the {len(report.errors)} problem(s) first")
    service = _service(settings, seed=True)
    try:
        click.echo(service.library.apply(report.items, actor=actor, replace=replace).line())
    finally:
        service.db.dispose()


@study.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def export(settings, path: Path) -> None:
    """Write the database's library to a YAML file."""
    from .schema import dump_yaml

    service = _service(settings, seed=True)
    try:
        items = service.library.all()
    finally:
        service.db.dispose()
    write_output(path, dump_yaml(items))
    click.echo(f"exported {len(items)} items to {path}")


@study.command("today")
@click.option("--group", "chat_id", type=int, required=True, help="The group's chat id.")
@click.option("--date", "day", default=None, help="YYYY-MM-DD (default: today in the study time zone).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def today(settings, chat_id: int, day: str | None, as_json: bool) -> None:
    """The item a group gets on a date. Read-only: a preview that consumes nothing, assuming
    one item a day from today on."""
    from .texts import render_item

    service = _service(settings)
    try:
        when = _day(day) or service.today()
        item = service.preview(chat_id, when)
        recorded = service.given(chat_id, when) is not None
    finally:
        service.db.dispose()
    if item is None:
        raise click.ClickException("the study library is empty")
    if not as_json:
        click.echo(render_item(item, when))
        return
    out = {"id": item.id, "title": item.title, "body": item.body, "source": item.source, "tags": list(item.tags),
           "date": item.date.isoformat() if item.date else None,
           "quiz": item.quiz.model_dump() if item.quiz else None,
           "group": chat_id, "day": when.isoformat(), "recorded": recorded}
    click.echo(json.dumps(out, ensure_ascii=False))


def rotation_plan(items: list, groups: int, days: int, start: date) -> dict:
    """Simulate `groups` fresh groups for `days` days: repeats, coverage, early repeats."""
    from .rotation import Rotation, RotationState

    rotation = Rotation(items)
    pool = len(rotation.pool)
    end = start + timedelta(days=days - 1)
    per_group_max, coverage, early, back_to_back, dated_ok, dated_due = [], [], 0, 0, 0, 0
    first_day = Counter()
    for n in range(groups):
        chat_id = -1_000_000_000_001 - n
        _, picks = rotation.simulate(chat_id, start, end, RotationState())
        rotated = [item_id for d, item_id, cycle in picks if cycle >= 0]
        counts = Counter(rotated)
        per_group_max.append(max(counts.values()) if counts else 0)
        coverage.append(len(counts) / min(pool, len(rotated)) if rotated and pool else 1.0)
        for k in range(0, len(rotated), pool or 1):  # each full round of the library: no repeats
            chunk = rotated[k:k + pool]
            early += len(chunk) - len(set(chunk))
        back_to_back += sum(1 for a, b in zip(rotated, rotated[1:]) if a == b)
        for d, item_id, cycle in picks:
            if d in rotation.dated:
                dated_due += 1
                dated_ok += item_id in rotation.dated[d]
        if picks:
            first_day[picks[0][1]] += 1
    return {
        "items": len(items), "rotation": pool, "dated": len(items) - pool,
        "groups": groups, "days": days, "start": start.isoformat(), "end": end.isoformat(),
        "max_repeats_per_group": max(per_group_max, default=0),
        "expected_max_repeats": -(-days // pool) if pool else 0,
        "coverage_min": round(min(coverage, default=1.0), 4),
        "coverage_avg": round(sum(coverage) / len(coverage), 4) if coverage else 1.0,
        "early_repeats": early, "back_to_back_repeats": back_to_back,
        "dated_days": dated_due, "dated_correct": dated_ok,
        "distinct_first_day_items": len(first_day),
    }


@study.command("plan")
@click.option("--groups", type=click.IntRange(1, 100_000), required=True)
@click.option("--days", type=click.IntRange(1, 3660), required=True)
@click.option("--start", default=None, help="First day, YYYY-MM-DD (default: today).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def plan(settings, groups: int, days: int, start: str | None, as_json: bool) -> None:
    """Rotation summary for N fresh groups over D days (repeats per group, coverage)."""
    service = _service(settings)
    try:
        items = service.items()
        first = _day(start) or service.today()
    finally:
        service.db.dispose()
    if not items:
        raise click.ClickException("the study library is empty")
    r = rotation_plan(items, groups, days, first)
    if as_json:
        click.echo(json.dumps(r, ensure_ascii=False))
        return
    click.echo(f"library: {r['items']} items ({r['rotation']} in the rotation, {r['dated']} dated)")
    click.echo(f"groups: {r['groups']}, days: {r['days']} ({r['start']} .. {r['end']})")
    click.echo(f"repeats per group: an item comes at most {r['max_repeats_per_group']} time(s) "
               f"(expected at most {r['expected_max_repeats']})")
    click.echo(f"coverage: min {r['coverage_min']:.1%}, avg {r['coverage_avg']:.1%} of the rotation per group")
    click.echo(f"repeats before the library was exhausted: {r['early_repeats']}; "
               f"same item two days running: {r['back_to_back_repeats']}")
    click.echo(f"dated items on their day: {r['dated_correct']}/{r['dated_days']}")
    click.echo(f"different items on day 1 across groups: {r['distinct_first_day_items']}")
