"""``engine`` migration 4 (issue 13, ingest): the seats' index on ``identifier`` alone is
dropped from a workspace built by the old schema, with every seat kept, and re-pointing an
identifier's seats at a model (the one query that searched by it) still finds all of them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from saas_license import SoftwareModel
from saas_license._store import SqliteStore
from saas_license._store._schema import MIGRATIONS
from saas_license._subscriptions import SubscriptionRecord

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


def _records(n: int) -> list[SubscriptionRecord]:
    return [
        SubscriptionRecord(
            external_user_id=str(i),
            user_principal_name=f"u{i}@x.test",
            identifier="a" if i % 3 else "b",
            last_activity=NOW - dt.timedelta(days=i),
            attributes={"n": i % 4},
        )
        for i in range(n)
    ]


def _old_seats(store: SqliteStore, records: list[SubscriptionRecord]) -> None:
    """Seats as a download stored them under ``engine`` 3 (today's merge needs engine 6)."""
    import json

    from saas_license._time import epoch_ms

    ms = epoch_ms(NOW)
    with store.transaction():
        store._q("INSERT INTO download_runs (run_id) VALUES ('r1')")
        for r in records:
            store._q(
                "INSERT OR IGNORE INTO seat_attrs (attributes, unknown) VALUES (?, '[]')",
                (json.dumps(r.attributes),),
            )
            store._q(
                "INSERT INTO subscriptions (profile, external_user_id, identifier, "
                "user_principal_name, display_name, last_activity, first_seen_at, last_seen_at, "
                "created_run, seen_run, active, attrs) SELECT 'p', ?, ?, ?, '', ?, ?, ?, 1, 1, 1, "
                "id FROM seat_attrs WHERE attributes = ? AND unknown = '[]'",
                (
                    r.external_user_id,
                    r.identifier,
                    r.user_principal_name,
                    epoch_ms(r.last_activity) if r.last_activity else None,
                    ms,
                    ms,
                    json.dumps(r.attributes),
                ),
            )


def _indexes(store: SqliteStore) -> set[str]:
    return {
        r[0]
        for r in store._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subscriptions'"
        )
    }


def test_engine_4_drops_the_identifier_index_and_keeps_every_seat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ws.db"
    assert len(MIGRATIONS["engine"]) >= 4
    with monkeypatch.context() as m:  # a workspace built by the schema before engine 4
        m.setitem(MIGRATIONS, "engine", MIGRATIONS["engine"][:3])
        old = SqliteStore(path)
        _old_seats(old, _records(30))
        assert "subscriptions_identifier" in _indexes(old)
        # the seats as stored (today's readers need engine 6's columns of ``download_runs``)
        before = [tuple(r) for r in old._q("SELECT * FROM subscriptions ORDER BY id")]
        old.close()
    store = SqliteStore(path)
    try:
        assert store.schema_versions()["engine"] == len(MIGRATIONS["engine"])
        assert "subscriptions_identifier" not in _indexes(store)
        assert [tuple(r) for r in store._q("SELECT * FROM subscriptions ORDER BY id")] == before
        store.ensure_software_model(SoftwareModel(name="B", publisher="x", paid=True))
        assert store.map_identifier("b", "B") == 10
        assert store.count_subscriptions("p", by="software_model") == {
            "(unrecognized)": 20,
            "B": 10,
        }
    finally:
        store.close()
