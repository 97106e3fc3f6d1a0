"""Reconciliation on PostgreSQL: the SQLite store's aggregates (``_sqlite/reconcile.py``, run
through :mod:`.dialect`), with the one piece PostgreSQL cannot share, the cost exclusions.

SQLite calls :meth:`ExclusionRule.matches` from inside SQL (a Python SQL function) for the rules
SQL cannot express exactly; PostgreSQL has no Python functions, so here those rules are matched
by Python once, over the seats they can concern, and the seats they exclude go into a temporary
table the SQL reads. Plain rules (identifiers, ASCII user and domain patterns) are the same SQL
on both stores; so the two stores' reconciliations are equal seat for seat.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ..._rules import ExclusionKind, ExclusionRule
from .._sqlite.reconcile import _ascii_sql, _SeatView

__all__ = ["cost_exclusion_sql", "drop_excluded_tables"]

_counter = itertools.count(1)


def cost_exclusion_sql(
    db: Any,
    rules: Sequence[ExclusionRule],
    profile_types: Mapping[str, str],
    *,
    alias: str = "s",
) -> tuple[str, list[Any]]:
    """A SQL condition true for seats an active rule keeps out of cost, with its parameters
    (the PostgreSQL twin of :func:`~saas_license._store._sqlite.reconcile.cost_exclusion_sql`)."""
    active = [r for r in rules if r.active and r.effect.excludes_cost]
    parts: list[str] = []
    params: list[Any] = []
    ascii_parts: list[str] = []
    ascii_params: list[Any] = []
    by_seat = [r for r in active if r.kind in (ExclusionKind.USER, ExclusionKind.DOMAIN)]
    in_python = [r for r in active if r.kind is ExclusionKind.ATTRIBUTE]
    for rule in active:
        if rule.kind is ExclusionKind.IDENTIFIER:
            if rule.profile_type is None:
                parts.append(f"{alias}.identifier = ?")
                params.append(rule.value)
            else:
                names = sorted(p for p, t in profile_types.items() if t == rule.profile_type)
                if names:
                    marks = ", ".join("?" * len(names))
                    parts.append(f"({alias}.identifier = ? AND {alias}.profile IN ({marks}))")
                    params.extend([rule.value, *names])
        elif rule.kind is not ExclusionKind.ATTRIBUTE:
            compiled = _ascii_sql(rule, alias)
            if compiled is None:
                in_python.append(rule)
            else:
                ascii_parts.append(compiled[0])
                ascii_params.extend(compiled[1])
    upn = f"{alias}.user_principal_name"
    is_ascii = f"octet_length({upn}) = length({upn})"
    if ascii_parts:
        # ASCII names: plain SQL; other names: the same rules, matched by Python.
        fallback = _matched_in_python(
            db, by_seat, "octet_length(user_principal_name) <> length(user_principal_name)"
        )
        parts.append(
            f"(CASE WHEN {is_ascii} THEN ({' OR '.join(ascii_parts)}) "
            f"ELSE {alias}.id IN (SELECT id FROM pg_temp.{fallback}) END)"
        )
        params.extend(ascii_params)
    if in_python:
        table = _matched_in_python(db, in_python, "TRUE")
        parts.append(f"{alias}.id IN (SELECT id FROM pg_temp.{table})")
    return ("(" + " OR ".join(parts) + ")" if parts else "FALSE"), params


def _matched_in_python(db: Any, rules: Sequence[ExclusionRule], where: str) -> str:
    """A temporary table of the ids of active seats (``where``) that ``rules`` match."""
    table = f"saas_license_excluded_{next(_counter)}"
    # kept after the snapshot ends: the reconciliation reads it again later (newest seats);
    # dropped by the next reconciliation on this connection (drop_excluded_tables)
    db.execute(f"CREATE TEMP TABLE {table} (id BIGINT PRIMARY KEY)")
    rows = db.execute(
        "SELECT s.id, s.user_principal_name, s.identifier, a.attributes FROM subscriptions s "
        "JOIN seat_attrs a ON a.id = s.attrs "
        f"WHERE s.active = 1 AND s.software_model IS NOT NULL AND {where}"
    ).fetchall()
    hits = [
        (r[0],) for r in rows if any(rule.matches(_SeatView(r[1], r[2], r[3])) for rule in rules)
    ]
    if hits:
        db.executemany(f"INSERT INTO {table} (id) VALUES (?)", hits)
    return table


def drop_excluded_tables(db: Any) -> None:
    """Drop the temporary tables earlier reconciliations left on this connection."""
    for (name,) in db.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema() "
        "AND relkind = 'r' AND relname LIKE 'saas\\_license\\_excluded\\_%'"
    ).fetchall():
        db.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
