"""An offline test kit for spoke authors: a fake-vendor kit, a conformance suite, helpers.

The fake-vendor kit: declare a vendor (users, paths, pagination style, auth, rate limits) with
:class:`FakeVendor`, reach it in process (``vendor.transport()``) or over real HTTP on
127.0.0.1 (``with vendor.serve() as server:``), and turn fault knobs (:class:`Faults`,
``vendor.inject(Fault.THROTTLE)``)::

    from saas_license.testing import FakeAuth, FakeVendor, Cursors

    vendor = FakeVendor(
        users=[{"id": "1", "email": "ada@example.test", "plan": "pro"}],
        listing=Cursors(),
        auth=FakeAuth.api_key("secret"),
        writable={"plan"},
    )

The conformance suite::

    from saas_license.testing import SpokeConformance

    class TestMySpoke(SpokeConformance):
        spoke_name = "myvendor"

        def make_context(self, profile):          # point the spoke at your fake vendor server
            ...
        def reclaimable_subscription(self, context):  # a seat your fake server lets us reclaim
            ...
"""

from ._conformance import (
    ConformanceError,
    SpokeConformance,
    make_test_profile,
    subscription_from_record,
)
from ._faults import FakeTimeout, Fault, FaultPlan, Faults, LostAnswer
from ._limits import ServerRateLimiter
from ._listing import Cursors, ListingStyle, NextLinks, Offsets, PageNumbers, Slice
from ._oauth import FakeOAuth
from ._server import FakeServer, ServedSandbox
from ._vendor import (
    FakeAuth,
    FakeVendor,
    LoggedRequest,
    RouteKind,
    VendorStats,
    default_user,
    json_response,
)

__all__ = [
    "ConformanceError",
    "Cursors",
    "FakeAuth",
    "FakeOAuth",
    "FakeServer",
    "FakeTimeout",
    "FakeVendor",
    "Fault",
    "FaultPlan",
    "Faults",
    "ListingStyle",
    "LoggedRequest",
    "LostAnswer",
    "NextLinks",
    "Offsets",
    "PageNumbers",
    "RouteKind",
    "ServedSandbox",
    "ServerRateLimiter",
    "Slice",
    "SpokeConformance",
    "VendorStats",
    "default_user",
    "json_response",
    "make_test_profile",
    "subscription_from_record",
]
