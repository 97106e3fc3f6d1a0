"""The Quillpad spoke: members → seats, reclaim = downgrade to basic, undo = upgrade to pro.

Quillpad's API (made up, documented here as a vendor would): ``GET /api/v2/members?cursor=&limit=``
answers ``{"members": [...], "next_cursor": "…" | null}``; ``GET /api/v2/members/<id>`` one
member (404: unknown); ``PATCH /api/v2/members/<id>`` with ``{"plan": "basic" | "pro"}`` answers
``204 No Content``; ``GET /api/v2/me`` the member the API key acts as. A member has ``id``,
``email``, ``name``, ``role`` (``owner``, ``admin``, ``member``), ``plan`` (``pro``, ``basic``),
``deactivated``, ``created_at`` and ``last_seen_at`` (null: never signed in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx

from saas_license.http import BearerAuth, CursorPage, make_client, paginate_cursor, request_json
from saas_license.spoke import (
    ActivityRecord,
    BadPayloadError,
    CurrentUser,
    Identity,
    KnownIdentifier,
    NotFoundError,
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
    parse_instant,
)

__all__ = ["INFO", "PAGE_SIZE", "QuillpadSpoke"]

#: Members per listing page (Quillpad allows up to 200; smaller pages keep memory flat).
PAGE_SIZE = 100
_ADMIN_ROLES = frozenset({"owner", "admin"})
_VENDOR = "Quillpad"

INFO = SpokeInfo(
    name="quillpad",
    display_name="Quillpad",
    profile_type="Quillpad Workspace",
    permissions=(
        ProcessPermission(
            process=Process.DOWNLOAD, vendor_role="admin", note="GET /api/v2/members, /me"
        ),
        ProcessPermission(
            process=Process.ACTIVITY, vendor_role="admin", note="last_seen_at on members"
        ),
        ProcessPermission(
            process=Process.RECLAIM,
            vendor_role="admin",
            note="PATCH /api/v2/members/:id plan=basic; undo sets plan=pro",
        ),
    ),
    identifiers=(
        KnownIdentifier(
            identifier="quillpad.pro",
            software_model="Quillpad Pro",
            publisher="Quillpad Ltd",
            description="paid editor seat",
        ),
        KnownIdentifier(
            identifier="quillpad.basic",
            software_model="Quillpad Basic",
            publisher="Quillpad Ltd",
            paid=False,
            description="free read-and-comment seat",
        ),
    ),
    default_base_url="https://<workspace>.quillpad.example",
    auth_types=("api_key",),
    reclaim_effect="downgrade to basic",
    supports_undo=True,
    activity_from_download=True,
    reclaim_scope="seat",
    protective_fields=("administrator",),
    version="0.1.0",
)


def _text(member: dict[str, Any], field: str) -> str:
    value = member.get(field)
    if not isinstance(value, str) or not value:
        raise BadPayloadError(
            f"{_VENDOR} sent a member without a readable {field!r}: {member.get('id')!r}",
            hint="nothing was stored; report this answer",
        )
    return value


def _instant(member: dict[str, Any], field: str) -> tuple[dt.datetime | None, bool]:
    """The timestamp and whether it is known (absent or unreadable: unknown, never 'never')."""
    if field not in member:
        return None, False
    raw = member[field]
    if raw is None:
        return None, True
    try:
        return parse_instant(raw), True
    except (TypeError, ValueError):
        return None, False


def record_of(member: dict[str, Any]) -> SubscriptionRecord | None:
    """The seat a member holds, as a record; None for a deactivated member (no seat)."""
    if member.get("deactivated") is True:
        return None
    unknown: set[str] = set()
    role = member.get("role")
    admin: bool | None = role in _ADMIN_ROLES if isinstance(role, str) else None
    if admin is None:
        unknown.add("administrator")
    last, known = _instant(member, "last_seen_at")
    if not known:
        unknown.add("last_activity")
    created, _ = _instant(member, "created_at")
    plan = member.get("plan")
    return SubscriptionRecord(
        external_user_id=_text(member, "id"),
        user_principal_name=_text(member, "email"),
        identifier=f"quillpad.{plan if isinstance(plan, str) and plan else 'unknown'}",
        display_name=str(member.get("name") or ""),
        last_activity=last,
        external_created=created,
        attributes={"administrator": bool(admin), "role": role if isinstance(role, str) else None},
        unknown=frozenset(unknown),
    )


class QuillpadSpoke:
    """Stateless: every call builds its client from the context."""

    def client(self, ctx: SpokeContext) -> httpx.Client:
        """A client for the workspace's API with the alias's key."""
        return make_client(
            ctx.alias.base_url, auth=BearerAuth(ctx.credentials["api_key"]), options=ctx.http
        )

    def members(self, ctx: SpokeContext) -> Iterator[dict[str, Any]]:
        """Every member once, following cursors (a repeated cursor raises; any error raises)."""
        with self.client(ctx) as client:

            def page(cursor: str | None) -> CursorPage[dict[str, Any]]:
                params: dict[str, Any] = {"limit": PAGE_SIZE}
                if cursor:
                    params["cursor"] = cursor
                body = request_json(client, "GET", "/api/v2/members", params=params, vendor=_VENDOR)
                if not isinstance(body, dict) or not isinstance(body.get("members"), list):
                    raise BadPayloadError(f"{_VENDOR} sent a members page without 'members'")
                return CursorPage(items=body["members"], next=body.get("next_cursor"))

            yield from paginate_cursor(page, key=lambda m: m.get("id"), what="Quillpad members")

    def member(self, ctx: SpokeContext, member_id: str) -> dict[str, Any] | None:
        """One member as Quillpad holds it now; None when Quillpad does not know them."""
        with self.client(ctx) as client:
            try:
                body = request_json(client, "GET", f"/api/v2/members/{member_id}", vendor=_VENDOR)
            except NotFoundError:
                return None
        if not isinstance(body, dict) or body.get("id") != member_id:
            raise BadPayloadError(f"{_VENDOR} answered for another member than {member_id!r}")
        return body

    # -- the hooks' work ----------------------------------------------------------------------

    def download(self, ctx: SpokeContext) -> Iterator[SubscriptionRecord]:
        """One record per active member (deactivated members hold no seat)."""
        for member in self.members(ctx):
            record = record_of(member)
            if record is not None:
                yield record

    def activity(self, ctx: SpokeContext, since: dt.datetime) -> Iterator[ActivityRecord]:
        """Nothing beyond the download: ``last_seen_at`` arrives with every member."""
        return iter(())

    def current_user(self, ctx: SpokeContext, member_id: str) -> CurrentUser:
        """One fresh read, mapped exactly as the download maps it."""
        member = self.member(ctx, member_id)
        if member is None:
            return CurrentUser(external_user_id=member_id, exists=False)
        record = record_of(member)
        return CurrentUser(external_user_id=member_id, seats=(record,) if record else ())

    def _set_plan(self, ctx: SpokeContext, sub: Subscription, plan: str) -> ReclaimResult:
        try:
            before = self.member(ctx, sub.external_user_id)
        except VendorError as exc:
            return ReclaimResult(status=ReclaimStatus.FAILED, message=str(exc))
        if before is None or before.get("deactivated") is True:
            return ReclaimResult(status=ReclaimStatus.ALREADY_DONE, message="no active member")
        facts = {"plan": before.get("plan"), "role": before.get("role")}
        if before.get("plan") == plan:
            return ReclaimResult(
                status=ReclaimStatus.ALREADY_DONE,
                message=f"already on {plan}",
                before=facts,
                after=facts,
            )
        if plan == "basic":
            role = before.get("role")
            if not isinstance(role, str) or role in _ADMIN_ROLES:
                return ReclaimResult(
                    status=ReclaimStatus.REFUSED,
                    message=f"member {sub.external_user_id} is {role or 'of unknown role'}: "
                    "owners and admins are never downgraded",
                    before=facts,
                )
            if sub.external_user_id == ctx.integration_user_id:
                return ReclaimResult(
                    status=ReclaimStatus.REFUSED,
                    message="the integration's own member is never downgraded",
                    before=facts,
                )
        with self.client(ctx) as client:
            try:
                # Quillpad answers 204 No Content: request_json returns None, so read it back
                request_json(
                    client,
                    "PATCH",
                    f"/api/v2/members/{sub.external_user_id}",
                    json={"plan": plan},
                    vendor=_VENDOR,
                )
            except VendorError as exc:
                return ReclaimResult(status=ReclaimStatus.FAILED, message=str(exc), before=facts)
        try:
            after = self.member(ctx, sub.external_user_id)
        except VendorError as exc:
            return ReclaimResult(
                status=ReclaimStatus.UNKNOWN,
                message=f"the change was sent but reading the member failed: {exc}",
                before=facts,
            )
        now = {"plan": (after or {}).get("plan"), "role": (after or {}).get("role")}
        if now["plan"] != plan:
            return ReclaimResult(
                status=ReclaimStatus.FAILED,
                message=f"{_VENDOR} did not apply the change: the plan is {now['plan']}",
                before=facts,
                after=now,
            )
        return ReclaimResult(
            status=ReclaimStatus.SUCCESS, message=f"now on {plan}", before=facts, after=now
        )

    def reclaim(self, ctx: SpokeContext, sub: Subscription) -> ReclaimResult:
        """Downgrade to basic; refuses owners, admins, unknown roles and the integration's member."""
        return self._set_plan(ctx, sub, "basic")

    def restore(self, ctx: SpokeContext, sub: Subscription) -> ReclaimResult:
        """Upgrade back to pro (undo)."""
        return self._set_plan(ctx, sub, "pro")

    def validate(self, ctx: SpokeContext) -> ValidationReport:
        """Who the key acts as, one page of members, and whether it may change plans."""
        with self.client(ctx) as client:
            try:
                me = request_json(client, "GET", "/api/v2/me", vendor=_VENDOR)
                request_json(client, "GET", "/api/v2/members", params={"limit": 1}, vendor=_VENDOR)
            except VendorError as exc:
                return ValidationReport(
                    checks=(ValidationCheck(process=Process.DOWNLOAD, ok=False, message=str(exc)),)
                )
        role = me.get("role") if isinstance(me, dict) else None
        identity = Identity(
            external_user_id=_text(me, "id"),
            user_principal_name=_text(me, "email"),
            is_administrator=role in _ADMIN_ROLES,
        )
        checks = [
            ValidationCheck(
                process=Process.DOWNLOAD,
                ok=True,
                message=f"signed in as {identity.user_principal_name}",
            ),
            ValidationCheck(
                process=Process.ACTIVITY, ok=True, message="last_seen_at comes with every member"
            ),
        ]
        if ctx.profile.processes.reclaim:
            checks.append(
                ValidationCheck(
                    process=Process.RECLAIM,
                    ok=identity.is_administrator,
                    message="the key's member may change plans"
                    if identity.is_administrator
                    else f"{identity.user_principal_name} is {role}: make it an admin or switch "
                    "reclaim off",
                )
            )
        return ValidationReport(checks=tuple(checks), identity=identity)
