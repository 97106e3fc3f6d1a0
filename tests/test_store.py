"""The store contract, on SQLite and PostgreSQL: idempotent upserts, forward-only activity,
atomicity, append-only audit (SQLite's migrations and file errors: SQLite only)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from saas_license import AuditEntry, ExclusionRule, ReclamationRule, StoreError
from saas_license._store._schema import MIGRATIONS
from saas_license._store._sqlite import SqliteStore
from saas_license.spoke import ActivityRecord, SubscriptionRecord

from .postgres.fixtures import STORES

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)


def _rec(
    uid: str, ident: str = "x.roadmaps", seen: dt.datetime | None = None
) -> SubscriptionRecord:
    return SubscriptionRecord(
        external_user_id=uid,
        user_principal_name=f"{uid}@corp.com",
        identifier=ident,
        last_activity=seen,
        attributes={"administrator": False},
    )


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test with a ``store`` runs on both stores."""
    return str(request.param)


@pytest.fixture
def store(new_store: Callable[[], SqliteStore]) -> SqliteStore:
    return new_store()


def test_migrations_are_recorded_and_reopen_is_a_no_op(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "a.db")
    assert s.schema_versions() == {ns: len(steps) for ns, steps in MIGRATIONS.items()}
    s.close()
    again = SqliteStore(tmp_path / "a.db")
    assert again.schema_versions() == {ns: len(steps) for ns, steps in MIGRATIONS.items()}


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "a.db").close()
    db = sqlite3.connect(tmp_path / "a.db")
    db.execute("UPDATE schema_versions SET version = 99 WHERE namespace = 'core'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this"):
        SqliteStore(tmp_path / "a.db")


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a saas-license workspace|cannot open"):
        SqliteStore(bad)


def test_same_download_twice_does_not_duplicate(store: SqliteStore) -> None:
    records = [_rec(f"u{i}") for i in range(1200)] + [_rec("u1", "x.develop")]
    assert store.upsert_subscriptions("p", records, run_id="r1", now=NOW) == 1201
    store.upsert_subscriptions("p", records, run_id="r2", now=NOW)
    assert store.count_subscriptions("p") == {"total": 1201}
    assert store.count_created("p", "r2") == 0


def test_last_activity_only_moves_forward(store: SqliteStore) -> None:
    later, earlier = NOW - dt.timedelta(days=1), NOW - dt.timedelta(days=30)
    store.upsert_subscriptions("p", [_rec("u1", seen=later)], run_id="r1", now=NOW)
    store.upsert_subscriptions("p", [_rec("u1", seen=earlier)], run_id="r2", now=NOW)
    store.apply_activity("p", [ActivityRecord(external_user_id="u1", last_activity=None)], now=NOW)
    (sub,) = store.iter_subscriptions("p")
    assert sub.last_activity == later
    assert sub.activity_checked_at == NOW


def test_close_unseen_only_closes_what_the_run_did_not_see(store: SqliteStore) -> None:
    store.upsert_subscriptions("p", [_rec("u1"), _rec("u2")], run_id="r1", now=NOW)
    store.upsert_subscriptions("q", [_rec("u9")], run_id="rq", now=NOW)
    store.upsert_subscriptions("p", [_rec("u1")], run_id="r2", now=NOW)
    closed = store.close_unseen("p", run_id="r2")
    assert len(closed) == 1
    assert [s.external_user_id for s in store.iter_subscriptions("p")] == ["u1"]
    assert store.count_subscriptions("q") == {"total": 1}
    store.upsert_subscriptions("p", [_rec("u1"), _rec("u2")], run_id="r3", now=NOW)
    assert store.count_subscriptions("p") == {"total": 2}  # a returning seat is active again


def test_failed_transaction_leaves_store_as_it_was(store: SqliteStore) -> None:
    store.upsert_subscriptions("p", [_rec("u1")], run_id="r1", now=NOW)

    def exploding():  # type: ignore[no-untyped-def]
        yield _rec("u2")
        yield from (_rec(f"n{i}") for i in range(700))
        raise RuntimeError("vendor died mid-page")

    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_subscriptions("p", exploding(), run_id="r2", now=NOW)
        store.close_unseen("p", run_id="r2")
    assert [s.external_user_id for s in store.iter_subscriptions("p")] == ["u1"]


def test_identifier_mapping_repoints_subscriptions(store: SqliteStore) -> None:
    from saas_license import SoftwareModel

    store.upsert_subscriptions(
        "p", [_rec("u1", "x.new"), _rec("u2", "x.new")], run_id="r1", now=NOW
    )
    assert store.unmapped_identifiers("p") == {"x.new": 2}
    store.ensure_software_model(SoftwareModel(name="New", publisher="X"))
    assert store.map_identifier("x.new", "New") == 2
    assert store.unmapped_identifiers("p") == {}
    assert {s.software_model for s in store.iter_subscriptions("p")} == {"New"}


def test_audit_log_is_append_only(store: SqliteStore) -> None:
    entry = store.append_audit(
        AuditEntry(at=NOW, actor="t", action="a", entity="e", before={"x": 1})
    )
    assert store.list_audit()[0] == entry
    # SQLite: the triggers refuse; PostgreSQL: the application role has no such privilege
    with pytest.raises(sqlite3.DatabaseError, match="append-only|permission denied"):
        store._db.execute("DELETE FROM audit_log")
    with pytest.raises(sqlite3.DatabaseError, match="append-only|permission denied"):
        store._db.execute("UPDATE audit_log SET actor = 'x'")


def test_rules_round_trip(store: SqliteStore) -> None:
    ex = store.add_exclusion_rule(ExclusionRule(kind="domain", value="corp.com", effect="cost"))
    assert store.list_exclusion_rules() == [ex]
    rule = store.save_reclamation_rule(ReclamationRule(software_model="M", inactivity_days=45))
    assert store.list_reclamation_rules() == [rule]
    assert store.delete_exclusion_rule(ex.id or 0)
    assert store.list_exclusion_rules() == []


def test_streaming_iteration_covers_everything_in_order(store: SqliteStore) -> None:
    store.upsert_subscriptions("p", [_rec(f"u{i:04d}") for i in range(1234)], run_id="r", now=NOW)
    ids = [s.id for s in store.iter_subscriptions("p")]
    assert len(ids) == 1234 and ids == sorted(ids)


def test_the_sqlite_store_plays_every_role_of_the_store_protocol() -> None:
    """``Store`` is the sum of its role protocols; a second store implements each of them."""
    from saas_license._store import _protocol

    roles = [
        _protocol.BaseStore,
        _protocol.ProfileStore,
        _protocol.SubscriptionStore,
        _protocol.QuarantineStore,
        _protocol.RuleStore,
        _protocol.CandidateStore,
        _protocol.JobStore,
        _protocol.AuditStore,
        _protocol.PlanStore,
        _protocol.OutboxStore,
    ]
    assert set(_protocol.Store.__mro__) >= set(roles)
    store = SqliteStore(":memory:")
    try:
        for role in roles:
            assert isinstance(store, role), role.__name__
    finally:
        store.close()


def test_a_seat_listed_twice_in_one_batch_takes_the_later_record(store: SqliteStore) -> None:
    """Both stores apply a batch's records in order (PostgreSQL cannot update one row twice in
    one statement, so its part merges such a batch in windows)."""
    first = SubscriptionRecord(
        external_user_id="u1",
        user_principal_name="old@corp.com",
        identifier="x.roadmaps",
        last_activity=NOW - dt.timedelta(days=3),
    )
    later = SubscriptionRecord(
        external_user_id="u1",
        user_principal_name="new@corp.com",
        identifier="x.roadmaps",
        last_activity=NOW - dt.timedelta(days=5),  # older: activity only moves forward
    )
    store.upsert_subscriptions("p", [_rec("u0"), first, later, _rec("u2")], run_id="r1", now=NOW)
    subs = {s.external_user_id: s for s in store.iter_subscriptions("p")}
    assert sorted(subs) == ["u0", "u1", "u2"]
    assert subs["u1"].user_principal_name == "new@corp.com"
    assert subs["u1"].last_activity == NOW - dt.timedelta(days=3)
