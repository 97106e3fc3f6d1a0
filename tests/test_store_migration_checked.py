"""``engine`` 5 on a workspace made before it: its download runs gain the instant their merge
counted the activity as checked (none, for runs before it), so a run stored before the
migration is still stamped the old way, and the next download counts it in its merge."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from saas_license._store import SqliteStore
from saas_license._store._schema import MIGRATIONS
from saas_license._store._sqlite import _split_sql
from saas_license._subscriptions import SubscriptionRecord
from saas_license._time import epoch_ms

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _workspace_before_engine_5(path: Path) -> None:
    """Every namespace migrated, ``engine`` up to 4; one seat seen by run ``old``."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.execute(
        "CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    for namespace, steps in MIGRATIONS.items():
        kept = steps[:4] if namespace == "engine" else steps
        for step in kept:
            if callable(step):
                step(db)
            else:
                for statement in _split_sql(step):
                    db.execute(statement)
        db.execute("INSERT INTO schema_versions VALUES (?, ?)", (namespace, len(kept)))
    db.execute("INSERT INTO download_runs (id, run_id) VALUES (1, 'old')")
    db.execute("INSERT INTO seat_attrs (id, attributes, unknown) VALUES (1, '{}', '[]')")
    db.execute(
        "INSERT INTO subscriptions (profile, external_user_id, identifier, user_principal_name, "
        "last_activity, first_seen_at, last_seen_at, created_run, seen_run, active, attrs) "
        "VALUES ('p', 'u1', 'x.roadmaps', 'u1@corp.com', ?, ?, ?, 1, 1, 1, 1)",
        (epoch_ms(T0 - dt.timedelta(days=2)), epoch_ms(T0), epoch_ms(T0)),
    )
    db.execute("COMMIT")
    db.close()


def test_a_workspace_before_engine_5_migrates_and_stamps_its_old_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _workspace_before_engine_5(path)
    store = SqliteStore(path)  # migrates
    try:
        assert store.schema_versions()["engine"] == len(MIGRATIONS["engine"]) >= 5
        assert [tuple(r) for r in store._q("SELECT activity_checked_at FROM download_runs")] == [
            (None,)
        ]
        # the run stored before the migration: stamped as it always was
        later = T0 + dt.timedelta(minutes=3)
        assert store.stamp_activity_checked("p", run_id="old", now=later) == 1
        (seat,) = store.iter_subscriptions("p")
        assert seat.activity_checked_at == later
        # the next download counts its activity as checked in the merge itself
        day = T0 + dt.timedelta(days=1)
        record = SubscriptionRecord(
            external_user_id="u1",
            user_principal_name="u1@corp.com",
            identifier="x.roadmaps",
            last_activity=T0 - dt.timedelta(days=2),
        )
        with store.stage_download("p", run_id="new") as stage:
            stage.add([record])
            stage.merge(now=day, activity_checked=True)
            stage.close_unseen()
        (seat,) = store.iter_subscriptions("p")
        assert (seat.activity_checked_at, seat.last_seen_at) == (day, day)
        assert store.stamp_activity_checked("p", run_id="new", now=day) == 1
    finally:
        store.close()
