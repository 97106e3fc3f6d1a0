"""Notifications waiting for a notifier plugin, and the notifiers themselves."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .._errors import ConfigError
from .._notify import DeliveryStatus, Notification, NotifierRegistry, deliver_pending

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["SMTP_NOTIFIER", "Outbox"]

log = logging.getLogger("saas_license.email")

#: The name the built-in SMTP notifier is registered under.
SMTP_NOTIFIER = "smtp"


class Outbox:
    """Notifications waiting for a notifier plugin, and the notifiers themselves (``ws.outbox``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._notifiers: NotifierRegistry | None = None  # loaded on first use
        #: Why the SMTP notifier is not registered although settings name it (None: no problem).
        self.smtp_problem: str | None = None

    def query(
        self, *, status: DeliveryStatus | None = None, profile: str | None = None
    ) -> list[Notification]:
        """Notifications in the outbox (pending ones wait for a notifier)."""
        return self._ws.store.list_notifications(status=status, profile=profile)

    def deliver(self, *, retry_failed: bool = False) -> list[Notification]:
        """Offer pending notifications to the notifiers again (one delivery run: the SMTP
        notifier's send limit starts from zero)."""
        registry = self.notifiers
        registry.begin_run()
        return deliver_pending(
            self._ws.store, registry, self._ws.clock(), retry_failed=retry_failed
        )

    @property
    def notifiers(self) -> NotifierRegistry:
        """Notifier plugins (entry-point group ``saas_license.notifiers``), plus the built-in
        ``smtp`` notifier when the workspace has SMTP settings; ``register`` more by hand."""
        registry = self._notifiers
        if registry is None:
            registry = self._notifiers = NotifierRegistry()
            self._register_smtp(registry)
        return registry

    def reload_notifiers(self) -> None:
        """Pick up changed SMTP settings (the other notifiers stay as they are)."""
        if self._notifiers is not None:
            if SMTP_NOTIFIER in self._notifiers.names():
                self._notifiers.unregister(SMTP_NOTIFIER)
            self._register_smtp(self._notifiers)

    def _register_smtp(self, registry: NotifierRegistry) -> None:
        self.smtp_problem = None
        try:
            settings = self._ws.settings.smtp()
        except ConfigError as exc:
            # broken SMTP settings must not stop the candidate workflow: the notices wait
            self.smtp_problem = str(exc)
            log.warning("the SMTP notifier is not set up: %s", exc)
            return
        if settings is not None:
            from ..email import SmtpNotifier

            registry.register(SmtpNotifier(settings), name=SMTP_NOTIFIER)
