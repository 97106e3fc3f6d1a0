"""Notifications: the outbox in the store, and notifier plugins (email, chat, tickets) that deliver it.

Every notification is written to the store's outbox *first*; notifiers then try to deliver it.
With no notifier installed nothing is lost: the outbox keeps it until one is, or until someone
reads it (``saas-license outbox``). Notifiers are plugins, not spokes: they register under the
``saas_license.notifiers`` entry-point group and implement ``saas_license_notify``.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from ._entry_points import EntryPointLike
from ._plugins import NamedPlugins

if TYPE_CHECKING:
    from ._store import Store

__all__ = [
    "ANSWERABLE",
    "NOTIFIER_ENTRY_POINT_GROUP",
    "DeliveryDeferred",
    "DeliveryStatus",
    "Notification",
    "NotificationKind",
    "NotifierRegistry",
    "deliver_pending",
]

log = logging.getLogger("saas_license.notify")

NOTIFIER_ENTRY_POINT_GROUP = "saas_license.notifiers"
#: After this many failed attempts a notification stops being retried automatically.
MAX_ATTEMPTS = 5


class NotificationKind(str, enum.Enum):
    """Why a notification is sent."""

    RECLAIM_NOTICE = "reclaim_notice"  # to the user: keep or forego, before the deadline
    REMINDER = "reminder"  # to the user: the deadline is close
    APPROVAL_REQUEST = "approval_request"  # to the approver: the user wants to keep the seat
    RECLAIMED = "reclaimed"  # to the user: the seat was taken back
    RESTORED = "restored"  # to the user: the reclaim was undone


#: Notices a person answers through links (they need the ``public_url`` setting).
ANSWERABLE = frozenset(
    {NotificationKind.RECLAIM_NOTICE, NotificationKind.REMINDER, NotificationKind.APPROVAL_REQUEST}
)


class DeliveryDeferred(Exception):
    """Raised by a notifier that will not send *now* (a per-run send limit): the notification
    stays pending and the attempt is not counted against it."""


class DeliveryStatus(str, enum.Enum):
    """Where a notification is in the outbox."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Notification:
    """One message to one person about one or more candidates (one notice per user, not per seat).

    ``respond_by`` is the deadline for a reclaim notice; ``channel`` names the notifier(s) that
    delivered it. ``body`` is plain text; ``html`` the same notice as HTML (may be empty).
    """

    kind: NotificationKind
    recipient: str
    subject: str
    body: str
    created_at: dt.datetime
    profile: str | None = None
    candidate_ids: tuple[int, ...] = ()
    respond_by: dt.datetime | None = None
    status: DeliveryStatus = DeliveryStatus.PENDING
    channel: str | None = None
    attempts: int = 0
    delivered_at: dt.datetime | None = None
    last_error: str = ""
    id: int | None = None
    html: str = ""


class NotifierRegistry(NamedPlugins):
    """The installed notifier plugins; each is called on its own, so one broken notifier cannot
    stop another (or lose the message: it stays in the outbox)."""

    kind = "notifier"
    group = NOTIFIER_ENTRY_POINT_GROUP

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        entry_points: Iterable[EntryPointLike] | None = None,
    ) -> None:
        #: Delivery outcomes recorded through this registry, by status value (for a service's log).
        self.tally: Counter[str] = Counter()
        super().__init__(load_entry_points=load_entry_points, entry_points=entry_points)

    def begin_run(self) -> None:
        """Tell every notifier that a delivery run starts (per-run send limits restart)."""
        for plugin in self._plugins.values():
            begin = getattr(plugin, "begin_run", None)
            if callable(begin):
                begin()

    def deliver(self, notification: Notification) -> tuple[list[str], list[str]]:
        """Offer ``notification`` to every notifier; returns (who delivered it, errors).
        A notifier that defers (:class:`DeliveryDeferred`) adds an error starting ``deferred:``."""
        delivered: list[str] = []
        errors: list[str] = []
        for name in self.names():
            plugin = self._plugins[name]
            others = [p for p in self.pm.get_plugins() if p is not plugin]
            caller = self.pm.subset_hook_caller("saas_license_notify", remove_plugins=others)
            try:
                results = caller(notification=notification)
            except DeliveryDeferred as exc:
                errors.append(f"deferred: {name}: {str(exc)[:200]}")
                continue
            except Exception as exc:
                log.warning("notifier %s failed: %s", name, type(exc).__name__)
                errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            if any(r is True for r in results):
                delivered.append(name)
        return delivered, errors


def deliver(
    store: Store, registry: NotifierRegistry | None, notification: Notification, now: dt.datetime
) -> Notification:
    """Try to deliver one stored notification and record the outcome in the outbox."""
    if registry is None or not registry.names():
        return notification
    delivered, errors = registry.deliver(notification)
    if not delivered and errors and all(e.startswith("deferred:") for e in errors):
        # not tried (a send limit): still pending, the attempt not counted
        updated = attrs.evolve(notification, last_error="; ".join(errors))
        store.update_notification(updated)
        return updated
    attempts = notification.attempts + 1
    if delivered:
        updated = attrs.evolve(
            notification,
            status=DeliveryStatus.DELIVERED,
            channel=",".join(delivered),
            delivered_at=now,
            attempts=attempts,
            last_error="; ".join(errors),
        )
    else:
        updated = attrs.evolve(
            notification,
            status=DeliveryStatus.FAILED if attempts >= MAX_ATTEMPTS else DeliveryStatus.PENDING,
            attempts=attempts,
            last_error="; ".join(errors) or "no notifier accepted it",
        )
    store.update_notification(updated)
    registry.tally[updated.status.value] += 1
    return updated


def send(
    store: Store, registry: NotifierRegistry | None, notification: Notification, now: dt.datetime
) -> Notification:
    """Put ``notification`` in the outbox, then try to deliver it."""
    stored = store.add_notification(notification)
    return deliver(store, registry, stored, now)


def deliver_pending(
    store: Store, registry: NotifierRegistry | None, now: dt.datetime, *, retry_failed: bool = False
) -> list[Notification]:
    """Retry every pending notification in the outbox (and failed ones with ``retry_failed``)."""
    statuses = [DeliveryStatus.PENDING] + ([DeliveryStatus.FAILED] if retry_failed else [])
    out = []
    for status in statuses:
        for n in store.list_notifications(status=status):
            if status is DeliveryStatus.FAILED:
                n = attrs.evolve(n, attempts=0)
            out.append(deliver(store, registry, n, now))
    return out
