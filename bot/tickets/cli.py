"""`driverhome tickets list|show|stats|export`: the same database, from the shell."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
from sqlalchemy import select

from ..cli_files import write_output


def _service(settings):
    """The ticket service on the configured database (migrated), without any chat platform."""
    from ..app import open_database
    from ..chats import AdminDirectory
    from .service import TicketService

    db = open_database(settings)
    service = TicketService(db, settings.tickets, branches=settings.branches,
                            admins=AdminDirectory(db, settings.telegram.admins))
    service.branches.sync(settings.branches)
    return service


@click.group("tickets")
def tickets() -> None:
    """Complaints/tickets (诉求 → 工单)."""


@tickets.command("list")
@click.option("--state", "states", multiple=True, help="Only these states (repeatable); default: open ones.")
@click.option("--branch", help="Only this branch id.")
@click.option("--all", "show_all", is_flag=True, help="Every state, not only open tickets.")
@click.pass_obj
def list_cmd(settings, states: tuple[str, ...], branch: str | None, show_all: bool) -> None:
    """One line per ticket: number, state, category, grade, deadline."""
    from .models import OPEN, Ticket
    from .views import list_line

    service = _service(settings)
    try:
        with service.db.session() as s:
            q = select(Ticket).order_by(Ticket.id)
            if states:
                q = q.where(Ticket.state.in_(states))
            elif not show_all:
                q = q.where(Ticket.state.in_(OPEN))
            if branch:
                q = q.where(Ticket.branch_id == branch)
            rows = list(s.scalars(q))
        now = service.clock.now()
        for t in rows:
            click.echo(f"{list_line(t, service.calendar, now)} · {t.branch_id or '-'}")
        click.echo(f"{len(rows)} ticket(s)", err=True)
    finally:
        service.db.dispose()


@tickets.command("show")
@click.argument("number")
@click.pass_obj
def show_cmd(settings, number: str) -> None:
    """The card and the history of one ticket (SQ-...)."""
    from . import views
    from .models import Ticket

    service = _service(settings)
    try:
        with service.db.session() as s:
            t = s.scalar(select(Ticket).where(Ticket.number == number.strip().upper()))
            if t is None:
                raise click.ClickException(f"no ticket {number}")
            click.echo(views.card(s, t, service.calendar, service.clock.now()))
            click.echo("\n" + views.history(s, t, service.calendar))
    finally:
        service.db.dispose()


@tickets.command("stats")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650))
@click.option("--branch", "branches", multiple=True, help="Only these branch ids (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def stats_cmd(settings, days: int, branches: tuple[str, ...], as_json: bool) -> None:
    """Collected, resolved, 办结率, on-time rate, first response, satisfaction, by category."""
    from .stats import compute, render

    from ..outbox import counts

    service = _service(settings)
    try:
        st = compute(service.db, now=service.clock.now(), days=days, branches=list(branches) or None)
        with service.db.session() as s:
            outbox = counts(s)
    finally:
        service.db.dispose()
    if as_json:
        click.echo(json.dumps({**st.as_dict(), "outbox": outbox}, ensure_ascii=False))
    else:
        click.echo(render(st, "、".join(branches) or "全部支部"))
        click.echo(f"通知：待发 {outbox.get('pending', 0)} · 已发 {outbox.get('sent', 0)} · 失败 {outbox.get('failed', 0)}")


@tickets.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Only tickets of the last N days.")
@click.option("--branch", "branches", multiple=True, help="Only these branch ids (repeatable).")
@click.pass_obj
def export_cmd(settings, file: Path, days: int | None, branches: tuple[str, ...]) -> None:
    """Write tickets to a CSV file (UTF-8 with BOM, opens in Excel)."""
    from .export import export_csv

    service = _service(settings)
    try:
        body = export_csv(service.db, service.calendar, now=service.clock.now(), days=days,
                          branches=list(branches) or None)
    finally:
        service.db.dispose()
    write_output(file, body)
    rows = sum(1 for _ in csv.reader(io.StringIO(body))) - 1
    click.echo(f"exported {rows} ticket(s) to {file}")
