"""The embedded store: one SQLite file per workspace, WAL, migrations, batched transactional writes.

:class:`SqliteStore` is composed of one part per role protocol (``_store/_protocol.py``), each in
its own module over the shared :class:`~.base.SqliteBaseStore`; a second store implements the
same roles (:data:`PARTS` maps each role protocol to its part):

- ``base.py``: :class:`SqliteBaseStore`, the connection, ``_q``, transactions, the busy
  mapping, metadata (``BaseStore``); every part below is a subclass of it
- ``profiles.py``: ``ProfileStore``; ``subscriptions.py``: ``SubscriptionStore`` (with the
  staged download, :class:`DownloadStage`); ``quarantine.py``: ``QuarantineStore``
- ``rules.py``: ``RuleStore``; ``candidates.py``: ``CandidateStore``; ``jobs.py``: ``JobStore``
  (run locks and their fence)
- ``audit.py``: ``AuditStore`` (the chain's rules in ``_store/_integrity.py``); ``plans.py``:
  ``PlanStore``; ``outbox.py``: ``OutboxStore``; ``finance.py``: ``FinanceStore``;
  ``links.py``: ``LinkStore`` (spent answer links); ``directory.py``: ``DirectoryStore``
  (the user directory's snapshot)
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..._errors import StoreError
from ..._files import create_private_file
from .._schema import MIGRATIONS
from .audit import SqliteAuditStore
from .base import SqliteBaseStore, WriteStats, _is_busy
from .candidates import SqliteCandidateStore
from .directory import SqliteDirectoryStore
from .finance import SqliteFinanceStore
from .jobs import SqliteJobStore
from .links import SqliteLinkStore
from .outbox import SqliteOutboxStore
from .plans import SqlitePlanStore
from .profiles import SqliteProfileStore
from .quarantine import SqliteQuarantineStore
from .rules import SqliteRuleStore
from .subscriptions import BATCH_SIZE, STAGE_BATCH, DownloadStage, SqliteSubscriptionStore

__all__ = [
    "BATCH_SIZE",
    "BUSY_TIMEOUT_MS",
    "PARTS",
    "STAGE_BATCH",
    "DownloadStage",
    "SqliteBaseStore",
    "SqliteStore",
    "WriteStats",
]

#: How long a connection waits for another process's write transaction (milliseconds).
BUSY_TIMEOUT_MS = 10_000


class SqliteStore(
    SqliteProfileStore,
    SqliteSubscriptionStore,
    SqliteQuarantineStore,
    SqliteRuleStore,
    SqliteCandidateStore,
    SqliteJobStore,
    SqliteAuditStore,
    SqlitePlanStore,
    SqliteOutboxStore,
    SqliteFinanceStore,
    SqliteLinkStore,
    SqliteDirectoryStore,
):
    """A :class:`~saas_license._store.Store` on one SQLite database file (``":memory:"`` for tests).

    Writes run in transactions; nesting :meth:`transaction` joins the outer one, so a whole
    download either lands or leaves the store as it was. The methods come from the role parts
    listed in this module's docstring; this class opens the file and migrates its schema.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                # owner-only from the first byte: the file holds emails and the audit log; SQLite
                # gives the -wal and -shm files the database file's mode
                create_private_file(self.path)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # the temporary database (a download's stage) keeps its rollback journal in memory:
            # a stage after the first reuses freed pages, and journaling each to a file made
            # staging ~3x slower; temporary tables never outlive the connection anyway, and
            # the workspace's own journal (WAL) is unchanged
            self._db.execute("PRAGMA temp.journal_mode = MEMORY")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.DatabaseError, OSError) as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise self._busy() from None
            raise StoreError(
                f"cannot open the workspace database {self.path}: {exc}",
                hint="check the path and permissions, or point --workspace at another file",
            ) from None
        self._lock = threading.RLock()
        self._depth = 0
        self._side_db: sqlite3.Connection | None = None
        self._side_lock = threading.Lock()
        self.write_stats = WriteStats()
        self._migrate()

    def __repr__(self) -> str:
        return f"SqliteStore(path={self.path!r})"

    def _migrate(self) -> None:
        try:
            tables = {
                r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise self._busy() from None
            raise StoreError(
                f"{self.path} is not a saas-license workspace database ({exc})",
                hint="point --workspace at a new file or at an existing workspace",
            ) from None
        with self.transaction():
            if "schema_versions" not in tables:
                self._db.execute(
                    "CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
                )
            versions = {
                r["namespace"]: r["version"]
                for r in self._db.execute("SELECT * FROM schema_versions")
            }
            for namespace, steps in MIGRATIONS.items():
                have = versions.get(namespace, 0)
                if have > len(steps):
                    raise StoreError(
                        f"workspace schema {namespace!r} is version {have}, newer than this "
                        f"saas-license knows ({len(steps)})",
                        hint="upgrade saas-license to open this workspace",
                    )
                for step in steps[have:]:
                    if callable(step):
                        step(self._db)
                        continue
                    for statement in _split_sql(step):
                        self._db.execute(statement)
                if len(steps) != have:
                    self._db.execute(
                        "INSERT INTO schema_versions (namespace, version) VALUES (?, ?) "
                        "ON CONFLICT(namespace) DO UPDATE SET version = excluded.version",
                        (namespace, len(steps)),
                    )

    def schema_versions(self) -> dict[str, int]:
        """Applied migration count per namespace."""
        return {r[0]: r[1] for r in self._q("SELECT namespace, version FROM schema_versions")}

    def _busy_timeout_ms(self) -> int:
        return BUSY_TIMEOUT_MS


#: Each role part of :class:`SqliteStore`, with the protocol it implements (by name, in
#: ``_store/_protocol.py`` or, for finance, ``_store/_finance.py``).
PARTS: dict[str, type[SqliteBaseStore]] = {
    "BaseStore": SqliteBaseStore,
    "ProfileStore": SqliteProfileStore,
    "SubscriptionStore": SqliteSubscriptionStore,
    "QuarantineStore": SqliteQuarantineStore,
    "RuleStore": SqliteRuleStore,
    "CandidateStore": SqliteCandidateStore,
    "JobStore": SqliteJobStore,
    "AuditStore": SqliteAuditStore,
    "PlanStore": SqlitePlanStore,
    "OutboxStore": SqliteOutboxStore,
    "FinanceStore": SqliteFinanceStore,
    "LinkStore": SqliteLinkStore,
    "DirectoryStore": SqliteDirectoryStore,
}


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (``BEGIN … END;``) whole."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements
