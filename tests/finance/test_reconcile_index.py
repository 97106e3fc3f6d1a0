"""The reconciliation's index (``finance_active_seats``, finance migration 4): the counts per
model and profile read it alone, in its order (no sort of the seats), and a workspace made
before the migration reconciles to the same result after it."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from saas_license import IntegrationProfile, SoftwareModel
from saas_license._finance.from_store import reconcile_store
from saas_license._store import SqliteStore
from saas_license._subscriptions import SubscriptionRecord

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
GROUPING = (
    "SELECT software_model, profile, count(*), count(last_activity), "
    "count(CASE WHEN last_activity >= 0 THEN 1 END) FROM subscriptions "
    "WHERE active = 1 AND software_model IS NOT NULL GROUP BY software_model, profile"
)


def _fill(store: SqliteStore, seats: int) -> None:
    for name in ("Alpha", "Beta"):
        store.ensure_software_model(SoftwareModel(name=name, publisher="P", paid=True))
    store.map_identifier("id.a", "Alpha")
    store.map_identifier("id.b", "Beta")
    for prof in ("one", "two"):
        store.save_profile(
            IntegrationProfile(
                name=prof, display_name=prof, spoke="x", profile_type="T", connection_alias="a"
            )
        )
        store.upsert_subscriptions(
            prof,
            [
                SubscriptionRecord(
                    external_user_id=f"{prof}{i}",
                    user_principal_name=f"u{i}@corp.example",
                    identifier="id.a" if i % 3 else "id.b",
                    last_activity=None if i % 7 == 0 else NOW - dt.timedelta(days=i % 120),
                )
                for i in range(seats)
            ],
            run_id="r1",
            now=NOW,
        )


def test_the_counts_read_the_index_alone_without_sorting(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "w.db")
    try:
        _fill(store, 50)
        plan = " | ".join(r[3] for r in store._db.execute("EXPLAIN QUERY PLAN " + GROUPING))
        assert "finance_active_seats" in plan
        assert "TEMP B-TREE" not in plan  # grouped in the index's order: no sort
        (sql,) = store._db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'finance_active_seats'"
        ).fetchone()
        assert "id >> 12" in sql and "WHERE active = 1" in sql
    finally:
        store.close()


def test_a_workspace_from_before_the_migration_reconciles_alike(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    store = SqliteStore(path)
    try:
        _fill(store, 200)
        after = reconcile_store(store, now=NOW, timezone="Europe/Berlin", opportunity_limit=None)
    finally:
        store.close()
    # put the workspace back to finance migration 3: the index as it was made then
    db = sqlite3.connect(path)
    db.executescript(
        "DROP INDEX finance_active_seats; CREATE INDEX finance_active_seats ON subscriptions "
        "(software_model, profile, last_activity) WHERE active = 1; "
        "UPDATE schema_versions SET version = 3 WHERE namespace = 'finance';"
    )
    db.close()
    store = SqliteStore(path)  # migrates to 4 again
    try:
        assert store.schema_versions()["finance"] == 4
        (sql,) = store._db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'finance_active_seats'"
        ).fetchone()
        assert "id >> 12" in sql
        again = reconcile_store(store, now=NOW, timezone="Europe/Berlin", opportunity_limit=None)
        assert again == after
        assert sum(r.rights_used + r.excluded_seats for r in again.models) == 400
    finally:
        store.close()
