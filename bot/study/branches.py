"""Branches and their secretaries, as far as the study feature needs them.

The branch data belongs to the tickets component: `branches: [{id, name, groups,
secretaries}]` in config.yml, synced into its tables (branches, branch_groups,
branch_secretaries) together with secretaries bound in a group with /bind_secretary. This
small reader merges both sources and tolerates the absence of either (no branches: no weekly
summary, and only group admins may change study settings), so the features stay decoupled.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Branch:
    id: str
    name: str
    groups: tuple[int, ...]
    secretaries: tuple[int, ...]


def _get(obj, key: str, default=None):
    return obj.get(key, default) if isinstance(obj, dict) else getattr(obj, key, default)


def _ints(values) -> tuple[int, ...]:
    out = []
    for v in values or ():
        v = _get(v, "id", v) if not isinstance(v, (int, str)) else v  # {id: ..} or a plain id
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            continue
    return tuple(out)


def _from_tickets(db) -> list[Branch]:
    """The tickets component's branch tables, if that component and its tables are there."""
    if db is None:
        return []
    try:
        from sqlalchemy import select

        from ..tickets.models import Branch as BranchRow, BranchGroup, BranchSecretary

        with db.session() as s:
            names = dict(s.execute(select(BranchRow.id, BranchRow.name)).all())
            groups: dict[str, list[int]] = {}
            for chat_id, branch_id in s.execute(select(BranchGroup.chat_id, BranchGroup.branch_id)):
                groups.setdefault(branch_id, []).append(chat_id)
            secretaries: dict[str, list[int]] = {}
            for branch_id, user_id in s.execute(select(BranchSecretary.branch_id, BranchSecretary.user_id)):
                secretaries.setdefault(branch_id, []).append(user_id)
    except Exception:  # no tickets component, or its tables are not there (yet)
        return []
    return [Branch(b, names[b], tuple(groups.get(b, ())), tuple(secretaries.get(b, ()))) for b in sorted(names)]


def branches(settings, db=None) -> list[Branch]:
    """Branches from config.yml merged (by id) with those in the tickets tables of `db`."""
    merged: dict[str, Branch] = {}
    configured = []
    for n, raw in enumerate(getattr(settings, "branches", None) or []):
        branch_id = str(_get(raw, "id", "") or f"branch-{n + 1}")
        configured.append(Branch(branch_id, str(_get(raw, "name", "") or branch_id), _ints(_get(raw, "groups")),
                                 _ints(_get(raw, "secretaries"))))
    for b in configured + _from_tickets(db):
        seen = merged.get(b.id)
        if seen is None:
            merged[b.id] = b
        else:
            merged[b.id] = Branch(b.id, seen.name, tuple(dict.fromkeys(seen.groups + b.groups)),
                                  tuple(dict.fromkeys(seen.secretaries + b.secretaries)))
    return list(merged.values())


def secretaries_of(settings, chat_id: int, db=None) -> list[int]:
    """The secretaries of the branch(es) a group belongs to; [] when none are known."""
    return sorted({s for b in branches(settings, db) if chat_id in b.groups for s in b.secretaries})
