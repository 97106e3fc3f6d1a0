"""Reconciliation on SQLite: the per-(model, profile) counts as aggregates over the seat table.

Feeds :func:`~saas_license._finance.reconciliation.reconcile_units`, which shares the maths with
the reference :func:`~saas_license._finance.reconciliation.reconcile`; a Hypothesis test keeps
the two equal. Seats are never loaded one by one: one grouped scan counts used, excluded,
inactive and activity buckets (days of inactivity become integer comparisons of stored instants
against local-midnight boundaries), and only open candidates, this year's reclaims and the
unlicensed seats actually listed come back as rows. Money never enters SQL.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..._candidates.records import OPEN_STATES, CandidateState
from ..._convert import converter
from ..._directory.records import Person, normalise_email
from ..._finance.allocations import EffectiveAllocation
from ..._finance.reconciliation import (
    ACTIVITY_BUCKETS,
    DEFAULT_INACTIVITY_DAYS,
    Opportunity,
    Reclaim,
    Seat,
    new_units,
    savings_start,
)
from ..._rules import ExclusionKind, ExclusionRule
from ..._time import day_start, day_start_ms, format_instant, from_epoch_ms, parse_instant

__all__ = [
    "ReconcileFacts",
    "cost_exclusion_sql",
    "group_case_sql",
    "opportunity_page",
    "reconcile_facts",
    "record_seat_status",
    "unlicensed_page",
]

ReconcileFacts = tuple[
    Any,
    dict[tuple[str, str], int],
    Callable[[str, str, int], Sequence[Seat]],
    Callable[[Collection[str], "int | None"], Sequence[Opportunity]],
]


class _SeatView:
    """Just enough of a seat for :meth:`ExclusionRule.matches` inside a SQL function."""

    __slots__ = ("attributes", "identifier", "user_principal_name")

    def __init__(self, upn: str, identifier: str, attributes: str | None) -> None:
        self.user_principal_name = upn
        self.identifier = identifier
        self.attributes = json.loads(attributes) if attributes else {}


def _like_literal(text: str) -> str:
    """``text`` as a LIKE pattern (``ESCAPE '\\'``) matching only itself, ASCII case aside."""
    return "".join("\\" + c if c in "%_\\" else c for c in text)


def _ascii_sql(rule: ExclusionRule, alias: str) -> tuple[str, list[Any]] | None:
    """A plain SQL condition equal to ``rule.matches`` on seats whose principal name is ASCII
    (where ``LIKE``'s case folding is Python's ``lower``), or None when the rule needs Python."""
    upn = f"{alias}.user_principal_name"
    if rule.kind is ExclusionKind.USER:
        pattern = rule.value.lower()
        if not pattern.isascii() or "[" in pattern:
            return None  # fnmatch's bracket classes differ from LIKE; leave them to Python
        like = "".join({"*": "%", "?": "_"}.get(c, _like_literal(c)) for c in pattern)
        return f"{upn} LIKE ? ESCAPE '\\'", [like]
    if rule.kind is ExclusionKind.DOMAIN:
        want = rule.value.lower().lstrip("@")
        if not want.isascii():
            return None
        if "@" in want:
            return "FALSE", []  # the part after the last '@' never holds one
        lit = _like_literal(want)
        return (
            f"({upn} LIKE ? ESCAPE '\\' AND ({upn} LIKE ? ESCAPE '\\' "
            f"OR {upn} LIKE ? ESCAPE '\\' OR {upn} LIKE ? ESCAPE '\\'))",
            ["%" + lit, lit, "%@" + lit, "%." + lit],
        )
    return None


#: The only characters whose lowercase (Python's ``str.lower``) holds an ASCII character or is
#: longer than one: U+0130 (İ → "i̇") and U+212A (Kelvin sign → "k"). On every other name,
#: ``LIKE``'s ASCII-only case folding gives what ``fnmatch`` on ``lower()`` gives for a pattern
#: of ASCII literals, ``*`` and ``?``.
_LOOSE = {"user": {"i": "%", "k": "_", "?": "%"}, "domain": {"k": "_"}}


def _like_sql(rule: ExclusionRule, alias: str) -> tuple[str, list[Any], bool] | None:
    """``rule`` (user or domain, ASCII) as ``LIKE``: (condition, parameters, exact). Exact: it
    is ``rule.matches`` on every name; else it is true at least wherever ``matches`` is (the
    pattern's ``i``, ``k`` and ``?`` loosened for the two characters above) and the caller
    confirms its hits in Python. None: the rule needs Python for every name."""
    upn = f"{alias}.user_principal_name"
    if rule.kind is ExclusionKind.USER:
        pattern = rule.value.lower()
        if not pattern.isascii() or "[" in pattern:
            return None
        loose = _LOOSE["user"]
        exact = not any(c in loose for c in pattern)
        like = "".join(
            {"*": "%", "?": "_"}.get(c, _like_literal(c)) if exact or c not in loose else loose[c]
            for c in pattern
        )
        return f"{upn} LIKE ? ESCAPE '\\'", [like], exact
    if rule.kind is ExclusionKind.DOMAIN:
        want = rule.value.lower().lstrip("@")
        if not want.isascii():
            return None
        if "@" in want:
            return "FALSE", [], True  # the part after the last '@' never holds one
        exact = "k" not in want
        lit = "".join("_" if c == "k" else _like_literal(c) for c in want)
        return (
            f"({upn} LIKE ? ESCAPE '\\' AND ({upn} LIKE ? ESCAPE '\\' "
            f"OR {upn} LIKE ? ESCAPE '\\' OR {upn} LIKE ? ESCAPE '\\'))",
            ["%" + lit, lit, "%@" + lit, "%." + lit],
            exact,
        )
    return None


def _on_directory(rule: ExclusionRule) -> bool:
    return rule.kind is ExclusionKind.ATTRIBUTE and (rule.attribute or "").startswith("directory.")


def _people_facts(db: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """Every directory address with its person's facts (read once per reconciliation)."""
    out: dict[str, dict[str, str]] = {}
    for address, data in db.execute(
        "SELECT a.address, p.data FROM directory_addresses a "
        "JOIN directory_people p ON p.id = a.person_id"
    ):
        out[address] = converter.structure(json.loads(data), Person).facts()
    return out


def cost_exclusion_sql(
    db: sqlite3.Connection,
    rules: Sequence[ExclusionRule],
    profile_types: Mapping[str, str],
    *,
    alias: str = "s",
    functions: str = "saas_license_excluded",
) -> tuple[str, list[Any]]:
    """A SQL condition true for seats an active rule keeps out of cost, with its parameters.

    Identifier rules compile to plain comparisons; user and domain rules with ASCII patterns to
    ``LIKE`` (exact on every name, except that a pattern holding ``i``, ``k`` or ``?`` is
    loosened for the two characters whose lowercase differs, and its hits are confirmed by
    Python); anything else (attribute rules, bracket globs, non-ASCII patterns) calls
    :meth:`ExclusionRule.matches` itself through a SQL function, so the reference's matching is
    never re-implemented there. No per-name ASCII check: a scan evaluates only the ``LIKE``.
    """
    compile_own = getattr(db, "cost_exclusion_sql", None)
    if compile_own is not None:  # a store without Python SQL functions (PostgreSQL's) compiles
        return compile_own(rules, profile_types, alias=alias)  # type: ignore[no-any-return]
    active = [r for r in rules if r.active and r.effect.excludes_cost]
    parts: list[str] = []
    params: list[Any] = []
    loose: list[tuple[ExclusionRule, str, list[Any]]] = []  # LIKE first, then Python
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
            compiled = _like_sql(rule, alias)
            if compiled is None:
                in_python.append(rule)  # Python for every name
            elif compiled[2]:
                parts.append(compiled[0])
                params.extend(compiled[1])
            else:
                loose.append((rule, compiled[0], compiled[1]))
    upn = f"{alias}.user_principal_name"

    def udf_call(fn_rules: list[ExclusionRule], name: str) -> str:
        needs_attributes = any(r.kind is ExclusionKind.ATTRIBUTE for r in fn_rules)
        people = _people_facts(db) if any(_on_directory(r) for r in fn_rules) else {}

        def excluded(upn: str, identifier: str, attributes: str | None) -> int:
            seat = _SeatView(upn, identifier, attributes)
            facts = people.get(normalise_email(upn)) if people else None
            if facts:  # the person's ``directory.*`` facts, as the Python path adds them
                seat.attributes = {**facts, **seat.attributes}
            return int(any(r.matches(seat) for r in fn_rules))

        db.create_function(name, 3, excluded, deterministic=True)
        attrs_col = (
            f"(SELECT a.attributes FROM seat_attrs a WHERE a.id = {alias}.attrs)"
            if needs_attributes
            else "NULL"
        )
        return f"{name}({upn}, {alias}.identifier, {attrs_col})"

    for n, (rule, cond, cond_params) in enumerate(loose):
        # the loosened LIKE keeps Python to the few names it lets through
        parts.append(f"({cond} AND {udf_call([rule], f'{functions}_loose_{n}')})")
        params.extend(cond_params)
    if in_python:
        parts.append(udf_call(in_python, functions))
    return ("(" + " OR ".join(parts) + ")" if parts else "FALSE"), params


def group_case_sql(
    db: sqlite3.Connection, groups: Sequence[EffectiveAllocation], *, alias: str = "s"
) -> tuple[str, list[Any]]:
    """A SQL expression giving a seat's group allocation id (the first by id of its model whose
    user patterns match it, as :func:`~saas_license._finance.allocations.group_of`), else 0."""
    whens: list[str] = []
    params: list[Any] = []
    for eff in groups:
        gid = eff.allocation.id or 0
        rules = [ExclusionRule(kind="user", value=p, effect="cost") for p in eff.allocation.users]
        cond, cond_params = cost_exclusion_sql(
            db, rules, {}, alias=alias, functions=f"saas_license_group_{gid}"
        )
        whens.append(f"WHEN {alias}.software_model = ? AND {cond} THEN {gid}")
        params.extend([eff.software_model, *cond_params])
    if not whens:
        return "0", []
    return f"(CASE {' '.join(whens)} ELSE 0 END)", params


def _unit_seats(excl: str, group: str) -> str:
    """``SELECT … FROM … WHERE`` of one unit's counted seats (parameters: the group's, then
    profile, model and the exclusions'), each with its order key in UNLICENSED_ORDER: ``g``
    (1: in a group allocation, listed after the others), then first seen and id, newest first."""
    return f"""SELECT s.id AS id, s.user_principal_name AS upn, s.identifier AS identifier,
        s.last_activity AS last_activity, s.first_seen_at AS first_seen,
        CASE WHEN {group} != 0 THEN 1 ELSE 0 END AS g
        FROM subscriptions s
        WHERE s.active = 1 AND s.profile = ? AND +s.software_model = ? AND NOT {excl}"""


#: The order of one unit's seats (``_unit_seats`` columns): the seats a right covers last first.
_UNIT_ORDER = "u.g, u.first_seen DESC, u.id DESC"
#: The unit's seats after a key (g, first seen, id) in ``_UNIT_ORDER``.
_UNIT_AFTER = "(u.g > ? OR (u.g = ? AND (u.first_seen < ? OR (u.first_seen = ? AND u.id < ?))))"


def _after_params(key: Sequence[int]) -> list[int]:
    g, first, sid = key
    return [g, g, first, first, sid]


def record_seat_status(
    db: sqlite3.Connection,
    *,
    exclusions: Sequence[ExclusionRule],
    profile_types: Mapping[str, str],
    models: Sequence[str],
    unlicensed_units: Sequence[tuple[str, str, int, int]],
    reconciliation_id: int,
    groups: Sequence[EffectiveAllocation] = (),
) -> int:
    """Replace every seat's reconciled/unlicensed flags, set-based: the counted seats of the
    reconciled ``models`` are reconciled, and in each (model, profile, n, used) of
    ``unlicensed_units`` the first ``n`` of its ``used`` counted seats in UNLICENSED_ORDER are
    not covered by a right (``groups``: the group allocations in effect, which order them). A
    unit none of whose seats a right covers is flagged as its rows are inserted; the others
    by one ``UPDATE`` each. No seat id passes through Python. Returns how many seats were
    reconciled; call inside a write transaction."""
    excl, excl_params = cost_exclusion_sql(db, exclusions, profile_types)
    group, group_params = group_case_sql(db, groups)
    db.execute("DELETE FROM finance_seat_status")
    whole = [(m, p) for m, p, n, used in unlicensed_units if n > 0 and n >= used]
    some = [(m, p, n) for m, p, n, used in unlicensed_units if 0 < n < used]
    if models:
        marks = ", ".join("?" * len(models))
        flag = (
            "CASE "
            + " ".join("WHEN s.software_model = ? AND s.profile = ? THEN 1" for _ in whole)
            + " ELSE 0 END"
            if whole
            else "0"
        )
        db.execute(
            "INSERT INTO finance_seat_status (subscription_id, unlicensed, reconciliation_id) "
            f"SELECT s.id, {flag}, ? FROM subscriptions s WHERE s.active = 1 "
            f"AND s.software_model IN ({marks}) AND NOT {excl}",
            [*(v for unit in whole for v in unit), reconciliation_id, *models, *excl_params],
        )
    seats = _unit_seats(excl, group)
    for model, profile, n in some:  # the unit's first n seats; SQLite keeps n rows as it sorts
        db.execute(
            "UPDATE finance_seat_status SET unlicensed = 1 WHERE subscription_id IN "
            f"(SELECT u.id FROM ({seats}) AS u ORDER BY {_UNIT_ORDER} LIMIT ?)",
            [*group_params, profile, model, *excl_params, n],
        )
    return int(db.execute("SELECT count(*) FROM finance_seat_status").fetchone()[0])


def unlicensed_page(
    db: sqlite3.Connection,
    *,
    exclusions: Sequence[ExclusionRule],
    profile_types: Mapping[str, str],
    groups: Sequence[EffectiveAllocation],
    units: Sequence[tuple[str, str, int]],
    limit: int | None,
    after: tuple[str, str, int] | None = None,
    rank: int | None = None,
) -> list[tuple[str, Seat]]:
    """Unlicensed seats in UNLICENSED_ORDER as (model, seat): ``limit`` of them (None: all)
    after the seat ``after`` (model, profile, seat id), given each unit's (model, profile,
    seats no right covers) in order. ``rank``: how many seats of ``after``'s unit come up to
    it in that order (None: counted here, one more pass over the unit). Each unit read is one
    query that keeps only its rows."""
    excl, excl_params = cost_exclusion_sql(db, exclusions, profile_types)
    group, group_params = group_case_sql(db, groups)
    seats = _unit_seats(excl, group)
    todo = list(units)
    key: tuple[int, int, int] | None = None
    if after is not None:
        model, profile, sid = after
        at = next((k for k, u in enumerate(todo) if u[:2] == (model, profile)), None)
        if at is None:  # its unit lacks no right now: start at the next unit in order
            todo = [u for u in todo if u[:2] > (model, profile)]
        else:
            row = db.execute(  # the seat's key (any seat still stored has one)
                f"SELECT CASE WHEN {group} != 0 THEN 1 ELSE 0 END, s.first_seen_at, s.id "
                "FROM subscriptions s WHERE s.id = ?",
                [*group_params, sid],
            ).fetchone()
            if row is None:
                from ..._errors import ConfigError

                raise ConfigError(
                    f"seat {sid} is no longer stored", field="after", hint="start again"
                )
            key = (int(row[0]), int(row[1]), int(row[2]))
            if rank is None:
                (rank,) = db.execute(
                    f"SELECT count(*) FROM ({seats}) AS u WHERE NOT {_UNIT_AFTER}",
                    [*group_params, profile, model, *excl_params, *_after_params(key)],
                ).fetchone()
            todo = todo[at:]
            todo[0] = (model, profile, todo[0][2] - int(rank or 0))
    out: list[tuple[str, Seat]] = []
    for k, (model, profile, n) in enumerate(todo):
        take = n if limit is None else min(n, limit - len(out))
        if take <= 0:
            if limit is not None and len(out) >= limit:
                break
            continue
        params: list[Any] = [*group_params, profile, model, *excl_params]
        sql = f"SELECT u.id, u.upn, u.identifier, u.last_activity, u.first_seen FROM ({seats}) AS u"
        if k == 0 and key is not None:
            sql += f" WHERE {_UNIT_AFTER}"
            params.extend(_after_params(key))
        sql += f" ORDER BY {_UNIT_ORDER} LIMIT ?"
        params.append(take)
        out.extend(
            (
                model,
                Seat(
                    id=i,
                    profile=profile,
                    upn=upn,
                    identifier=ident,
                    last_activity=_instant(last),
                    first_seen=_instant(first),
                    days=None,
                ),
            )
            for i, upn, ident, last, first in db.execute(sql, params)
        )
    return out


def reconcile_facts(
    db: sqlite3.Connection,
    *,
    exclusions: Sequence[ExclusionRule],
    profile_types: Mapping[str, str],
    inactivity_days: Mapping[str, int],
    now: dt.datetime,
    timezone: str,
    groups: Sequence[EffectiveAllocation] = (),
    price_days: Sequence[dt.date] = (),
) -> ReconcileFacts:
    """(units, unmapped, newest, top) for :func:`reconcile_units`, read with aggregates: open
    candidates are counted per unit in SQL, and only the listed ones (``top``) become rows."""
    excl, excl_params = cost_exclusion_sql(db, exclusions, profile_types)
    group, group_params = group_case_sql(db, groups)
    today = now.astimezone(_zone(timezone)).date()

    def since(days: int) -> int:
        """Seats last active at or after this instant were idle fewer than ``days`` days."""
        return day_start_ms(today, days - 1, timezone)

    # Every count is a difference of "last active at or after a bound" counts: one comparison
    # per seat and bound (the buckets' bounds and each inactivity threshold), nothing else.
    thresholds = dict(inactivity_days)
    bounds = sorted(
        {30, 60, 90, DEFAULT_INACTIVITY_DAYS, *(t for t in thresholds.values() if t > 0)}
    )
    at = {days: i for i, days in enumerate(bounds)}
    stats = "count(*), count(last_activity), " + ", ".join(
        "count(CASE WHEN last_activity >= ? THEN 1 END)" for _ in bounds
    )
    stats_params = [since(days) for days in bounds]

    def counts(model: str, row: Sequence[int]) -> tuple[int, int, list[int]]:
        """(seats, inactive, buckets) of one aggregate row."""
        seats, known, *since_n = row
        recent = [since_n[at[d]] for d in (30, 60, 90)]
        buckets = [recent[0], recent[1] - recent[0], recent[2] - recent[1], known - recent[2]]
        threshold = thresholds.get(model, DEFAULT_INACTIVITY_DAYS)
        inactive = seats if threshold <= 0 else seats - since_n[at[threshold]]
        return seats, inactive, [*buckets, seats - known]

    units = new_units()
    # Every active seat, grouped along the ``finance_active_seats`` index (no sort, no table
    # access); then the few seats excluded from cost, found by one scan, are taken off again.
    for model, profile, *row in db.execute(
        f"SELECT software_model, profile, {stats} FROM subscriptions "
        "WHERE active = 1 AND software_model IS NOT NULL GROUP BY software_model, profile",
        stats_params,
    ):
        unit = units[model][profile]
        unit.used, unit.inactive, buckets = counts(model, row)
        unit.buckets.update(zip(ACTIVITY_BUCKETS, buckets, strict=True))
    if excl != "FALSE":
        for model, profile, *row in db.execute(
            f"SELECT s.software_model, s.profile, {stats} FROM subscriptions s NOT INDEXED "
            f"WHERE s.active = 1 AND s.software_model IS NOT NULL AND {excl} "
            "GROUP BY s.software_model, s.profile",
            [*stats_params, *excl_params],
        ):
            unit = units[model][profile]
            seats, idle_n, buckets = counts(model, row)
            unit.excluded = seats
            unit.used -= seats
            unit.inactive -= idle_n
            for label, n in zip(ACTIVITY_BUCKETS, buckets, strict=True):
                unit.buckets[label] -= n
    if groups:  # seats per group allocation, for the models that have one
        # One sequential scan (cheaper than the partial index plus a row look-up per seat);
        # only the members are grouped.
        grouped = sorted({g.software_model for g in groups})
        marks = ", ".join("?" * len(grouped))
        for model, profile, gid, seats in db.execute(
            f"SELECT s.software_model, s.profile, {group} AS g, count(*) "
            f"FROM subscriptions s NOT INDEXED WHERE s.active = 1 "
            f"AND s.software_model IN ({marks}) AND {group} != 0 AND NOT {excl} "
            "GROUP BY s.software_model, s.profile, g",
            [*group_params, *grouped, *group_params, *excl_params],
        ):
            units[model][profile].grouped[gid] = seats
    unmapped: dict[tuple[str, str], int] = {
        (ident, profile): n
        for ident, profile, n in db.execute(
            "SELECT identifier, profile, count(*) FROM subscriptions "
            "WHERE active = 1 AND software_model IS NULL GROUP BY identifier, profile"
        )
    }

    open_from, open_params = _open_opportunities(excl, excl_params)
    # grouped by the candidate's columns, so the candidates drive the join (grouped by the
    # seat's model, SQLite would walk every seat along the index instead)
    for model, profile, n in db.execute(
        "SELECT (SELECT value FROM candidate_texts WHERE id = c.model), c.profile, count(*) "
        f"{open_from} GROUP BY c.model, c.profile",
        open_params,
    ):
        units[model][profile].open_candidates = n

    # This year's reclaims, counted in groups that share what their savings depend on: the
    # recorded savings and currency, and the period between two days on which an entitlement
    # starts, ends or is retired (the price in force is the same within one). Each group is
    # one row; its first and last instants must fall in one price period (else its rows are
    # read one by one), so the sum is exactly the reference's.
    cuts = _price_cuts(price_days, timezone)
    period = (
        "(CASE "
        + " ".join(f"WHEN r.w < ? THEN {k}" for k in range(len(cuts)))
        + f" ELSE {len(cuts)} END)"
        if cuts
        else "0"
    )
    savings_since, until = format_instant(savings_start(now, timezone)), format_instant(now)
    reclaim_where = (
        # candidates' columns: _store/_sqlite/candidates.py (lifecycle fields in ``more``)
        "FROM candidates c LEFT JOIN candidate_texts m ON m.id = c.model "
        "LEFT JOIN candidate_texts cur ON cur.id = c.currency WHERE c.state = ? "
        "AND json_extract(c.more, '$.undone_at') IS NULL "
        "AND json_extract(c.more, '$.reappeared_at') IS NULL "  # the seat came back: never saved
        f"AND {_WHEN} BETWEEN ? AND ?"
    )
    reclaim_params = [CandidateState.CLOSED_COMPLETE.value, savings_since, until]
    # The instant is read from the JSON once per row: the inner query is not merged into the
    # grouping (its ORDER BY keeps it apart), so the price periods compare a plain column.
    for profile, model, actual, currency, n, first, last, _ in db.execute(
        "SELECT r.profile, r.model, r.actual, r.currency, count(*), min(r.w), max(r.w), "
        f"{period} AS period FROM (SELECT c.profile AS profile, m.value AS model, "
        "json_extract(c.more, '$.actual_savings') AS actual, cur.value AS currency, "
        f"{_WHEN} AS w {reclaim_where} ORDER BY c.id) AS r "
        "GROUP BY r.profile, r.model, r.actual, r.currency, period",
        [*cuts, *reclaim_params],
    ):
        if model is None:
            continue
        saved = None if actual is None else Decimal(str(actual))
        lo, hi = _text_instant(first), _text_instant(last)
        if n == 1 or _same_period(lo, hi, cuts_at=cuts, timezone=timezone):
            units[model][profile].reclaimed.append(Reclaim(lo, None, None, saved, currency, n))
            continue
        for (when,) in db.execute(  # a group across a price change (odd instants): row by row
            f"SELECT {_WHEN} {reclaim_where} AND c.profile = ? AND m.value = ? "
            "AND json_extract(c.more, '$.actual_savings') IS ? AND cur.value IS ?",
            [*reclaim_params, profile, model, actual, currency],
        ):
            units[model][profile].reclaimed.append(
                Reclaim(_text_instant(when), None, None, saved, currency)
            )

    def newest(model: str, profile: str, n: int) -> Sequence[Seat]:
        got = db.execute(
            "SELECT u.id, u.upn, u.identifier, u.last_activity, u.first_seen "
            f"FROM ({_unit_seats(excl, group)}) AS u ORDER BY {_UNIT_ORDER} LIMIT ?",
            [*group_params, profile, model, *excl_params, n],
        )
        return [
            Seat(
                id=i,
                profile=profile,
                upn=upn,
                identifier=ident,
                last_activity=_instant(last),
                first_seen=_instant(first),
                days=None,
            )
            for i, upn, ident, last, first in got
        ]

    def top(skip: Collection[str], limit: int | None) -> Sequence[Opportunity]:
        return opportunity_page(
            db,
            exclusions=exclusions,
            profile_types=profile_types,
            skip=skip,
            now=now,
            timezone=timezone,
            limit=limit,
            compiled=(excl, excl_params),
        )

    return units, unmapped, newest, top


#: The order opportunities are listed in (see ``opportunity_key``), as SQL: never-active seats
#: first, then the oldest last activity, then profile, user, model and candidate id.
_ORDER = (
    "CASE WHEN s.last_activity IS NULL THEN 0 ELSE 1 END",
    "COALESCE(s.last_activity, 0)",
    "c.profile",
    "s.user_principal_name",
    "s.software_model",
    "c.id",
)


def _open_opportunities(excl: str, excl_params: Sequence[Any]) -> tuple[str, list[Any]]:
    """``FROM … WHERE …`` of the open candidates on counted seats (their model's seat, active,
    not excluded from cost), with its parameters."""
    states = [s.value for s in OPEN_STATES]
    return (
        f"""FROM candidates c JOIN subscriptions s ON s.id = c.subscription_id
        WHERE c.state IN ({", ".join("?" * len(states))}) AND s.active = 1
          AND s.software_model IS NOT NULL
          AND s.software_model = (SELECT value FROM candidate_texts WHERE id = c.model)
          AND NOT {excl}""",
        [*states, *excl_params],
    )


def opportunity_page(
    db: sqlite3.Connection,
    *,
    exclusions: Sequence[ExclusionRule],
    profile_types: Mapping[str, str],
    skip: Collection[str],
    now: dt.datetime,
    timezone: str,
    limit: int | None,
    after: tuple[Any, ...] | None = None,
    compiled: tuple[str, Sequence[Any]] | None = None,
) -> list[Opportunity]:
    """Open candidates on counted seats in listing order, ``limit`` of them (None: all) after
    the key ``after`` (the ``_ORDER`` values of the last one read), leaving out the seats
    of the models in ``skip``. One query; SQLite keeps only ``limit`` rows while it sorts."""
    excl, excl_params = compiled or cost_exclusion_sql(db, exclusions, profile_types)
    source, params = _open_opportunities(excl, excl_params)
    if skip:
        source += f" AND s.software_model NOT IN ({', '.join('?' * len(skip))})"
        params.extend(sorted(skip))
    if after is not None:
        source += f" AND ({', '.join(_ORDER)}) > ({', '.join('?' * len(_ORDER))})"
        params.extend(after)
    sql = (
        "SELECT c.id, c.state, c.profile, s.software_model, s.user_principal_name, "
        f"s.identifier, s.last_activity {source} ORDER BY {', '.join(_ORDER)}"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    today = now.astimezone(_zone(timezone)).date()
    days_of = _days_counter(today, timezone)
    state_of = {s.value: s for s in CandidateState}
    return [
        Opportunity(
            cid,
            state_of[state],
            upn,
            ident,
            None if last is None else days_of(last),
            _instant(last),
            profile,
            model,
        )
        for cid, state, profile, model, upn, ident, last in db.execute(sql, params).fetchall()
    ]


#: When a closed-complete candidate's seat was taken back (its reclaim, else its closing).
_WHEN = "coalesce(json_extract(c.more, '$.reclaimed_at'), c.closed_at)"


def _price_cuts(days: Sequence[dt.date], timezone: str) -> list[str]:
    """The first instants (as stored text) of the local days on which a price can change."""
    return sorted({format_instant(day_start(d, timezone)) for d in days})


def _same_period(
    lo: dt.datetime | None, hi: dt.datetime | None, *, cuts_at: Sequence[str], timezone: str
) -> bool:
    """Whether two instants lie between the same two price cuts (parsed, not as text)."""
    if lo is None or hi is None:
        return lo is hi
    marks = [parse_instant(c) for c in cuts_at]
    return bisect.bisect_right(marks, lo) == bisect.bisect_right(marks, hi)


def _text_instant(text: str | None) -> dt.datetime | None:
    """A candidate's instant (stored as ``format_instant``'s text, parsed fast) or None."""
    if text is None:
        return None
    if len(text) == 24 and text[-1] == "Z":
        return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.timezone.utc)
    return parse_instant(text)


def _instant(stored: int | None) -> dt.datetime | None:
    """A stored seat instant (epoch milliseconds) or None."""
    return None if stored is None else from_epoch_ms(stored)


def _zone(timezone: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(timezone)


def _days_counter(today: dt.date, timezone: str) -> Callable[[int], int]:
    """Days of inactivity (≥ 0, on ``timezone``'s calendar) of a stored instant, by bisecting
    local-midnight boundaries built on demand: no time-zone conversion per seat."""
    starts: list[int] = []  # starts[k] = first instant of local day today - k (descending)
    ascending: list[int] = []

    def days(stored: int) -> int:
        while not starts or stored < starts[-1]:
            k = len(starts)
            starts.append(day_start_ms(today, k, timezone))
            ascending.insert(0, starts[-1])
        # the number of boundaries above ``stored``: its local day is today minus that
        return len(ascending) - bisect.bisect_right(ascending, stored)

    return days
