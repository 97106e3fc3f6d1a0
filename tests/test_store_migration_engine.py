"""Issue 13's lean store migration: a workspace built at the schema before it (attributes as JSON
on every seat, run ids as text, candidates as full JSON) converts losslessly: every seat,
candidate and audit entry reads back the same, and the audit chain still verifies."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import attrs

from saas_license._candidates.records import CandidateState, RemovalCandidate, UserResponse
from saas_license._convert import converter
from saas_license._store import SqliteStore
from saas_license._store._integrity import append_chained
from saas_license._store._schema import MIGRATIONS
from saas_license._store._sqlite import _split_sql
from saas_license._store._sqlite.base import _dumps
from saas_license._subscriptions import Subscription, SubscriptionRecord
from saas_license._time import format_instant

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)


def _old_workspace(path: Path) -> sqlite3.Connection:
    """A database migrated to every namespace except issue 13's ``engine`` (and ``compact``,
    which comes after it)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("BEGIN")
    db.execute(
        "CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    for namespace, steps in MIGRATIONS.items():
        if namespace in ("engine", "compact"):
            continue
        for step in steps:
            if callable(step):
                step(db)
            else:
                for statement in _split_sql(step):
                    db.execute(statement)
        db.execute("INSERT INTO schema_versions VALUES (?, ?)", (namespace, len(steps)))
    return db


def _seats() -> list[Subscription]:
    shapes = [
        ({"administrator": False, "department": "eng", "roles": ["a", "b"]}, frozenset()),
        ({"administrator": True, "nested": {"x": [1, 2.5, None]}}, frozenset({"last_activity"})),
        ({}, frozenset({"administrator", "enabled"})),
        ({"enabled": False, "name": "Zoë \u212a"}, frozenset()),
    ]
    out = []
    for i in range(1, 41):
        attributes, unknown = shapes[i % len(shapes)]
        out.append(
            Subscription(
                id=i,
                profile="p" if i % 5 else "q",
                external_user_id=f"u{i // 2}",
                user_principal_name=f"user{i // 2}@corp.com",
                identifier="x.roadmaps" if i % 2 else "x.develop",
                software_model=None if i % 7 == 0 else "Roadmaps",
                display_name=f"User {i}",
                last_activity=None if i % 3 == 0 else T0 - dt.timedelta(days=i),
                activity_checked_at=None if i % 4 == 0 else T0,
                external_created=T0 - dt.timedelta(days=400 + i),
                assigned_at=None if i % 2 else T0 - dt.timedelta(days=10),
                first_seen_at=T0 - dt.timedelta(days=30),
                last_seen_at=T0,
                active=i % 6 != 0,
                attributes=dict(attributes),
                unknown=unknown,
            )
        )
    return out


def _candidates() -> list[RemovalCandidate]:
    out = []
    for i, state in enumerate(CandidateState, 1):
        out.append(
            RemovalCandidate(
                id=i,
                subscription_id=i,
                profile="p",
                external_user_id=f"u{i}",
                user_principal_name=f"user{i}@corp.com",
                identifier="x.roadmaps",
                software_model="Roadmaps",
                state=state,
                inactive_days=60 + i,
                last_activity=T0 - dt.timedelta(days=60 + i),
                opened_at=T0,
                closed_at=T0 if state.is_closed else None,
                potential_savings=Decimal("12.345") if i % 2 else None,
                currency="EUR" if i % 2 else None,
                response=UserResponse.KEEP if i == 3 else None,
                keep_until=T0 + dt.timedelta(days=30) if i == 3 else None,
                notify_user=bool(i % 2),
                message=f"message {i}",
            )
        )
    return out


def _ts(value: dt.datetime | None) -> str | None:
    return None if value is None else format_instant(value)


def test_the_lean_store_migration_keeps_every_seat_candidate_and_audit_entry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    db = _old_workspace(path)
    seats = _seats()
    for s in seats:
        db.execute(
            "INSERT INTO subscriptions (id, profile, external_user_id, identifier, "
            "user_principal_name, display_name, software_model, last_activity, "
            "activity_checked_at, external_created, assigned_at, first_seen_at, last_seen_at, "
            "created_run, seen_run, active, attributes, unknown, quarantined_run) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                s.id,
                s.profile,
                s.external_user_id,
                s.identifier,
                s.user_principal_name,
                s.display_name,
                s.software_model,
                _ts(s.last_activity),
                _ts(s.activity_checked_at),
                _ts(s.external_created),
                _ts(s.assigned_at),
                _ts(s.first_seen_at),
                _ts(s.last_seen_at),
                "run-a" if s.id % 3 else "run-b",
                "run-b" if s.id % 4 else None,
                int(s.active),
                _dumps(s.attributes),
                _dumps(sorted(s.unknown)),
                "run-b" if s.id == 8 else None,
            ),
        )
    candidates = _candidates()
    for c in candidates:
        db.execute(
            "INSERT INTO candidates (id, subscription_id, profile, state, opened_at, closed_at, "
            "keep_until, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                c.id,
                c.subscription_id,
                c.profile,
                c.state.value,
                _ts(c.opened_at),
                _ts(c.closed_at),
                _ts(c.keep_until),
                _dumps(converter.unstructure(c)),
            ),
        )
    for n in range(12):
        append_chained(
            db,
            {
                "at": _ts(T0 + dt.timedelta(seconds=n)),
                "actor": "system",
                "action": "candidate.created",
                "entity": "candidate",
                "entity_id": str(n),
                "profile": None if n % 4 == 0 else "p",
                "before": None,
                "after": _dumps({"state": "ready", "n": n}),
                "detail": f"entry {n}",
            },
            compact=False,  # as written before ``compact`` 5
        )
    db.execute("COMMIT")
    audit_before = [dict(r) for r in db.execute("SELECT * FROM audit_log ORDER BY id")]
    db.close()

    store = SqliteStore(path)  # migrates
    try:
        assert store.schema_versions()["engine"] == len(MIGRATIONS["engine"])
        indexes = {
            r[0]
            for r in store._q(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subscriptions'"
            )
        }
        assert "finance_active_seats" in indexes  # other areas' indexes survive the rebuild
        got = {s.id: s for p in ("p", "q") for s in store.iter_subscriptions(p, active_only=False)}
        assert got == {s.id: s for s in seats}
        assert store.list_candidates() == candidates
        audit_after = [dict(r) for r in store._q("SELECT * FROM audit_log ORDER BY id")]
        # entries already written keep their text form (``compact`` 5 compacts new ones)
        assert all(r.pop("at_ms") is None and r.pop("kind") is None for r in audit_after)
        assert audit_after == audit_before
        assert store.verify_audit().ok
        # the run ids behind the integers: what each run created and saw, as before
        assert store.count_created("p", "run-a") == sum(
            1 for s in seats if s.profile == "p" and s.id % 3
        )
        closed = store.close_unseen("p", run_id="run-b")
        assert sorted(closed) == sorted(
            s.id for s in seats if s.profile == "p" and s.active and not s.id % 4
        )
        # the migrated workspace takes a new download into the same seats
        seat = got[1]
        record = SubscriptionRecord(
            external_user_id=seat.external_user_id,
            user_principal_name=seat.user_principal_name,
            identifier=seat.identifier,
            display_name=seat.display_name,
            attributes=seat.attributes,
            unknown=seat.unknown,
        )
        store.upsert_subscriptions("p", [record], run_id="run-c", now=T0)
        assert store.get_subscription(1) == attrs.evolve(seat, last_seen_at=T0)
        assert store.count_created("p", "run-c") == 0
    finally:
        store.close()
