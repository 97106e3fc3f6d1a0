"""The Aha! spoke: download, activity, reclaim (disable), restore (enable) and validation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from saas_license import (
    ActivityRecord,
    ConfigError,
    Identity,
    Process,
    ProcessPermission,
    ReclaimResult,
    ReclaimStatus,
    SpokeContext,
    SpokeInfo,
    Subscription,
    SubscriptionRecord,
    ValidationCheck,
    ValidationReport,
    VendorError,
)
from saas_license.http import BearerAuth

from . import __version__
from ._payloads import AhaUser
from .client import AhaClient
from .mapping import IDENTIFIERS, activity_record, subscription_records

__all__ = ["INFO", "AhaSpoke"]

INFO = SpokeInfo(
    name="aha",
    display_name="Aha!",
    profile_type="Aha! Subscription",
    permissions=(
        ProcessPermission(
            process=Process.DOWNLOAD,
            vendor_role="administrator",
            scopes=(),
            note="lists all account users",
        ),
        ProcessPermission(
            process=Process.ACTIVITY,
            vendor_role="administrator",
            scopes=(),
            note="reads accessed_at on account users",
        ),
        ProcessPermission(
            process=Process.RECLAIM,
            vendor_role="administrator",
            scopes=(),
            note="disables users (PUT /api/v1/users/:id enabled=false)",
        ),
    ),
    identifiers=IDENTIFIERS,
    default_base_url="https://<account>.aha.io",
    auth_types=("api_key",),
    reclaim_effect="disable user",
    supports_undo=True,
    version=__version__,
)


def _snapshot(user: AhaUser) -> dict[str, object]:
    return {
        "enabled": user.enabled,
        "paid_seat": user.paid_seat,
        "administrator": user.administrator,
    }


class AhaSpoke:
    """Stateless implementation behind the hooks; every call builds its client from the context."""

    def client(self, ctx: SpokeContext) -> AhaClient:
        """A client for the profile's account with its API key."""
        key = ctx.credentials.get("api_key")
        if key is None:
            raise ConfigError(
                f"connection alias {ctx.alias.name!r} has no API key",
                field="alias.api_key",
                hint=f"store one with `saas-license alias add {ctx.alias.name} --spoke aha --url ... --api-key-env VAR`",
            )
        return AhaClient(ctx.alias.base_url, auth=BearerAuth(key), options=ctx.http)

    def download(self, ctx: SpokeContext) -> Iterator[SubscriptionRecord]:
        """Every seat held by an enabled user."""
        with self.client(ctx) as client:
            for user in client.iter_users():
                yield from subscription_records(user)

    def activity(self, ctx: SpokeContext, since: dt.datetime) -> Iterator[ActivityRecord]:
        """``accessed_at`` of every enabled user (``since`` does not narrow it: Aha! has no filter)."""
        with self.client(ctx) as client:
            for user in client.iter_users():
                if user.enabled:
                    yield activity_record(user)

    def _guard(self, client: AhaClient, ctx: SpokeContext, user: AhaUser) -> str | None:
        if user.administrator:
            return f"user {user.id} is an Aha! administrator; administrators are never reclaimed"
        own = ctx.integration_user_id or client.me().id
        if user.id == own:
            return f"user {user.id} is the integration's own user; it is never reclaimed"
        return None

    def reclaim(self, ctx: SpokeContext, sub: Subscription) -> ReclaimResult:
        """Disable the user; already disabled is success; administrators and self are refused."""
        try:
            with self.client(ctx) as client:
                before = client.get_user(sub.external_user_id)
                if not before.enabled:
                    return ReclaimResult(
                        status=ReclaimStatus.ALREADY_DONE,
                        message="user already disabled",
                        before=_snapshot(before),
                        after=_snapshot(before),
                    )
                refusal = self._guard(client, ctx, before)
                if refusal:
                    return ReclaimResult(
                        status=ReclaimStatus.REFUSED, message=refusal, before=_snapshot(before)
                    )
                client.set_enabled(before.id, False)
                after = client.get_user(before.id)
        except VendorError as exc:
            return ReclaimResult(status=ReclaimStatus.FAILED, message=str(exc))
        if after.enabled:
            return ReclaimResult(
                status=ReclaimStatus.FAILED,
                message="Aha! accepted the update but the user is still enabled",
                before=_snapshot(before),
                after=_snapshot(after),
            )
        return ReclaimResult(
            status=ReclaimStatus.SUCCESS,
            message="user disabled",
            before=_snapshot(before),
            after=_snapshot(after),
        )

    def restore(self, ctx: SpokeContext, sub: Subscription) -> ReclaimResult:
        """Re-enable a reclaimed user (undo)."""
        try:
            with self.client(ctx) as client:
                before = client.get_user(sub.external_user_id)
                if before.enabled:
                    return ReclaimResult(
                        status=ReclaimStatus.ALREADY_DONE,
                        message="user already enabled",
                        before=_snapshot(before),
                        after=_snapshot(before),
                    )
                client.set_enabled(before.id, True)
                after = client.get_user(before.id)
        except VendorError as exc:
            return ReclaimResult(status=ReclaimStatus.FAILED, message=str(exc))
        status = ReclaimStatus.SUCCESS if after.enabled else ReclaimStatus.FAILED
        return ReclaimResult(
            status=status,
            message="user re-enabled" if after.enabled else "user still disabled",
            before=_snapshot(before),
            after=_snapshot(after),
        )

    def validate(self, ctx: SpokeContext) -> ValidationReport:
        """Identity via /me, one page of users, activity field present, reclaim rights (read-only)."""
        checks: list[ValidationCheck] = []
        identity = None
        with self.client(ctx) as client:
            try:
                me = client.me()
                identity = Identity(
                    external_user_id=me.id,
                    user_principal_name=me.email,
                    is_administrator=me.administrator,
                )
                _, pagination = client.users_page(1, per_page=1)
            except VendorError as exc:
                checks.append(ValidationCheck(process=Process.DOWNLOAD, ok=False, message=str(exc)))
                return ValidationReport(checks=tuple(checks), identity=identity)
            checks.append(
                ValidationCheck(
                    process=Process.DOWNLOAD,
                    ok=True,
                    message=f"signed in as {me.email}; the account has {pagination.total_records} users",
                )
            )
            if ctx.profile.processes.activity:
                checks.append(
                    ValidationCheck(
                        process=Process.ACTIVITY,
                        ok=True,
                        message="last activity comes from accessed_at on the users list",
                    )
                )
            if ctx.profile.processes.reclaim:
                roles = me.administrator_roles
                ok = me.administrator and (
                    roles.get("administer_account", True) or roles.get("administer_billing", True)
                )
                checks.append(
                    ValidationCheck(
                        process=Process.RECLAIM,
                        ok=bool(ok),
                        message=(
                            "the integration user may disable users"
                            if ok
                            else f"{me.email} is not an account/billing administrator: reclaims would fail; "
                            "grant the role or switch the reclaim process off"
                        ),
                    )
                )
        return ValidationReport(checks=tuple(checks), identity=identity)
