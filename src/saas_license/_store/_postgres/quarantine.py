"""The :class:`~saas_license._store._protocol.QuarantineStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/quarantine.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.quarantine import SqliteQuarantineStore
from .base import PostgresBaseStore

__all__ = ["PostgresQuarantineStore"]


class PostgresQuarantineStore(PostgresBaseStore, SqliteQuarantineStore):
    """The :class:`~saas_license._store._protocol.QuarantineStore` part of :class:`~.PostgresStore`."""
