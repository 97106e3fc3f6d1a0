"""The :class:`~saas_license._store._protocol.OutboxStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/outbox.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.outbox import SqliteOutboxStore
from .base import PostgresBaseStore

__all__ = ["PostgresOutboxStore"]


class PostgresOutboxStore(PostgresBaseStore, SqliteOutboxStore):
    """The :class:`~saas_license._store._protocol.OutboxStore` part of :class:`~.PostgresStore`."""
