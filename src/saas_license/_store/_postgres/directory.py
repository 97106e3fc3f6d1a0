"""The :class:`~saas_license._store._protocol.DirectoryStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/directory.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.directory import SqliteDirectoryStore
from .base import PostgresBaseStore

__all__ = ["PostgresDirectoryStore"]


class PostgresDirectoryStore(PostgresBaseStore, SqliteDirectoryStore):
    """The :class:`~saas_license._store._protocol.DirectoryStore` part of :class:`~.PostgresStore`."""
