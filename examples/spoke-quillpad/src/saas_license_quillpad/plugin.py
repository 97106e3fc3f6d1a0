"""The Quillpad spoke's hook implementations (the ``saas_license`` entry point)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

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

from .spoke import INFO, QuillpadSpoke

_spoke = QuillpadSpoke()


@hookimpl
def saas_license_spoke_info() -> SpokeInfo:
    """Describe the Quillpad spoke."""
    return INFO


@hookimpl
def saas_license_download_subscriptions(context: SpokeContext) -> Iterable[SubscriptionRecord]:
    """One seat per active member: ``quillpad.pro`` or ``quillpad.basic``."""
    return _spoke.download(context)


@hookimpl
def saas_license_pull_user_activity(
    context: SpokeContext, since: dt.datetime
) -> Iterable[ActivityRecord]:
    """Nothing extra: the download carries ``last_seen_at``."""
    return _spoke.activity(context, since)


@hookimpl
def saas_license_current_user(context: SpokeContext, external_user_id: str) -> CurrentUser:
    """One member read now."""
    return _spoke.current_user(context, external_user_id)


@hookimpl
def saas_license_reclaim_subscription(
    context: SpokeContext, subscription: Subscription
) -> ReclaimResult:
    """Downgrade the member to basic."""
    return _spoke.reclaim(context, subscription)


@hookimpl
def saas_license_restore_subscription(
    context: SpokeContext, subscription: Subscription
) -> ReclaimResult:
    """Upgrade the member back to pro."""
    return _spoke.restore(context, subscription)


@hookimpl
def saas_license_validate_connection(context: SpokeContext) -> ValidationReport:
    """Identity, one page of members, the right to change plans."""
    return _spoke.validate(context)


@hookimpl
def saas_license_sandbox() -> SandboxOffer:
    """A fake Quillpad for ``demo`` and ``sandbox serve`` (imported only when asked for)."""
    from .fake import OFFER

    return OFFER
