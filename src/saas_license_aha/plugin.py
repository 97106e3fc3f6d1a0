"""The Aha! spoke's hook implementations, registered through the ``saas_license`` entry point."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from saas_license.spoke import (
    ActivityRecord,
    CurrentUser,
    ReclaimResult,
    SandboxOffer,
    SpokeContext,
    SpokeInfo,
    Subscription,
    SubscriptionRecord,
    ValidationReport,
    hookimpl,
)

from .spoke import INFO, AhaSpoke

if TYPE_CHECKING:
    import click

_spoke = AhaSpoke()


@hookimpl
def saas_license_spoke_info() -> SpokeInfo:
    """Describe the Aha! spoke."""
    return INFO


@hookimpl
def saas_license_download_subscriptions(context: SpokeContext) -> Iterable[SubscriptionRecord]:
    """Seats of every enabled Aha! user (and of users whose ``enabled`` is unknown)."""
    return _spoke.download(context)


@hookimpl
def saas_license_pull_user_activity(
    context: SpokeContext, since: dt.datetime
) -> Iterable[ActivityRecord]:
    """``accessed_at`` per user."""
    return _spoke.activity(context, since)


@hookimpl
def saas_license_current_user(context: SpokeContext, external_user_id: str) -> CurrentUser:
    """One fresh ``GET /api/v1/users/:id``, mapped as the download maps it."""
    return _spoke.current_user(context, external_user_id)


@hookimpl
def saas_license_reclaim_subscription(
    context: SpokeContext, subscription: Subscription
) -> ReclaimResult:
    """Disable the user."""
    return _spoke.reclaim(context, subscription)


@hookimpl
def saas_license_restore_subscription(
    context: SpokeContext, subscription: Subscription
) -> ReclaimResult:
    """Re-enable the user."""
    return _spoke.restore(context, subscription)


@hookimpl
def saas_license_validate_connection(context: SpokeContext) -> ValidationReport:
    """Check identity, users list, activity field and reclaim rights."""
    return _spoke.validate(context)


@hookimpl
def saas_license_sandbox() -> SandboxOffer:
    """The bundled fake Aha! API (imported only when a sandbox is asked for)."""
    from .sandbox._offer import OFFER

    return OFFER


@hookimpl
def saas_license_cli_options(command: str) -> Sequence[click.Option] | None:
    """``sandbox serve``'s Aha! knobs: API key, OAuth client, rate limits, faults, strict shapes."""
    if command != "sandbox serve":
        return None
    from .sandbox._offer import serve_options

    return serve_options()
