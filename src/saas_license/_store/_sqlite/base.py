"""The base every part of the SQLite store builds on: the connection, ``_q``, transactions, the
mapping of a locked database to :class:`WorkspaceBusyError`, and the workspace's metadata.

Implements :class:`~saas_license._store._protocol.BaseStore`; each role part
(``profiles.py``, ``subscriptions.py``, …) is a subclass that adds one role protocol's methods,
and :class:`~saas_license._store.SqliteStore` is all of them together.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from ..._errors import StoreError, WorkspaceBusyError
from ..._time import epoch_ms, format_instant, from_epoch_ms, parse_instant

__all__ = ["SqliteBaseStore", "WriteStats"]

log = logging.getLogger("saas_license.store")


def _ts(value: dt.datetime | None) -> str | None:
    return None if value is None else format_instant(value)


_UTC = dt.timezone.utc


def _dt(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    if len(value) == 24 and value[23] == "Z":  # the stored form: 2026-01-31T12:00:00.000Z
        try:
            return dt.datetime.fromisoformat(value[:23]).replace(tzinfo=_UTC)
        except ValueError:
            pass
    return parse_instant(value)


def _ms(value: dt.datetime | None) -> int | None:
    """A seat's instant as stored (integer epoch milliseconds, UTC), or None."""
    return None if value is None else epoch_ms(value)


def _from_ms(value: int | None) -> dt.datetime | None:
    """A seat's stored instant read back (aware UTC), or None."""
    return None if value is None else from_epoch_ms(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


class SqliteBaseStore:
    """The shared plumbing of the SQLite store's parts; :class:`~saas_license._store.SqliteStore`
    opens the database and sets these attributes."""

    #: The pipeline evaluates a profile set-based in SQL (``_evaluation_sql.py``) on this store.
    _set_based_evaluation = True

    path: str
    write_stats: WriteStats
    _db: sqlite3.Connection
    _lock: threading.RLock
    _depth: int
    _side_db: sqlite3.Connection | None
    _side_lock: threading.Lock

    def _busy_timeout_ms(self) -> int:
        """How long a connection waits for another process's write transaction (milliseconds)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the database connection (its write-lock figures go to the debug log)."""
        stats = self.write_stats
        log.debug(
            "write transactions: %d, longest %.1f ms, total %.2f s",
            stats.transactions,
            stats.longest_seconds * 1000,
            stats.total_seconds,
        )
        with self._side_lock:
            if self._side_db is not None:
                self._side_db.close()
                self._side_db = None
        self._db.close()

    def _busy(self) -> WorkspaceBusyError:
        return WorkspaceBusyError(
            f"the workspace {self.path} is busy: another saas-license process kept it locked "
            f"for more than {self._busy_timeout_ms() // 1000} s",
            hint="try again in a moment",
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nested calls join the outer one.

        A database kept locked by another process past the busy timeout raises
        :class:`WorkspaceBusyError`, never a raw ``database is locked``.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise self._busy() from None
                raise StoreError(f"workspace database error: {exc}") from exc
            began = time.perf_counter()
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    self._db.execute("ROLLBACK")
                    if _is_busy(exc):
                        raise self._busy() from None
                    raise StoreError(f"workspace database error: {exc}") from exc
            finally:
                self._depth = 0
                self.write_stats.record(time.perf_counter() - began)

    def _q(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        """Run one statement on the connection. Under the store's lock: a thread reading while
        another writes would race on the connection's statement cache (3.10: ``KeyError``,
        then a transaction left open)."""
        try:
            with self._lock:
                return self._db.execute(sql, tuple(params))
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise self._busy() from None
            raise StoreError(f"workspace database error: {exc}") from exc

    def _qn(self, sql: str, params: dict[str, Any]) -> sqlite3.Cursor:
        """:meth:`_q` with named parameters."""
        try:
            with self._lock:
                return self._db.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise self._busy() from None
            raise StoreError(f"workspace database error: {exc}") from exc

    def get_meta(self, key: str) -> str | None:
        """A workspace-level setting."""
        row = self._q("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a workspace-level setting."""
        with self.transaction():
            self._q(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


#: Parameters a statement may carry on every SQLite this library runs on (3.32 raised it).
_MAX_PARAMETERS = 999


def insert_rows(
    db: Any, insert: str, row: str, values: Sequence[Sequence[Any]], *, per: int | None = None
) -> None:
    """``INSERT`` each of ``values`` (``insert`` ends with ``VALUES``; ``row`` is one row's
    ``(?, …)``). On SQLite, ``per`` rows a statement (default: as many as its parameters
    allow): one step, and one hand-over of the interpreter lock, per group instead of per row.
    Elsewhere one row a parameter set (PostgreSQL's dialect sends a large batch by ``COPY``)."""
    if per is None:
        per = max(1, _MAX_PARAMETERS // max(1, row.count("?")))
    whole = len(values) - len(values) % per if per > 1 and isinstance(db, sqlite3.Connection) else 0
    if whole:
        db.executemany(
            f"{insert} {', '.join([row] * per)}",
            ([v for r in values[i : i + per] for v in r] for i in range(0, whole, per)),
        )
    if whole < len(values):
        db.executemany(f"{insert} {row}", values[whole:] if whole else values)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text or "busy" in text


@attrs.define
class WriteStats:
    """How long this connection held the database's write lock: count, total and longest."""

    transactions: int = 0
    total_seconds: float = 0.0
    longest_seconds: float = 0.0

    def record(self, seconds: float) -> None:
        """Count one finished write transaction."""
        self.transactions += 1
        self.total_seconds += seconds
        self.longest_seconds = max(self.longest_seconds, seconds)
