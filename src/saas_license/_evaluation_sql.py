"""Set-based evaluation: :func:`~saas_license._evaluation.assess` for a whole profile, in SQL.

:func:`assess` stays the one definition of a verdict; this module compiles the same checks, in
the same order, into one ``CASE`` over the seats' indexed columns. What SQL cannot decide from
columns is decided by the same Python code, once per distinct value, and joined in:

- checks on a seat's attributes (attribute exclusions, administrator, unknown protection,
  ``enabled``, an unknown last activity, reclamation rule filters) run in Python once per
  *distinct* attribute row (``seat_attrs``, shared by many seats) and are joined in;
- user and domain exclusions compare ASCII principal names in SQL (``LIKE``, ignoring ASCII
  case, as the rule compares lower-cased names); a non-ASCII name, or a pattern with ``[``,
  goes through the rule's own :meth:`ExclusionRule.matches`;
- day counts are exact in SQL in any zone, DST included: seats store instants as integer
  epoch milliseconds, and "fewer than K days" is a comparison with the first instant of the
  zone's local day ``today - K + 1`` (:func:`~saas_license._time.day_start_ms`);
- with a user directory loaded, each seat's person is found once (``temp.eval_person``, by the
  same normalised look-up as the Python path); when a rule names a ``directory.*`` fact, the
  attribute checks run once per distinct *(attribute row, person)* pair instead, on the seat's
  attributes with the person's facts added, and every seat handed back carries them too.
  Leavers' proposals come first.

:func:`evaluate_profile` reads no seat into Python to count verdicts: one pass returns a tally
(a character per seat), with ids only for the seats to act on, which wait in a temp table of
the evaluation's own (``eval_hits_<n>``) and are read back a page at a time.

The few pieces that differ between database engines (a Python SQL function, ``LIKE``, the
tally's string aggregate, keyed temp tables, bulk inserts) go through an
:class:`EvaluationDialect`: SQLite's is this module's; a store names its own in
``_evaluation_dialect`` (PostgreSQL's is ``_store/_postgres/evaluation.py``), and the rest of
the SQL is the same on both.

Agreement with :func:`assess` is property-tested (``tests/test_evaluation_sql.py``; on both
stores, ``tests/postgres/test_evaluation_sql_both.py``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import attrs

from ._candidates.records import OPEN_STATES, RemovalCandidate
from ._directory.facts import LEAVER, seat_facts, with_person
from ._directory.records import Person, normalise_email
from ._evaluation import Assessment, EvaluationPolicy, Verdict, unknown_protection
from ._rules import ExclusionKind, ExclusionRule, ReclamationRule
from ._store._sqlite.seen import CHECKED, SEEN_JOIN
from ._subscriptions import Subscription
from ._time import (
    MIN_MS,
    ceil_epoch_ms,
    day_start_ms,
    days_between,
    format_instant,
    from_epoch_ms,
)

__all__ = [
    "EvaluationDialect",
    "ProposedSeat",
    "SetEvaluation",
    "assess_profile",
    "evaluate_profile",
]

# verdict codes of the SQL CASE; several codes may name one verdict (with or without a rule)
_CODES: list[tuple[Verdict, bool, bool]] = [  # (verdict, carries the rule, carries inactive days)
    (Verdict.INACTIVE_SEAT, False, False),  # 0
    (Verdict.EXCLUDED, False, False),  # 1
    (Verdict.ADMINISTRATOR, False, False),  # 2
    (Verdict.UNKNOWN_PROTECTION, False, False),  # 3
    (Verdict.INACTIVE_SEAT, False, False),  # 4: enabled is False
    (Verdict.INTEGRATION_USER, False, False),  # 5
    (Verdict.NO_ACTIVITY_DATA, False, False),  # 6
    (Verdict.STALE_ACTIVITY_DATA, False, False),  # 7
    (Verdict.NO_RULE, False, False),  # 8
    (Verdict.FILTERED_OUT, True, False),  # 9
    (Verdict.NO_ACTIVITY_DATA, True, False),  # 10: a rule, but no reference date
    (Verdict.NEW_ACCOUNT_GRACE, True, True),  # 11
    (Verdict.ACTIVE, True, True),  # 12
    (Verdict.CANDIDATES_OFF, True, True),  # 13
    (Verdict.COOLDOWN, True, True),  # 14
    (Verdict.IDLE, True, True),  # 15
]
_IDLE = 15
#: the SQL CASE's value for a seat excluded by rule ``i`` (of the evaluation's exclusions)
_EXCLUDED_BY = 100
#: verdict codes of open candidates that the evaluation cancels (activity came back) and skips
#: (the seat became protected); every other verdict leaves an open candidate as it is
_CANCEL_CODES = frozenset(
    k for k, (v, _, _) in enumerate(_CODES) if v in (Verdict.ACTIVE, Verdict.NEW_ACCOUNT_GRACE)
)
_SKIP_CODES = frozenset(k for k, (v, _, _) in enumerate(_CODES) if v.protects)


def _decode(value: int) -> tuple[int, int | None]:
    """A CASE value as (verdict code, index of the exclusion rule or None)."""
    return (1, value - _EXCLUDED_BY) if value >= _EXCLUDED_BY else (value, None)


class EvaluationDialect:
    """The engine-specific pieces of the evaluation's SQL, as SQLite spells them.

    Everything else is plain SQL both engines run (PostgreSQL's through its dialect
    connection). A store on another engine subclasses this and names an instance in its
    ``_evaluation_dialect`` attribute.
    """

    def is_ascii(self, column: str) -> str:
        """True when the text ``column`` holds only ASCII characters."""
        return f"length({column}) = length(CAST({column} AS BLOB))"

    def like(self, column: str, param: str) -> str:
        """The ASCII text ``column`` matches, ignoring ASCII case, the pattern in ``:param``
        (made by :meth:`like_pattern`). SQLite's ``LIKE`` folds ASCII case itself, so no
        ``lower()`` copy of every name is made."""
        return f"{column} LIKE :{param} ESCAPE '\\'"

    def like_pattern(self, pattern: str) -> str:
        """A lower-case fnmatch pattern without ``[`` as :meth:`like` reads it: ``*`` and ``?``
        become ``%`` and ``_``; ``%``, ``_`` and the escape character are escaped."""
        out = []
        for ch in pattern:
            if ch in "\\%_":
                out.append("\\" + ch)
            elif ch == "*":
                out.append("%")
            elif ch == "?":
                out.append("_")
            else:
                out.append(ch)
        return "".join(out)

    def concat(self, expr: str) -> str:
        """An aggregate joining the text ``expr`` of every row, in any order, with no separator."""
        return f"group_concat({expr}, '')"

    def keyed_table(self, name: str, columns: str) -> str:
        """``CREATE TABLE`` of a temp table whose rows live in their primary key."""
        return f"CREATE TABLE temp.{name} ({columns}) WITHOUT ROWID"

    def python_match(
        self,
        db: Any,
        profile: str,
        match: Callable[[int, str], bool],
        rules: Mapping[int, bool],
    ) -> Callable[[int], str]:
        """SQL deciding, for rule ``i`` of ``rules``, ``match(i, s.user_principal_name)``.

        ``rules`` maps each rule index to whether SQL asks it of every name (``True``, a pattern
        with a character class) or of non-ASCII names only. SQLite calls Python from SQL.
        """

        def call(i: int, upn: str) -> int:
            return int(match(i, upn))

        db.create_function("sl_match", 2, call, deterministic=True)
        return lambda i: f"sl_match({i}, s.user_principal_name)"

    def insert_rows(self, db: Any, table: str, width: int, rows: Sequence[Sequence[Any]]) -> None:
        """Fill the temp table ``table`` (of ``width`` columns) with ``rows``."""
        marks = ", ".join("?" * width)
        db.executemany(f"INSERT INTO temp.{table} VALUES ({marks})", rows)


SQLITE = EvaluationDialect()


def _dialect(store: Any) -> EvaluationDialect:
    found = getattr(store, "_evaluation_dialect", None)
    return found if isinstance(found, EvaluationDialect) else SQLITE


class _Seat:
    """What a rule sees of a seat when only its attributes (or its name) matter."""

    __slots__ = ("attributes", "identifier", "unknown", "user_principal_name")

    def __init__(
        self, attributes: dict[str, Any], unknown: frozenset[str], upn: str = "", ident: str = ""
    ) -> None:
        self.attributes, self.unknown = attributes, unknown
        self.user_principal_name, self.identifier = upn, ident

    @property
    def is_administrator(self) -> bool:
        return bool(self.attributes.get("administrator"))


def _pre_code(seat: _Seat, protective_fields: Sequence[str]) -> int | None:
    """:func:`assess`'s checks between the exclusions and the integration user, on attributes."""
    if seat.is_administrator and "administrator" not in seat.unknown:
        return 2
    if unknown_protection(seat, protective_fields):  # type: ignore[arg-type]
        return 3
    if seat.attributes.get("enabled") is False:
        return 4
    return None


@attrs.frozen(kw_only=True)
class _Compiled:
    sql_from: str
    #: :func:`assess`'s checks in order: (SQL condition, CASE value), the first that holds wins
    #: (none: idle)
    branches: tuple[tuple[str, int], ...]
    params: dict[str, Any]
    exclusions: tuple[ExclusionRule, ...]
    rules: Mapping[str, ReclamationRule]
    #: the seats' people, when a directory is loaded
    people: _People | None = None

    @property
    def verdict(self) -> str:
        """The verdict CASE: a code of :data:`_CODES`, or ``_EXCLUDED_BY`` + the exclusion
        rule's index (the plan's SQL compares it with ``_IDLE``)."""
        return self.case()

    def case(self, then: Callable[[int], str] = str) -> str:
        """The verdict CASE, each branch's result spelled by ``then(value)``."""
        whens = " ".join(f"WHEN {cond} THEN {then(v)}" for cond, v in self.branches)
        return f"CASE {whens} ELSE {then(_IDLE)} END"

    def seat(self, sub: Subscription) -> Subscription:
        """``sub`` with its person's ``directory.*`` facts (as the Python path sees it)."""
        return sub if not self.people else with_person(sub, self.people.of_seat(sub.id))

    def with_person(self, sub: Subscription, person: int | None) -> Subscription:
        """``sub`` with the facts of the person stored under ``person`` (None: nobody)."""
        if not self.people:
            return sub
        return with_person(sub, None if person is None else self.people.person(person))


#: The facts a person has, as ``directory.<name>`` (see :meth:`Person.facts`).
_PERSON_FACTS = frozenset(
    ("email", "name", "manager_email", "department", "cost_center", "employment_status")
)


def _directory_facts(
    exclusions: Sequence[ExclusionRule], rules: Mapping[str, ReclamationRule]
) -> tuple[str, ...]:
    """The ``directory.*`` facts the evaluation's rules name (reclaim exclusions and reclamation
    rule filters), without the prefix, sorted: only these can change a verdict."""
    named = [
        r.attribute or ""
        for r in exclusions
        if r.active and r.effect.excludes_reclaim and r.kind is ExclusionKind.ATTRIBUTE
    ]
    named += [k for r in rules.values() for k in r.filter]
    # only a person's own facts exist (Person.facts()); other names match no person
    found = {n.removeprefix("directory.") for n in named if n.startswith("directory.")}
    return tuple(sorted(found & _PERSON_FACTS))


class _People:
    """The people behind a profile's seats, read lazily: the seat → person map comes from SQL
    (leavers are marked in ``temp.eval_person``); a :class:`Person` is built only for a seat that
    needs its facts."""

    def __init__(self, db: sqlite3.Connection, found: bool) -> None:
        self._db, self._found = db, found
        self._cache: dict[int, Person] = {}

    def __bool__(self) -> bool:
        return self._found

    def person(self, pid: int) -> Person | None:
        """The person stored under ``pid`` (None for -1, "not in the directory")."""
        if pid < 0:
            return None
        found = self._cache.get(pid)
        if found is None:
            from ._convert import converter

            row = self._db.execute(
                "SELECT data FROM directory_people WHERE id = ?", (pid,)
            ).fetchone()
            found = self._cache[pid] = converter.structure(json.loads(row[0]), Person)
        return found

    def of_seat(self, sid: int) -> Person | None:
        """The person seat ``sid`` belongs to, or None."""
        row = self._db.execute("SELECT person FROM temp.eval_person WHERE sub = ?", (sid,))
        found = row.fetchone()
        return None if found is None else self.person(int(found[0]))


def _seat_people(
    db: sqlite3.Connection, profile: str, named: tuple[str, ...], dialect: EvaluationDialect
) -> tuple[_People, dict[int, dict[str, Any]]]:
    """Each seat of ``profile`` whose user the stored directory knows (none when no directory is
    loaded), by the same normalised look-up as the Python path, into ``temp.eval_person`` with
    the key of its person's ``named`` facts; and the facts of each key. People with the same
    named facts share a key, so the attribute checks run once per attribute row and key."""
    db.execute("DROP TABLE IF EXISTS temp.eval_person")
    db.execute(
        "CREATE TABLE temp.eval_person (sub INTEGER PRIMARY KEY, person INTEGER NOT NULL, "
        "fkey INTEGER NOT NULL, lead INTEGER NOT NULL)"
    )
    if db.execute("SELECT 1 FROM directory_people LIMIT 1").fetchone() is None:
        return _People(db, False), {}
    keys: dict[tuple[Any, ...], int] = {}
    key_of: dict[int, int] = {}
    columns = "".join(f", json_extract(data, '$.{name}')" for name in named)
    for pid, *values in db.execute(f"SELECT id{columns} FROM directory_people"):
        key_of[pid] = keys.setdefault(tuple(values), len(keys))
    facts = {
        k: {f"directory.{n}": v for n, v in zip(named, values, strict=True) if v}
        for values, k in keys.items()
    }
    by_address = dict(db.execute("SELECT address, person_id FROM directory_addresses"))
    leavers = {
        pid
        for (pid,) in db.execute(
            "SELECT id FROM directory_people WHERE json_extract(data, '$.employment_status') = ?",
            (LEAVER,),
        )
    }
    # a page of seats at a time (no list of every seat); lead 0: a leaver's seat, proposed
    # before the others
    found, last = False, 0
    while page := db.execute(
        "SELECT id, user_principal_name FROM subscriptions WHERE profile = ? AND id > ? "
        "ORDER BY id LIMIT 20000",
        (profile, last),
    ).fetchall():
        last = page[-1][0]
        rows = [
            (sid, pid, key_of[pid], int(pid not in leavers))
            for sid, upn in page
            if (pid := by_address.get(normalise_email(upn))) is not None
        ]
        if rows:
            dialect.insert_rows(db, "eval_person", 4, rows)
            found = True
    return _People(db, found), facts


def _compile(
    db: sqlite3.Connection,
    profile: str,
    *,
    now: dt.datetime,
    profile_type: str | None,
    exclusions: Sequence[ExclusionRule],
    rules: Mapping[str, ReclamationRule],
    integration_user_id: str | None,
    policy: EvaluationPolicy,
    protective_fields: Sequence[str],
    dialect: EvaluationDialect = SQLITE,
) -> _Compiled:
    """Temp tables of per-attribute-row facts and rule thresholds, and the verdict CASE."""
    excl = tuple(exclusions)
    attr_rules = [
        (i, r)
        for i, r in enumerate(excl)
        if r.active and r.effect.excludes_reclaim and r.kind is ExclusionKind.ATTRIBUTE
    ]
    filtered_models = [m for m, r in rules.items() if r.filter]
    named = _directory_facts(excl, rules)
    people, key_facts = _seat_people(db, profile, named, dialect)
    # rules on directory facts: decide per (attribute row, person's named facts)
    by_person = bool(people) and bool(named)
    db.execute("DROP TABLE IF EXISTS temp.eval_attrs")
    db.execute("DROP TABLE IF EXISTS temp.eval_filtered")
    db.execute("DROP TABLE IF EXISTS temp.eval_rules")
    db.execute(
        dialect.keyed_table(
            "eval_attrs",
            "id INTEGER NOT NULL, person INTEGER NOT NULL, excl INTEGER, pre INTEGER, "
            "la_unknown INTEGER NOT NULL, PRIMARY KEY (id, person)",
        )
    )
    db.execute(
        dialect.keyed_table(
            "eval_filtered",
            "attrs INTEGER NOT NULL, person INTEGER NOT NULL, model TEXT NOT NULL, "
            "PRIMARY KEY (attrs, person, model)",
        )
    )
    facts: list[tuple[int, int, int | None, int | None, int]] = []
    filtered: list[tuple[int, int, str]] = []
    rows = (
        db.execute(
            "SELECT DISTINCT s.attrs, COALESCE(ep.fkey, -1), sa.attributes, sa.unknown "
            "FROM subscriptions s JOIN seat_attrs sa ON sa.id = s.attrs "
            "LEFT JOIN temp.eval_person ep ON ep.sub = s.id WHERE s.profile = ?",
            (profile,),
        )
        if by_person
        else db.execute("SELECT id, -1, attributes, unknown FROM seat_attrs")
    )
    for attrs_id, person, attributes, unknown in rows:
        seen = {**key_facts.get(person, {}), **json.loads(attributes)}  # the seat's own win
        seat = _Seat(seen, frozenset(json.loads(unknown)))
        first = next((i for i, r in attr_rules if r.matches(seat, profile_type)), None)
        facts.append(
            (
                attrs_id,
                person,
                first,
                _pre_code(seat, protective_fields),
                int("last_activity" in seat.unknown),
            )
        )
        filtered.extend(
            (attrs_id, person, m) for m in filtered_models if not rules[m].applies_to(seat)
        )
    dialect.insert_rows(db, "eval_attrs", 5, facts)
    dialect.insert_rows(db, "eval_filtered", 3, filtered)

    # thresholds: "fewer than K days" (on the zone's calendar) is x >= the first instant of
    # the local day today - K + 1, exact in any zone
    today = now.astimezone(_zone(policy.timezone)).date()
    db.execute(
        dialect.keyed_table(
            "eval_rules",
            "model TEXT PRIMARY KEY, active INTEGER, has_filter INTEGER, g_since BIGINT, "
            "i_since BIGINT, candidates INTEGER",
        )
    )
    db.executemany(
        "INSERT INTO temp.eval_rules VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                model,
                int(r.active),
                int(bool(r.filter)),
                day_start_ms(today, r.new_account_grace_days - 1, policy.timezone),
                day_start_ms(today, r.inactivity_days - 1, policy.timezone),
                int(r.create_candidates),
            )
            for model, r in rules.items()
        ],
    )

    # exclusions in order: the first that matches is the reason
    params: dict[str, Any] = {"p": profile, "now": format_instant(now)}
    conds: list[tuple[int, str]] = []
    ascii_upn = dialect.is_ascii("s.user_principal_name")
    upn = "s.user_principal_name"

    def match(i: int, upn: str) -> bool:
        return excl[i].matches(_Seat({}, frozenset(), upn), profile_type)

    # user and domain rules are decided by the rule itself where SQL cannot be exact: for every
    # name (a user pattern with a character class, True) or for non-ASCII names only (False)
    in_python = {
        i: r.kind is ExclusionKind.USER and "[" in r.value
        for i, r in enumerate(excl)
        if r.active
        and r.effect.excludes_reclaim
        and r.kind in (ExclusionKind.USER, ExclusionKind.DOMAIN)
    }
    sl_match: Callable[[int], str] = (
        dialect.python_match(db, profile, match, in_python) if in_python else "{}".format
    )
    for i, rule in enumerate(excl):
        if not (rule.active and rule.effect.excludes_reclaim):
            continue
        if rule.kind is ExclusionKind.ATTRIBUTE:
            conds.append((i, f"ea.excl = {i}"))
        elif rule.kind is ExclusionKind.IDENTIFIER:
            if rule.profile_type is None or rule.profile_type == profile_type:
                params[f"x{i}"] = rule.value
                conds.append((i, f"s.identifier = :x{i}"))
        elif rule.kind is ExclusionKind.USER and "[" not in rule.value:
            # fnmatchcase on lower-cased names is LIKE ignoring ASCII case, on ASCII names
            params[f"x{i}"] = dialect.like_pattern(rule.value.lower())
            conds.append(
                (
                    i,
                    f"(CASE WHEN {ascii_upn} THEN {dialect.like(upn, f'x{i}')} "
                    f"ELSE {sl_match(i)} END)",
                )
            )
        elif rule.kind is ExclusionKind.DOMAIN:
            want = rule.value.lower().lstrip("@")
            if "@" in want:  # the part after a name's last "@" never holds one
                continue
            # the part after the last "@" (the whole name without one) is ``want`` or ends in
            # "." + ``want``: on an ASCII name, it ends in "@want" or ".want", or is ``want``
            esc = dialect.like_pattern(want)
            params[f"x{i}"], params[f"y{i}"], params[f"w{i}"] = "%@" + esc, "%." + esc, esc
            ends = " OR ".join(dialect.like(upn, f"{k}{i}") for k in "xyw")
            conds.append((i, f"(CASE WHEN {ascii_upn} THEN ({ends}) ELSE {sl_match(i)} END)"))
        else:  # a user pattern with a character class: fnmatch's own rules, row by row
            conds.append((i, sl_match(i)))
    try:
        params["stale"] = ceil_epoch_ms(now - policy.activity_max_age)
    except OverflowError:
        params["stale"] = MIN_MS
    params["me"] = integration_user_id

    # cooldowns: the few seats whose candidate keeps them until after now
    db.execute("DROP TABLE IF EXISTS temp.eval_cool")
    db.execute("CREATE TABLE temp.eval_cool (sub INTEGER PRIMARY KEY)")
    db.execute(
        "INSERT OR IGNORE INTO temp.eval_cool SELECT subscription_id FROM candidates "
        "WHERE profile = :p AND keep_until > :now",
        params,
    )
    grant = (
        "(CASE WHEN s.external_created IS NULL THEN s.assigned_at "
        "WHEN s.assigned_at IS NULL THEN s.external_created "
        "WHEN s.external_created > s.assigned_at THEN s.external_created ELSE s.assigned_at END)"
    )
    ref = f"COALESCE(s.last_activity, {grant})"
    branches: list[tuple[str, int]] = [("s.active = 0", 0)]
    branches += [(cond, _EXCLUDED_BY + i) for i, cond in conds]
    branches += [(f"ea.pre = {code}", code) for code in (2, 3, 4)]
    branches += [
        ("s.external_user_id = :me", 5),
        ("ea.la_unknown <> 0", 6),
        (f"{CHECKED} IS NULL", 6),
        (f"{CHECKED} < :stale", 7),
        ("r.model IS NULL OR r.active = 0", 8),
        (
            "r.has_filter <> 0 AND EXISTS (SELECT 1 FROM temp.eval_filtered f "
            "WHERE f.attrs = s.attrs AND f.person = ea.person AND f.model = r.model)",
            9,
        ),
        (f"{ref} IS NULL", 10),
        (f"{grant} >= r.g_since", 11),
        (f"{ref} >= r.i_since", 12),
        ("r.candidates = 0", 13),
        ("EXISTS (SELECT 1 FROM temp.eval_cool k WHERE k.sub = s.id)", 14),
    ]
    sql_from = (
        "subscriptions s LEFT JOIN temp.eval_person ep ON ep.sub = s.id "
        "CROSS JOIN temp.eval_attrs ea ON ea.id = s.attrs "
        "AND ea.person = COALESCE(ep.fkey, -1) "
        if by_person
        else "subscriptions s CROSS JOIN temp.eval_attrs ea ON ea.id = s.attrs AND ea.person = -1 "
    ) + f"LEFT JOIN temp.eval_rules r ON r.model = s.software_model {SEEN_JOIN}"
    return _Compiled(
        sql_from=sql_from,
        branches=tuple(branches),
        params=params,
        exclusions=excl,
        rules=rules,
        people=people,
    )


#: Zone names whose wall clock is UTC's at every instant; the first day of the epoch; a day.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})
_EPOCH_DAY = dt.date(1970, 1, 1)
_DAY_MS = 86_400_000
_new_tuple = tuple.__new__


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _assessment(
    value: int,
    sub: Subscription | None,
    c: _Compiled,
    *,
    now: dt.datetime,
    policy: EvaluationPolicy,
) -> Assessment:
    """The full :class:`Assessment` behind a CASE value (the rule, the days counted); ``sub`` is
    needed only for a verdict that carries a rule or days."""
    code, excl = _decode(value)
    verdict, with_rule, with_days = _CODES[code]
    if verdict is Verdict.EXCLUDED:
        return Assessment(verdict=verdict, exclusion=c.exclusions[excl or 0])
    if sub is None:
        return Assessment(verdict=verdict)
    rule = c.rules.get(sub.software_model or "") if with_rule else None
    days = None
    if with_days:
        grants = [d for d in (sub.external_created, sub.assigned_at) if d is not None]
        reference = sub.last_activity or max(grants)
        days = days_between(reference, now, policy.timezone)
    return Assessment(verdict=verdict, inactive_days=days, rule=rule)


def assess_profile(
    store: Any,
    profile: str,
    *,
    now: dt.datetime,
    profile_type: str | None,
    exclusions: Sequence[ExclusionRule],
    rules: Mapping[str, ReclamationRule],
    integration_user_id: str | None,
    policy: EvaluationPolicy | None = None,
    protective_fields: Sequence[str] = ("administrator",),
    active_only: bool = True,
) -> Iterator[tuple[Subscription, Assessment]]:
    """Every seat of ``profile`` with its :class:`Assessment`, decided in SQL; the same answers
    as :func:`assess` with the store's cooldowns (what the agreement tests compare)."""
    db: sqlite3.Connection = store._db
    policy = policy or EvaluationPolicy()
    with store._lock:
        c = _compile(
            db,
            profile,
            now=now,
            profile_type=profile_type,
            exclusions=exclusions,
            rules=rules,
            integration_user_id=integration_user_id,
            policy=policy,
            protective_fields=protective_fields,
            dialect=_dialect(store),
        )
        where = "s.profile = :p" + (" AND s.active = 1" if active_only else "")
        rows = db.execute(
            f"SELECT s.id, {c.case()} FROM {c.sql_from} WHERE {where} ORDER BY s.id", c.params
        ).fetchall()
    subs = {s.id: s for s in store.iter_subscriptions(profile, active_only=active_only)}
    for sid, value in rows:
        sub = c.seat(subs[sid])  # as evaluated: with its person's facts
        yield sub, _assessment(value, sub, c, now=now, policy=policy)


#: One character per seat in the evaluation's tally: ``chr(_TALLY + 2 * code + open)``, where
#: ``open`` is 1 when the seat has an open candidate ("A" to "`": no digit, ":" or ",")
_TALLY = 65
#: a listed seat in the tally: its character, its id, ":" and the exclusion rule's index when
#: it has one, then ","
_LISTED = re.compile(r"([A-`])(\d+)(?::(\d+))?,")
_PAGE = 500
#: how many evaluations' lists a store keeps (each evaluation lists into its own temp table)
_KEPT = 8


def _token(value: int) -> str:
    """The SQL of one seat's part of the tally, for the CASE branch of ``value``: one character,
    followed by the seat's id for the seats the evaluation must act on (new proposals, open
    candidates to cancel or skip)."""
    code, excl = _decode(value)
    free, held = chr(_TALLY + 2 * code), chr(_TALLY + 2 * code + 1)
    suffix = "," if excl is None else f":{excl},"

    def listed(ch: str) -> str:
        return f"'{ch}' || s.id || '{suffix}'"

    no_open = listed(free) if code == _IDLE else f"'{free}'"
    with_open = listed(held) if code in _CANCEL_CODES | _SKIP_CODES else f"'{held}'"
    return f"CASE WHEN eo.sub IS NULL THEN {no_open} ELSE {with_open} END"


class _Listed:
    """Open candidates the evaluation cancels or skips, with their assessments: counted, and
    read from the store a page at a time when iterated (never held all at once)."""

    def __init__(
        self, pages: Callable[[], Iterator[list[tuple[RemovalCandidate, Assessment]]]], count: int
    ) -> None:
        self._pages, self._count = pages, count

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[tuple[RemovalCandidate, Assessment]]:
        for page in self._pages():
            yield from page

    def __repr__(self) -> str:
        return f"<{self._count} candidates>"


class ProposedSeat(NamedTuple):
    """A seat the evaluation proposes, with what a new candidate needs of it: the seat's own
    columns, read together with the proposal from the evaluation's temp table (not a whole
    :class:`Subscription`), its idle days and its rule. ``attributes`` (read-only, shared by
    the seats of one attribute row and person) carry the person's ``directory.*`` facts: the
    evaluation already looked each seat's person up."""

    id: int
    profile: str
    external_user_id: str
    user_principal_name: str
    identifier: str
    software_model: str | None
    #: the last activity as the store keeps it (integer epoch milliseconds), or None
    last_activity_ms: int | None
    attributes: Mapping[str, Any]
    inactive_days: int
    rule: ReclamationRule

    @property
    def last_activity(self) -> dt.datetime | None:
        """The last activity as an instant (None: never active)."""
        ms = self.last_activity_ms
        return None if ms is None else from_epoch_ms(ms)

    @property
    def directory_checked(self) -> bool:
        """Always True: the seat's person (if any) is already in :attr:`attributes`."""
        return True


@attrs.frozen(kw_only=True)
class SetEvaluation:
    """What one set-based evaluation decided (as :class:`~saas_license._evaluation.Evaluation`):
    verdicts and candidates that stay are counted; new proposals, cancellations and skips are
    kept in the store's temp tables and read a page at a time, so memory does not grow with
    them. They are valid until the next evaluation on the same store (which replaces them:
    reading an older one then raises :class:`RuntimeError`)."""

    #: How many new proposals :meth:`proposals` yields.
    proposed: int
    still_idle: int
    to_cancel: _Listed
    to_skip: _Listed
    verdicts: Mapping[str, int]
    _proposals: Any = attrs.field(default=None, eq=False, repr=False, alias="proposals")
    _seats: Any = attrs.field(default=None, eq=False, repr=False, alias="seats")

    def proposals(self, batch: int = _PAGE) -> Iterator[list[tuple[Subscription, Assessment]]]:
        """The new proposals with their seats (leavers' seats first, then in seat order), read
        from the store ``batch`` at a time (never all at once)."""
        return self._proposals(batch)  # type: ignore[no-any-return]

    def proposed_seats(self, batch: int = _PAGE) -> Iterator[list[ProposedSeat]]:
        """The new proposals as :meth:`proposals` yields them (same seats, same order, same
        idle days and rules), each as the lean :class:`ProposedSeat` a new candidate is made
        from: the seat's columns come with the proposal in one query, no seat is read back."""
        return self._seats(batch)  # type: ignore[no-any-return]


def evaluate_profile(
    store: Any,
    profile: str,
    *,
    now: dt.datetime,
    profile_type: str | None,
    exclusions: Sequence[ExclusionRule],
    rules: Sequence[ReclamationRule],
    integration_user_id: str | None,
    policy: EvaluationPolicy | None = None,
    protective_fields: Sequence[str] = ("administrator",),
) -> SetEvaluation:
    """:func:`~saas_license._evaluation.evaluate` over a profile's stored seats, set-based.

    One SQL pass decides every seat and returns a tally: one character per seat (its verdict,
    and whether it has an open candidate), followed by its id only for the seats to act on.
    Verdicts are counted from it in Python (SQLite has no hash aggregate: a ``GROUP BY`` would
    sort a million verdicts); the listed seats go into a temp table of this evaluation's own
    (``eval_hits_<n>``), read back a page at a time. No other seat, and no seat's data, is
    read into Python.
    """
    by_model = {r.software_model: r for r in rules if r.active}
    db: sqlite3.Connection = store._db
    policy = policy or EvaluationPolicy()
    open_states = {f"o{n}": s for n, s in enumerate(sorted(s.value for s in OPEN_STATES))}
    dialect = _dialect(store)
    with store._lock:
        # each evaluation lists into its own table, so two evaluations of one store (e.g. the
        # scheduler and the console, different profiles) never read each other's lists; the
        # store keeps the newest _KEPT
        serial = getattr(store, "_evaluation_serial", 0) + 1
        store._evaluation_serial = serial
        hits = f"eval_hits_{serial}"
        if serial > _KEPT:
            db.execute(f"DROP TABLE IF EXISTS temp.eval_hits_{serial - _KEPT}")
        c = _compile(
            db,
            profile,
            now=now,
            profile_type=profile_type,
            exclusions=exclusions,
            rules=by_model,
            integration_user_id=integration_user_id,
            policy=policy,
            protective_fields=protective_fields,
            dialect=dialect,
        )
        for name in ("eval_open", "eval_need", hits):
            db.execute(f"DROP TABLE IF EXISTS temp.{name}")
        db.execute("CREATE TABLE temp.eval_open (sub INTEGER PRIMARY KEY, cand INTEGER NOT NULL)")
        # one open candidate per seat (the lowest id, as the row-by-row path keeps)
        db.execute(
            "INSERT OR IGNORE INTO temp.eval_open SELECT subscription_id, id FROM candidates "
            f"WHERE profile = :p AND state IN ({', '.join(':' + k for k in open_states)}) "
            "ORDER BY subscription_id, id",
            {"p": profile, **open_states},
        )
        db.execute(
            "CREATE TABLE temp.eval_need (sub INTEGER PRIMARY KEY, kind TEXT NOT NULL, value INTEGER NOT NULL)"
        )
        db.execute(
            dialect.keyed_table(
                hits,
                "kind TEXT NOT NULL, lead INTEGER NOT NULL, sub INTEGER NOT NULL, "
                "value INTEGER NOT NULL, cand INTEGER, person INTEGER, "
                "PRIMARY KEY (kind, lead, sub)",
            )
        )
        # the one pass over the profile's seats
        (tally,) = db.execute(
            f"SELECT {dialect.concat(c.case(_token))} FROM {c.sql_from} "
            "LEFT JOIN temp.eval_open eo ON eo.sub = s.id WHERE s.profile = :p AND s.active = 1",
            c.params,
        ).fetchone()
        tally = tally or ""
        # (verdict code, has an open candidate) -> seats; digits and separators are not codes
        counts = {
            divmod(k, 2): n
            for ch, n in Counter(tally).items()
            if 0 <= (k := ord(ch) - _TALLY) < 2 * len(_CODES)
        }
        listed = _LISTED.finditer(tally)
        while chunk := [_need(m) for m in itertools.islice(listed, 5000)]:
            dialect.insert_rows(db, "eval_need", 3, chunk)
        del tally, listed
        db.execute(
            f"INSERT INTO temp.{hits} SELECT n.kind, "
            "CASE WHEN n.kind = 'P' THEN COALESCE(ep.lead, 1) ELSE 1 END, n.sub, n.value, eo.cand, "
            "ep.person "
            "FROM temp.eval_need n LEFT JOIN temp.eval_open eo ON eo.sub = n.sub "
            "LEFT JOIN temp.eval_person ep ON ep.sub = n.sub"
        )
        # open candidates whose seat is gone (or inactive): skipped; looked for only when the
        # pass met fewer open candidates than there are
        met = sum(n for (_, held), n in counts.items() if held)
        if db.execute("SELECT COUNT(*) FROM temp.eval_open").fetchone()[0] > met:
            db.execute(
                f"INSERT INTO temp.{hits} SELECT 'S', 1, o.sub, 0, o.cand, NULL "
                "FROM temp.eval_open o WHERE NOT EXISTS (SELECT 1 FROM subscriptions s "
                "WHERE s.id = o.sub AND s.profile = :p AND s.active = 1)",
                {"p": profile},
            )
        listed_counts = dict(
            db.execute(f"SELECT kind, COUNT(*) FROM temp.{hits} GROUP BY kind").fetchall()
        )
    verdicts: Counter[str] = Counter()
    for (code, _), n in counts.items():
        verdicts[_CODES[code][0].value] += n
    still = sum(
        n for (code, held), n in counts.items() if held and code not in _CANCEL_CODES | _SKIP_CODES
    )

    def current() -> None:
        if getattr(store, "_evaluation_serial", 0) - serial >= _KEPT:
            raise RuntimeError(
                f"{_KEPT} later evaluations of this store replaced this one's lists: "
                "read them before evaluating again"
            )

    def pages(kind: str, batch: int) -> Iterator[list[tuple[int, int, int | None, int | None]]]:
        after = (-1, -1)
        while True:
            with store._lock:
                current()
                rows = db.execute(
                    f"SELECT lead, sub, value, cand, person FROM temp.{hits} WHERE kind = ? "
                    "AND (lead, sub) > (?, ?) ORDER BY lead, sub LIMIT ?",
                    (kind, after[0], after[1], batch),
                ).fetchall()
            if not rows:
                return
            after = (rows[-1][0], rows[-1][1])
            yield [(sub, value, cand, person) for _, sub, value, cand, person in rows]

    def proposals(batch: int) -> Iterator[list[tuple[Subscription, Assessment]]]:
        for page in pages("P", batch):
            found = store.subscriptions_by_id([sub for sub, _, _, _ in page])
            yield [
                (
                    # with the person's facts: approvers read the manager
                    c.with_person(found[sub], person),
                    _assessment(value, found[sub], c, now=now, policy=policy),
                )
                for sub, value, _, person in page
            ]

    zone = _zone(policy.timezone)
    today = now.astimezone(zone).date()
    # in UTC a stored instant's day is its milliseconds floored to whole days: no datetime
    # built per seat (any other zone converts each instant)
    in_utc = policy.timezone in _UTC_NAMES
    today_ms_day = (today - _EPOCH_DAY).days

    def seats(batch: int) -> Iterator[list[ProposedSeat]]:
        # the seat's columns joined to each proposal (one query a page, index seeks on both
        # sides); attributes decoded once per attribute row and person
        shared: dict[tuple[int, int | None], Mapping[str, Any]] = {}
        after = (-1, -1)
        while True:
            with store._lock:
                current()
                rows = db.execute(
                    "SELECT h.lead, h.sub, h.person, s.profile, s.external_user_id, "
                    "s.user_principal_name, s.identifier, s.software_model, s.last_activity, "
                    "s.external_created, s.assigned_at, s.attrs, a.attributes "
                    f"FROM temp.{hits} h CROSS JOIN subscriptions s ON s.id = h.sub "
                    "CROSS JOIN seat_attrs a ON a.id = s.attrs "
                    "WHERE h.kind = 'P' AND (h.lead, h.sub) > (?, ?) "
                    "ORDER BY h.lead, h.sub LIMIT ?",
                    (after[0], after[1], batch),
                ).fetchall()
            if not rows:
                return
            after = (rows[-1][0], rows[-1][1])
            page = []
            for _, sid, person, prof, uid, upn, ident, model, la, ec, aa, aid, text in rows:
                key = (aid, person)
                attributes = shared.get(key)
                if attributes is None:
                    if len(shared) > 4096:  # many distinct rows: keep memory flat
                        shared.clear()
                    seen: dict[str, Any] = json.loads(text)
                    if c.people and person is not None:
                        seen = seat_facts(seen, c.people.person(person))
                    attributes = shared[key] = MappingProxyType(seen)
                # as _assessment: the last activity, else the later of the grants
                reference = la if la is not None else max(g for g in (ec, aa) if g is not None)
                if in_utc:
                    days = today_ms_day - reference // _DAY_MS
                else:
                    days = (today - from_epoch_ms(reference).astimezone(zone).date()).days
                # ProposedSeat(...) without its generated __new__ (the same tuple)
                page.append(
                    _new_tuple(
                        ProposedSeat,
                        (sid, prof, uid, upn, ident, model, la, attributes, days, c.rules[model]),
                    )
                )
            yield page

    def candidates(kind: str) -> Iterator[list[tuple[RemovalCandidate, Assessment]]]:
        for page in pages(kind, _PAGE):
            by_id = {cand.id: cand for cand in store.list_candidates(ids=[r[2] for r in page])}
            seats = store.subscriptions_by_id(
                [sub for sub, value, _, _ in page if _CODES[_decode(value)[0]][1]]
            )
            yield [
                (by_id[cand], _assessment(value, seats.get(sub), c, now=now, policy=policy))
                for sub, value, cand, _ in page
            ]

    return SetEvaluation(
        proposed=listed_counts.get("P", 0),
        still_idle=still,
        to_cancel=_Listed(lambda: candidates("C"), listed_counts.get("C", 0)),
        to_skip=_Listed(lambda: candidates("S"), listed_counts.get("S", 0)),
        verdicts=dict(verdicts),
        proposals=proposals,
        seats=seats,
    )


def _need(m: re.Match[str]) -> tuple[int, str, int]:
    """A listed seat of the tally as (seat id, kind, CASE value): kind "P" for a new proposal,
    "C" for an open candidate to cancel, "S" for one to skip."""
    code, held = divmod(ord(m[1]) - _TALLY, 2)
    value = code if m[3] is None else _EXCLUDED_BY + int(m[3])
    kind = "P" if not held else "C" if code in _CANCEL_CODES else "S"
    return int(m[2]), kind, value
