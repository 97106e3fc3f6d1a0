"""The plugin contracts: hook specifications a vendor connector (spoke), a notifier or a user
directory implements.

Every spoke hook is ``firstresult``; the core only ever calls the hooks of the profile's own spoke
(see :class:`saas_license.Spoke`), so one spoke can never answer for another. The notifier hook
is offered to every registered notifier, one at a time (see :class:`saas_license.NotifierRegistry`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from ._directory import Person
    from ._notify import Notification
    from ._sandbox import SandboxOffer
    from ._spokes import ReclaimResult, SpokeContext, SpokeInfo, ValidationReport
    from ._subscriptions import ActivityRecord, CurrentUser, Subscription, SubscriptionRecord

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "saas_license"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec(firstresult=True)
def saas_license_spoke_info() -> SpokeInfo:  # type: ignore[empty-body]
    """Describe the spoke: name, profile type, permissions per process, known identifiers."""


@hookspec(firstresult=True)
def saas_license_download_subscriptions(  # type: ignore[empty-body]
    context: SpokeContext,
) -> Iterable[SubscriptionRecord]:
    """Yield every seat in the vendor account, one record per (user, identifier).

    Must raise (not return partial data) if the listing cannot be completed: only a complete
    download may close subscriptions that vanished.
    """


@hookspec(firstresult=True)
def saas_license_pull_user_activity(  # type: ignore[empty-body]
    context: SpokeContext, since: dt.datetime
) -> Iterable[ActivityRecord]:
    """Yield each user's last activity known to the vendor (None = never active)."""


@hookspec(firstresult=True)
def saas_license_current_user(  # type: ignore[empty-body]
    context: SpokeContext, external_user_id: str
) -> CurrentUser:
    """Read one user's current record from the vendor (one read, nothing changed).

    The core re-assesses this fresh record right before every reclaim and reads it again right
    after to confirm the outcome. Must raise when the vendor cannot answer: a guess here could
    disable a protected user.
    """


@hookspec(firstresult=True)
def saas_license_reclaim_subscription(  # type: ignore[empty-body]
    context: SpokeContext, subscription: Subscription
) -> ReclaimResult:
    """Take the seat back. Idempotent: a seat already free is ``ALREADY_DONE``, not an error."""


@hookspec(firstresult=True)
def saas_license_restore_subscription(  # type: ignore[empty-body]
    context: SpokeContext, subscription: Subscription
) -> ReclaimResult:
    """Undo a reclaim: give the seat back to its user. Optional; idempotent."""


@hookspec(firstresult=True)
def saas_license_validate_connection(context: SpokeContext) -> ValidationReport:  # type: ignore[empty-body]
    """Check each enabled process against the vendor without changing anything."""


@hookspec(firstresult=True)
def saas_license_sandbox() -> SandboxOffer | None:
    """Offer a fake account of the vendor (on 127.0.0.1) for ``demo`` and ``sandbox serve``. Optional."""


@hookspec(firstresult=True)
def saas_license_cli_options(command: str) -> Sequence[click.Option] | None:
    """Extra options the spoke adds to a core command (today: ``"sandbox serve"``). Optional.

    Their values reach the spoke only (``SandboxSettings.options``); the core never reads them.
    """


@hookspec
def saas_license_notify(notification: Notification) -> bool | None:
    """Deliver one notification (email, chat message, ticket…) to ``notification.recipient``.

    Return True when delivered, None or False to pass. Raising is recorded in the outbox and the
    other notifiers still get their turn; the notification is never lost.
    """


@hookspec(firstresult=True)
def saas_license_directory_people(source: str) -> Iterable[Person] | None:
    """The people of the user directory at ``source`` (e.g. ``ldap://…`` or ``hr:workday``).

    Return None when ``source`` is not yours, so the next directory plugin is asked. The core
    indexes what you yield by e-mail and aliases and refuses an address claimed twice. The
    built-in CSV directory answers for paths ending in ``.csv``.
    """
