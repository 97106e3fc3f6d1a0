"""The :class:`~saas_license._store._protocol.LinkStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/links.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.links import SqliteLinkStore
from .base import PostgresBaseStore

__all__ = ["PostgresLinkStore"]


class PostgresLinkStore(PostgresBaseStore, SqliteLinkStore):
    """The :class:`~saas_license._store._protocol.LinkStore` part of :class:`~.PostgresStore`."""
