"""The spoke conformance suite: what every spoke must do for the core to trust it."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from .._plugins import Spoke, SpokeRegistry
from .._time import utcnow
from ..profiles import IntegrationProfile, Process
from ..spokes import ReclaimStatus, SpokeContext, SpokeInfo
from ..subscriptions import ActivityRecord, Subscription, SubscriptionRecord

__all__ = ["SpokeConformance", "make_test_profile"]


def make_test_profile(spoke: Spoke, *, alias: str = "conformance") -> IntegrationProfile:
    """A published-looking profile for ``spoke``, for building contexts in tests."""
    info = spoke.info()
    return IntegrationProfile(
        name="conformance",
        display_name=f"{info.display_name} conformance",
        spoke=info.name,
        profile_type=info.profile_type,
        connection_alias=alias,
    )


class SpokeConformance:
    """Subclass in your spoke's tests (class name starting with ``Test``); every method is a test.

    Provide ``spoke_name``, :meth:`make_context` and :meth:`reclaimable_subscription`. Everything
    runs offline against whatever fake vendor your context points at.
    """

    spoke_name: str = ""

    # -- to provide -------------------------------------------------------------------------

    def make_context(self, profile: IntegrationProfile) -> SpokeContext:
        """A context whose alias, credentials and HTTP transport reach your fake vendor."""
        raise NotImplementedError("SpokeConformance subclasses must implement make_context()")

    def reclaimable_subscription(self, context: SpokeContext) -> Subscription:
        """A stored-looking subscription of an ordinary idle user that may be reclaimed."""
        raise NotImplementedError(
            "SpokeConformance subclasses must implement reclaimable_subscription()"
        )

    # -- helpers ----------------------------------------------------------------------------

    def _spoke(self) -> Spoke:
        assert self.spoke_name, "set spoke_name on your SpokeConformance subclass"
        return SpokeRegistry().get(self.spoke_name)

    def _context(self) -> SpokeContext:
        spoke = self._spoke()
        return self.make_context(make_test_profile(spoke))

    # -- the suite --------------------------------------------------------------------------

    def test_info_describes_the_spoke(self) -> None:
        """Name matches the entry point; every process has a permission row; identifiers are unique."""
        info = self._spoke().info()
        assert isinstance(info, SpokeInfo)
        assert info.name == self.spoke_name
        assert info.profile_type
        assert {p.process for p in info.permissions} >= {
            Process.DOWNLOAD,
            Process.ACTIVITY,
            Process.RECLAIM,
        }
        idents = [k.identifier for k in info.identifiers]
        assert len(idents) == len(set(idents)), "identifiers must be unique"

    def test_download_yields_unique_well_formed_records(self) -> None:
        """Records are SubscriptionRecords with ids, principal names and known or reported identifiers."""
        records = list(self._spoke().download(self._context()))
        assert records, "the fake vendor should hold at least one seat"
        assert all(isinstance(r, SubscriptionRecord) for r in records)
        assert all(r.external_user_id and r.user_principal_name and r.identifier for r in records)
        dupes = [
            k
            for k, n in Counter((r.external_user_id, r.identifier) for r in records).items()
            if n > 1
        ]
        assert not dupes, f"duplicate (user, identifier) pairs: {dupes[:5]}"
        for r in records:
            for stamp in (r.last_activity, r.external_created, r.assigned_at):
                assert stamp is None or stamp.tzinfo is not None, (
                    "timestamps must be timezone-aware"
                )

    def test_activity_yields_activity_records(self) -> None:
        """Activity records carry aware timestamps (or None for never active)."""
        since = utcnow() - dt.timedelta(days=60)
        records = list(self._spoke().activity(self._context(), since))
        assert all(isinstance(r, ActivityRecord) for r in records)
        assert all(r.last_activity is None or r.last_activity.tzinfo is not None for r in records)

    def test_validate_checks_download(self) -> None:
        """Validation reports a download check and changes nothing."""
        report = self._spoke().validate(self._context())
        assert report.check(Process.DOWNLOAD) is not None
        assert report.download_ok

    def test_reclaim_is_idempotent(self) -> None:
        """Reclaiming twice: success, then already done — never an error."""
        ctx = self._context()
        sub = self.reclaimable_subscription(ctx)
        first = self._spoke().reclaim(ctx, sub)
        assert first.status is ReclaimStatus.SUCCESS, first.message
        second = self._spoke().reclaim(ctx, sub)
        assert second.status is ReclaimStatus.ALREADY_DONE, second.message
