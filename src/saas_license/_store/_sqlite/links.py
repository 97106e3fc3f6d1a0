"""Spent answer links on SQLite: a link's nonce is recorded when its answer is, so it works once.

Implements :class:`~saas_license._store._protocol.LinkStore`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from ..._errors import StoreError
from ..._time import format_instant
from .base import SqliteBaseStore

__all__ = ["SqliteLinkStore"]


class SqliteLinkStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.LinkStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def spend_link(
        self,
        nonce: str,
        *,
        candidate_id: int,
        recipient: str,
        role: str,
        choice: str,
        at: dt.datetime,
    ) -> bool:
        """Record that the link with ``nonce`` was used; False (nothing written) if it was already."""
        with self.transaction():
            try:
                self._db.execute(
                    "INSERT INTO answer_links_spent (nonce, candidate_id, recipient, role, choice, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (nonce, candidate_id, recipient, role, choice, format_instant(at)),
                )
            except sqlite3.IntegrityError:
                return False
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"workspace database error: {exc}") from exc
        return True

    def link_spent(self, nonce: str) -> bool:
        """True when the link with ``nonce`` was used already."""
        row = self._q("SELECT 1 FROM answer_links_spent WHERE nonce = ?", (nonce,)).fetchone()
        return row is not None
