"""The :class:`~saas_license._store._protocol.RuleStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/rules.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.rules import SqliteRuleStore
from .base import PostgresBaseStore

__all__ = ["PostgresRuleStore"]


class PostgresRuleStore(PostgresBaseStore, SqliteRuleStore):
    """The :class:`~saas_license._store._protocol.RuleStore` part of :class:`~.PostgresStore`."""
