"""The Aha! spoke: download, activity, reclaim (disable), restore (enable) and validation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from saas_license import (
    ActivityRecord,
    Identity,
    NotFoundError,
    OptionSpec,
    PermissionDeniedError,
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

from . import __version__
from ._payloads import AhaUser, parse_users_page
from .auth import AHA_OAUTH, auth_for
from .client import AhaClient
from .mapping import IDENTIFIERS, subscription_records

__all__ = ["AUDITS_OPTION", "INFO", "AhaSpoke"]

#: Profile option that adds write activity from ``/api/v1/audits`` as a second activity signal.
AUDITS_OPTION = "aha.audits"
_AUDIT_RETENTION = dt.timedelta(days=365)

INFO = SpokeInfo(
    name="aha",
    display_name="Aha!",
    profile_type="Aha! Subscription",
    permissions=(
        ProcessPermission(
            process=Process.DOWNLOAD,
            vendor_role="administrator",
            scopes=(),
            note="lists all account users (GET /api/v1/users, /api/v1/me)",
        ),
        ProcessPermission(
            process=Process.ACTIVITY,
            vendor_role="administrator",
            scopes=(),
            note="reads accessed_at on account users; optionally /api/v1/audits",
        ),
        ProcessPermission(
            process=Process.RECLAIM,
            vendor_role="administrator",
            scopes=(),
            note="disables users (PUT /api/v1/users/:id enabled=false); undo re-enables",
        ),
    ),
    identifiers=IDENTIFIERS,
    default_base_url="https://<account>.aha.io",
    auth_types=("api_key", "oauth2"),
    reclaim_effect="disable user",
    supports_undo=True,
    activity_from_download=True,
    version=__version__,
    oauth=AHA_OAUTH,
    options=(
        OptionSpec(
            key=AUDITS_OPTION,
            type="bool",
            default=False,
            doc="also read write activity from /api/v1/audits (a second activity signal)",
        ),
    ),
)


def _snapshot(user: AhaUser) -> dict[str, Any]:
    return {
        "enabled": user.enabled,
        "paid_seat": user.paid_seat,
        "administrator": user.administrator,
    }


def _ambiguous(exc: VendorError) -> bool:
    """True when a failed mutation may still have been applied (timeouts, 5xx, dropped links)."""
    return exc.status_code is None or exc.status_code >= 500


def _may_disable_users(user: AhaUser) -> bool:
    """Account or billing administrators manage users and seats; older payloads have only the flag."""
    roles = user.administrator_roles
    if not user.administrator:
        return False
    if not roles:
        return True
    return bool(roles.get("administer_account") or roles.get("administer_billing"))


class AhaSpoke:
    """Stateless implementation behind the hooks; every call builds its client from the context."""

    def client(self, ctx: SpokeContext) -> AhaClient:
        """A client for the profile's account with the alias's own credentials."""
        return AhaClient(ctx.alias.base_url, auth=auth_for(ctx), options=ctx.http)

    # -- download and activity --------------------------------------------------------------

    def download(self, ctx: SpokeContext) -> Iterator[SubscriptionRecord]:
        """Every seat held by an enabled user, streamed page by page."""
        with self.client(ctx) as client:
            for user in client.iter_users():
                yield from subscription_records(user)

    def activity(self, ctx: SpokeContext, since: dt.datetime) -> Iterator[ActivityRecord]:
        """Activity beyond the download: each user's last audited write, if the profile asks.

        ``accessed_at`` arrives with the download (``INFO.activity_from_download``), so listing
        every user again would only double the requests. Any signal counts: the store keeps the
        most recent. Audits cover writes only and at most the last 12 months, so they are read
        from ``since`` (the look-back window) onwards.
        """
        if not ctx.profile.options.get(AUDITS_OPTION):
            return
        with self.client(ctx) as client:
            now = ctx.now or dt.datetime.now(dt.timezone.utc)
            start = max(since, now - _AUDIT_RETENTION)
            latest: dict[str, tuple[dt.datetime, str | None]] = {}
            for audit in client.iter_audits(since=start):
                if audit.user is None:
                    continue
                known = latest.get(audit.user.id)
                if known is None or audit.created_at > known[0]:
                    latest[audit.user.id] = (audit.created_at, audit.user.email)
            for user_id, (when, email) in latest.items():
                yield ActivityRecord(
                    external_user_id=user_id,
                    user_principal_name=email,
                    last_activity=when,
                    source="aha.audits",
                )

    # -- reclaim and undo -------------------------------------------------------------------

    def _refusal(self, client: AhaClient, ctx: SpokeContext, user: AhaUser) -> str | None:
        if user.administrator:
            return f"user {user.id} is an Aha! administrator; administrators are never reclaimed"
        own = ctx.integration_user_id or client.me().id
        if user.id == own:
            return f"user {user.id} is the integration's own user; it is never reclaimed"
        return None

    def _set(self, ctx: SpokeContext, sub: Subscription, *, enabled: bool) -> ReclaimResult:
        verb = "re-enabled" if enabled else "disabled"
        try:
            with self.client(ctx) as client:
                before = client.get_user(sub.external_user_id)
                if before.enabled is enabled:
                    return ReclaimResult(
                        status=ReclaimStatus.ALREADY_DONE,
                        message=f"user already {'enabled' if enabled else 'disabled'}",
                        before=_snapshot(before),
                        after=_snapshot(before),
                    )
                if not enabled:
                    refusal = self._refusal(client, ctx, before)
                    if refusal:
                        return ReclaimResult(
                            status=ReclaimStatus.REFUSED, message=refusal, before=_snapshot(before)
                        )
                note = ""
                try:
                    client.set_enabled(before.id, enabled)
                except VendorError as exc:
                    if not _ambiguous(exc):
                        raise
                    note = f" (the update answered '{exc.message}'; confirmed by reading the user)"
                after = client.get_user(before.id)
        except VendorError as exc:
            return ReclaimResult(status=ReclaimStatus.FAILED, message=str(exc))
        if after.enabled is not enabled:
            return ReclaimResult(
                status=ReclaimStatus.FAILED,
                message=f"Aha! did not apply the change: the user is still {'disabled' if enabled else 'enabled'}"
                + note,
                before=_snapshot(before),
                after=_snapshot(after),
            )
        return ReclaimResult(
            status=ReclaimStatus.SUCCESS,
            message=f"user {verb}{note}",
            before=_snapshot(before),
            after=_snapshot(after),
        )

    def reclaim(self, ctx: SpokeContext, sub: Subscription) -> ReclaimResult:
        """Disable the user; already disabled is success; administrators and self are refused.

        The state is read before and after. A failed update is never resent: if its outcome is
        unknown (timeout, 5xx) the user is read again and the result says what Aha! holds.
        """
        return self._set(ctx, sub, enabled=False)

    def restore(self, ctx: SpokeContext, sub: Subscription) -> ReclaimResult:
        """Re-enable a reclaimed user (undo); already enabled is success."""
        return self._set(ctx, sub, enabled=True)

    # -- validation -------------------------------------------------------------------------

    def validate(self, ctx: SpokeContext) -> ValidationReport:
        """Per process, without changing anything: identity and one page of users (download),
        ``accessed_at`` and optionally audits (activity), administrator rights (reclaim)."""
        checks: list[ValidationCheck] = []
        with self.client(ctx) as client:
            try:
                me = client.me()
                raw = client.users_page_json(1, per_page=1)
                _, pagination = parse_users_page(raw, page=1)
            except PermissionDeniedError as exc:
                checks.append(
                    ValidationCheck(
                        process=Process.DOWNLOAD,
                        ok=False,
                        message=f"{exc.message} — the integration user must be an Aha! administrator",
                    )
                )
                return ValidationReport(checks=tuple(checks))
            except VendorError as exc:
                checks.append(ValidationCheck(process=Process.DOWNLOAD, ok=False, message=str(exc)))
                return ValidationReport(checks=tuple(checks))
            identity = Identity(
                external_user_id=me.id,
                user_principal_name=me.email,
                is_administrator=me.administrator,
            )
            checks.append(
                ValidationCheck(
                    process=Process.DOWNLOAD,
                    ok=True,
                    message=f"signed in as {me.email}; the account has {pagination.total_records} users",
                )
            )
            if ctx.profile.processes.activity:
                checks.append(self._check_activity(client, ctx, raw))
            if ctx.profile.processes.reclaim:
                checks.append(self._check_reclaim(client, me))
        return ValidationReport(checks=tuple(checks), identity=identity)

    def _check_activity(self, client: AhaClient, ctx: SpokeContext, raw: Any) -> ValidationCheck:
        users = raw.get("users") if isinstance(raw, dict) else None
        if users and "accessed_at" not in users[0]:
            return ValidationCheck(
                process=Process.ACTIVITY,
                ok=False,
                message="Aha! sent users without accessed_at: last activity cannot be read",
            )
        message = "last activity comes from accessed_at on the users list"
        if ctx.profile.options.get(AUDITS_OPTION):
            try:
                client.audits_page(1, per_page=1)
            except VendorError as exc:
                return ValidationCheck(
                    process=Process.ACTIVITY,
                    ok=False,
                    message=f"the audits signal is on but /api/v1/audits failed: {exc}",
                )
            message += ", plus audited writes (/api/v1/audits)"
        return ValidationCheck(process=Process.ACTIVITY, ok=True, message=message)

    def _check_reclaim(self, client: AhaClient, me: AhaUser) -> ValidationCheck:
        if not _may_disable_users(me):
            return ValidationCheck(
                process=Process.RECLAIM,
                ok=False,
                message=f"{me.email} is not an Aha! account or billing administrator: reclaims "
                "would fail; grant the role or switch the reclaim process off",
            )
        try:
            client.get_user(me.id)  # the read-before-write path, without writing anything
        except NotFoundError:
            return ValidationCheck(
                process=Process.RECLAIM,
                ok=False,
                message="GET /api/v1/users/:id is not available to this token: reclaims could not "
                "read users before disabling them",
            )
        except VendorError as exc:
            return ValidationCheck(process=Process.RECLAIM, ok=False, message=str(exc))
        return ValidationCheck(
            process=Process.RECLAIM,
            ok=True,
            message=f"{me.email} is an administrator and can read users one by one; "
            "reclaim disables users (checked without changing anything)",
        )
