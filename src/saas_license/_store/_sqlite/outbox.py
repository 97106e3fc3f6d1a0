"""The notification outbox on SQLite.

Implements :class:`~saas_license._store._protocol.OutboxStore`.
"""

from __future__ import annotations

import json

from ..._convert import converter
from ..._errors import StoreError
from ..._notify import DeliveryStatus, Notification
from ..._time import format_instant
from .base import SqliteBaseStore, _dumps

__all__ = ["SqliteOutboxStore"]


class SqliteOutboxStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.OutboxStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def add_notification(self, notification: Notification) -> Notification:
        """Put a notification in the outbox; returns it with its id."""
        data = converter.unstructure(notification)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "INSERT INTO outbox (created_at, profile, kind, status, data) VALUES (?, ?, ?, ?, ?)",
                (
                    format_instant(notification.created_at),
                    notification.profile,
                    notification.kind.value,
                    notification.status.value,
                    _dumps(data),
                ),
            )
        return converter.structure({**data, "id": cur.lastrowid}, Notification)

    def update_notification(self, notification: Notification) -> None:
        """Record a delivery attempt on a stored notification."""
        data = converter.unstructure(notification)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "UPDATE outbox SET status = ?, data = ? WHERE id = ?",
                (notification.status.value, _dumps(data), notification.id),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no notification with id {notification.id}")

    def get_notification(self, notification_id: int) -> Notification | None:
        """One notification by id."""
        row = self._q("SELECT id, data FROM outbox WHERE id = ?", (notification_id,)).fetchone()
        if row is None:
            return None
        return converter.structure({**json.loads(row["data"]), "id": row["id"]}, Notification)

    def list_notifications(
        self,
        *,
        status: DeliveryStatus | None = None,
        profile: str | None = None,
        limit: int = 1000,
    ) -> list[Notification]:
        """Notifications in the outbox, oldest first."""
        sql, where, params = "SELECT id, data FROM outbox", [], []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if profile is not None:
            where.append("profile = ?")
            params.append(profile)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._q(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, Notification)
            for r in rows
        ]
