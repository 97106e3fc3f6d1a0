"""The shared store: one PostgreSQL database (or schema) per workspace, for many workers.

:class:`PostgresStore` is composed like :class:`~saas_license._store.SqliteStore`: one part per
role protocol, each in its own module over :class:`~.base.PostgresBaseStore`. The parts run the
SQLite parts' SQL through :mod:`.dialect` (so both stores share one behaviour and every change to
the SQL), with PostgreSQL's own pieces where the engines differ: the pooled connection and
writer turns (``base.py``), the heartbeat's own connection (``jobs.py``), the audit log's
guards (``audit.py``), the schema and the application role's grants (``schema.py``).

Migrations run as the *owner* role (``owner_url``, or the application's own role when none is
given); the application runs as a restricted role that cannot update, delete or truncate audit
rows, nor alter the tables or their triggers.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading

from ..._errors import ConfigError, StoreError
from ..._secrets import Secret
from .._pgurl import redact, repair, split_password
from .._sqlite.base import SqliteBaseStore, WriteStats
from .audit import PostgresAuditStore
from .base import PostgresBaseStore, pool_for, release_pool
from .candidates import PostgresCandidateStore
from .dialect import Connection
from .directory import PostgresDirectoryStore
from .finance import PostgresFinanceStore
from .jobs import PostgresJobStore
from .links import PostgresLinkStore
from .outbox import PostgresOutboxStore
from .plans import PostgresPlanStore
from .profiles import PostgresProfileStore
from .quarantine import PostgresQuarantineStore
from .rules import PostgresRuleStore
from .schema import PG_MIGRATIONS, app_grants
from .subscriptions import PostgresSubscriptionStore

__all__ = ["PARTS", "PostgresBaseStore", "PostgresStore"]

#: The advisory lock migrations take, so two workers opening a new workspace migrate it once.
MIGRATE_LOCK = 0x534D  # "SM"


class PostgresStore(
    PostgresProfileStore,
    PostgresSubscriptionStore,
    PostgresQuarantineStore,
    PostgresRuleStore,
    PostgresCandidateStore,
    PostgresJobStore,
    PostgresAuditStore,
    PostgresPlanStore,
    PostgresOutboxStore,
    PostgresFinanceStore,
    PostgresLinkStore,
    PostgresDirectoryStore,
):
    """A :class:`~saas_license._store.Store` on a PostgreSQL database, shared by many workers.

    ``url`` is a libpq URL (``postgresql://app@db.example.com/licenses``); its password, when
    it carries none, comes from ``password`` (the secret store), ``PGPASSWORD`` or
    ``~/.pgpass``. ``owner_url`` is the owner role that runs the migrations and grants the
    application role its restricted rights. Neither password ever appears in a repr or error.
    """

    def __init__(
        self,
        url: str,
        *,
        owner_url: str | None = None,
        password: Secret | None = None,
        owner_password: Secret | None = None,
        create: bool = True,
    ) -> None:
        self.url = redact(repair(url))
        self.path = self.url
        conninfo = _conninfo(repair(url), password)
        self._lock = threading.RLock()
        self._depth = 0
        self._side_db = None
        self._side_lock = threading.Lock()
        self.write_stats = WriteStats()
        self._raw = None
        self._conninfo = conninfo
        self._pool = pool_for(conninfo, shown=self.url)
        try:
            self._raw = self._pool.getconn(timeout=30)
        except Exception as exc:
            release_pool(conninfo)
            raise StoreError(
                f"no connection to the workspace database {self.url} came free: {exc}",
                hint="raise the server's max_connections or run fewer workers",
            ) from None
        self._db = Connection(self._raw)  # type: ignore[assignment]
        try:
            self._migrate(
                None if owner_url is None else _conninfo(repair(owner_url), owner_password),
                create=create,
            )
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore(url={self.url!r})"

    def schema_versions(self) -> dict[str, int]:
        """Applied migration count per namespace."""
        return {r[0]: r[1] for r in self._q("SELECT namespace, version FROM schema_versions")}

    def _versions(self, conn: Connection) -> dict[str, int] | None:
        exists = conn.execute("SELECT to_regclass('schema_versions') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return None
        return {
            r[0]: int(r[1]) for r in conn.execute("SELECT namespace, version FROM schema_versions")
        }

    def _pending(self, versions: dict[str, int] | None) -> bool:
        versions = versions or {}
        for namespace, steps in PG_MIGRATIONS.items():
            have = versions.get(namespace, 0)
            if have > len(steps):
                raise StoreError(
                    f"workspace schema {namespace!r} is version {have}, newer than this "
                    f"saas-license knows ({len(steps)})",
                    hint="upgrade saas-license to open this workspace",
                )
        return versions == {} or any(versions.get(n, 0) < len(s) for n, s in PG_MIGRATIONS.items())

    def _migrate(self, owner_conninfo: str | None, *, create: bool) -> None:
        try:
            versions = self._versions(self._pg)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read the workspace database {self.url}: {exc}") from None
        if versions is None and not create:
            raise ConfigError(
                f"no workspace in the database {self.url}",
                field="workspace",
                hint="create it (CLI `--create`; Python `Workspace.open(url, create=True)`)",
            )
        if not self._pending(versions):
            return
        app_role = str(self._pg.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
        if owner_conninfo is None:
            self._apply_migrations(self._pg, app_role=None)
            return
        import psycopg

        try:
            raw = psycopg.connect(owner_conninfo, autocommit=True, application_name="saas-license")
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect as the owner role to migrate {self.url}: "
                f"{redact(str(exc).strip().splitlines()[0])}",
                hint="check the owner URL and its password",
            ) from None
        with contextlib.closing(raw):
            self._apply_migrations(Connection(raw), app_role=app_role)

    def _apply_migrations(self, conn: Connection, *, app_role: str | None) -> None:
        """Apply what is missing, in one transaction, under an advisory lock (once per schema)."""
        conn.execute("BEGIN")
        try:
            conn.execute(
                "SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))", (MIGRATE_LOCK,)
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions "
                '(namespace TEXT COLLATE "C" PRIMARY KEY, version BIGINT NOT NULL)'
            )
            versions = self._versions(conn) or {}
            self._pending(versions)  # a newer schema that appeared meanwhile is refused
            for namespace, steps in PG_MIGRATIONS.items():
                have = versions.get(namespace, 0)
                for make in steps[have:]:
                    step = make()
                    if callable(step):
                        step(conn)
                        continue
                    for statement in step:
                        conn.execute(statement)
                if len(steps) != have:
                    conn.execute(
                        "INSERT INTO schema_versions (namespace, version) VALUES (?, ?) "
                        "ON CONFLICT(namespace) DO UPDATE SET version = excluded.version",
                        (namespace, len(steps)),
                    )
            if app_role is not None:
                schema = str(conn.execute("SELECT current_schema()").fetchone()[0])  # type: ignore[index]
                for grant in app_grants(app_role):
                    conn.execute(grant.format(schema=_ident(schema)))
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            conn.execute("ROLLBACK")
            raise StoreError(
                f"could not migrate the workspace database {self.url}: {exc}"
            ) from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _conninfo(url: str, password: Secret | None) -> str:
    """The libpq connection string: the URL, with the secret store's password if it has none."""
    if password is None:
        return url
    bare, inline = split_password(url)
    if inline is not None:
        return url
    from psycopg.conninfo import make_conninfo

    return make_conninfo(bare, password=password.reveal())


#: Each role part of :class:`PostgresStore`, with the protocol it implements (by name).
PARTS: dict[str, type[SqliteBaseStore]] = {
    "BaseStore": PostgresBaseStore,
    "ProfileStore": PostgresProfileStore,
    "SubscriptionStore": PostgresSubscriptionStore,
    "QuarantineStore": PostgresQuarantineStore,
    "RuleStore": PostgresRuleStore,
    "CandidateStore": PostgresCandidateStore,
    "JobStore": PostgresJobStore,
    "AuditStore": PostgresAuditStore,
    "PlanStore": PostgresPlanStore,
    "OutboxStore": PostgresOutboxStore,
    "FinanceStore": PostgresFinanceStore,
    "LinkStore": PostgresLinkStore,
    "DirectoryStore": PostgresDirectoryStore,
}
