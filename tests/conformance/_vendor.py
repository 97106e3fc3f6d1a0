"""A tiny fake vendor ("Widgetry") and a correct spoke for it: the base the broken spokes bend.

Users hold a ``pro`` or ``basic`` plan; ``GET /users?cursor=`` lists them with cursor
pagination, ``GET /users/<id>`` reads one, ``PATCH /users/<id>`` changes ``plan``. Reclaim
downgrades to basic (the ``widgetry.pro`` seat goes away); restore upgrades back.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from saas_license import ConnectionAlias, IntegrationProfile, Secret
from saas_license.http import BearerAuth, HttpOptions, make_client, request_json
from saas_license.spoke import (
    ActivityRecord,
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
    format_instant,
    hookimpl,
    parse_instant,
)

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
KEY = "widgetry-key"
OWN_ID = "u000"
PAGE = 4


class FakeWidgetry:
    """The fake vendor: an in-memory account behind an ``httpx.MockTransport``."""

    def __init__(self, users: int = 10) -> None:
        self._lock = threading.Lock()
        self.patches = 0
        self.users: dict[str, dict[str, Any]] = {}
        for i in range(users):
            uid = f"u{i:03d}"
            self.users[uid] = {
                "id": uid,
                "email": f"user{i}@widgetry.test",
                "admin": i in (0, 1),
                "plan": "pro",
                "last_login": format_instant(NOW - dt.timedelta(days=3 * i)),
            }

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return httpx.Response(401, json={"error": "bad key"})
        path = request.url.path
        with self._lock:
            if path == "/me":
                return httpx.Response(200, json=self.users[OWN_ID])
            if path == "/users":
                ids = sorted(self.users)
                start = int(request.url.params.get("cursor") or 0)
                page = [self.users[i] for i in ids[start : start + PAGE]]
                nxt = str(start + PAGE) if start + PAGE < len(ids) else None
                return httpx.Response(200, json={"users": page, "next_cursor": nxt})
            if path.startswith("/users/"):
                user = self.users.get(path.rsplit("/", 1)[1])
                if user is None:
                    return httpx.Response(404, json={"error": "no such user"})
                if request.method == "PATCH":
                    self.patches += 1
                    user.update(json.loads(request.content))
                return httpx.Response(200, json=user)
        return httpx.Response(404, json={"error": f"no route {path}"})


INFO = SpokeInfo(
    name="widgetry",
    display_name="Widgetry",
    profile_type="Widgetry Subscription",
    permissions=tuple(
        ProcessPermission(process=p, vendor_role="admin")
        for p in (Process.DOWNLOAD, Process.ACTIVITY, Process.RECLAIM)
    ),
    identifiers=(
        KnownIdentifier(identifier="widgetry.pro", software_model="Widgetry Pro", publisher="W"),
        KnownIdentifier(
            identifier="widgetry.basic", software_model="Widgetry Basic", publisher="W", paid=False
        ),
    ),
    reclaim_effect="downgrade to basic",
    supports_undo=True,
    activity_from_download=True,
)


class GoodSpoke:
    """A correct spoke for the fake: every broken spoke overrides one thing of it."""

    info = INFO

    def client(self, ctx: SpokeContext) -> httpx.Client:
        return make_client(
            ctx.alias.base_url, auth=BearerAuth(ctx.credentials["api_key"]), options=ctx.http
        )

    def record(self, user: dict[str, Any]) -> SubscriptionRecord:
        return SubscriptionRecord(
            external_user_id=user["id"],
            user_principal_name=user["email"],
            identifier=f"widgetry.{user['plan']}",
            last_activity=parse_instant(user["last_login"]),
            attributes={"administrator": user["admin"]},
        )

    def iter_users(self, ctx: SpokeContext) -> Iterator[dict[str, Any]]:
        with self.client(ctx) as client:
            cursor: str | None = ""
            while cursor is not None:
                body = request_json(client, "GET", "/users", params={"cursor": cursor})
                yield from body["users"]
                cursor = body["next_cursor"]

    def read(self, ctx: SpokeContext, uid: str) -> dict[str, Any] | None:
        with self.client(ctx) as client:
            try:
                user: dict[str, Any] = request_json(client, "GET", f"/users/{uid}")
            except NotFoundError:
                return None
        return user

    def set_plan(self, ctx: SpokeContext, uid: str, plan: str) -> None:
        with self.client(ctx) as client:
            request_json(client, "PATCH", f"/users/{uid}", json={"plan": plan})

    def change(self, ctx: SpokeContext, sub: Subscription, plan: str) -> ReclaimResult:
        user = self.read(ctx, sub.external_user_id)
        if user is None:
            return ReclaimResult(status=ReclaimStatus.ALREADY_DONE, message="no such user")
        if user["plan"] == plan:
            return ReclaimResult(status=ReclaimStatus.ALREADY_DONE, message=f"already {plan}")
        if plan == "basic" and (user["admin"] or user["id"] == OWN_ID):
            return ReclaimResult(status=ReclaimStatus.REFUSED, message="protected user")
        self.set_plan(ctx, user["id"], plan)
        return ReclaimResult(status=ReclaimStatus.SUCCESS, message=f"now {plan}")

    @hookimpl
    def saas_license_spoke_info(self) -> SpokeInfo:
        return self.info

    @hookimpl
    def saas_license_download_subscriptions(self, context: SpokeContext) -> Any:
        for user in self.iter_users(context):
            yield self.record(user)

    @hookimpl
    def saas_license_pull_user_activity(self, context: SpokeContext, since: dt.datetime) -> Any:
        return iter(())

    @hookimpl
    def saas_license_current_user(self, context: SpokeContext, external_user_id: str) -> Any:
        user = self.read(context, external_user_id)
        if user is None:
            return CurrentUser(external_user_id=external_user_id, exists=False)
        return CurrentUser(external_user_id=external_user_id, seats=(self.record(user),))

    @hookimpl
    def saas_license_reclaim_subscription(
        self, context: SpokeContext, subscription: Subscription
    ) -> ReclaimResult:
        return self.change(context, subscription, "basic")

    @hookimpl
    def saas_license_restore_subscription(
        self, context: SpokeContext, subscription: Subscription
    ) -> ReclaimResult:
        return self.change(context, subscription, "pro")

    @hookimpl
    def saas_license_validate_connection(self, context: SpokeContext) -> ValidationReport:
        with self.client(context) as client:
            me = request_json(client, "GET", "/me")
        return ValidationReport(
            checks=(ValidationCheck(process=Process.DOWNLOAD, ok=True, message="ok"),),
            identity=Identity(
                external_user_id=me["id"],
                user_principal_name=me["email"],
                is_administrator=me["admin"],
            ),
        )


def context_for(vendor: FakeWidgetry, profile: IntegrationProfile) -> SpokeContext:
    """A context reaching ``vendor`` in-process."""
    return SpokeContext(
        profile=profile,
        alias=ConnectionAlias(name="c", spoke=profile.spoke, base_url="https://w.test"),
        credentials={"api_key": Secret(KEY)},
        http=HttpOptions(transport=vendor.transport(), rate_limit=False),
        integration_user_id=OWN_ID,
        now=NOW,
    )


_ = ActivityRecord  # the activity hook yields none: the download carries last activity
