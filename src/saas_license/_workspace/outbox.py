"""Notifications waiting for a notifier plugin, and the notifiers themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._notify import DeliveryStatus, Notification, NotifierRegistry, deliver_pending

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Outbox"]


class Outbox:
    """Notifications waiting for a notifier plugin, and the notifiers themselves (``ws.outbox``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._notifiers: NotifierRegistry | None = None  # loaded on first use

    def query(
        self, *, status: DeliveryStatus | None = None, profile: str | None = None
    ) -> list[Notification]:
        """Notifications in the outbox (pending ones wait for a notifier)."""
        return self._ws.store.list_notifications(status=status, profile=profile)

    def deliver(self, *, retry_failed: bool = False) -> list[Notification]:
        """Offer pending notifications to the notifiers again."""
        return deliver_pending(
            self._ws.store, self.notifiers, self._ws.clock(), retry_failed=retry_failed
        )

    @property
    def notifiers(self) -> NotifierRegistry:
        """Notifier plugins (entry-point group ``saas_license.notifiers``); ``register`` more by hand."""
        registry = self._notifiers
        if registry is None:
            registry = self._notifiers = NotifierRegistry()
        return registry
