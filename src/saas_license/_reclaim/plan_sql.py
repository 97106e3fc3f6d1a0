"""The common plan decision in SQL: a ready (or released) candidate whose seat SQL finds idle.

Most open candidates of a daily run are plain: ready or awaiting revocation, their seat active
and idle, their rule known, their model priced. For those the plan needs no Python object: the
seat's verdict comes from the set-based evaluation's own SQL (the one a Hypothesis test holds
equal to :func:`~saas_license._evaluation.assess`), and the item is staged by reference from
the row. Every other candidate (waiting for a person, a reclaim of unknown outcome, a seat gone
or not idle, no rule or no price, a directory loaded) goes through the plan's Python decision
as before, so the plan is the same item for item (``tests/test_plan_stream.py``).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._candidates.records import OPEN_STATES, CandidateState
from .._store._sqlite.plans import NOTIFY_ACTION, PlanRow, StagedBlock
from .._store._sqlite.seen import CHECKED

if TYPE_CHECKING:
    from .planning import _Decider

__all__ = ["sql_plan_rows"]

#: Open candidates read per page (their ids and seats only).
PAGE = 2000

_PLAIN = (CandidateState.READY.value, CandidateState.AWAITING_REVOCATION.value)


def sql_plan_rows(
    store: Any,
    decide: _Decider,
    *,
    scope: str,
    protective_fields: tuple[str, ...] | list[str],
    slow: Callable[[list[int]], Iterator[tuple[int, PlanRow]]],
) -> Iterator[PlanRow | StagedBlock] | None:
    """The plan's rows in candidate order, plain ones staged in SQL (a :class:`StagedBlock` a page),
    the rest by ``slow`` (given the page's other candidate ids, yields ``(id, row)``). None
    when this store or workspace cannot (not a set-based SQL store, a directory loaded)."""
    from .._evaluation_sql import _IDLE, _compile, _dialect
    from .._store._sqlite.base import SqliteBaseStore

    if not isinstance(store, SqliteBaseStore) or not store._set_based_evaluation:
        return None
    if decide.directory:  # people's facts set priorities and rules: the Python path reads them
        return None
    profile = decide.profile
    db: Any = store._db
    try:
        with store._lock:
            compiled = _compile(
                db,
                profile.name,
                now=decide.now,
                profile_type=profile.profile_type,
                exclusions=decide.exclusions,
                rules=decide.by_model,
                integration_user_id=decide.me,
                policy=decide.policy,
                protective_fields=protective_fields,
                dialect=_dialect(store),
            )
    except sqlite3.OperationalError:  # e.g. an SQLite built without JSON functions
        return None
    if compiled.people:  # a directory after all: the Python path reads the people
        return None
    return _rows(store, decide, compiled, _IDLE, scope=scope, slow=slow)


#: Past every candidate id (the last page's end).
_LAST = 1 << 62


def _page_end(store: Any, profile: str, states: list[str], after: int) -> int:
    """Where the page after ``after`` ends (one index seek per state, not a sort of the rest)."""
    end = store.candidate_page_end(profile, states, after, PAGE)
    return _LAST if end is None else int(end)


#: The decision's inputs the SQL joins: each rule's route (does it ask the user first?), each
#: model's price at the plan's instant, each stored savings text as ``Decimal`` writes it, the
#: candidates a reclaim of unknown outcome names.
_LOOKUPS = {
    "plan_rules": "id INTEGER PRIMARY KEY, notify INTEGER NOT NULL",
    "plan_prices": "model TEXT PRIMARY KEY, amount TEXT NOT NULL, currency TEXT",
    "plan_savings": "raw TEXT PRIMARY KEY, canon TEXT NOT NULL",
    "plan_unresolved": "id INTEGER PRIMARY KEY",
}


def _lookups(store: Any, decide: _Decider, plain: str, args: tuple[Any, ...], tag: str) -> None:
    """Fill the temporary tables of :data:`_LOOKUPS` for this plan (a few rows each), their
    names ending in ``tag`` (two plans built at once on one connection never share them)."""
    for name, columns in _LOOKUPS.items():
        store._q(f"CREATE TABLE temp.{name}_{tag} ({columns})")
    rules = [(rid, int(r.route.asks_user)) for rid, r in decide.rules_by_id.items()]
    models = [
        r[0]
        for r in store._q(
            "SELECT DISTINCT s.software_model FROM candidates c JOIN subscriptions s "
            f"ON s.id = c.subscription_id WHERE {plain} AND s.software_model IS NOT NULL",
            args,
        ).fetchall()
    ]
    prices = [
        (model, str(price.amount), price.currency)
        for model in models
        if (price := decide.price_of(model)) is not None
    ]
    savings = []
    for (raw,) in store._q(
        f"SELECT DISTINCT c.savings FROM candidates c WHERE {plain} AND c.savings IS NOT NULL",
        args,
    ).fetchall():
        try:
            savings.append((raw, str(Decimal(raw))))
        except (ArithmeticError, ValueError, TypeError):  # the Python decision says what it is
            continue
    with store.scratch():
        for name, rows in (
            ("plan_rules", rules),
            ("plan_prices", prices),
            ("plan_savings", savings),
            ("plan_unresolved", [(cid,) for cid in decide.unresolved]),
        ):
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                store._db.executemany(f"INSERT INTO temp.{name}_{tag} VALUES ({marks})", rows)


def _rows(
    store: Any,
    decide: _Decider,
    compiled: Any,
    idle: int,
    *,
    scope: str,
    slow: Callable[[list[int]], Iterator[tuple[int, PlanRow]]],
) -> Iterator[PlanRow | StagedBlock]:
    """Per page of open candidates: one statement stages the plain ones (a
    :class:`StagedBlock`), then the others' rows come from ``slow``."""
    db: Any = store._db
    name = decide.profile.name
    states = sorted(s.value for s in OPEN_STATES)
    marks = ", ".join("?" * len(states))
    plain = f"c.profile = ? AND c.state IN ({', '.join('?' * len(_PLAIN))})"
    tag = secrets.token_hex(4)
    unit = "'seat:' || x.id" if scope == "seat" else "'user:' || x.external_user_id"
    window = (
        "c.profile = :pl_p AND c.state IN (:pl_ready, :pl_released) "
        "AND c.id > :pl_after AND c.id <= :pl_end"
    )
    # a plain candidate: ready (its rule known) or released, no reclaim of unknown outcome
    # naming it, its seat active and idle by the evaluation's own SQL, its savings readable
    insert = (
        "INSERT INTO {stage} (pos, held, kind, priority, unit, cand, seat, usr, currency, "
        "savings, state, ident, last_activity, checked_at, reason) "
        "SELECT c.id, 0, CASE WHEN c.state = :pl_ready AND r.notify = 1 THEN 0 ELSE 1 END, 1, "
        f"{unit}, c.id, x.id, x.external_user_id, "
        "CASE WHEN pr.model IS NOT NULL THEN pr.currency ELSE cur.value END, "
        "CASE WHEN pr.model IS NOT NULL THEN pr.amount ELSE sv.canon END, "
        "c.state, x.identifier, x.last_activity, x.activity_checked_at, NULL "
        f"FROM candidates c JOIN (SELECT s.id, s.external_user_id, s.identifier, "
        f"s.software_model, s.last_activity, {CHECKED} AS activity_checked_at, "
        f"{compiled.verdict} AS v "
        f"FROM {compiled.sql_from} WHERE s.profile = :p AND s.active = 1 AND s.id IN "
        f"(SELECT c.subscription_id FROM candidates c WHERE {window})) x "
        "ON x.id = c.subscription_id "
        f"LEFT JOIN temp.plan_rules_{tag} r ON r.id = c.rule_id "
        f"LEFT JOIN temp.plan_prices_{tag} pr ON pr.model = x.software_model "
        f"LEFT JOIN temp.plan_savings_{tag} sv ON sv.raw = c.savings "
        "LEFT JOIN candidate_texts cur ON cur.id = c.currency "
        f"WHERE {window} AND x.v = :pl_idle "
        f"AND c.id NOT IN (SELECT id FROM temp.plan_unresolved_{tag}) "
        "AND (c.state <> :pl_ready OR r.id IS NOT NULL) "
        "AND (c.savings IS NULL OR pr.model IS NOT NULL OR sv.raw IS NOT NULL)"
    )
    actions = {0: NOTIFY_ACTION, 1: decide.action}
    after = 0
    try:
        _lookups(store, decide, plain, (name, *_PLAIN), tag)
        while after < _LAST:
            end = _page_end(store, name, states, after)
            params = {
                **compiled.params,
                "pl_p": name,
                "pl_ready": CandidateState.READY.value,
                "pl_released": CandidateState.AWAITING_REVOCATION.value,
                "pl_after": after,
                "pl_end": end,
                "pl_idle": idle,
            }
            rest: list[int] = []

            def write(
                stage: str, params: dict[str, Any] = params, rest: list[int] = rest
            ) -> dict[int, str]:
                db.execute(insert.format(stage=stage), params)
                span = (params["pl_after"], params["pl_end"])
                kinds = db.execute(
                    f"SELECT DISTINCT kind FROM {stage} WHERE pos > ? AND pos <= ?", span
                ).fetchall()
                rest.extend(
                    r[0]
                    for r in db.execute(
                        f"SELECT c.id FROM candidates c WHERE c.profile = ? "
                        f"AND c.state IN ({marks}) AND c.id > ? AND c.id <= ? AND c.id NOT IN "
                        f"(SELECT pos FROM {stage} WHERE pos > ? AND pos <= ?) ORDER BY c.id",
                        (name, *states, *span, *span),
                    ).fetchall()
                )
                return {int(k): actions[int(k)] for (k,) in kinds}

            yield StagedBlock(write=write)
            for _, row in slow(rest):
                yield row
            after = end
    finally:
        for table in _LOOKUPS:
            store._q(f"DROP TABLE IF EXISTS temp.{table}_{tag}")
