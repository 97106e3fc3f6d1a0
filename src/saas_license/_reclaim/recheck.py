"""The fresh-facts check: the vendor's current record of a user, assessed right before a reclaim.

Right before each vendor call the user is read again through the spoke's current-user hook, and
every seat the call would free is assessed exactly as the evaluation would now (the rules as
they are now, the record checked at the boundary first). Anything that would not propose the
seat now stops the call: the vendor is never changed on stale facts.
"""

from __future__ import annotations

import datetime as dt

import attrs

from .._boundary import problem_with
from .._candidates.records import RemovalCandidate
from .._directory.facts import with_person
from .._evaluation import Assessment, EvaluationPolicy, assess
from .._plugins import Spoke
from .._spokes import SpokeContext, SpokeInfo
from .._store import Store
from .._subscriptions import Subscription, SubscriptionRecord
from .confirm import one_line
from .records import PlanItem

__all__ = ["Checked", "FreshFacts", "activity_moved", "fresh_subscription", "read_fresh_facts"]

#: A plan item that passed the stored checks, with its candidate and seat as stored now.
Checked = tuple[PlanItem, RemovalCandidate, Subscription]


@attrs.frozen(kw_only=True)
class FreshFacts:
    """What the vendor's current record of a user says about the seats one reclaim would free.

    ``hold``: hold every seat with this message (nothing was assessed); ``failure``: the read
    itself failed (a vendor failure to count). Otherwise ``verdicts`` holds, per seat, its
    assessment now, or ``None`` and why it could not be assessed.
    """

    verdicts: tuple[tuple[Checked, Assessment | None, str], ...] = ()
    hold: str = ""
    failure: str = ""

    @property
    def safe(self) -> bool:
        """Every seat would be proposed now: the vendor call may go ahead."""
        return not self.hold and all(v is not None and v.idle for _, v, _ in self.verdicts)

    @property
    def blocking(self) -> str:
        """The first seat that stops the call, and why."""
        return next(
            (f"{e[2].identifier}: {v.verdict.value}" if v else f"{e[2].identifier}: {m}")
            for e, v, m in self.verdicts
            if v is None or not v.idle
        )


def _ms(value: dt.datetime) -> int:
    return (value - _EPOCH) // _MS


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MS = dt.timedelta(milliseconds=1)


def activity_moved(planned: dt.datetime | None, now: dt.datetime | None) -> str:
    """Why a seat's last activity is not what the plan saw (newer, or no longer known), or ''.

    Compared to the millisecond (what the store keeps): a plan's decision rested on that
    instant, and a reclaim never goes ahead on evidence that has changed since."""
    if planned is None and now is None:
        return ""
    if now is None:
        return "the seat's last activity is no longer known"
    if planned is None or _ms(now) > _ms(planned):
        return f"activity since the plan (last active {now:%Y-%m-%d %H:%M} UTC)"
    if _ms(now) < _ms(planned):
        return "the seat's last activity is older than the plan saw"
    return ""


def fresh_subscription(
    stored: Subscription, record: SubscriptionRecord, *, now: dt.datetime, activity: bool
) -> Subscription:
    """The stored seat updated with the vendor's current record, for a last assessment.

    Last activity only moves forward and an unknown one keeps what was known (never "never");
    the read counts as an activity check only when the spoke's records carry activity
    (``activity``) and the vendor reported it.
    """
    last = stored.last_activity
    checked_at = stored.activity_checked_at
    if activity and "last_activity" not in record.unknown:
        if record.last_activity is not None and (last is None or record.last_activity > last):
            last = record.last_activity
        checked_at = now
    return attrs.evolve(
        stored,
        user_principal_name=record.user_principal_name,
        last_activity=last,
        activity_checked_at=checked_at,
        external_created=record.external_created or stored.external_created,
        assigned_at=record.assigned_at or stored.assigned_at,
        attributes=dict(record.attributes),
        unknown=record.unknown,
        active=True,
    )


def read_fresh_facts(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    key: str,
    checked: list[Checked],
    *,
    info: SpokeInfo,
    now: dt.datetime,
    policy: EvaluationPolicy,
    integration_user_id: str | None,
) -> FreshFacts:
    """Read the user's current record from the vendor and assess every seat the reclaim (of
    the vendor unit ``key``) would free on it, exactly as the evaluation would now."""
    profile = ctx.profile
    user_id = checked[0][2].external_user_id
    try:
        current = spoke.current_user(ctx, user_id)
    except Exception as exc:
        return FreshFacts(
            hold=f"held: could not read the user's current record ({one_line(exc)})",
            failure=f"could not read the user's current record: {one_line(exc)}",
        )
    if not current.exists:
        return FreshFacts(hold="the vendor no longer knows the user; the next run closes it")
    fresh = {r.identifier: r for r in current.seats}
    planned = {sub.identifier for _, _, sub in checked}
    if key.startswith("user:"):
        extra = sorted(set(fresh) - planned)
        if extra:
            return FreshFacts(
                hold="the seat changed at the vendor: the user now also holds "
                + ", ".join(extra)
                + ", which a reclaim would take too"
            )
    rules = {r.software_model: r for r in store.list_reclamation_rules() if r.active}
    exclusions = store.list_exclusion_rules()
    verdicts: list[tuple[Checked, Assessment | None, str]] = []
    for entry in checked:
        _, _, sub = entry
        record = fresh.get(sub.identifier)
        if record is None:
            verdicts.append((entry, None, f"the seat changed at the vendor: no {sub.identifier}"))
            continue
        problem = problem_with(record, now=now, protective_fields=info.protective_fields)
        if problem is not None:
            verdicts.append(
                (entry, None, f"the vendor's current {problem[0]} is unusable: {problem[1]}")
            )
            continue
        seat = fresh_subscription(sub, record, now=now, activity=info.activity_from_download)
        # the directory's facts as stored now: a person who became a contractor is excluded
        seat = with_person(seat, store.find_person(seat.user_principal_name))
        verdict = assess(
            seat,
            now=now,
            profile_type=profile.profile_type,
            exclusions=exclusions,
            rules=rules,
            integration_user_id=integration_user_id,
            policy=policy,
            protective_fields=info.protective_fields,
        )
        if verdict.idle and info.activity_from_download and "last_activity" not in record.unknown:
            # idle now, but not on the evidence the plan saw: activity since is a new decision
            seen = entry[0].planned().last_activity
            if record.last_activity is not None and (
                seen is None or _ms(record.last_activity) > _ms(seen)
            ):
                message = (
                    "the vendor reports activity since the plan (last active "
                    f"{record.last_activity:%Y-%m-%d %H:%M} UTC): make a new plan"
                )
                verdicts.append((entry, None, message))
                continue
        verdicts.append((entry, verdict, ""))
    return FreshFacts(verdicts=tuple(verdicts))
