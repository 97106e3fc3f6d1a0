"""What only the PostgreSQL store has: the restricted application role, the audit log's guards
as PostgreSQL triggers, migrations run by the owner, writers taking turns, URLs and passwords."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

import psycopg
import pytest

from saas_license import AuditEntry, ConfigError, StoreError, Workspace, WorkspaceBusyError
from saas_license._secrets import Secret, SecretStore
from saas_license._store._pgurl import split_password
from saas_license._store._postgres import PostgresStore
from saas_license._store._postgres.base import PostgresBaseStore
from saas_license._store._postgres.opening import PASSWORD_KEY
from saas_license._store._postgres.schema import PG_MIGRATIONS as MIGRATIONS

from .fixtures import PgSchema

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)


def _entry(action: str = "a", profile: str | None = "p") -> AuditEntry:
    return AuditEntry(at=NOW, actor="t", action=action, entity="e", profile=profile)


def _raw(url: str) -> psycopg.Connection:  # type: ignore[type-arg]
    return psycopg.connect(url, autocommit=True)


def test_the_application_role_cannot_change_or_remove_audit_rows(pg_schema: PgSchema) -> None:
    store = pg_schema.open()
    store.append_audit(_entry())
    store.close()
    with _raw(pg_schema.app_url) as conn:
        for sql in (
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete ON audit_log",
            "UPDATE schema_versions SET version = 99",
            "CREATE TABLE sneaky (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    # even the owner (who has every privilege) meets the triggers
    with _raw(pg_schema.owner_url) as conn:
        for sql in (
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="append-only"):
                conn.execute(sql)
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="chained"):
            conn.execute(
                "INSERT INTO audit_log (id, at, actor, action, entity) "
                "VALUES (99, 'x', 'x', 'x', 'x')"
            )
    store = pg_schema.open()
    try:
        check = store.verify_audit()
        assert check.ok and check.entries == 1
    finally:
        store.close()


def test_verify_reports_a_guard_disabled_or_altered_and_a_forged_row(pg_schema: PgSchema) -> None:
    store = pg_schema.open()
    for i in range(3):
        store.append_audit(_entry(f"a{i}"))
    with _raw(pg_schema.owner_url) as conn:  # only the owner can do this
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
        conn.execute(
            "CREATE OR REPLACE FUNCTION audit_log_must_be_chained() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
        )
    try:
        check = store.verify_audit()
        messages = [p.message for p in check.problems]
        assert not check.ok
        assert any("audit_log_no_update was disabled" in m for m in messages), messages
        assert any("audit_log_chained was altered" in m for m in messages), messages
        assert any("#2" in m and "changed after it was written" in m for m in messages), messages
    finally:
        store.close()


def test_migrations_are_recorded_reopen_is_a_no_op_and_newer_is_refused(
    pg_schema: PgSchema,
) -> None:
    store = pg_schema.open()
    assert store.schema_versions() == {ns: len(steps) for ns, steps in MIGRATIONS.items()}
    store.close()
    again = PostgresStore(pg_schema.app_url)  # no owner needed: nothing to migrate
    assert again.schema_versions() == {ns: len(steps) for ns, steps in MIGRATIONS.items()}
    again.close()
    with _raw(pg_schema.owner_url) as conn:
        conn.execute("UPDATE schema_versions SET version = 99 WHERE namespace = 'core'")
    with pytest.raises(StoreError, match="newer than this"):
        pg_schema.open()


def test_two_workers_opening_a_new_workspace_migrate_it_once(pg_schema: PgSchema) -> None:
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            stores.append(pg_schema.open())  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(stores) == 3
    with _raw(pg_schema.owner_url) as conn:
        rows = conn.execute("SELECT namespace, version FROM schema_versions").fetchall()
    assert dict(rows) == {ns: len(steps) for ns, steps in MIGRATIONS.items()}
    for s in stores:
        s.close()


def test_a_writer_kept_waiting_is_told_busy(
    pg_schema: PgSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("saas_license._store._postgres.base.LOCK_TIMEOUT_MS", 300)
    first, second = pg_schema.open(), pg_schema.open()
    try:
        with first.transaction():
            first.set_meta("k", "1")
            with pytest.raises(WorkspaceBusyError, match="busy"):
                second.set_meta("k", "2")
        second.set_meta("k", "2")  # free again
        assert first.get_meta("k") == "2"
    finally:
        first.close()
        second.close()


def test_passwords_never_show(
    pg_schema: PgSchema, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bare, password = split_password(pg_schema.app_url)
    assert password and password not in bare
    store = pg_schema.open()
    assert password not in repr(store) and "***" in repr(store)
    store.close()
    wrong = pg_schema.app_url.replace(password, "not-the-password")
    with pytest.raises(StoreError) as info:
        PostgresStore(wrong)
    assert "not-the-password" not in str(info.value) and "password authentication failed" in str(
        info.value
    )
    assert password not in caplog.text and "not-the-password" not in caplog.text


def test_a_url_without_password_takes_it_from_the_secret_store(
    pg_schema: PgSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, password = split_password(pg_schema.app_url)
    assert password is not None
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.setenv("SAAS_LICENSE_SECRETS", str(tmp_path / "s.json"))
    monkeypatch.setenv("SAAS_LICENSE_POSTGRES_OWNER_URL", pg_schema.owner_url)
    SecretStore(tmp_path / "s.json").set(PASSWORD_KEY, Secret(password))
    ws = Workspace.open(bare)
    try:
        assert ws.profiles.all() == []
        assert password not in repr(ws)
    finally:
        ws.close()


def test_opening_an_empty_database_without_create_is_an_error(
    pg_schema: PgSchema, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SAAS_LICENSE_SECRETS", str(tmp_path / "s.json"))
    with pytest.raises(ConfigError, match="no workspace in the database"):
        Workspace.open(pg_schema.app_url, create=False)


def test_the_postgres_store_plays_every_role(pg_schema: PgSchema) -> None:
    from saas_license._store import _protocol
    from saas_license._store._finance import FinanceStore

    store = pg_schema.open()
    try:
        assert isinstance(store, _protocol.Store) and isinstance(store, FinanceStore)
        assert isinstance(store, PostgresBaseStore)
    finally:
        store.close()


def test_a_refused_duplicate_leaves_the_transaction_usable_as_on_sqlite(
    pg_schema: PgSchema,
) -> None:
    """A part that catches a duplicate and carries on (``spend_link``) works inside an outer
    transaction: the duplicate does not abort the PostgreSQL transaction."""
    store = pg_schema.open()
    try:
        with store.transaction():
            args = {"candidate_id": 1, "recipient": "a@x", "role": "user", "choice": "keep"}
            assert store.spend_link("n1", at=NOW, **args)
            assert not store.spend_link("n1", at=NOW, **args)  # spent: refused, nothing written
            store.set_meta("after", "yes")  # the transaction carries on
        assert store.link_spent("n1") and store.get_meta("after") == "yes"
    finally:
        store.close()
