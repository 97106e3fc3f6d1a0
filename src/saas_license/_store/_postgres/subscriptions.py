"""The :class:`~saas_license._store._protocol.SubscriptionStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/subscriptions.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.subscriptions import SqliteSubscriptionStore
from .base import PostgresBaseStore

__all__ = ["PostgresSubscriptionStore"]


class PostgresSubscriptionStore(PostgresBaseStore, SqliteSubscriptionStore):
    """The :class:`~saas_license._store._protocol.SubscriptionStore` part of :class:`~.PostgresStore`."""
