"""The base every part of the PostgreSQL store builds on: a pooled connection, transactions
that serialise writers as SQLite's do, the mapping of lock waits to
:class:`~saas_license._errors.WorkspaceBusyError`, and the redacted URL.

Each role part (``profiles.py``, ``subscriptions.py``, …) is the SQLite part of the same role on
this base: the parts' SQL runs here through :mod:`.dialect`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..._errors import StoreError
from .._pgurl import redact
from .._sqlite.base import SqliteBaseStore, _is_busy
from .dialect import Connection

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["LOCK_TIMEOUT_MS", "PostgresBaseStore", "pool_for", "release_pool"]

log = logging.getLogger("saas_license.store")

#: How long a statement waits for another worker's write transaction (ms): then "busy".
LOCK_TIMEOUT_MS = 10_000
#: Connections per process and URL: the store's own, the run lock's heartbeat, and spare for
#: threads of a service (each worker process needs at most this many server connections).
POOL_MAX = 4
#: The advisory lock every write transaction takes first (with the schema's hash): writers of
#: one workspace take turns, exactly as on SQLite, so every part's read-then-write is atomic.
WRITE_LOCK_CLASS = 0x534C  # "SL"

#: Pools kept open with no store using them (the least recently used beyond this are closed).
IDLE_POOLS = 4

_pools: dict[str, ConnectionPool] = {}
_users: dict[str, int] = {}
_pools_lock = threading.Lock()


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
    conn.execute("SET statement_timeout = 0")
    # the evaluation's verdict CASE is one long expression: compiling it (JIT) took seconds,
    # longer than running it over a million seats; the store's SQL gains nothing from JIT
    conn.execute("SET jit = off")


def pool_for(conninfo: str, *, shown: str) -> ConnectionPool:
    """This process's connection pool for ``conninfo`` (created on first use; a bad URL or
    password is a clear :class:`StoreError` naming ``shown``, the redacted URL)."""
    import psycopg
    from psycopg_pool import ConnectionPool

    with _pools_lock:
        pool = _pools.pop(conninfo, None)
        if pool is not None and not pool.closed:
            _pools[conninfo] = pool  # most recently used last
            _users[conninfo] = _users.get(conninfo, 0) + 1
            return pool
        try:  # connect once directly: the pool would only say "timed out", not why
            psycopg.connect(conninfo, connect_timeout=10, application_name="saas-license").close()
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the workspace database {shown}: {redact(_first_line(exc))}",
                hint="check the URL, that the server is up, and the password "
                "(PGPASSWORD, ~/.pgpass or the secret store)",
            ) from None
        pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=POOL_MAX,
            kwargs={"autocommit": True, "application_name": "saas-license"},
            configure=_configure,
            open=True,
            name=shown,
        )
        _pools[conninfo] = pool
        _users[conninfo] = _users.get(conninfo, 0) + 1
        idle = [k for k in _pools if not _users.get(k)]
        for key in idle[: max(0, len(idle) - IDLE_POOLS)]:
            with contextlib.suppress(Exception):
                _pools.pop(key).close(timeout=1)
        return pool


def release_pool(conninfo: str) -> None:
    """One store stopped using the pool of ``conninfo`` (kept open for the next one)."""
    with _pools_lock:
        _users[conninfo] = max(0, _users.get(conninfo, 0) - 1)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@atexit.register
def _close_pools() -> None:
    with _pools_lock:
        for pool in _pools.values():
            with contextlib.suppress(Exception):
                pool.close(timeout=1)
        _pools.clear()


class PostgresBaseStore(SqliteBaseStore):
    """The shared plumbing of the PostgreSQL store's parts; :class:`~.PostgresStore` connects
    and sets these attributes (``_db`` speaks like a ``sqlite3`` connection, see :mod:`.dialect`)."""

    @property
    def _evaluation_dialect(self) -> Any:
        """The set-based evaluation's engine-specific SQL on PostgreSQL (``evaluation.py``)."""
        from .evaluation import PostgresEvaluation

        return PostgresEvaluation()

    url: str
    _conninfo: str
    _pool: ConnectionPool
    _raw: psycopg.Connection[Any] | None

    def _busy_timeout_ms(self) -> int:
        return LOCK_TIMEOUT_MS

    def close(self) -> None:
        """Give the store's connection back to the pool (rolled back if a transaction was open)."""
        with self._lock:
            raw, self._raw = self._raw, None
            if raw is None:
                return
            with contextlib.suppress(Exception):
                self._pg.close()
            if raw.info.transaction_status != 0:  # not idle: roll back before reuse
                with contextlib.suppress(Exception):
                    raw.rollback()
            self._pool.putconn(raw)
            release_pool(self._conninfo)

    @property
    def _pg(self) -> Connection:
        return self._db  # type: ignore[return-value]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nested calls join the outer one.

        Writers of one workspace take turns (an advisory lock), as on SQLite; one kept waiting
        past the lock timeout raises :class:`WorkspaceBusyError`.
        """
        with self._lock:
            if self._raw is None:
                raise StoreError("the workspace database is closed")
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                self._db.execute(  # one round trip: begin, then wait for our turn
                    "BEGIN; SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))",
                    (WRITE_LOCK_CLASS,),
                )
            except sqlite3.DatabaseError as exc:
                self._rollback()
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise self._busy() from None
                raise StoreError(f"workspace database error: {exc}") from exc
            began = time.perf_counter()
            self._depth = 1
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            else:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.DatabaseError as exc:
                    self._rollback()
                    if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                        raise self._busy() from None
                    raise StoreError(f"workspace database error: {exc}") from exc
            finally:
                self._depth = 0
                self.write_stats.record(time.perf_counter() - began)

    def _rollback(self) -> None:
        with contextlib.suppress(Exception):
            self._db.execute("ROLLBACK")

    def _q(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            if self._raw is None:
                raise StoreError("the workspace database is closed")
            try:
                return self._db.execute(sql, tuple(params))
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise self._busy() from None
                raise StoreError(f"workspace database error: {exc}") from exc

    @contextlib.contextmanager
    def _side_connection(self) -> Iterator[Connection]:
        """A second pooled connection, outside the store's transaction (the heartbeat's)."""
        with self._pool.connection() as raw:
            conn = Connection(raw)
            try:
                yield conn
            finally:
                conn.close()
