"""The Aha! spoke: download, activity, reclaim (disable), restore (enable) and validation."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from saas_license.http import OAuth2Token
from saas_license.spoke import (
    ActivityRecord,
    BadPayloadError,
    CurrentUser,
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
from ._payloads import AhaUser, parse_user, parse_users_page
from .auth import AHA_OAUTH, auth_for
from .client import AhaClient
from .mapping import IDENTIFIERS, administrator_of, subscription_records, user_seats

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
            note="lists all account users (GET /api/v1/users, /api/v1/me, /api/v1/users/:id)",
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
    # Disabling frees every seat of the user at once; a user is protected by an administrator
    # role and by being disabled already, and an unreadable paid_seat leaves unknown whether the
    # seat is reclaimable at all (an unknown value of any of them holds the seat).
    reclaim_scope="user",
    protective_fields=("administrator", "enabled", "paid_seat"),
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
        "administrator": administrator_of(user),
    }


def _ambiguous(exc: VendorError) -> bool:
    """True when a failed mutation may still have been applied (timeouts, 5xx, dropped links)."""
    return exc.status_code is None or exc.status_code >= 500


def _may_disable_users(user: AhaUser) -> bool | None:
    """Whether the user holds a role we take to allow disabling users (account or billing
    administrator; which one Aha! requires is unpublished). None when the roles are unreadable.

    Older payloads without ``administrator_roles`` have only the flag, which then decides.
    """
    roles = user.administrator_roles
    if roles and (roles.get("administer_account") or roles.get("administer_billing")):
        return True
    if roles and all(roles.get(r) is False for r in ("administer_account", "administer_billing")):
        return False
    return administrator_of(user)


class AhaSpoke:
    """Stateless implementation behind the hooks; every call builds its client from the context."""

    def client(self, ctx: SpokeContext) -> AhaClient:
        """A client for the profile's account with the alias's own credentials."""
        return AhaClient(ctx.alias.base_url, auth=auth_for(ctx), options=ctx.http)

    # -- download and activity --------------------------------------------------------------

    def download(self, ctx: SpokeContext) -> Iterator[SubscriptionRecord]:
        """Every seat held by an enabled user, streamed page by page."""
        with self.client(ctx) as client:
            read = functools.partial(user_seats, shared={})  # alike users share attributes
            # the last count is of seats (an enabled user holds one or more, a disabled one
            # none): a first wave it over-sizes asks for a few empty pages past the end, one it
            # under-sizes is completed from page 1's total_pages
            users = client.iter_users_as(read, key=itemgetter(0), expected=ctx.expected_records)
            for _user_id, seats in users:
                yield from seats

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

    # -- the fresh read before and after a reclaim --------------------------------------------

    def current_user(self, ctx: SpokeContext, external_user_id: str) -> CurrentUser:
        """One ``GET /api/v1/users/:id``, mapped exactly as the download maps it.

        404 means Aha! no longer knows the user (or this token cannot see it: Aha! answers both
        the same way) → ``exists=False``. Any other failure raises: never a guess.
        """
        with self.client(ctx) as client:
            try:
                user = client.get_user(external_user_id)
            except NotFoundError:
                return CurrentUser(external_user_id=external_user_id, exists=False)
        if user.id != external_user_id:
            raise BadPayloadError(
                f"Aha! answered GET /api/v1/users/{external_user_id} with user {user.id}",
                hint="nothing was changed; report this answer",
            )
        return CurrentUser(
            external_user_id=user.id, exists=True, seats=tuple(subscription_records(user))
        )

    # -- reclaim and undo -------------------------------------------------------------------

    def _refusal(self, client: AhaClient, ctx: SpokeContext, user: AhaUser) -> str | None:
        admin = administrator_of(user)
        if admin is True:
            return f"user {user.id} is an Aha! administrator; administrators are never reclaimed"
        if admin is None:
            return (
                f"Aha! did not report user {user.id}'s administrator roles readably; "
                "a user who may be an administrator is never reclaimed"
            )
        own = ctx.integration_user_id or client.me().id
        if user.id == own:
            return f"user {user.id} is the integration's own user; it is never reclaimed"
        return None

    def _set(self, ctx: SpokeContext, sub: Subscription, *, enabled: bool) -> ReclaimResult:
        verb = "re-enabled" if enabled else "disabled"
        state = "enabled" if enabled else "disabled"
        with self.client(ctx) as client:
            try:
                before = client.get_user(sub.external_user_id)
            except VendorError as exc:
                return ReclaimResult(status=ReclaimStatus.FAILED, message=str(exc))
            if before.enabled is None:
                return ReclaimResult(
                    status=ReclaimStatus.REFUSED,
                    message=f"Aha! did not report whether user {before.id} is enabled; "
                    "nothing was changed",
                    before=_snapshot(before),
                )
            if before.enabled is enabled:
                return ReclaimResult(
                    status=ReclaimStatus.ALREADY_DONE,
                    message=f"user already {state}",
                    before=_snapshot(before),
                    after=_snapshot(before),
                )
            if not enabled:
                try:
                    refusal = self._refusal(client, ctx, before)
                except VendorError as exc:
                    return ReclaimResult(status=ReclaimStatus.FAILED, message=str(exc))
                if refusal:
                    return ReclaimResult(
                        status=ReclaimStatus.REFUSED, message=refusal, before=_snapshot(before)
                    )
            note = ""
            answer: AhaUser | None = None
            try:
                answer = client.set_enabled(before.id, enabled)
            except VendorError as exc:
                if not _ambiguous(exc):
                    return ReclaimResult(
                        status=ReclaimStatus.FAILED, message=str(exc), before=_snapshot(before)
                    )
                note = f" (the update answered '{exc.message}'; confirmed by reading the user)"
            try:
                after = client.get_user(before.id)
            except VendorError as exc:
                if answer is None:  # the answer was lost and the confirming read failed too
                    return ReclaimResult(
                        status=ReclaimStatus.UNKNOWN,
                        message=f"the update's answer was lost and reading the user failed "
                        f"({exc.message}); Aha! may or may not have {verb} the user",
                        before=_snapshot(before),
                    )
                after = answer  # Aha! answered the update itself with the user's new state
                note = f" (as the update's answer says; the confirming read failed: {exc.message})"
        if after.enabled is not enabled:
            return ReclaimResult(
                status=ReclaimStatus.FAILED,
                message=f"Aha! did not apply the change: the user is still "
                f"{'disabled' if enabled else 'enabled'}" + note,
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
        """Disable the user; already disabled is success; administrators (or users whose roles
        are unreadable) and the integration's own user are refused.

        The state is read before and after. A failed update is never resent: if its outcome is
        unknown (timeout, 5xx, dropped connection) the user is read again and the result says
        what Aha! holds; if that read fails too, the outcome is ``UNKNOWN``.
        """
        return self._set(ctx, sub, enabled=False)

    def restore(self, ctx: SpokeContext, sub: Subscription) -> ReclaimResult:
        """Re-enable a reclaimed user (undo); already enabled is success."""
        return self._set(ctx, sub, enabled=True)

    # -- validation -------------------------------------------------------------------------

    def validate(self, ctx: SpokeContext) -> ValidationReport:
        """Per process, without changing anything: identity and one page of users (download),
        ``accessed_at`` and optionally audits (activity), administrator rights (reclaim).

        The integration user's roles come from ``GET /api/v1/users/:id`` (Aha!'s ``/me`` has
        none). ``explain`` says, for each behaviour Aha! does not publish, what was found.
        """
        checks: list[ValidationCheck] = []
        with self.client(ctx) as client:
            try:
                me_raw = client.me_json()
                me = parse_user(me_raw, where="me")
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
            own, source = self._own_record(client, me)
            admin = None if own is None else administrator_of(own)
            identity = Identity(
                external_user_id=me.id,
                user_principal_name=me.email or "",
                is_administrator=admin is True,
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
                checks.append(self._check_reclaim(me, own, source))
            explain = self._explain(ctx, client, me_raw, raw, own, source)
        return ValidationReport(
            checks=tuple(checks),
            identity=identity,
            explain=explain,
            expected_records=pagination.total_records,
        )

    def _own_record(self, client: AhaClient, me: AhaUser) -> tuple[AhaUser | None, str]:
        """The integration user's full record: ``GET /users/:id``, else the users list by email."""
        try:
            return client.get_user(me.id), f"GET /api/v1/users/{me.id}"
        except VendorError as first:
            reason = first.message
        if me.email:
            try:
                found = [u for u in client.find_user_by_email(me.email) if u.id == me.id]
            except VendorError as exc:
                reason += f"; the users list by email failed too: {exc.message}"
            else:
                if found:
                    return found[0], "GET /api/v1/users?email="
                reason += "; the users list by email does not hold it either"
        return None, reason

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
                client.audits_page(per_page=1, after_id="0")
            except VendorError as exc:
                return ValidationCheck(
                    process=Process.ACTIVITY,
                    ok=False,
                    message=f"the audits signal is on but /api/v1/audits failed: {exc}",
                )
            message += ", plus audited writes (/api/v1/audits)"
        return ValidationCheck(process=Process.ACTIVITY, ok=True, message=message)

    def _check_reclaim(self, me: AhaUser, own: AhaUser | None, source: str) -> ValidationCheck:
        if own is None:
            return ValidationCheck(
                process=Process.RECLAIM,
                ok=False,
                message=f"cannot read the integration user's own record ({source}): reclaims "
                "could not read users before disabling them",
            )
        allowed = _may_disable_users(own)
        if allowed is None:
            return ValidationCheck(
                process=Process.RECLAIM,
                ok=False,
                message=f"Aha! did not report {me.email}'s administrator roles readably "
                f"({source}); reclaims stay off until it does",
            )
        if not allowed:
            return ValidationCheck(
                process=Process.RECLAIM,
                ok=False,
                message=f"{me.email} is not an Aha! account or billing administrator: reclaims "
                "would fail; grant the role or switch the reclaim process off",
            )
        return ValidationCheck(
            process=Process.RECLAIM,
            ok=True,
            message=f"{me.email} is an administrator ({_roles_text(own)}, read with {source}) "
            "and can read users one by one; reclaim disables users "
            "(checked without changing anything)",
        )

    def _explain(
        self,
        ctx: SpokeContext,
        client: AhaClient,
        me_raw: Any,
        users_raw: Any,
        own: AhaUser | None,
        source: str,
    ) -> tuple[str, ...]:
        """What was found for each behaviour Aha! does not publish (see docs/aha.md)."""
        out = []
        me_fields = sorted(me_raw.get("user", me_raw)) if isinstance(me_raw, dict) else []
        admin_in_me = [f for f in ("administrator", "administrator_roles") if f in me_fields]
        out.append(
            "administrator roles of the integration user: /me documents none, so they are read "
            f"with {source if own else 'GET /api/v1/users/:id (failed: ' + source + ')'}; "
            f"found {_roles_text(own) if own else 'nothing'}; "
            f"this account's /me carries {', '.join(admin_in_me) or 'no administrator fields'}"
        )
        out.append(
            "administrator role a disable needs: unpublished; we assume account or billing "
            f"administrator; the integration user has {_roles_text(own) if own else 'unknown roles'} "
            "(the first real reclaim confirms: a 403 would mean a different role is needed)"
        )
        out.append(self._explain_per_page(client))
        out.append(_explain_rate_headers(client.seen_headers))
        out.append(_explain_tokens(ctx))
        users = users_raw.get("users") if isinstance(users_raw, dict) else None
        if users and isinstance(users[0], dict):
            flags = [f for f in ("roadmaps_seat", "develop_seat", "teamwork_seat") if f in users[0]]
            seat = (
                f"per-product seat flags ({', '.join(flags)}) are present"
                if flags
                else "no per-product seat flags (older shape): paid seats map to aha.paid"
            )
            paid = "paid_seat present" if "paid_seat" in users[0] else "paid_seat ABSENT"
        else:
            seat, paid = "no users to look at", "-"
        out.append(
            "seat flags: their meaning is inferred from their names; paid_seat decides what is "
            f"paid and disabled users hold no seat; found {seat}, {paid}"
        )
        return tuple(out)

    def _explain_per_page(self, client: AhaClient) -> str:
        prefix = (
            "default per_page: unpublished (30 in third-party code); we always send 200; found "
        )
        try:
            raw = client.users_page_json(1, per_page=None)
            users, pagination = parse_users_page(raw, page=1)
        except VendorError as exc:
            return prefix + f"nothing (the users list without per_page failed: {exc.message})"
        if pagination.total_records > len(users):
            return prefix + f"{len(users)} users on a page when none is asked for"
        return (
            prefix
            + f"at least {len(users)} (the account has only {pagination.total_records} users)"
        )


def _roles_text(user: AhaUser | None) -> str:
    if user is None:
        return "unknown roles"
    roles = user.administrator_roles
    if roles is None:
        flag = user.administrator
        return f"administrator={'unknown' if flag is None else str(flag).lower()} (no roles listed)"
    held = [r for r, v in sorted(roles.items()) if v]
    unreadable = [r for r, v in sorted(roles.items()) if v is None]
    text = ", ".join(held) or "no administrator role"
    if unreadable:
        text += f"; unreadable: {', '.join(unreadable)}"
    return text


def _explain_rate_headers(seen: dict[str, str]) -> str:
    prefix = (
        "rate-limit headers: X-Ratelimit-* names and the unit of X-Ratelimit-Reset are "
        "unpublished, Retry-After on 429 too; we honour Retry-After, else X-Ratelimit-Reset "
        "(epoch seconds if > 1e9, else seconds), else back off; found "
    )
    if not seen:
        return prefix + "no rate-limit headers on these answers"
    parts = [f"{name}={value}" for name, value in sorted(seen.items())]
    reset = seen.get("x-ratelimit-reset")
    if reset is not None:
        try:
            unit = "epoch seconds" if float(reset) > 1e9 else "seconds to wait"
        except ValueError:
            unit = "an unreadable value"
        parts.append(f"(Reset reads as {unit})")
    if "retry-after" not in seen:
        parts.append("(no Retry-After: Aha! only sends one on a 429, if at all)")
    return prefix + " ".join(parts)


def _explain_tokens(ctx: SpokeContext) -> str:
    prefix = (
        "OAuth2 refresh tokens and token lifetime: unpublished; we keep refresh_token/expires_in "
        "when given, else treat the token as long-lived and re-authorize on a 401; found "
    )
    creds = ctx.credentials
    oauth = ctx.alias.auth_type == "oauth2" or ("api_key" not in creds and "oauth_token" in creds)
    if not oauth:
        return prefix + "an API key is in use (no tokens involved)"
    token: OAuth2Token | None = None
    try:
        if ctx.token_store is not None:
            token = ctx.token_store.load()
        elif "oauth_token" in creds:
            token = OAuth2Token.loads(creds["oauth_token"].reveal())
    except Exception as exc:  # explanation only: never fail validation over it
        return prefix + f"a stored token that cannot be read ({type(exc).__name__})"
    if token is None:
        return prefix + "no stored token"
    lifetime = "an expiry" if token.expires_at is not None else "no expiry"
    refresh = "a refresh token" if token.refreshable else "no refresh token"
    return prefix + f"a token with {refresh} and {lifetime}"
