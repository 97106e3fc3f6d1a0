"""Evaluate: pure decisions about which seats are idle, and which open candidates must close.

No I/O here. Given the same seats, rules and clock, the answer is always the same, which is what
lets the safety rules be property-tested.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ._time import days_between
from .candidates import RemovalCandidate
from .errors import ConfigError
from .rules import ExclusionRule, ReclamationRule, first_exclusion
from .subscriptions import Subscription

__all__ = [
    "Assessment",
    "Evaluation",
    "EvaluationPolicy",
    "Proposal",
    "Verdict",
    "assess",
    "evaluate",
    "unknown_protection",
]


class Verdict(str, enum.Enum):
    """Why a seat is, or is not, proposed for reclaim."""

    IDLE = "idle"  # the only verdict that proposes a candidate
    ACTIVE = "active"
    EXCLUDED = "excluded"
    ADMINISTRATOR = "administrator"
    INTEGRATION_USER = "integration_user"
    NO_ACTIVITY_DATA = "no_activity_data"
    STALE_ACTIVITY_DATA = "stale_activity_data"
    NEW_ACCOUNT_GRACE = "new_account_grace"
    NO_RULE = "no_rule"
    FILTERED_OUT = "filtered_out"
    CANDIDATES_OFF = "candidates_off"
    COOLDOWN = "cooldown"  # idle, but its user kept it (or a reclaim was undone) recently
    INACTIVE_SEAT = "inactive_seat"
    #: A protective field (administrator flag, enabled…) is missing or unreadable: never
    #: "not protected", so neither proposed nor reclaimed; the run reports it.
    UNKNOWN_PROTECTION = "unknown_protection"

    @property
    def protects(self) -> bool:
        """Verdicts that must close an open candidate as skipped, not merely leave it."""
        return self in {
            Verdict.EXCLUDED,
            Verdict.ADMINISTRATOR,
            Verdict.INTEGRATION_USER,
            Verdict.INACTIVE_SEAT,
        }


def _check_zone(_inst: object, _attr: object, value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(
            f"{value!r} is not a known time zone",
            field="policy.timezone",
            hint="use an IANA name such as 'Europe/Berlin' or 'UTC'",
        ) from None


def _positive(field: str):  # type: ignore[no-untyped-def]
    def check(_inst: object, _attr: object, value: dt.timedelta) -> None:
        if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
            raise ConfigError(f"{value!r} must be a positive duration", field=field)

    return check


@attrs.frozen(kw_only=True)
class EvaluationPolicy:
    """Organisation-wide settings of the evaluation and the reclaim lifecycle.

    ``timezone`` is where inactivity days are counted (instants are stored in UTC).
    ``activity_max_age`` is how old the last activity *check* may be before the data counts as
    stale: a seat whose activity was not re-read recently is never proposed nor reclaimed.
    ``undo_window`` is how long a reclaim can be undone; ``plan_ttl`` how long a reclaim plan
    may wait before ``apply`` refuses it; ``job_interval`` how often scheduled jobs fall due
    (``job_retry`` after a failure); ``run_lock_ttl`` how long after its last heartbeat a
    crashed run's lock counts as stale (the holder beats six times per period).
    """

    timezone: str = attrs.field(default="UTC", validator=_check_zone)
    activity_max_age: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=48), validator=_positive("policy.activity_max_age")
    )
    undo_window: dt.timedelta = attrs.field(
        default=dt.timedelta(days=30), validator=_positive("policy.undo_window")
    )
    plan_ttl: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=24), validator=_positive("policy.plan_ttl")
    )
    job_interval: dt.timedelta = attrs.field(
        default=dt.timedelta(days=1), validator=_positive("policy.job_interval")
    )
    job_retry: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=1), validator=_positive("policy.job_retry")
    )
    run_lock_ttl: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=2), validator=_positive("policy.run_lock_ttl")
    )


def unknown_protection(sub: Subscription, protective_fields: Sequence[str]) -> bool:
    """True when a protective field is unknown, or present with a value that is not a boolean."""
    for field in protective_fields:
        if field in sub.unknown:
            return True
        if field in sub.attributes and not isinstance(sub.attributes[field], bool):
            return True
    return False


@attrs.frozen(kw_only=True)
class Assessment:
    """The verdict on one seat, with the numbers behind it."""

    verdict: Verdict
    inactive_days: int | None = None
    rule: ReclamationRule | None = None
    exclusion: ExclusionRule | None = None

    @property
    def idle(self) -> bool:
        """True when the seat should be (or stay) a removal candidate."""
        return self.verdict is Verdict.IDLE


def assess(
    sub: Subscription,
    *,
    now: dt.datetime,
    profile_type: str | None,
    exclusions: Sequence[ExclusionRule],
    rules: Mapping[str, ReclamationRule],
    integration_user_id: str | None,
    policy: EvaluationPolicy = EvaluationPolicy(),
    cooldown_until: dt.datetime | None = None,
    protective_fields: Sequence[str] = ("administrator",),
) -> Assessment:
    """Decide one seat. Safety checks come first and cannot be overridden by any rule.

    The same function runs at evaluation time and again, on the vendor's fresh record, right
    before every reclaim. ``cooldown_until`` holds back a seat that would otherwise be idle.
    ``protective_fields`` (the spoke's :attr:`SpokeInfo.protective_fields`) that are unknown or
    not booleans give ``unknown_protection``: missing data never reads as "not protected".
    """
    if not sub.active:
        return Assessment(verdict=Verdict.INACTIVE_SEAT)
    excluded = first_exclusion(exclusions, sub, profile_type, reclaim=True)
    if excluded is not None:
        return Assessment(verdict=Verdict.EXCLUDED, exclusion=excluded)
    if sub.is_administrator and "administrator" not in sub.unknown:
        return Assessment(verdict=Verdict.ADMINISTRATOR)
    if unknown_protection(sub, protective_fields):
        return Assessment(verdict=Verdict.UNKNOWN_PROTECTION)
    if sub.attributes.get("enabled") is False:  # a disabled account holds no seat to reclaim
        return Assessment(verdict=Verdict.INACTIVE_SEAT)
    if integration_user_id is not None and sub.external_user_id == integration_user_id:
        return Assessment(verdict=Verdict.INTEGRATION_USER)
    if "last_activity" in sub.unknown:
        # The vendor did not say: never read as "never active", and not a fresh check either.
        return Assessment(verdict=Verdict.NO_ACTIVITY_DATA)
    if sub.activity_checked_at is None:
        return Assessment(verdict=Verdict.NO_ACTIVITY_DATA)
    if now - sub.activity_checked_at > policy.activity_max_age:
        return Assessment(verdict=Verdict.STALE_ACTIVITY_DATA)
    rule = rules.get(sub.software_model or "")
    if rule is None or not rule.active:
        return Assessment(verdict=Verdict.NO_RULE)
    if not rule.applies_to(sub):
        return Assessment(verdict=Verdict.FILTERED_OUT, rule=rule)
    reference = sub.last_activity
    if reference is None:
        # Never active: measure from when the seat was created or assigned, if we know it.
        reference = max(
            (d for d in (sub.external_created, sub.assigned_at) if d is not None), default=None
        )
        if reference is None:
            return Assessment(verdict=Verdict.NO_ACTIVITY_DATA, rule=rule)
    inactive = days_between(reference, now, policy.timezone)
    newest_grant = max(
        (d for d in (sub.external_created, sub.assigned_at) if d is not None), default=None
    )
    if (
        newest_grant is not None
        and days_between(newest_grant, now, policy.timezone) < rule.new_account_grace_days
    ):
        return Assessment(verdict=Verdict.NEW_ACCOUNT_GRACE, inactive_days=inactive, rule=rule)
    if inactive < rule.inactivity_days:
        return Assessment(verdict=Verdict.ACTIVE, inactive_days=inactive, rule=rule)
    if not rule.create_candidates:
        return Assessment(verdict=Verdict.CANDIDATES_OFF, inactive_days=inactive, rule=rule)
    if cooldown_until is not None and now < cooldown_until:
        return Assessment(verdict=Verdict.COOLDOWN, inactive_days=inactive, rule=rule)
    return Assessment(verdict=Verdict.IDLE, inactive_days=inactive, rule=rule)


@attrs.frozen(kw_only=True)
class Proposal:
    """A seat that should become a removal candidate."""

    subscription: Subscription
    assessment: Assessment


@attrs.frozen(kw_only=True)
class Evaluation:
    """What one evaluation pass decided."""

    proposals: tuple[Proposal, ...]
    still_idle: tuple[RemovalCandidate, ...]
    to_cancel: tuple[tuple[RemovalCandidate, Assessment], ...]
    to_skip: tuple[tuple[RemovalCandidate, Assessment], ...]
    verdicts: Mapping[str, int]


def evaluate(
    subscriptions: Iterable[Subscription],
    *,
    open_candidates: Iterable[RemovalCandidate],
    now: dt.datetime,
    profile_type: str | None,
    exclusions: Sequence[ExclusionRule],
    rules: Iterable[ReclamationRule],
    integration_user_id: str | None,
    policy: EvaluationPolicy = EvaluationPolicy(),
    cooldowns: Mapping[int, dt.datetime] | None = None,
    protective_fields: Sequence[str] = ("administrator",),
) -> Evaluation:
    """Assess every seat of one profile and reconcile the verdicts with its open candidates.

    * idle seat, no open candidate → a new proposal;
    * open candidate, seat now active again → cancel;
    * open candidate, seat now protected (excluded, admin, integration user, gone) → skip;
    * otherwise the open candidate stays as it is.

    ``cooldowns`` maps subscription ids to the instant before which they must not be proposed.
    """
    by_model = {r.software_model: r for r in rules if r.active}
    open_by_sub = {c.subscription_id: c for c in open_candidates if c.is_open}
    proposals: list[Proposal] = []
    still: list[RemovalCandidate] = []
    cancel: list[tuple[RemovalCandidate, Assessment]] = []
    skip: list[tuple[RemovalCandidate, Assessment]] = []
    verdicts: Counter[str] = Counter()
    seen: set[int] = set()
    for sub in subscriptions:
        seen.add(sub.id)
        result = assess(
            sub,
            now=now,
            profile_type=profile_type,
            exclusions=exclusions,
            rules=by_model,
            integration_user_id=integration_user_id,
            policy=policy,
            cooldown_until=(cooldowns or {}).get(sub.id),
            protective_fields=protective_fields,
        )
        verdicts[result.verdict.value] += 1
        candidate = open_by_sub.get(sub.id)
        if candidate is None:
            if result.idle:
                proposals.append(Proposal(subscription=sub, assessment=result))
        elif result.idle:
            still.append(candidate)
        elif result.verdict.protects:
            skip.append((candidate, result))
        elif result.verdict in (Verdict.ACTIVE, Verdict.NEW_ACCOUNT_GRACE):
            cancel.append((candidate, result))
        else:
            # No data, stale data, rule removed: nothing proves the seat is idle any more, and
            # nothing proves it is in use. Hold the candidate where it is; acting re-checks.
            still.append(candidate)
    for sub_id, candidate in open_by_sub.items():
        if sub_id not in seen:
            skip.append((candidate, Assessment(verdict=Verdict.INACTIVE_SEAT)))
    return Evaluation(
        proposals=tuple(proposals),
        still_idle=tuple(still),
        to_cancel=tuple(cancel),
        to_skip=tuple(skip),
        verdicts=dict(verdicts),
    )
