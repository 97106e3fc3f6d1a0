"""The Aha! spoke passes the public spoke conformance suite (saas_license.testing)."""

from __future__ import annotations

from saas_license import ConnectionAlias, HttpOptions, IntegrationProfile, Secret, Subscription
from saas_license.spoke import SpokeContext
from saas_license.testing import SpokeConformance
from saas_license_aha.sandbox import SandboxApp


class TestAhaConformance(SpokeConformance):
    spoke_name = "aha"

    def setup_method(self) -> None:
        self.sandbox = SandboxApp(user_count=450, api_keys=["conf-key"], seed=3, strict_shapes=True)

    def teardown_method(self) -> None:
        # every request of the conformance suite is one Aha! documents
        assert self.sandbox.stats.strict_refusals == 0, list(self.sandbox.refusals)

    def make_context(self, profile: IntegrationProfile) -> SpokeContext:
        return SpokeContext(
            profile=profile,
            alias=ConnectionAlias(name="conformance", spoke="aha", base_url="https://acme.aha.io"),
            credentials={"api_key": Secret("conf-key")},
            http=HttpOptions(transport=self.sandbox.transport()),
            integration_user_id=self.sandbox.integration_user_id,
        )

    def reclaimable_subscription(self, context: SpokeContext) -> Subscription:
        user = next(
            u
            for u in self.sandbox.users()
            if u["enabled"]
            and not u["administrator"]
            and u["id"] != self.sandbox.integration_user_id
        )
        return Subscription(
            id=1,
            profile="conformance",
            external_user_id=user["id"],
            user_principal_name=user["email"],
            identifier="aha.roadmaps",
            software_model="Aha! Roadmaps",
        )
