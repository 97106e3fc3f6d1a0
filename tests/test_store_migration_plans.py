"""Migration ``plans`` 2 (items stored by reference): a workspace whose plan items are JSON copies
of their candidate and seat (``plans`` 1) opens, migrates, and reads every old item exactly as it
was stored; a plan stored after the migration names its candidate and seat instead."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import attrs

from saas_license._candidates.records import CandidateState, RemovalCandidate
from saas_license._convert import converter
from saas_license._reclaim.records import HeldItem, PlanAction, PlanItem, ReclaimPlan
from saas_license._store import SqliteStore
from saas_license._store._schema import MIGRATIONS
from saas_license._store._sqlite import _split_sql
from saas_license._store._sqlite.base import _dumps
from saas_license._subscriptions import Subscription
from saas_license._time import format_instant

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)


def _at_plans_1(path: Path) -> None:
    """A database migrated to every namespace, ``plans`` only to its first step."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.execute(
        "CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    for namespace, steps in MIGRATIONS.items():
        kept = steps[:1] if namespace == "plans" else steps
        for step in kept:
            if callable(step):
                step(db)
            else:
                for statement in _split_sql(step):
                    db.execute(statement)
        db.execute("INSERT INTO schema_versions VALUES (?, ?)", (namespace, len(kept)))
    db.execute("COMMIT")
    db.close()


def _old_plan() -> ReclaimPlan:
    seat = Subscription(
        id=7,
        profile="aha",
        external_user_id="u7",
        user_principal_name="ana@acme.test",
        identifier="aha.roadmaps",
        software_model="Roadmaps",
        last_activity=T0 - dt.timedelta(days=90),
        activity_checked_at=T0,
        attributes={"department": "Sales"},
    )
    candidate = RemovalCandidate(
        id=3,
        subscription_id=7,
        profile="aha",
        external_user_id="u7",
        user_principal_name="ana@acme.test",
        identifier="aha.roadmaps",
        software_model="Roadmaps",
        state=CandidateState.READY,
        inactive_days=90,
        last_activity=seat.last_activity,
        opened_at=T0 - dt.timedelta(days=2),
    )
    item = PlanItem(
        candidate=candidate,
        subscription=seat,
        action="disable user",
        potential_savings=Decimal("708.00"),
        currency="USD",
        kind=PlanAction.RECLAIM,
    )
    held = HeldItem(
        candidate=attrs.evolve(candidate, id=4, state=CandidateState.AWAITING_APPROVAL),
        reason="waiting for approval by sam@acme.test",
    )
    return ReclaimPlan(
        profile="aha",
        created_at=T0,
        items=(item,),
        reclaim_enabled=True,
        id="old1",
        expires_at=T0 + dt.timedelta(days=1),
        held=(held,),
    )


def test_old_json_items_read_back_exactly_after_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _at_plans_1(path)
    plan = _old_plan()
    db = sqlite3.connect(path, isolation_level=None)
    head = converter.unstructure(attrs.evolve(plan, items=(), held=()))
    head["summary"] = {
        "notice_count": 0,
        "reclaim_count": 1,
        "held_count": 1,
        "savings_by_currency": {"USD": "708.00"},
        "scope": "user",
        "units_contiguous": True,
    }
    db.execute(
        "INSERT INTO reclaim_plans (id, profile, created_at, expires_at, data) VALUES (?, ?, ?, ?, ?)",
        (
            "old1",
            "aha",
            format_instant(T0),
            format_instant(T0 + dt.timedelta(days=1)),
            _dumps(head),
        ),
    )
    for part, it in (("items", plan.items[0]), ("held", plan.held[0])):
        data = converter.unstructure(it)
        data.pop("basis", None)  # plans 1 had no basis
        db.execute(
            "INSERT INTO reclaim_plan_items (plan_id, part, seq, data) VALUES (?, ?, 0, ?)",
            ("old1", part, _dumps(data)),
        )
    db.close()
    store = SqliteStore(path)  # migrates plans 1 -> 2
    try:
        assert store._q("SELECT version FROM schema_versions WHERE namespace = 'plans'").fetchone()[
            0
        ] == len(MIGRATIONS["plans"])
        found = store.plan_head("old1")
        assert found is not None
        stored, applied = found
        assert applied is None and stored.reclaim_count == 1 and stored.held_count == 1
        assert list(stored.items) == list(plan.items)
        assert list(stored.held) == list(plan.held)
        assert stored.load() == attrs.evolve(plan, expires_at=stored.expires_at)
        # what the plan saw is the old item's own copy
        basis = stored.items[0].planned()
        assert (basis.state, basis.external_user_id, basis.last_activity) == (
            CandidateState.READY,
            "u7",
            T0 - dt.timedelta(days=90),
        )
    finally:
        store.close()
