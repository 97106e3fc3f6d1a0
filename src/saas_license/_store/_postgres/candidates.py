"""The :class:`~saas_license._store._protocol.CandidateStore` part of the PostgreSQL store: the SQLite
part's SQL (``_store/_sqlite/candidates.py``) on the PostgreSQL base, through :mod:`.dialect`."""

from __future__ import annotations

from .._sqlite.candidates import SqliteCandidateStore
from .base import PostgresBaseStore

__all__ = ["PostgresCandidateStore"]


class PostgresCandidateStore(PostgresBaseStore, SqliteCandidateStore):
    """The :class:`~saas_license._store._protocol.CandidateStore` part of :class:`~.PostgresStore`."""
