"""The :class:`~saas_license._store._finance.FinanceStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/finance.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.finance import SqliteFinanceStore
from .base import PostgresBaseStore

__all__ = ["PostgresFinanceStore"]


class PostgresFinanceStore(PostgresBaseStore, SqliteFinanceStore):
    """The :class:`~saas_license._store._finance.FinanceStore` part of :class:`~.PostgresStore`."""
