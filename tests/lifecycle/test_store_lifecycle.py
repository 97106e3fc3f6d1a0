"""The store's lifecycle tables: an older workspace upgrades in place, locks, plans, outbox."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import attrs
import pytest

from saas_license import CandidateState, RemovalCandidate, StoreError
from saas_license._jobs import RunLock
from saas_license._notify import DeliveryStatus, Notification, NotificationKind
from saas_license._store._schema import MIGRATIONS
from saas_license._store._sqlite import SqliteStore, _split_sql
from saas_license.spoke import SubscriptionRecord

from .conftest import Harness

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)


def _candidate(**kw: object) -> RemovalCandidate:
    base: dict[str, object] = dict(
        subscription_id=1,
        profile="p",
        external_user_id="u",
        user_principal_name="u@x.test",
        identifier="x",
        software_model="M",
        state=CandidateState.READY,
        inactive_days=80,
        last_activity=None,
        opened_at=NOW,
    )
    base.update(kw)
    return RemovalCandidate(**base)  # type: ignore[arg-type]


def test_a_workspace_from_before_the_lifecycle_upgrades_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    for statement in _split_sql(MIGRATIONS["core"][0]):
        db.execute(statement)
    db.execute("INSERT INTO schema_versions VALUES ('core', 1)")
    db.execute(
        "INSERT INTO candidates (subscription_id, profile, state, opened_at, data) VALUES "
        "(1, 'p', 'ready', '2026-01-01T00:00:00.000Z', ?)",
        (
            '{"subscription_id":1,"profile":"p","external_user_id":"u","user_principal_name":'
            '"u@x.test","identifier":"x","software_model":"M","state":"ready","inactive_days":70,'
            '"last_activity":null,"opened_at":"2026-01-01T00:00:00.000Z","id":1}',
        ),
    )
    db.commit()
    db.close()
    store = SqliteStore(path)
    assert store.schema_versions()["core"] == len(MIGRATIONS["core"]) >= 2
    (old,) = store.list_candidates()
    assert old.state is CandidateState.READY and old.keep_until is None and old.inactive_days == 70
    assert store.cooldowns("p", now=NOW) == {}
    store.close()


def test_cooldowns_come_from_kept_candidates(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    kept = store.add_candidate(_candidate())
    store.update_candidate(
        _candidate(
            id=kept.id,
            state=CandidateState.CLOSED_CANCELED,
            closed_at=NOW,
            keep_until=NOW + dt.timedelta(days=10),
        )
    )
    assert store.cooldowns("p", now=NOW) == {1: NOW + dt.timedelta(days=10)}
    assert store.cooldowns("p", now=NOW + dt.timedelta(days=11)) == {}
    assert store.cooldowns("other", now=NOW) == {}


def test_run_locks_are_exclusive(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    mine = RunLock(
        profile="p",
        owner="a",
        host="h",
        pid=1,
        acquired_at=NOW,
        expires_at=NOW + dt.timedelta(hours=1),
    )
    theirs = RunLock(
        profile="p",
        owner="b",
        host="h",
        pid=2,
        acquired_at=NOW,
        expires_at=NOW + dt.timedelta(hours=1),
    )
    assert store.acquire_run_lock(mine, now=NOW) is None
    assert store.acquire_run_lock(theirs, now=NOW) == mine  # refused: told who holds it
    assert store.release_run_lock("p", "b") is False  # only the owner releases
    later = NOW + dt.timedelta(hours=2)
    assert store.acquire_run_lock(theirs, now=later) is None  # expired: taken over
    assert store.get_run_lock("p") == theirs
    assert store.break_run_lock("p") and store.get_run_lock("p") is None


def test_the_outbox_keeps_everything(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    n = store.add_notification(
        Notification(
            kind=NotificationKind.RECLAIM_NOTICE,
            recipient="u@x.test",
            subject="s",
            body="b",
            created_at=NOW,
            profile="p",
            candidate_ids=(1, 2),
        )
    )
    assert store.list_notifications(status=DeliveryStatus.PENDING) == [n]
    with pytest.raises(StoreError, match="no notification"):
        store.update_notification(attrs.evolve(n, id=99))
    store.close()
    again = SqliteStore(tmp_path / "s.db")
    assert again.get_notification(n.id or 0) == n


def test_user_subscriptions_are_one_users_active_seats(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    records = [
        SubscriptionRecord(external_user_id=u, user_principal_name=f"{u}@x.test", identifier=i)
        for u, i in (("u1", "a"), ("u1", "b"), ("u2", "a"))
    ]
    store.upsert_subscriptions("p", records, run_id="r", now=NOW)
    assert [s.identifier for s in store.user_subscriptions("p", "u1")] == ["a", "b"]
    store.deactivate_subscription(store.user_subscriptions("p", "u1")[0].id)
    assert [s.identifier for s in store.user_subscriptions("p", "u1")] == ["b"]
    assert store.user_subscriptions("q", "u1") == []


def test_a_seat_added_after_the_plan_holds_the_whole_user(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    harness.set_vendor("2001", teamwork_seat=True)  # ana gets a second seat
    ws.jobs.run("aha")  # …which is idle too and gets its own candidate, not in the old plan
    report = ws.plans.apply(plan.id or "")
    ana = [o for o in report.outcomes if o.user_principal_name == "ana@acme.test"]
    assert [o.outcome for o in ana] == ["held"]
    assert "aha.teamwork" in ana[0].message
    assert harness.sandbox.user("2001")["enabled"] is True
    assert ws.plans.apply(ws.plans.create("aha").id or "").counts == {
        "reclaimed": 2
    }  # ana's two seats
    assert harness.sandbox.user("2001")["enabled"] is False
