"""The conformance suite fails every deliberately broken spoke, naming the hook and the problem.

Each broken spoke bends one thing of a correct spoke for a small fake vendor (``_vendor.py``);
the correct one passes the whole suite, so every failure below is caused by the bend alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from saas_license import IntegrationProfile
from saas_license.spoke import (
    CurrentUser,
    ReclaimResult,
    ReclaimStatus,
    SpokeContext,
    SpokeInfo,
    Subscription,
    SubscriptionRecord,
    ValidationReport,
    VendorError,
    hookimpl,
)
from saas_license.testing import ConformanceError, SpokeConformance

from ._vendor import INFO, FakeWidgetry, GoodSpoke, context_for


def failures(plugin: object) -> dict[str, str]:
    """Run the whole suite against ``plugin`` (a fresh fake vendor per check): check → message."""

    class Suite(SpokeConformance):
        spoke_name = "widgetry"
        spoke_plugin = plugin
        vendor = FakeWidgetry()

        def make_context(self, profile: IntegrationProfile) -> SpokeContext:
            return context_for(self.vendor, profile)

    out: dict[str, str] = {}
    for name in sorted(n for n in dir(Suite) if n.startswith("test_")):
        suite = Suite()
        suite.vendor = FakeWidgetry()
        try:
            getattr(suite, name)()
        except ConformanceError as exc:
            out[name] = str(exc)
        except AssertionError as exc:  # pragma: no cover - every check must say what it is
            out[name] = f"BARE ASSERTION: {exc!r}"
    return out


def test_the_correct_spoke_passes_every_check() -> None:
    assert failures(GoodSpoke()) == {}


class NeverSetsAdministrator(GoodSpoke):
    def record(self, user: dict[str, Any]) -> SubscriptionRecord:
        return attrs.evolve(super().record(user), attributes={})


class ValidationWithoutIdentity(GoodSpoke):
    @hookimpl
    def saas_license_validate_connection(self, context: SpokeContext) -> ValidationReport:
        report = super().saas_license_validate_connection(context)
        return attrs.evolve(report, identity=None)


class TimestampsIn2099(GoodSpoke):
    def record(self, user: dict[str, Any]) -> SubscriptionRecord:
        when = dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)
        return attrs.evolve(super().record(user), last_activity=when)


class LiarReclaim(GoodSpoke):
    """Answers success without calling the vendor."""

    def change(self, ctx: SpokeContext, sub: Subscription, plan: str) -> ReclaimResult:
        return ReclaimResult(status=ReclaimStatus.SUCCESS, message=f"now {plan}")


class LiarAllTheWay(GoodSpoke):
    """Answers success without calling the vendor, and hides the seat from its own fresh read."""

    def __init__(self) -> None:
        self.hidden: set[str] = set()

    def change(self, ctx: SpokeContext, sub: Subscription, plan: str) -> ReclaimResult:
        if plan == "basic" and sub.external_user_id in self.hidden:
            return ReclaimResult(status=ReclaimStatus.ALREADY_DONE)
        self.hidden.add(sub.external_user_id)
        return ReclaimResult(status=ReclaimStatus.SUCCESS, message=f"now {plan}")

    @hookimpl
    def saas_license_current_user(self, context: SpokeContext, external_user_id: str) -> Any:
        current = super().saas_license_current_user(context, external_user_id)
        if external_user_id in self.hidden:
            return attrs.evolve(current, seats=())
        return current


class SwallowsMidListingError(GoodSpoke):
    def iter_users(self, ctx: SpokeContext) -> Iterator[dict[str, Any]]:
        try:
            yield from super().iter_users(ctx)
        except VendorError:
            return  # "best effort": a short listing


class WrongInfoName(GoodSpoke):
    info = attrs.evolve(INFO, name="widgets")


class NonIdempotentRestore(GoodSpoke):
    def change(self, ctx: SpokeContext, sub: Subscription, plan: str) -> ReclaimResult:
        if plan == "pro":
            self.set_plan(ctx, sub.external_user_id, plan)
            return ReclaimResult(status=ReclaimStatus.SUCCESS, message="now pro")
        return super().change(ctx, sub, plan)


class NonIdempotentReclaim(GoodSpoke):
    def change(self, ctx: SpokeContext, sub: Subscription, plan: str) -> ReclaimResult:
        result = super().change(ctx, sub, plan)
        if result.status is ReclaimStatus.ALREADY_DONE:
            return ReclaimResult(status=ReclaimStatus.FAILED, message="user is already basic")
        return result


class ReclaimsAdministrators(GoodSpoke):
    def change(self, ctx: SpokeContext, sub: Subscription, plan: str) -> ReclaimResult:
        user = self.read(ctx, sub.external_user_id)
        assert user is not None
        if user["plan"] == plan:
            return ReclaimResult(status=ReclaimStatus.ALREADY_DONE)
        self.set_plan(ctx, user["id"], plan)
        return ReclaimResult(status=ReclaimStatus.SUCCESS)


class FreshReadForgetsAdministrators(GoodSpoke):
    @hookimpl
    def saas_license_current_user(self, context: SpokeContext, external_user_id: str) -> Any:
        current = super().saas_license_current_user(context, external_user_id)
        seats = tuple(
            attrs.evolve(s, attributes={**s.attributes, "administrator": False})
            for s in current.seats
        )
        return attrs.evolve(current, seats=seats)


class UnknownUsersExist(GoodSpoke):
    @hookimpl
    def saas_license_current_user(self, context: SpokeContext, external_user_id: str) -> Any:
        current = super().saas_license_current_user(context, external_user_id)
        return CurrentUser(external_user_id=external_user_id, exists=True, seats=current.seats)


class NoReclaimScope(GoodSpoke):
    info: SpokeInfo = attrs.evolve(INFO, reclaim_scope="account")


BROKEN = [
    # (spoke, the check that must fail, words its message must hold)
    (
        NeverSetsAdministrator(),
        "test_download_yields_unique_well_formed_records",
        ["saas_license_download_subscriptions", "attributes['administrator'] is None", "u000"],
    ),
    (
        ValidationWithoutIdentity(),
        "test_validate_reports_download_and_identity",
        ["saas_license_validate_connection", "ValidationReport.identity", "Identity"],
    ),
    (
        TimestampsIn2099(),
        "test_download_yields_unique_well_formed_records",
        ["saas_license_download_subscriptions", "last_activity 2099-01-01", "in the future"],
    ),
    (
        LiarReclaim(),
        "test_reclaim_is_idempotent_and_verified",
        ["saas_license_reclaim_subscription", "fresh read", "still shows the seat", "widgetry.pro"],
    ),
    (
        LiarAllTheWay(),
        "test_reclaim_is_idempotent_and_verified",
        ["saas_license_reclaim_subscription", "next download still lists the seat", "reappear"],
    ),
    (
        SwallowsMidListingError(),
        "test_download_raises_on_a_mid_listing_server_error",
        ["saas_license_download_subscriptions", "503", "ended the download quietly", "must raise"],
    ),
    (
        WrongInfoName(),
        "test_info_describes_the_spoke",
        ["saas_license_spoke_info", "SpokeInfo.name", "'widgets'", "'widgetry'"],
    ),
    (
        NonIdempotentRestore(),
        "test_restore_is_idempotent_and_verified",
        [
            "saas_license_restore_subscription",
            "the second restore",
            "answered success",
            "expected already_done",
        ],
    ),
    (
        NonIdempotentReclaim(),
        "test_reclaim_is_idempotent_and_verified",
        [
            "saas_license_reclaim_subscription",
            "the second reclaim",
            "answered failed",
            "user is already basic",
        ],
    ),
    (
        ReclaimsAdministrators(),
        "test_protected_users_are_refused",
        [
            "saas_license_reclaim_subscription",
            "protected user",
            "answered success",
            "expected refused",
        ],
    ),
    (
        FreshReadForgetsAdministrators(),
        "test_current_user_agrees_with_the_download",
        ["saas_license_current_user", "administrator is False but the download says True"],
    ),
    (
        UnknownUsersExist(),
        "test_current_user_agrees_with_the_download",
        ["saas_license_current_user", "does not know", "exists=False"],
    ),
    (
        NoReclaimScope(),
        "test_info_describes_the_spoke",
        ["saas_license_spoke_info", "SpokeInfo.reclaim_scope", "'account'"],
    ),
]


@pytest.mark.parametrize(
    ("spoke", "check", "words"), BROKEN, ids=[type(b[0]).__name__ for b in BROKEN]
)
def test_each_broken_spoke_fails_the_suite_naming_the_problem(
    spoke: object, check: str, words: list[str]
) -> None:
    failed = failures(spoke)
    assert check in failed, f"{type(spoke).__name__} passed {check}; all failures: {failed}"
    message = failed[check]
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert not [m for m in failed.values() if m.startswith("BARE ASSERTION")], failed
