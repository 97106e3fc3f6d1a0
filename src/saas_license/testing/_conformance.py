"""The spoke conformance suite: what every spoke must do for the core to trust it.

Every check fails with a message naming the hook that misbehaved and the record it concerns, so
a spoke author reads what to fix, not a bare ``AssertionError``. Reclaims are never taken at
the spoke's word: each is verified by a fresh read (``saas_license_current_user``) and by the
next download, as the core verifies them in production.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, ClassVar, NoReturn

import attrs
import httpx

from .._boundary import CLOCK_SKEW, problem_with
from .._errors import SaasLicenseError
from .._plugins import Spoke, SpokeRegistry
from .._profiles import IntegrationProfile, Process
from .._spokes import Identity, ReclaimResult, ReclaimStatus, SpokeContext, SpokeInfo
from .._subscriptions import ActivityRecord, CurrentUser, Subscription, SubscriptionRecord
from .._time import utcnow

__all__ = [
    "ConformanceError",
    "SpokeConformance",
    "make_test_profile",
    "subscription_from_record",
]

INFO = "saas_license_spoke_info"
DOWNLOAD = "saas_license_download_subscriptions"
ACTIVITY = "saas_license_pull_user_activity"
CURRENT = "saas_license_current_user"
RECLAIM = "saas_license_reclaim_subscription"
RESTORE = "saas_license_restore_subscription"
VALIDATE = "saas_license_validate_connection"

_NO_SUCH_USER = "saas-license-conformance-no-such-user"


class ConformanceError(AssertionError):
    """One conformance check failed: ``hook`` misbehaved on ``record`` (the message says how)."""

    def __init__(self, hook: str, record: str, problem: str) -> None:
        self.hook, self.record, self.problem = hook, record, problem
        super().__init__(f"{hook}: {record}: {problem}")


def _fail(hook: str, record: str, problem: str) -> NoReturn:
    raise ConformanceError(hook, record, problem)


def _check(ok: object, hook: str, record: str, problem: str) -> None:
    if not ok:
        _fail(hook, record, problem)


def _seat(user: str, identifier: str) -> str:
    return f"seat (user {user!r}, identifier {identifier!r})"


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


def subscription_from_record(
    record: SubscriptionRecord, *, profile: str = "conformance", id: int = 1, info: SpokeInfo
) -> Subscription:
    """A stored-looking :class:`Subscription` of a downloaded record (what the core hands reclaim)."""
    models = {k.identifier: k.software_model for k in info.identifiers}
    return Subscription(
        id=id,
        profile=profile,
        external_user_id=record.external_user_id,
        user_principal_name=record.user_principal_name,
        identifier=record.identifier,
        software_model=models.get(record.identifier),
        display_name=record.display_name,
        last_activity=record.last_activity,
        external_created=record.external_created,
        assigned_at=record.assigned_at,
        attributes=dict(record.attributes),
        unknown=record.unknown,
    )


class _FailingTransport(httpx.BaseTransport):
    """Counts requests; from request ``fail_from`` on, answers 503 instead of the fake vendor."""

    def __init__(self, inner: httpx.BaseTransport, fail_from: int | None = None) -> None:
        self.inner, self.fail_from, self.count = inner, fail_from, 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.count += 1
            n = self.count
        if self.fail_from is not None and n >= self.fail_from:
            return httpx.Response(
                503, json={"error": "conformance suite: injected server error"}, request=request
            )
        return self.inner.handle_request(request)


class SpokeConformance:
    """Subclass in your spoke's tests (class name starting with ``Test``); every method is a test.

    Provide ``spoke_name`` and :meth:`make_context` (a context reaching your fake vendor through
    ``HttpOptions(transport=…)``). The fake must hold more than one page of users, at least one
    ordinary idle user and one administrator (or the integration's own user).
    :meth:`reclaimable_subscription` and :meth:`protected_subscriptions` pick them from the
    download; override them to choose. Set ``spoke_plugin`` to test a spoke object that is not
    installed (it is registered by hand under ``spoke_name``). Everything runs offline.
    """

    spoke_name: ClassVar[str] = ""
    #: A spoke object or module registered by hand under ``spoke_name`` (None: the installed
    #: entry point of that name).
    spoke_plugin: ClassVar[object | None] = None

    # -- to provide -------------------------------------------------------------------------

    def make_context(self, profile: IntegrationProfile) -> SpokeContext:
        """A context whose alias, credentials and HTTP transport reach your fake vendor."""
        raise NotImplementedError("SpokeConformance subclasses must implement make_context()")

    def reclaimable_subscription(self, context: SpokeContext) -> Subscription:
        """A stored-looking subscription of an ordinary user that may be reclaimed.

        By default the first downloaded seat of a user who is no administrator, not the
        integration's own user and has no unknown protective field.
        """
        spoke, info = self._spoke(), self._info()
        own = context.integration_user_id
        for record in spoke.download(context):
            if (
                record.attributes.get("administrator") is False
                and record.external_user_id != own
                and not (record.unknown & set(info.protective_fields))
            ):
                return subscription_from_record(record, info=info)
        _fail(DOWNLOAD, "the fake vendor's account", "holds no ordinary user to reclaim")

    def protected_subscriptions(self, context: SpokeContext) -> list[Subscription]:
        """Seats the spoke must refuse to reclaim: by default every administrator's seat in
        the download and the seats of the integration's own user."""
        info = self._info()
        own = context.integration_user_id
        return [
            subscription_from_record(r, info=info)
            for r in self._spoke().download(context)
            if r.attributes.get("administrator") is True or r.external_user_id == own
        ]

    # -- helpers ----------------------------------------------------------------------------

    def _spoke(self) -> Spoke:
        if not self.spoke_name:
            _fail(INFO, type(self).__name__, "set spoke_name on your SpokeConformance subclass")
        cached: Spoke | None = self.__dict__.get("_conformance_spoke")
        if cached is None:
            if self.spoke_plugin is not None:
                registry = SpokeRegistry(load_entry_points=False)
                cached = registry.register(self.spoke_plugin, name=self.spoke_name)
            else:
                cached = SpokeRegistry().get(self.spoke_name)
            self.__dict__["_conformance_spoke"] = cached
        return cached

    def _info(self) -> SpokeInfo:
        try:
            return self._spoke().info()
        except SaasLicenseError as exc:
            _fail(INFO, "SpokeInfo", str(exc))

    def _context(self) -> SpokeContext:
        ctx = self.make_context(make_test_profile(self._spoke()))
        _check(
            ctx.http.transport is not None,
            "make_context",
            "SpokeContext.http",
            "no transport: point HttpOptions(transport=…) at your fake vendor (tests stay offline)",
        )
        return ctx

    def _now(self, ctx: SpokeContext) -> dt.datetime:
        return max(utcnow(), ctx.now) if ctx.now is not None else utcnow()

    def _download(self, ctx: SpokeContext) -> list[SubscriptionRecord]:
        try:
            return list(self._spoke().download(ctx))
        except SaasLicenseError as exc:
            _fail(DOWNLOAD, "the listing", f"failed against the fake vendor: {exc}")

    def _current(self, ctx: SpokeContext, user_id: str) -> CurrentUser:
        try:
            return self._spoke().current_user(ctx, user_id)
        except SaasLicenseError as exc:
            _fail(CURRENT, f"user {user_id!r}", f"failed against the fake vendor: {exc}")

    def _shows(self, ctx: SpokeContext, sub: Subscription) -> bool:
        current = self._current(ctx, sub.external_user_id)
        return current.exists and sub.identifier in {r.identifier for r in current.seats}

    def _listed(self, ctx: SpokeContext, sub: Subscription) -> bool:
        return any(
            r.external_user_id == sub.external_user_id and r.identifier == sub.identifier
            for r in self._download(ctx)
        )

    def _future(self, hook: str, record: str, stamps: Iterable[tuple[str, Any]], now: Any) -> None:
        for field, stamp in stamps:
            if stamp is None:
                continue
            _check(
                isinstance(stamp, dt.datetime) and stamp.tzinfo is not None,
                hook,
                record,
                f"{field} {stamp!r} is not a timezone-aware datetime",
            )
            _check(
                stamp <= now + CLOCK_SKEW,
                hook,
                record,
                f"{field} {stamp.isoformat()} is in the future (now is {now.isoformat()}): "
                "a vendor timestamp must never be later than now",
            )

    def _outcome(
        self, hook: str, sub: Subscription, result: object, expect: set[ReclaimStatus], when: str
    ) -> ReclaimResult:
        seat = _seat(sub.external_user_id, sub.identifier)
        _check(
            isinstance(result, ReclaimResult),
            hook,
            seat,
            f"{when}: returned {type(result).__name__}, not a ReclaimResult",
        )
        assert isinstance(result, ReclaimResult)
        _check(
            result.status in expect,
            hook,
            seat,
            f"{when}: answered {result.status.value} ({result.message or 'no message'}), "
            f"expected {' or '.join(sorted(s.value for s in expect))}",
        )
        return result

    # -- the suite --------------------------------------------------------------------------

    def test_info_describes_the_spoke(self) -> None:
        """Name matches the registered name; every process has a permission row; identifiers
        are unique; reclaim scope and protective fields are declared."""
        info = self._info()
        _check(
            isinstance(info, SpokeInfo),
            INFO,
            "SpokeInfo",
            f"returned {type(info).__name__}, not a SpokeInfo",
        )
        _check(
            info.name == self.spoke_name,
            INFO,
            "SpokeInfo.name",
            f"is {info.name!r} but the spoke is registered as {self.spoke_name!r}: they must match",
        )
        _check(info.profile_type, INFO, "SpokeInfo.profile_type", "is empty")
        missing = {Process.DOWNLOAD, Process.ACTIVITY, Process.RECLAIM} - {
            p.process for p in info.permissions
        }
        _check(
            not missing,
            INFO,
            "SpokeInfo.permissions",
            f"no ProcessPermission for {sorted(p.value for p in missing)}",
        )
        idents = Counter(k.identifier for k in info.identifiers)
        twice = sorted(i for i, n in idents.items() if n > 1)
        _check(not twice, INFO, "SpokeInfo.identifiers", f"identifiers declared twice: {twice}")
        _check(
            info.reclaim_scope in ("seat", "user"),
            INFO,
            "SpokeInfo.reclaim_scope",
            f"is {info.reclaim_scope!r}; it must be 'seat' or 'user'",
        )
        _check(
            info.protective_fields
            and all(isinstance(f, str) and f for f in info.protective_fields),
            INFO,
            "SpokeInfo.protective_fields",
            "declare which record fields protect a seat (non-empty names)",
        )
        _check(
            info.auth_types and all(isinstance(a, str) and a for a in info.auth_types),
            INFO,
            "SpokeInfo.auth_types",
            "declare at least one auth type (e.g. 'api_key')",
        )

    def test_download_yields_unique_well_formed_records(self) -> None:
        """Records carry ids, principal names, identifiers, a real ``administrator`` boolean
        (or name it unknown), aware timestamps that are not in the future; no seat twice."""
        ctx = self._context()
        records = self._download(ctx)
        _check(records, DOWNLOAD, "the listing", "yielded no seat: the fake should hold some")
        info, now = self._info(), self._now(ctx)
        for r in records:
            seat = _seat(r.external_user_id, r.identifier)
            _check(
                r.external_user_id and r.user_principal_name and r.identifier,
                DOWNLOAD,
                seat,
                "external_user_id, user_principal_name and identifier must all be set",
            )
            admin = r.attributes.get("administrator")
            _check(
                isinstance(admin, bool) or "administrator" in r.unknown,
                DOWNLOAD,
                seat,
                f"attributes['administrator'] is {admin!r} ({type(admin).__name__}): set a real "
                "bool on every record, or name 'administrator' in unknown when the vendor "
                "did not say",
            )
            self._future(
                DOWNLOAD,
                seat,
                [
                    ("last_activity", r.last_activity),
                    ("external_created", r.external_created),
                    ("assigned_at", r.assigned_at),
                ],
                now,
            )
            problem = problem_with(r, now=now, protective_fields=info.protective_fields)
            _check(
                problem is None,
                DOWNLOAD,
                seat,
                f"the core would quarantine it: {problem and problem[0]}: {problem and problem[1]}",
            )
        counted = Counter((r.external_user_id, r.identifier) for r in records)
        twice = [k for k, n in counted.items() if n > 1]
        _check(not twice, DOWNLOAD, "the listing", f"yielded seats twice: {twice[:5]}")

    def test_download_raises_on_a_mid_listing_server_error(self) -> None:
        """A 5xx on any request after the first must raise: a short listing would close seats."""
        ctx = self._context()
        inner = ctx.http.transport
        assert inner is not None
        counting = _FailingTransport(inner)
        quiet = attrs.evolve(ctx.http, transport=counting, max_retries=0, rate_limit=False)
        complete = self._download(attrs.evolve(ctx, http=quiet))
        _check(
            counting.count >= 2,
            DOWNLOAD,
            "the listing",
            f"took {counting.count} request(s): give the fake vendor more than one page of "
            "users so a failure in the middle of the listing can be tested",
        )
        for cut in range(2, min(counting.count, 6) + 1):
            failing = _FailingTransport(inner, fail_from=cut)
            broken = attrs.evolve(ctx, http=attrs.evolve(quiet, transport=failing))
            try:
                got = list(self._spoke().download(broken))
            except SaasLicenseError:
                continue
            _fail(
                DOWNLOAD,
                "the listing",
                f"a 503 from request {cut} of {counting.count} on ended the download quietly "
                f"with {len(got)} of {len(complete)} records: it must raise, or the core "
                "would close every seat it did not list",
            )

    def test_current_user_agrees_with_the_download(self) -> None:
        """The fresh read the core re-assesses before every reclaim reports the same seats and
        protective facts as the download, and says when a user does not exist."""
        spoke, ctx = self._spoke(), self._context()
        info, now = self._info(), self._now(ctx)
        downloaded: dict[str, dict[str, SubscriptionRecord]] = defaultdict(dict)
        for r in self._download(ctx):
            downloaded[r.external_user_id][r.identifier] = r
        admins = [
            u for u, seats in downloaded.items() if any(s.is_administrator for s in seats.values())
        ]
        sample = sorted(downloaded)[:5] + sorted(admins)[:2]
        for user_id in dict.fromkeys(sample):
            current = self._current(ctx, user_id)
            who = f"user {user_id!r}"
            _check(
                current.exists and current.external_user_id == user_id,
                CURRENT,
                who,
                "says the user does not exist, but the download lists them",
            )
            fresh = {r.identifier: r for r in current.seats}
            _check(
                set(fresh) == set(downloaded[user_id]),
                CURRENT,
                who,
                f"shows seats {sorted(fresh)} but the download lists {sorted(downloaded[user_id])}",
            )
            for ident, seat in fresh.items():
                listed = downloaded[user_id][ident]
                where = _seat(user_id, ident)
                _check(
                    seat.unknown == listed.unknown,
                    CURRENT,
                    where,
                    f"unknown fields {sorted(seat.unknown)} differ from the download's "
                    f"{sorted(listed.unknown)}",
                )
                for field in dict.fromkeys(("administrator", *info.protective_fields)):
                    _check(
                        seat.attributes.get(field) == listed.attributes.get(field),
                        CURRENT,
                        where,
                        f"{field} is {seat.attributes.get(field)!r} but the download says "
                        f"{listed.attributes.get(field)!r}",
                    )
                _check(
                    seat.last_activity == listed.last_activity,
                    CURRENT,
                    where,
                    f"last_activity {seat.last_activity} differs from the download's "
                    f"{listed.last_activity}",
                )
                self._future(CURRENT, where, [("last_activity", seat.last_activity)], now)
        missing = spoke.current_user(ctx, _NO_SUCH_USER)
        _check(
            not missing.exists and not missing.seats,
            CURRENT,
            f"user {_NO_SUCH_USER!r}",
            "a user the vendor does not know must read as exists=False with no seats",
        )

    def test_activity_yields_activity_records(self) -> None:
        """Activity records carry aware timestamps that are not in the future (or None)."""
        ctx = self._context()
        now = self._now(ctx)
        since = now - dt.timedelta(days=60)
        try:
            records = list(self._spoke().activity(ctx, since))
        except SaasLicenseError as exc:
            _fail(ACTIVITY, "the activity listing", f"failed against the fake vendor: {exc}")
        for r in records:
            _check(
                isinstance(r, ActivityRecord) and r.external_user_id,
                ACTIVITY,
                f"activity of user {getattr(r, 'external_user_id', '?')!r}",
                "must be an ActivityRecord with an external_user_id",
            )
            self._future(
                ACTIVITY,
                f"activity of user {r.external_user_id!r}",
                [("last_activity", r.last_activity)],
                now,
            )

    def test_validate_reports_download_and_identity(self) -> None:
        """Validation returns a download check and the Identity the credentials act as, and
        changes nothing at the vendor."""
        ctx = self._context()
        before = self._download(ctx)
        try:
            report = self._spoke().validate(ctx)
        except SaasLicenseError as exc:
            _fail(VALIDATE, "ValidationReport", f"failed against the fake vendor: {exc}")
        check = report.check(Process.DOWNLOAD)
        _check(check is not None, VALIDATE, "ValidationReport.checks", "has no download check")
        _check(
            report.download_ok,
            VALIDATE,
            "ValidationReport.checks[download]",
            f"is not ok against the fake vendor: {check and check.message}",
        )
        _check(
            isinstance(report.identity, Identity),
            VALIDATE,
            "ValidationReport.identity",
            f"is {report.identity!r}: return the Identity the credentials act as (the core "
            "protects that user from reclaims)",
        )
        assert report.identity is not None
        _check(
            report.identity.external_user_id,
            VALIDATE,
            "ValidationReport.identity.external_user_id",
            "is empty",
        )
        _check(
            isinstance(report.identity.is_administrator, bool),
            VALIDATE,
            "ValidationReport.identity.is_administrator",
            f"is {report.identity.is_administrator!r}, not a bool",
        )
        _check(
            self._download(ctx) == before,
            VALIDATE,
            "the vendor account",
            "changed while validating: validation must only read",
        )

    def test_protected_users_are_refused(self) -> None:
        """Reclaiming an administrator's seat (or the integration user's) is REFUSED and the
        vendor still shows the seat afterwards."""
        ctx = self._context()
        protected = self.protected_subscriptions(ctx)
        _check(
            protected,
            DOWNLOAD,
            "the fake vendor's account",
            "holds no administrator and no seat of the integration's own user: add one so "
            "refusals can be tested",
        )
        for sub in protected[:3]:
            result = self._spoke().reclaim(ctx, sub)
            self._outcome(RECLAIM, sub, result, {ReclaimStatus.REFUSED}, "a protected user's seat")
            _check(
                self._shows(ctx, sub),
                RECLAIM,
                _seat(sub.external_user_id, sub.identifier),
                "answered refused, but the fresh read no longer shows the seat",
            )

    def test_reclaim_is_idempotent_and_verified(self) -> None:
        """Reclaim: success, then already done; after each, the fresh read and the next
        download no longer show the seat (a reclaim is never taken at the spoke's word)."""
        ctx = self._context()
        sub = self.reclaimable_subscription(ctx)
        seat = _seat(sub.external_user_id, sub.identifier)
        _check(self._shows(ctx, sub), CURRENT, seat, "does not show the seat before the reclaim")
        spoke = self._spoke()
        for when, expect in (
            ("the first reclaim", {ReclaimStatus.SUCCESS}),
            ("the second reclaim", {ReclaimStatus.ALREADY_DONE}),
        ):
            self._outcome(RECLAIM, sub, spoke.reclaim(ctx, sub), expect, when)
            _check(
                not self._shows(ctx, sub),
                RECLAIM,
                seat,
                f"{when} answered ok, but the fresh read ({CURRENT}) still shows the seat: "
                "the vendor was not changed",
            )
            _check(
                not self._listed(ctx, sub),
                RECLAIM,
                seat,
                f"{when} answered ok, but the next download still lists the seat: it would "
                "reappear",
            )

    def test_restore_is_idempotent_and_verified(self) -> None:
        """When the spoke supports undo: restore after a reclaim gives the seat back (success,
        then already done), and the fresh read and the next download show it again."""
        info = self._info()
        if not info.supports_undo:
            return
        ctx = self._context()
        sub = self.reclaimable_subscription(ctx)
        seat = _seat(sub.external_user_id, sub.identifier)
        spoke = self._spoke()
        self._outcome(RECLAIM, sub, spoke.reclaim(ctx, sub), {ReclaimStatus.SUCCESS}, "reclaim")
        for when, expect in (
            ("the first restore", {ReclaimStatus.SUCCESS}),
            ("the second restore", {ReclaimStatus.ALREADY_DONE}),
        ):
            self._outcome(RESTORE, sub, spoke.restore(ctx, sub), expect, when)
            _check(
                self._shows(ctx, sub),
                RESTORE,
                seat,
                f"{when} answered ok, but the fresh read ({CURRENT}) does not show the seat",
            )
            _check(
                self._listed(ctx, sub),
                RESTORE,
                seat,
                f"{when} answered ok, but the next download does not list the seat",
            )
