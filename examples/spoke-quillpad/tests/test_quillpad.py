"""The Quillpad spoke against its fake vendor: the public conformance suite, and its own rules."""

from __future__ import annotations

import attrs
import pytest
import saas_license_quillpad.plugin as plugin
from saas_license_quillpad import API_KEY, INFO, QuillpadSpoke, quillpad_vendor
from saas_license_quillpad.fake import OWNER_ID

from saas_license import ConnectionAlias, IntegrationProfile, Secret
from saas_license.http import HttpOptions
from saas_license.spoke import ReclaimStatus, ServerError, SpokeContext
from saas_license.testing import (
    FakeVendor,
    Fault,
    SpokeConformance,
    make_test_profile,
    subscription_from_record,
)


def context_for(vendor: FakeVendor, profile: IntegrationProfile) -> SpokeContext:
    """A context that reaches ``vendor`` in process, with retries that do not wait."""
    return SpokeContext(
        profile=profile,
        alias=ConnectionAlias(
            name="quillpad", spoke="quillpad", base_url="https://acme.quillpad.example"
        ),
        credentials={"api_key": Secret(API_KEY)},
        http=HttpOptions(transport=vendor.transport(), rate_limit=False, backoff_base=0.0),
        integration_user_id=OWNER_ID,
    )


class TestQuillpadConformance(SpokeConformance):
    """Every check of the public suite, each against a fresh fake workspace of 250 members."""

    spoke_name = "quillpad"
    spoke_plugin = plugin  # registered by hand: the tests run without installing the package

    def setup_method(self) -> None:
        self.vendor = quillpad_vendor(250)

    def make_context(self, profile: IntegrationProfile) -> SpokeContext:
        return context_for(self.vendor, profile)


@pytest.fixture
def vendor() -> FakeVendor:
    return quillpad_vendor(60)


@pytest.fixture
def ctx(vendor: FakeVendor) -> SpokeContext:
    from saas_license.spoke import SpokeRegistry

    spoke = SpokeRegistry(load_entry_points=False).register(plugin, name="quillpad")
    return context_for(vendor, make_test_profile(spoke))


def test_download_maps_members_to_seats(vendor: FakeVendor, ctx: SpokeContext) -> None:
    records = {r.external_user_id: r for r in QuillpadSpoke().download(ctx)}
    active = [m for m in vendor.users() if not m["deactivated"]]
    assert set(records) == {m["id"] for m in active}  # deactivated members hold no seat
    assert (
        records["m4"].identifier == "quillpad.basic" and records["m5"].identifier == "quillpad.pro"
    )
    assert records["m1"].is_administrator and records["m9"].is_administrator
    assert not records["m2"].is_administrator
    never = records["m7"]  # never signed in: None, and known to be never
    assert never.last_activity is None and "last_activity" not in never.unknown


def test_a_member_without_a_role_is_never_taken_for_a_plain_member(
    vendor: FakeVendor, ctx: SpokeContext
) -> None:
    vendor.merge_user("m2", {"role": None})
    (seat,) = QuillpadSpoke().current_user(ctx, "m2").seats
    assert "administrator" in seat.unknown
    result = QuillpadSpoke().reclaim(ctx, subscription_from_record(seat, info=INFO))
    assert result.status is ReclaimStatus.REFUSED
    assert vendor.user("m2")["plan"] == "pro"  # the vendor's state, not only our answer


def test_a_server_error_mid_listing_raises(ctx: SpokeContext) -> None:
    big = quillpad_vendor(250)  # three pages of 100
    big.inject(Fault.SERVER_ERROR, count=10, after=1)  # the second page and its retries fail
    with pytest.raises(ServerError):
        list(
            QuillpadSpoke().download(
                attrs.evolve(
                    ctx,
                    http=HttpOptions(transport=big.transport(), rate_limit=False, backoff_base=0.0),
                )
            )
        )
    assert big.stats.by_status[200] == 1


def test_reclaim_downgrades_at_the_vendor(vendor: FakeVendor, ctx: SpokeContext) -> None:
    (seat,) = QuillpadSpoke().current_user(ctx, "m2").seats
    result = QuillpadSpoke().reclaim(ctx, subscription_from_record(seat, info=INFO))
    assert result.status is ReclaimStatus.SUCCESS
    assert result.before["plan"] == "pro" and result.after["plan"] == "basic"
    assert vendor.user("m2")["plan"] == "basic"
