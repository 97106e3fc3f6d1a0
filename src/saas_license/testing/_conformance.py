"""The spoke conformance suite: what every spoke must do for the core to trust it."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from .._plugins import Spoke, SpokeRegistry
from .._time import utcnow
from ..boundary import problem_with
from ..profiles import IntegrationProfile, Process
from ..spokes import ReclaimStatus, SpokeContext, SpokeInfo
from ..subscriptions import ActivityRecord, CurrentUser, Subscription, SubscriptionRecord

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
        assert info.reclaim_scope in ("seat", "user"), "reclaim_scope is 'seat' or 'user'"
        assert info.protective_fields, "declare which record fields protect a seat"
        assert all(isinstance(f, str) and f for f in info.protective_fields)

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
        protective = self._spoke().info().protective_fields
        problems = [
            (r.external_user_id, p)
            for r in records
            if (p := problem_with(r, now=utcnow(), protective_fields=protective)) is not None
        ]
        assert not problems, f"the core would quarantine these records: {problems[:5]}"

    def test_current_user_agrees_with_the_download(self) -> None:
        """The fresh read the core re-assesses before every reclaim reports the same seats and
        facts as the download, and says when a user does not exist (issue 8)."""
        spoke, ctx = self._spoke(), self._context()
        downloaded: dict[str, dict[str, SubscriptionRecord]] = defaultdict(dict)
        for r in spoke.download(ctx):
            downloaded[r.external_user_id][r.identifier] = r
        for user_id in sorted(downloaded)[:5]:
            current = spoke.current_user(ctx, user_id)
            assert isinstance(current, CurrentUser)
            assert current.exists and current.external_user_id == user_id
            fresh = {r.identifier: r for r in current.seats}
            assert set(fresh) == set(downloaded[user_id]), f"user {user_id}: other seats"
            for ident, seat in fresh.items():
                listed = downloaded[user_id][ident]
                assert seat.unknown == listed.unknown, f"user {user_id}: other unknown fields"
                for field in spoke.info().protective_fields:
                    assert seat.attributes.get(field) == listed.attributes.get(field), (
                        f"user {user_id}: {field} differs from the download"
                    )
                assert seat.last_activity == listed.last_activity
        missing = spoke.current_user(ctx, "saas-license-conformance-no-such-user")
        assert not missing.exists and not missing.seats

    def test_current_user_confirms_a_reclaim(self) -> None:
        """After a reclaim the current-user read no longer shows the seat (how the core confirms)."""
        ctx = self._context()
        sub = self.reclaimable_subscription(ctx)
        spoke = self._spoke()
        before = spoke.current_user(ctx, sub.external_user_id)
        assert sub.identifier in {r.identifier for r in before.seats}
        assert spoke.reclaim(ctx, sub).status.ok
        after = spoke.current_user(ctx, sub.external_user_id)
        assert sub.identifier not in {r.identifier for r in after.seats}

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
