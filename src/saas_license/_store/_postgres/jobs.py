"""The :class:`~saas_license._store._protocol.JobStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/jobs.py``) through :mod:`.dialect`; the heartbeat writes on a
second pooled connection, so it never waits behind the run's own transaction."""

from __future__ import annotations

import datetime as dt
import sqlite3

from ..._errors import StoreError
from ..._time import format_instant
from .._sqlite.base import _is_busy
from .._sqlite.jobs import SqliteJobStore
from .base import PostgresBaseStore

__all__ = ["PostgresJobStore"]


class PostgresJobStore(PostgresBaseStore, SqliteJobStore):
    """The :class:`~saas_license._store._protocol.JobStore` part of :class:`~.PostgresStore`."""

    def heartbeat_run_lock(
        self, profile: str, owner: str, *, at: dt.datetime, expires_at: dt.datetime
    ) -> bool:
        """The holder's sign of life (one compare-and-set row update, on its own connection);
        False when ``owner`` no longer holds the lock."""
        try:
            with self._side_connection() as conn:
                cur = conn.execute(
                    "UPDATE run_locks SET heartbeat_at = ?, expires_at = ? "
                    "WHERE profile = ? AND owner = ?",
                    (format_instant(at), format_instant(expires_at), profile, owner),
                )
                return cur.rowcount == 1
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise self._busy() from None
            raise StoreError(f"workspace database error: {exc}") from exc
