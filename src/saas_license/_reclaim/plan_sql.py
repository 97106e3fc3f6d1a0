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

import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._candidates.records import OPEN_STATES, CandidateState
from .._store._sqlite.plans import NOTIFY_ACTION, PlanRow, StagedItem

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
) -> Iterator[PlanRow | StagedItem] | None:
    """The plan's rows in candidate order, plain ones decided in SQL (:class:`StagedItem`),
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


def _page_end(store: Any, profile: str, states: list[str], after: int) -> int:
    """Where the page after ``after`` ends (one index seek per state, not a sort of the rest)."""
    end = store.candidate_page_end(profile, states, after, PAGE)
    return (1 << 62) if end is None else int(end)


def _rows(
    store: Any,
    decide: _Decider,
    compiled: Any,
    idle: int,
    *,
    scope: str,
    slow: Callable[[list[int]], Iterator[tuple[int, PlanRow]]],
) -> Iterator[PlanRow | StagedItem]:
    db: Any = store._db
    name = decide.profile.name
    states = sorted(s.value for s in OPEN_STATES)
    marks = ", ".join("?" * len(states))
    per_seat = scope == "seat"
    store._q("DROP TABLE IF EXISTS temp.plan_page")
    store._q("CREATE TABLE temp.plan_page (sub INTEGER PRIMARY KEY)")
    after = 0
    try:
        while page := store._q(
            "SELECT c.id, c.subscription_id, c.state, c.rule_id, c.savings, cur.value "
            "FROM candidates c LEFT JOIN candidate_texts cur ON cur.id = c.currency "
            f"WHERE c.profile = ? AND c.state IN ({marks}) AND c.id > ? AND c.id <= ? "
            f"ORDER BY c.id LIMIT {PAGE}",
            (name, *states, after, _page_end(store, name, states, after)),
        ).fetchall():
            after = page[-1][0]
            with store.scratch():
                db.execute("DELETE FROM temp.plan_page")
                db.executemany(
                    "INSERT OR IGNORE INTO temp.plan_page VALUES (?)",
                    [(r[1],) for r in page if r[2] in _PLAIN],
                )
                seats = {
                    r[0]: r
                    for r in db.execute(
                        "SELECT s.id, s.external_user_id, s.identifier, s.software_model, "
                        f"s.last_activity, s.activity_checked_at, {compiled.verdict} "
                        f"FROM {compiled.sql_from} WHERE s.id IN (SELECT sub FROM temp.plan_page) "
                        "AND s.profile = :p AND s.active = 1",
                        compiled.params,
                    ).fetchall()
                }
            fast: dict[int, StagedItem] = {}
            for cid, sid, state, rule_id, savings, currency in page:
                item = _plain(
                    decide, (cid, state, rule_id, savings, currency), seats.get(sid), idle, per_seat
                )
                if item is not None:
                    fast[cid] = item
            others = slow([r[0] for r in page if r[0] not in fast])
            pending = next(others, None)
            for cid, *_ in page:
                if cid in fast:
                    yield fast[cid]
                elif pending is not None and pending[0] == cid:
                    yield pending[1]
                    pending = next(others, None)
    finally:
        store._q("DROP TABLE IF EXISTS temp.plan_page")


def _plain(
    decide: _Decider,
    candidate: tuple[int, str, int | None, str | None, str | None],
    seat: tuple[Any, ...] | None,
    idle: int,
    per_seat: bool,
) -> StagedItem | None:
    """The staged item of a plain candidate (id, state, rule, its own savings and currency), or
    None when the Python decision must make it."""
    cid, state, rule_id, savings, currency = candidate
    if seat is None or seat[6] != idle or state not in _PLAIN or cid in decide.unresolved:
        return None
    sid, user, identifier, model, last, checked, _ = seat
    price = decide.price_of(model) if model else None
    if price is not None:  # the price book's, else the candidate's own (as the decision does)
        savings, currency = str(price.amount), price.currency
    elif savings is not None:
        savings = str(Decimal(savings))
    notify = False
    if state == CandidateState.READY.value:
        rule = decide.rules_by_id.get(rule_id or -1)  # as _route looks it up
        if rule is None:  # found by model, or none: the Python decision reads the candidate
            return None
        notify = rule.route.asks_user
    return StagedItem(
        kind=0 if notify else 1,
        priority=1,  # no directory: nobody is a leaver
        unit=f"seat:{sid}" if per_seat else f"user:{user}",
        cand=cid,
        seat=sid,
        usr=user,
        currency=currency,
        savings=savings,
        state=state,
        ident=identifier,
        last_activity=last,
        checked_at=checked,
        action=NOTIFY_ACTION if notify else decide.action,
    )
