"""The :class:`~saas_license._store._protocol.ProfileStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/profiles.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.profiles import SqliteProfileStore
from .base import PostgresBaseStore

__all__ = ["PostgresProfileStore"]


class PostgresProfileStore(PostgresBaseStore, SqliteProfileStore):
    """The :class:`~saas_license._store._protocol.ProfileStore` part of :class:`~.PostgresStore`."""
