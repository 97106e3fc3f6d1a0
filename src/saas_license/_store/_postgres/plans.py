"""The :class:`~saas_license._store._protocol.PlanStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/plans.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.plans import SqlitePlanStore
from .base import PostgresBaseStore

__all__ = ["PostgresPlanStore"]


class PostgresPlanStore(PostgresBaseStore, SqlitePlanStore):
    """The :class:`~saas_license._store._protocol.PlanStore` part of :class:`~.PostgresStore`."""
