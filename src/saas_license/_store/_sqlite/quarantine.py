"""Spoke records refused at the core's boundary, on SQLite.

Implements :class:`~saas_license._store._protocol.QuarantineStore`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..._boundary import QuarantinedRecord
from ..._time import format_instant, parse_instant
from .base import SqliteBaseStore

__all__ = ["SqliteQuarantineStore"]


class SqliteQuarantineStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.QuarantineStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def add_quarantined(self, records: Iterable[QuarantinedRecord]) -> int:
        """Keep spoke records the core's boundary checks refused; returns how many."""
        rows = [
            (
                q.profile,
                q.run_id,
                format_instant(q.at),
                q.spoke,
                q.external_user_id,
                q.identifier,
                q.field,
                q.reason,
            )
            for q in records
        ]
        if rows:
            with self.transaction():
                self._db.executemany(
                    "INSERT INTO safety_quarantine (profile, run_id, at, spoke, external_user_id, "
                    "identifier, field, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        return len(rows)

    def list_quarantined(
        self, profile: str | None = None, *, run_id: str | None = None, limit: int = 100
    ) -> list[QuarantinedRecord]:
        """Quarantined spoke records, newest first."""
        where, params = [], []
        for column, value in (("profile", profile), ("run_id", run_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM safety_quarantine" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._q(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [
            QuarantinedRecord(
                profile=r["profile"],
                run_id=r["run_id"],
                at=parse_instant(r["at"]),
                spoke=r["spoke"],
                external_user_id=r["external_user_id"],
                identifier=r["identifier"],
                field=r["field"],
                reason=r["reason"],
                id=r["id"],
            )
            for r in rows
        ]
