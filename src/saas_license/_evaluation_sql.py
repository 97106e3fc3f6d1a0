"""Set-based evaluation: :func:`~saas_license._evaluation.assess` for a whole profile, in SQL.

:func:`assess` stays the one definition of a verdict; this module compiles the same checks, in
the same order, into one ``CASE`` over the seats' indexed columns. What SQL cannot decide
exactly falls back, row by row, to :func:`assess` itself:

- checks on a seat's attributes (attribute exclusions, administrator, unknown protection,
  ``enabled``, an unknown last activity, reclamation rule filters) run in Python once per
  *distinct* attribute row (``seat_attrs``, shared by many seats) and are joined in;
- user and domain exclusions compare lower-cased ASCII principal names in SQL; a non-ASCII
  name, or a pattern with ``[``, goes through the rule's own :meth:`ExclusionRule.matches`;
- day counts are exact in SQL in any zone, DST included: seats store instants as integer
  epoch milliseconds, and "fewer than K days" is a comparison with the first instant of the
  zone's local day ``today - K + 1`` (:func:`~saas_license._time.day_start_ms`);
- with a user directory loaded, each seat's person is found once (``temp.eval_person``, by the
  same normalised look-up as the Python path); when a rule names a ``directory.*`` fact, the
  attribute checks run once per distinct *(attribute row, person)* pair instead, on the seat's
  attributes with the person's facts added, and every seat handed to :func:`assess` carries
  them too. Leavers' proposals come first.

The few pieces that differ between database engines (a Python SQL function, ``GLOB``, JSON
aggregates, keyed temp tables, bulk inserts) go through an :class:`EvaluationDialect`: SQLite's
is this module's; a store names its own in ``_evaluation_dialect`` (PostgreSQL's is
``_store/_postgres/evaluation.py``), and the rest of the SQL is the same on both.

Agreement with :func:`assess` is property-tested (``tests/test_evaluation_sql.py``; on both
stores, ``tests/postgres/test_evaluation_sql_both.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from ._candidates.records import OPEN_STATES, RemovalCandidate
from ._directory.facts import LEAVER, with_person
from ._directory.records import Person, normalise_email
from ._evaluation import Assessment, EvaluationPolicy, Verdict, assess, unknown_protection
from ._rules import ExclusionKind, ExclusionRule, ReclamationRule
from ._subscriptions import Subscription
from ._time import MIN_MS, ceil_epoch_ms, day_start_ms, days_between, format_instant

__all__ = ["EvaluationDialect", "SetEvaluation", "assess_profile", "evaluate_profile"]

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
#: hands a row back to :func:`assess` (no check needs it since instants are integers: kept for
#: any check SQL cannot decide exactly)
_FALLBACK = 99


class EvaluationDialect:
    """The engine-specific pieces of the evaluation's SQL, as SQLite spells them.

    Everything else is plain SQL both engines run (PostgreSQL's through its dialect
    connection). A store on another engine subclasses this and names an instance in its
    ``_evaluation_dialect`` attribute.
    """

    def is_ascii(self, column: str) -> str:
        """True when the text ``column`` holds only ASCII characters."""
        return f"length({column}) = length(CAST({column} AS BLOB))"

    def glob(self, column: str, param: str) -> str:
        """``column`` matches the pattern in ``:param`` (made by :meth:`glob_pattern`)."""
        return f"{column} GLOB :{param}"

    def glob_pattern(self, pattern: str) -> str:
        """An fnmatch pattern without ``[`` as :meth:`glob` reads it."""
        return pattern

    def json_rows(self, columns: Sequence[str], where: str) -> str:
        """An aggregate of ``columns`` of the rows where ``where`` holds, as the text of a JSON
        array of arrays (NULL when no row does)."""
        return f"json_group_array(json_array({', '.join(columns)})) FILTER (WHERE {where})"

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
    verdict: str
    verdict_excluded: str
    exclusion: str
    params: dict[str, Any]
    exclusions: tuple[ExclusionRule, ...]
    rules: Mapping[str, ReclamationRule]
    #: the seats' people, when a directory is loaded
    people: _People | None = None

    def seat(self, sub: Subscription) -> Subscription:
        """``sub`` with its person's ``directory.*`` facts (as the Python path sees it)."""
        return sub if not self.people else with_person(sub, self.people.of_seat(sub.id))


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
    """The people behind a profile's seats, read lazily: the seat → person map and the leavers
    come from SQL; a :class:`Person` is built only for a seat that needs its facts."""

    def __init__(self, db: sqlite3.Connection, seats: dict[int, int], leavers: set[int]) -> None:
        self._db, self.seats, self._leavers = db, seats, leavers
        self._cache: dict[int, Person] = {}

    def __bool__(self) -> bool:
        return bool(self.seats)

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
        pid = self.seats.get(sid)
        return None if pid is None else self.person(pid)

    def leaver_seats(self) -> set[int]:
        """The seats whose person's employment status is ``leaver``."""
        return {sid for sid, pid in self.seats.items() if pid in self._leavers}


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
        "fkey INTEGER NOT NULL)"
    )
    if db.execute("SELECT 1 FROM directory_people LIMIT 1").fetchone() is None:
        return _People(db, {}, set()), {}
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
    pairs = [
        (sid, pid)
        for sid, upn in db.execute(
            "SELECT id, user_principal_name FROM subscriptions WHERE profile = ?", (profile,)
        )
        if (pid := by_address.get(normalise_email(upn))) is not None
    ]
    dialect.insert_rows(db, "eval_person", 3, [(sid, pid, key_of[pid]) for sid, pid in pairs])
    leavers = {
        pid
        for (pid,) in db.execute(
            "SELECT id FROM directory_people WHERE json_extract(data, '$.employment_status') = ?",
            (LEAVER,),
        )
    }
    return _People(db, dict(pairs), leavers), facts


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
        "CREATE TABLE temp.eval_attrs (id INTEGER NOT NULL, person INTEGER NOT NULL, "
        "excl INTEGER, pre INTEGER, la_unknown INTEGER NOT NULL, PRIMARY KEY (id, person))"
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
        "CREATE TABLE temp.eval_rules (model TEXT PRIMARY KEY, active INTEGER, "
        "has_filter INTEGER, g_since BIGINT, i_since BIGINT, candidates INTEGER)"
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
            params[f"x{i}"] = dialect.glob_pattern(rule.value.lower())
            conds.append(
                (
                    i,
                    f"(CASE WHEN {ascii_upn} THEN "
                    f"{dialect.glob('lower(s.user_principal_name)', f'x{i}')} "
                    f"ELSE {sl_match(i)} END)",
                )
            )
        elif rule.kind is ExclusionKind.DOMAIN:
            want = rule.value.lower().lstrip("@")
            params[f"x{i}"], params[f"y{i}"] = "@" + want, "." + want
            lu = "lower(s.user_principal_name)"
            ends = "(length({lu}) >= length(:{k}) AND substr({lu}, length({lu}) - length(:{k}) + 1) = :{k})"
            same = (
                "FALSE"
                if "@" in want
                else f"({ends.format(lu=lu, k=f'x{i}')} OR (instr({lu}, '@') = 0 AND {lu} = :w{i}))"
            )
            params[f"w{i}"] = want
            sub = "FALSE" if "@" in want else ends.format(lu=lu, k=f"y{i}")
            conds.append(
                (
                    i,
                    f"(CASE WHEN {ascii_upn} THEN ({same} OR {sub}) ELSE {sl_match(i)} END)",
                )
            )
        else:  # a user pattern with a character class: fnmatch's own rules, row by row
            conds.append((i, sl_match(i)))
    exclusion = (
        "CASE " + " ".join(f"WHEN {c} THEN {i}" for i, c in conds) + " END" if conds else "NULL"
    )
    try:
        params["stale"] = ceil_epoch_ms(now - policy.activity_max_age)
    except OverflowError:
        params["stale"] = MIN_MS
    params["me"] = integration_user_id
    grant = (
        "(CASE WHEN s.external_created IS NULL THEN s.assigned_at "
        "WHEN s.assigned_at IS NULL THEN s.external_created "
        "WHEN s.external_created > s.assigned_at THEN s.external_created ELSE s.assigned_at END)"
    )
    ref = f"COALESCE(s.last_activity, {grant})"
    verdict = f"""CASE
        WHEN s.active = 0 THEN 0
        WHEN ({" OR ".join(c for _, c in conds) or "FALSE"}) THEN 1
        WHEN ea.pre IS NOT NULL THEN ea.pre
        WHEN s.external_user_id = :me THEN 5
        WHEN ea.la_unknown <> 0 THEN 6
        WHEN s.activity_checked_at IS NULL THEN 6
        WHEN s.activity_checked_at < :stale THEN 7
        WHEN r.model IS NULL OR r.active = 0 THEN 8
        WHEN r.has_filter <> 0 AND EXISTS (SELECT 1 FROM temp.eval_filtered f
            WHERE f.attrs = s.attrs AND f.person = ea.person AND f.model = r.model) THEN 9
        WHEN {ref} IS NULL THEN 10
        WHEN {grant} >= r.g_since THEN 11
        WHEN {ref} >= r.i_since THEN 12
        WHEN r.candidates = 0 THEN 13
        WHEN EXISTS (SELECT 1 FROM candidates c WHERE c.subscription_id = s.id
            AND c.profile = s.profile AND c.keep_until > :now) THEN 14
        ELSE {_IDLE} END"""
    sql_from = (
        "subscriptions s LEFT JOIN temp.eval_person ep ON ep.sub = s.id "
        "CROSS JOIN temp.eval_attrs ea ON ea.id = s.attrs "
        "AND ea.person = COALESCE(ep.fkey, -1) "
        if by_person
        else "subscriptions s CROSS JOIN temp.eval_attrs ea ON ea.id = s.attrs AND ea.person = -1 "
    ) + "LEFT JOIN temp.eval_rules r ON r.model = s.software_model"
    return _Compiled(
        sql_from=sql_from,
        verdict=verdict,
        verdict_excluded="FALSE" if not conds else "s.active = 1",
        exclusion=exclusion,
        params=params,
        exclusions=excl,
        rules=rules,
        people=people,
    )


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _assessment(
    code: int,
    excl: int | None,
    sub: Subscription,
    c: _Compiled,
    *,
    now: dt.datetime,
    policy: EvaluationPolicy,
) -> Assessment:
    """The full :class:`Assessment` behind a SQL verdict code (the rule, the days counted)."""
    verdict, with_rule, with_days = _CODES[code]
    if verdict is Verdict.EXCLUDED:
        return Assessment(verdict=verdict, exclusion=c.exclusions[excl or 0])
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
    """Every seat of ``profile`` with its :class:`Assessment`, decided in SQL (row by row only
    where SQL cannot be exact); the same answers as :func:`assess` with the store's cooldowns."""
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
            f"SELECT s.id, {c.verdict}, {c.exclusion} FROM {c.sql_from} WHERE {where} "
            "ORDER BY s.id",
            c.params,
        ).fetchall()
    subs = {s.id: s for s in store.iter_subscriptions(profile, active_only=active_only)}
    cooldowns = store.cooldowns(profile, now=now)
    for sid, code, excl in rows:
        sub = c.seat(subs[sid])  # as evaluated: with its person's facts
        if code == _FALLBACK:
            yield (
                sub,
                _fallback(
                    sub,
                    c,
                    now=now,
                    policy=policy,
                    cooldowns=cooldowns,
                    profile_type=profile_type,
                    integration_user_id=integration_user_id,
                    protective_fields=protective_fields,
                ),
            )
        else:
            yield sub, _assessment(code, excl, sub, c, now=now, policy=policy)


def _fallback(
    sub: Subscription,
    c: _Compiled,
    *,
    now: dt.datetime,
    policy: EvaluationPolicy,
    cooldowns: Mapping[int, dt.datetime],
    profile_type: str | None,
    integration_user_id: str | None,
    protective_fields: Sequence[str],
) -> Assessment:
    return assess(
        c.seat(sub),
        now=now,
        profile_type=profile_type,
        exclusions=c.exclusions,
        rules=c.rules,
        integration_user_id=integration_user_id,
        policy=policy,
        cooldown_until=cooldowns.get(sub.id),
        protective_fields=protective_fields,
    )


@attrs.frozen(kw_only=True)
class SetEvaluation:
    """What one set-based evaluation decided (as :class:`~saas_license._evaluation.Evaluation`,
    with the candidates that stay counted, not listed)."""

    #: The seats to propose, by id, in order (with the assessment when :func:`assess` gave it).
    proposal_ids: tuple[tuple[int, Assessment | None], ...]
    still_idle: int
    to_cancel: tuple[tuple[RemovalCandidate, Assessment], ...]
    to_skip: tuple[tuple[RemovalCandidate, Assessment], ...]
    verdicts: Mapping[str, int]
    fallback_rows: int = 0
    _resolve: Any = attrs.field(default=None, eq=False, repr=False, alias="resolve")

    def proposals(self, batch: int = 500) -> Iterator[list[tuple[Subscription, Assessment]]]:
        """The new proposals with their seats, read from the store ``batch`` at a time (never
        all at once)."""
        for n in range(0, len(self.proposal_ids), batch):
            yield self._resolve(self.proposal_ids[n : n + batch])


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

    Verdicts are counted in SQL; only new proposals, seats with an open candidate and the rare
    rows SQL hands back to :func:`assess` are read into Python.
    """
    by_model = {r.software_model: r for r in rules if r.active}
    db: sqlite3.Connection = store._db
    policy = policy or EvaluationPolicy()
    open_states = sorted(s.value for s in OPEN_STATES)
    marks = ", ".join("?" * len(open_states))
    dialect = _dialect(store)
    with store._lock:
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
        db.execute("DROP TABLE IF EXISTS temp.eval_open")
        db.execute(
            "CREATE TABLE temp.eval_open (sub INTEGER PRIMARY KEY, candidate INTEGER NOT NULL)"
        )
        db.execute(
            "INSERT OR IGNORE INTO temp.eval_open SELECT subscription_id, MIN(id) FROM candidates "
            f"WHERE profile = ? AND state IN ({marks}) GROUP BY subscription_id",
            (profile, *open_states),
        )
        # one pass: every verdict counted, and only the rows that matter listed (as JSON)
        base = f"FROM {c.sql_from} WHERE s.profile = :p AND s.active = 1"
        grouped = db.execute(
            "SELECT v, COUNT(*), "
            + dialect.json_rows(("id", "x", "o"), f"o IS NOT NULL OR v IN ({_IDLE}, {_FALLBACK})")
            + " "
            f"FROM (SELECT s.id AS id, {c.verdict} AS v, "
            f"CASE WHEN {c.verdict_excluded} THEN {c.exclusion} END AS x, "
            f"(SELECT candidate FROM temp.eval_open WHERE sub = s.id) AS o {base}) AS t GROUP BY v",
            c.params,
        ).fetchall()
        counts = {v: n for v, n, _ in grouped}
        interesting = sorted(
            (int(r[0]), v, r[1], r[2]) for v, _, rows in grouped for r in json.loads(rows or "[]")
        )
        vanished = [
            r[0]
            for r in db.execute(
                "SELECT o.candidate FROM temp.eval_open o WHERE NOT EXISTS (SELECT 1 FROM "
                "subscriptions s WHERE s.id = o.sub AND s.profile = ? AND s.active = 1) "
                "ORDER BY o.candidate",
                (profile,),
            )
        ]
    verdicts: Counter[str] = Counter()
    for code, n in counts.items():
        if code != _FALLBACK:
            verdicts[_CODES[code][0].value] += n
    cooldowns = store.cooldowns(profile, now=now) if counts.get(_FALLBACK) else {}
    proposal_ids: list[tuple[int, Assessment | None]] = []
    still = 0
    cancel: list[tuple[RemovalCandidate, Assessment]] = []
    skip: list[tuple[RemovalCandidate, Assessment]] = []
    fallback = 0
    # seats whose candidate simply stays idle are never read; new proposals are read later,
    # a batch at a time
    needed = []
    for row in interesting:
        if row[3] is None and row[1] == _IDLE:
            proposal_ids.append((row[0], None))
        elif row[3] is not None and row[1] == _IDLE:
            still += 1
        else:
            needed.append(row)
    subs = store.subscriptions_by_id([r[0] for r in needed])
    candidates = {
        cand.id: cand for cand in _candidates(store, [r[3] for r in needed if r[3] is not None])
    }
    for sid, code, excl, open_id in needed:
        sub = subs[sid]
        if code == _FALLBACK:
            fallback += 1
            result = _fallback(
                sub,
                c,
                now=now,
                policy=policy,
                cooldowns=cooldowns,
                profile_type=profile_type,
                integration_user_id=integration_user_id,
                protective_fields=protective_fields,
            )
            verdicts[result.verdict.value] += 1
        else:
            result = _assessment(code, excl, sub, c, now=now, policy=policy)
        if open_id is None:
            if result.idle:
                proposal_ids.append((sid, result))
            continue
        candidate = candidates[open_id]
        if result.idle:
            still += 1
        elif result.verdict.protects:
            skip.append((candidate, result))
        elif result.verdict in (Verdict.ACTIVE, Verdict.NEW_ACCOUNT_GRACE):
            cancel.append((candidate, result))
        else:
            still += 1
    # leavers' seats first (then in seat order), as the row-by-row path proposes them
    leavers = c.people.leaver_seats() if c.people else set()
    proposal_ids.sort(key=lambda p: (p[0] not in leavers, p[0]))

    def resolve(
        chunk: Sequence[tuple[int, Assessment | None]],
    ) -> list[tuple[Subscription, Assessment]]:
        found = store.subscriptions_by_id([sid for sid, _ in chunk])
        return [
            (
                c.seat(found[sid]),  # with the person's facts: approvers read the manager
                a or _assessment(_IDLE, None, found[sid], c, now=now, policy=policy),
            )
            for sid, a in chunk
        ]

    for cand in _candidates(store, vanished):
        skip.append((cand, Assessment(verdict=Verdict.INACTIVE_SEAT)))
    return SetEvaluation(
        proposal_ids=tuple(proposal_ids),
        still_idle=still,
        to_cancel=tuple(cancel),
        to_skip=tuple(skip),
        verdicts=dict(verdicts),
        fallback_rows=fallback,
        resolve=resolve,
    )


def _candidates(store: Any, ids: Sequence[int]) -> list[RemovalCandidate]:
    out: list[RemovalCandidate] = []
    for n in range(0, len(ids), 500):
        out.extend(store.list_candidates(ids=ids[n : n + 500]))
    return out
