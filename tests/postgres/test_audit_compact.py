"""Compact audit entries on PostgreSQL (migration ``compact`` 5): written compact, read back and
verified as on SQLite; the restricted application role cannot change or remove the shared
kinds either, and a kind changed by the owner shows in verification."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from saas_license import AuditEntry

from .fixtures import PgSchema

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2026, 6, 15, 12, 0, 0, 123456, tzinfo=dt.timezone.utc)


def test_compact_entries_on_postgres(pg_schema: PgSchema) -> None:
    store = pg_schema.open()
    try:
        entries = [
            AuditEntry(
                at=NOW + dt.timedelta(seconds=i),
                actor="system",
                action=f"thing.{i % 2}",
                entity="thing",
                entity_id=str(i),
                profile="p" if i % 3 else None,
                after={"n": i},
            )
            for i in range(6)
        ]
        store.append_audit(entries[0])
        store.append_audit_many(entries[1:])
        got = store.list_audit()
        assert [(g.at, g.actor, g.action, g.entity, g.entity_id) for g in got] == [
            (e.at.replace(microsecond=123000), e.actor, e.action, e.entity, e.entity_id)
            for e in entries
        ]
        assert [e.entity_id for e in store.list_audit(action="thing.1")] == ["1", "3", "5"]
        assert [e.entity_id for e in store.list_audit(entity="thing", entity_id="4")] == ["4"]
        assert len(store.list_audit(since=NOW + dt.timedelta(seconds=4))) == 2
        stored = store._q("SELECT at, actor, at_ms, kind FROM audit_log").fetchall()
        assert all(r[0] == "" and r[1] == "" and r[2] is not None for r in stored)
        assert store.verify_audit().ok
    finally:
        store.close()
    with psycopg.connect(pg_schema.app_url, autocommit=True) as conn:
        for sql in ("UPDATE audit_kinds SET actor = 'x'", "DELETE FROM audit_kinds"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    with psycopg.connect(pg_schema.owner_url, autocommit=True) as conn:
        conn.execute("UPDATE audit_kinds SET actor = 'mallory'")
    store = pg_schema.open()
    try:
        assert any(p.kind == "changed" for p in store.verify_audit().problems)
    finally:
        store.close()
