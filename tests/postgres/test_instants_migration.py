"""``engine`` migration 3 on PostgreSQL: seat instants stored as text become ``BIGINT`` epoch
milliseconds, the same millisecond, and the seats read back as they were."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from saas_license._store._postgres.schema import PG_MIGRATIONS
from saas_license._store._schema import SEAT_INSTANTS
from saas_license._time import epoch_ms, parse_instant

from .fixtures import PgSchema

pytestmark = pytest.mark.postgres

TEXTS = [
    "2026-03-01T09:30:15.123Z",
    "1969-12-31T23:59:59.999Z",
    "0001-01-01T00:00:00.000Z",
    "9999-12-31T23:59:59.999Z",
]


def test_text_instants_become_the_same_milliseconds(
    pg_schema: PgSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(PG_MIGRATIONS["engine"]) >= 3
    with monkeypatch.context() as m:  # a workspace from before the integer instants
        m.setitem(PG_MIGRATIONS, "engine", PG_MIGRATIONS["engine"][:2])
        store = pg_schema.open()
        store.close()
    with psycopg.connect(pg_schema.owner_url, autocommit=True) as conn:
        conn.execute("INSERT INTO seat_attrs (id, attributes, unknown) VALUES (1, '{}', '[]')")
        for i, text in enumerate(TEXTS, 1):
            conn.execute(
                "INSERT INTO subscriptions (id, profile, external_user_id, identifier, "
                "user_principal_name, last_activity, activity_checked_at, external_created, "
                "assigned_at, first_seen_at, last_seen_at, active, attrs) "
                "VALUES (%s, 'p', %s, 'x', 'u@x.test', %s, %s, %s, %s, %s, %s, 1, 1)",
                (i, f"u{i}", text, None if i % 2 else text, text, text, text, text),
            )
    store = pg_schema.open()  # migrates engine 3
    try:
        assert store.schema_versions()["engine"] == len(PG_MIGRATIONS["engine"])
        columns = ", ".join(SEAT_INSTANTS)
        for i, text in enumerate(TEXTS, 1):
            row = store._q(f"SELECT {columns} FROM subscriptions WHERE id = ?", (i,)).fetchone()
            want = epoch_ms(parse_instant(text))
            assert list(row) == [want, None if i % 2 else want, want, want, want, want]
            seat = store.get_subscription(i)
            assert seat is not None and seat.last_seen_at == parse_instant(text)
        # the converted seats answer inactivity queries as integers
        cutoff = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
        assert sorted(s.id for s in store.query_subscriptions("p", inactive_before=cutoff)) == [
            2,
            3,
        ]
    finally:
        store.close()


def test_engine_4_drops_the_identifier_index(
    pg_schema: PgSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(PG_MIGRATIONS["engine"]) >= 4
    with monkeypatch.context() as m:  # a workspace from before engine 4
        m.setitem(PG_MIGRATIONS, "engine", PG_MIGRATIONS["engine"][:3])
        store = pg_schema.open()
        store.close()

    def indexes() -> set[str]:
        with psycopg.connect(pg_schema.owner_url, autocommit=True) as conn:
            return {
                r[0]
                for r in conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND tablename = 'subscriptions'"
                )
            }

    assert "subscriptions_identifier" in indexes()
    store = pg_schema.open()
    try:
        assert store.schema_versions()["engine"] == len(PG_MIGRATIONS["engine"])
        assert "subscriptions_identifier" not in indexes()
    finally:
        store.close()
