"""An offline test kit for spoke authors: a conformance suite to subclass, and pytest fixtures.

::

    from saas_license.testing import SpokeConformance

    class TestMySpoke(SpokeConformance):
        spoke_name = "myvendor"

        def make_context(self, profile):          # point the spoke at your fake vendor server
            ...
        def reclaimable_subscription(self, context):  # a seat your fake server lets us reclaim
            ...
"""

from ._conformance import SpokeConformance, make_test_profile

__all__ = ["SpokeConformance", "make_test_profile"]
