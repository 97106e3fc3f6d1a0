"""Reconciliation: rights bought (entitlements) against rights used (seats), per model and profile.

Pure maths over records; :meth:`ws.finance.reconcile <saas_license._workspace.finance.Finance.reconcile>` feeds it from the store.

Per software model, every profile with seats (or with rights bought for it alone) is one
*unit*. A unit owns the rights scoped to its profile, plus rights lent from the model's
company-wide pool (entitlements with no profile) to cover its shortfall, largest shortfall
first. Then, per unit and summed per model::

    used      = active seats of the model, minus seats excluded from cost
    available = max(0, owned - used)
    needed    = max(0, used - owned)                     (compliant ⇔ needed == 0)
    used + available == owned + needed                   (the model row adds the unlent pool)

Money uses one price per model: the rights-weighted average annual unit cost of its
entitlements in use, rounded to cents. True-up cost = needed * price; over-licensed amount =
available * price; potential savings = open candidates on counted seats * price; actual
savings = seats reclaimed (closed complete, not undone) this calendar year, each at the price
recorded when it was reclaimed, else the price in force then.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from .._candidates.records import OPEN_STATES, CandidateState, RemovalCandidate
from .._models import SoftwareModel
from .._rules import ExclusionRule, first_exclusion
from .._subscriptions import Subscription
from .._tables import Table
from .._time import day_start as day_start  # re-exported: it lived here before
from .._time import days_between, format_instant
from .allocations import Allocation, EffectiveAllocation, effective_allocations, group_of
from .entitlements import (
    Entitlement,
    average_annual_price,
    entitlements_in_use,
    local_date,
    quantize_money,
)

__all__ = [
    "ACTIVITY_BUCKETS",
    "DEFAULT_OPPORTUNITY_LIMIT",
    "DEFAULT_UNLICENSED_LIMIT",
    "ActivityBuckets",
    "LicenseMetric",
    "MetricResult",
    "ProductResult",
    "ReclaimOpportunity",
    "Reconciliation",
    "ReconciliationRow",
    "Remediation",
    "RemediationOption",
    "RemediationStatus",
    "UnlicensedSubscription",
    "UnrecognizedInProfile",
    "activity_bucket",
    "opportunity_key",
    "reconcile",
]

#: Days-since-last-activity buckets, in chart order.
ACTIVITY_BUCKETS = ("0-30", "30-60", "60-90", "90+", "never")
DEFAULT_INACTIVITY_DAYS = 60
#: Opportunities a reconciliation lists by default (the idlest); the rest are counted, and
#: ``ws.finance.opportunities`` pages through them.
DEFAULT_OPPORTUNITY_LIMIT = 100
#: Unlicensed seats a reconciliation lists by default (the first in :data:`UNLICENSED_ORDER`);
#: the rest are counted, and ``ws.finance.unlicensed`` pages through them.
DEFAULT_UNLICENSED_LIMIT = 100
#: The order unlicensed seats are listed and paged in: by software model, then profile (names
#: by code point); within one (model, profile), the seats a right covers last: seats outside
#: any group allocation first, then the newest (first seen latest, then the highest seat id).
UNLICENSED_ORDER = (
    "software model, profile, outside a group allocation first, newest first (first seen, "
    "then seat id)"
)


def activity_bucket(days: int | None) -> str:
    """The bucket of a seat whose user was last active ``days`` ago (None: never)."""
    if days is None:
        return "never"
    if days < 30:
        return "0-30"
    if days < 60:
        return "30-60"
    if days < 90:
        return "60-90"
    return "90+"


class Remediation(str, enum.Enum):
    """What can be done about a result."""

    PURCHASE_RIGHTS = "purchase_rights"  # buy the shortfall
    REMOVE_UNLICENSED = "remove_unlicensed"  # propose the least-active seats for removal
    RECLAIM_UNUSED = "reclaim_unused"  # take back idle seats (open removal candidates)
    REDUCE_RIGHTS = "reduce_rights"  # buy fewer rights at renewal


class RemediationStatus(str, enum.Enum):
    """Where a remediation option stands; kept across reconciliations while still needed."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    VOID = "void"  # no longer needed (or set aside by hand)


class LicenseMetric(str, enum.Enum):
    """What one right counts. Seats count against user subscriptions, the SaaS default."""

    USER_SUBSCRIPTION = "user_subscription"


@attrs.frozen(kw_only=True)
class RemediationOption:
    """One way to fix or improve a result, with the rights and money it moves."""

    software_model: str
    profile: str | None
    action: Remediation
    rights: int
    amount: Decimal | None
    currency: str | None
    affects_compliance: bool
    note: str = ""
    status: RemediationStatus = RemediationStatus.NEW

    @property
    def key(self) -> str:
        """The option's identity across reconciliations: action, model and profile."""
        return f"{self.action.value}:{self.software_model}:{self.profile or '*'}"


@attrs.frozen(kw_only=True)
class ReconciliationRow:
    """The result for one software model (``profile`` None: all profiles) or one model in one profile."""

    software_model: str
    profile: str | None
    rights_owned: int
    rights_used: int
    rights_available: int
    rights_needed: int
    compliant: bool
    excluded_seats: int
    active_seats: int
    inactive_seats: int
    entitlements_in_use: int
    unit_price: Decimal | None
    currency: str | None
    true_up_cost: Decimal | None
    over_licensed_amount: Decimal | None
    open_candidates: int
    potential_savings: Decimal | None
    reclaimed_seats: int
    actual_savings: Decimal | None
    as_of: dt.datetime
    product: str = ""
    allocated_in_use: int = 0
    not_allocated_in_use: int = 0


@attrs.frozen(kw_only=True)
class MetricResult:
    """The license-metric tier of one software model: where its rights come from (allocated
    to a profile or group, or not) and where its seats draw them from."""

    software_model: str
    metric: LicenseMetric
    rights_owned: int
    rights_used: int
    rights_available: int
    rights_needed: int
    allocated: int
    allocated_in_use: int
    allocated_not_in_use: int
    not_allocated_in_use: int
    not_allocated: int
    allocations_needed: int
    unlicensed_subscriptions: int
    currency: str | None
    over_licensed_amount: Decimal | None
    true_up_cost: Decimal | None
    potential_savings: Decimal | None
    as_of: dt.datetime


@attrs.frozen(kw_only=True)
class ProductResult:
    """The product tier: every software model of one product (its publisher unless set),
    compliant only when each of them is. Money is summed when the models share a currency."""

    product: str
    software_models: tuple[str, ...]
    compliant: bool
    rights_owned: int
    rights_used: int
    rights_needed: int
    unlicensed_subscriptions: int
    currency: str | None
    true_up_cost: Decimal | None
    over_licensed_amount: Decimal | None
    potential_savings: Decimal | None
    actual_savings: Decimal | None
    as_of: dt.datetime


@attrs.frozen(kw_only=True)
class UnlicensedSubscription:
    """A counted seat not covered by any right: its model has no entitlement, or too few."""

    subscription_id: int
    profile: str
    software_model: str
    user_principal_name: str
    identifier: str
    reason: str
    last_activity: dt.datetime | None


@attrs.frozen(kw_only=True)
class UnrecognizedInProfile:
    """An unrecognized identifier as one profile sees it: its active seats cannot be reconciled
    until the identifier is mapped to a software model (see :class:`UnrecognizedIdentifier`)."""

    identifier: str
    profile: str
    subscriptions: int


@attrs.frozen(kw_only=True)
class ActivityBuckets:
    """Counted seats of one model by days since the user was last active."""

    software_model: str
    days_0_30: int
    days_30_60: int
    days_60_90: int
    days_90_plus: int
    never: int

    @property
    def counts(self) -> dict[str, int]:
        """bucket label → seats, in :data:`ACTIVITY_BUCKETS` order."""
        return dict(
            zip(
                ACTIVITY_BUCKETS,
                (self.days_0_30, self.days_30_60, self.days_60_90, self.days_90_plus, self.never),
                strict=True,
            )
        )


@attrs.frozen(kw_only=True)
class ReclaimOpportunity:
    """An open removal candidate on a counted seat, with what reclaiming it would save a year."""

    candidate_id: int | None
    profile: str
    software_model: str
    user_principal_name: str
    identifier: str
    state: CandidateState
    days_inactive: int | None
    last_activity: dt.datetime | None
    savings: Decimal | None
    currency: str | None


@attrs.frozen(kw_only=True)
class Reconciliation:
    """One reconciliation: results per model and per profile, and what could not be reconciled."""

    as_of: dt.datetime
    timezone: str
    savings_since: dt.datetime
    models: tuple[ReconciliationRow, ...]
    profiles: tuple[ReconciliationRow, ...]
    remediation: tuple[RemediationOption, ...]
    unlicensed: tuple[UnlicensedSubscription, ...]
    unmapped: tuple[UnrecognizedInProfile, ...]
    activity: tuple[ActivityBuckets, ...]
    opportunities: tuple[ReclaimOpportunity, ...]
    data_as_of: dict[str, dt.datetime | None] = attrs.Factory(dict)
    products: tuple[ProductResult, ...] = ()
    metrics: tuple[MetricResult, ...] = ()
    #: every open candidate on a counted seat; ``opportunities`` lists the idlest of them
    opportunity_count: int = 0
    #: every counted seat no right covers; ``unlicensed`` lists the first of them
    #: (:data:`UNLICENSED_ORDER`)
    unlicensed_count: int = 0

    @property
    def compliant(self) -> bool:
        """True when no model needs more rights."""
        return all(r.compliant for r in self.models)

    def totals(self) -> dict[str, dict[str, Decimal]]:
        """Money summed per currency: true-up, over-licensed, potential and actual savings."""
        out: dict[str, dict[str, Decimal]] = {}
        for row in self.models:
            if row.currency is None:
                continue
            sums = out.setdefault(
                row.currency,
                {
                    k: Decimal("0.00")
                    for k in (
                        "true_up_cost",
                        "over_licensed_amount",
                        "potential_savings",
                        "actual_savings",
                    )
                },
            )
            for key in sums:
                value = getattr(row, key)
                if value is not None:
                    sums[key] += value
        return dict(sorted(out.items()))

    def tables(self) -> dict[str, Table]:
        """Every result as a :class:`~saas_license._tables.Table`, by name."""
        return {name: build(self) for name, build in _TABLES.items()}

    def table(self, name: str) -> Table:
        """One result table: products, models, metrics, profiles, remediation, unlicensed,
        unmapped, activity, opportunities or totals."""
        try:
            return _TABLES[name](self)
        except KeyError:
            from .._errors import ConfigError

            raise ConfigError(
                f"no table named {name!r}", field="table", hint="use one of " + ", ".join(_TABLES)
            ) from None

    def to_pandas(self, table: str = "models") -> Any:
        """One table as a ``pandas.DataFrame`` (needs the ``pandas`` extra)."""
        return self.table(table).to_pandas()

    def to_json_data(self) -> dict[str, Any]:
        """The whole result as one JSON document (money as strings, instants in UTC)."""
        return {
            "as_of": format_instant(self.as_of),
            "timezone": self.timezone,
            "savings_since": format_instant(self.savings_since),
            "compliant": self.compliant,
            "opportunity_count": self.opportunity_count,
            "unlicensed_count": self.unlicensed_count,
            "data_as_of": {
                k: None if v is None else format_instant(v) for k, v in self.data_as_of.items()
            },
            "tables": {name: t.to_json_data() for name, t in self.tables().items()},
        }

    def _repr_html_(self) -> str:
        status = "compliant" if self.compliant else "NOT compliant"
        head = (
            f"<p><b>Reconciliation</b> as of {format_instant(self.as_of)} "
            f"({self.timezone}): {status}; {self.unlicensed_count} unlicensed seats, "
            f"{sum(u.subscriptions for u in self.unmapped)} seats with unmapped identifiers</p>"
        )
        return head + self.table("models").to_html() + self.table("totals").to_html()


# -- the maths ---------------------------------------------------------------------------------


@attrs.define
class _Seat:
    id: int
    profile: str
    upn: str
    identifier: str
    last_activity: dt.datetime | None
    first_seen: dt.datetime | None
    days: int | None
    group: int = 0  # the group allocation the seat belongs to (0: none)


@attrs.frozen
class _Opportunity:
    """An open candidate on a counted seat, as the maths needs it."""

    candidate_id: int | None
    state: CandidateState
    upn: str
    identifier: str
    days: int | None
    last_activity: dt.datetime | None
    profile: str = ""
    model: str = ""


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def opportunity_key(o: ReclaimOpportunity) -> tuple[Any, ...]:
    """The order opportunities are listed and paged in, idlest first: never-active seats, then
    the oldest last activity, then profile, user, software model and candidate id (text by
    code point, as both stores compare it)."""
    la = o.last_activity
    cid = o.candidate_id
    return (
        la is not None,
        _EPOCH if la is None else la,
        o.profile,
        o.user_principal_name,
        o.software_model,
        cid is None,
        cid or 0,
    )


def _key(o: _Opportunity) -> tuple[Any, ...]:
    la = o.last_activity
    cid = o.candidate_id
    return (
        la is not None,
        _EPOCH if la is None else la,
        o.profile,
        o.upn,
        o.model,
        cid is None,
        cid or 0,
    )


@attrs.frozen
class _Reclaim:
    """A seat reclaimed (closed complete), as the savings maths needs it."""

    reclaimed_at: dt.datetime | None
    closed_at: dt.datetime | None
    undone_at: dt.datetime | None
    actual_savings: Decimal | None
    currency: str | None
    count: int = 1  # seats reclaimed alike (same recorded savings and currency, same price day)


@attrs.define
class _Unit:
    """What one (model, profile) holds: counts, not seats, so that SQL can fill it too."""

    used: int = 0
    excluded: int = 0
    own: int = 0
    lent: int = 0
    inactive: int = 0
    buckets: dict[str, int] = attrs.Factory(lambda: dict.fromkeys(ACTIVITY_BUCKETS, 0))
    open_candidates: int = 0  # open candidates on counted seats (listed by ``_Top``)
    reclaimed: list[_Reclaim] = attrs.Factory(list)
    grouped: dict[int, int] = attrs.Factory(dict)  # group allocation id → seats in it
    allocated: int = 0  # rights allocated to this profile
    group_covered: int = 0  # seats covered by group allocations
    allocated_in_use: int = 0


#: units[model][profile]
_Units = dict[str, dict[str, _Unit]]
#: newest(model, profile, n): the unit's ``n`` newest counted seats (first seen, then id, newest first)
_Newest = Callable[[str, str, int], Sequence[_Seat]]
#: top(skip, limit): the first ``limit`` (None: all) opportunities in :func:`opportunity_key`
#: order, leaving out the seats of the models in ``skip`` (free models without rights)
_Top = Callable[[Collection[str], "int | None"], Sequence[_Opportunity]]


def _money(rights: int, price: Decimal | None) -> Decimal | None:
    return None if price is None else quantize_money(price * rights)


def _units() -> _Units:
    return defaultdict(lambda: defaultdict(_Unit))


def savings_start(now: dt.datetime, timezone: str) -> dt.datetime:
    """The start of ``now``'s calendar year in ``timezone`` (actual savings count from there)."""
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    return dt.datetime(local_now.year, 1, 1, tzinfo=zone).astimezone(dt.timezone.utc)


def reconcile(
    *,
    subscriptions: Iterable[Subscription],
    entitlements: Sequence[Entitlement],
    candidates: Iterable[RemovalCandidate],
    models: Sequence[SoftwareModel],
    exclusions: Sequence[ExclusionRule],
    profile_types: Mapping[str, str],
    now: dt.datetime,
    timezone: str = "UTC",
    inactivity_days: Mapping[str, int] | None = None,
    data_as_of: Mapping[str, dt.datetime | None] | None = None,
    allocations: Sequence[Allocation] = (),
    products: Mapping[str, str] | None = None,
    opportunity_limit: int | None = None,
    unlicensed_limit: int | None = None,
) -> Reconciliation:
    """Reconcile seats against entitlements as of ``now`` (see the module docstring for the rules).

    ``subscriptions`` are active seats (streamed once); ``candidates`` may hold any states;
    ``inactivity_days`` gives each model's idle threshold (default 60) for active/inactive;
    ``allocations`` set company-wide rights aside for a profile or a group of users;
    ``products`` names each model's product (default: its publisher);
    ``opportunity_limit`` lists only the idlest opportunities (None: all; all are counted);
    ``unlicensed_limit`` lists only the first unlicensed seats (None: all; all are counted).
    This is the reference definition; a SQLite store computes the same result with aggregates
    (:func:`saas_license._finance.from_store.reconcile_store`).
    """
    thresholds = inactivity_days or {}
    savings_since = savings_start(now, timezone)
    effective = effective_allocations(allocations, entitlements, now, timezone)
    groups = [e for e in effective if e.allocation.is_group]
    grouped_models = {e.software_model for e in groups}

    units = _units()
    seats: dict[tuple[str, str], list[_Seat]] = defaultdict(list)
    unmapped: dict[tuple[str, str], int] = defaultdict(int)
    counted: dict[int, tuple[str, _Seat]] = {}
    listed: list[_Opportunity] = []
    for sub in subscriptions:
        if not sub.active:
            continue
        model = sub.software_model
        if model is None:
            unmapped[(sub.identifier, sub.profile)] += 1
            continue
        unit = units[model][sub.profile]
        if first_exclusion(exclusions, sub, profile_types.get(sub.profile), reclaim=False):
            unit.excluded += 1
            continue
        seat = _Seat(
            id=sub.id,
            profile=sub.profile,
            upn=sub.user_principal_name,
            identifier=sub.identifier,
            last_activity=sub.last_activity,
            first_seen=sub.first_seen_at,
            days=None
            if sub.last_activity is None
            else max(0, days_between(sub.last_activity, now, timezone)),
        )
        if model in grouped_models:
            seat.group = group_of(groups, model, sub.user_principal_name)
            if seat.group:
                unit.grouped[seat.group] = unit.grouped.get(seat.group, 0) + 1
        seats[(model, sub.profile)].append(seat)
        unit.used += 1
        if seat.days is None or seat.days >= thresholds.get(model, DEFAULT_INACTIVITY_DAYS):
            unit.inactive += 1
        unit.buckets[activity_bucket(seat.days)] += 1
        counted[sub.id] = (model, seat)

    for cand in candidates:
        model = cand.software_model
        if model is None:
            continue
        if cand.state in OPEN_STATES:
            hit = counted.get(cand.subscription_id)
            if hit is not None and hit[0] == model:
                s = hit[1]
                units[model][cand.profile].open_candidates += 1
                listed.append(
                    _Opportunity(
                        cand.id,
                        cand.state,
                        s.upn,
                        s.identifier,
                        s.days,
                        s.last_activity,
                        cand.profile,
                        model,
                    )
                )
        elif cand.state is CandidateState.CLOSED_COMPLETE:
            when = _reclaimed_at(cand)
            if when is not None and savings_since <= when <= now:
                units[model][cand.profile].reclaimed.append(
                    _Reclaim(
                        cand.reclaimed_at,
                        cand.closed_at,
                        cand.undone_at,
                        cand.actual_savings,
                        cand.currency,
                    )
                )

    def newest(model: str, profile: str, n: int) -> Sequence[_Seat]:
        ordered = sorted(
            seats[(model, profile)],
            key=lambda s: (s.first_seen or dt.datetime.min.replace(tzinfo=dt.timezone.utc), s.id),
            reverse=True,
        )
        # Seats outside any group first: a group's seats are the ones its allocation covers.
        ordered.sort(key=lambda s: s.group != 0)
        return ordered[:n]

    def top(skip: Collection[str], limit: int | None) -> Sequence[_Opportunity]:
        kept = sorted((o for o in listed if o.model not in skip), key=_key)
        return kept if limit is None else kept[:limit]

    return _finish(
        units,
        unmapped,
        newest,
        top,
        opportunity_limit=opportunity_limit,
        unlicensed_limit=unlicensed_limit,
        entitlements=entitlements,
        models=models,
        now=now,
        timezone=timezone,
        data_as_of=data_as_of,
        allocations=effective,
        products=products,
    )


def _finish(
    units: _Units,
    unmapped: Mapping[tuple[str, str], int],
    newest: _Newest,
    top: _Top,
    *,
    opportunity_limit: int | None,
    unlicensed_limit: int | None = None,
    entitlements: Sequence[Entitlement],
    models: Sequence[SoftwareModel],
    now: dt.datetime,
    timezone: str,
    data_as_of: Mapping[str, dt.datetime | None] | None,
    allocations: Sequence[EffectiveAllocation] = (),
    products: Mapping[str, str] | None = None,
) -> Reconciliation:
    """The maths shared by the reference and the SQL paths, from per-unit counts."""
    free = {m.name for m in models if not m.paid}
    product_of = {m.name: (products or {}).get(m.name) or m.publisher for m in models}
    allocated_of: dict[str, int] = defaultdict(int)
    group_rights: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for eff in allocations:
        allocated_of[eff.software_model] += eff.rights
        if eff.allocation.is_group:
            group_rights[eff.software_model].append((eff.allocation.id or 0, eff.rights))
        else:
            units[eff.software_model][eff.allocation.profile or ""].allocated += eff.rights
    savings_since = savings_start(now, timezone)
    in_force = entitlements_in_use(entitlements, now, timezone)
    by_model: dict[str, list[Entitlement]] = defaultdict(list)
    for ent in in_force:
        by_model[ent.software_model].append(ent)
        if ent.profile is not None:
            units[ent.software_model][ent.profile].own += ent.purchased_rights
        else:
            _ = units[ent.software_model]  # a pooled entitlement gives its model a row

    model_rows: list[ReconciliationRow] = []
    profile_rows: list[ReconciliationRow] = []
    remediation: list[RemediationOption] = []
    unlicensed: list[UnlicensedSubscription] = []
    unlicensed_count = 0
    activity: list[ActivityBuckets] = []
    metrics: list[MetricResult] = []
    priced: dict[str, tuple[Decimal | None, str | None]] = {}

    for model in sorted(units):
        ents = by_model.get(model, [])
        profiles = units[model]
        if model in free and not ents:
            continue
        price, currency = priced[model] = _model_price(ents)
        pool = sum(e.purchased_rights for e in ents if e.profile is None) - allocated_of[model]
        day_price = _price_per_day(entitlements, model, timezone=timezone, currency=currency)
        # Allocations first: a group's rights cover its seats, profile by profile (by name);
        # then each profile's allocation and its own scoped rights cover what is left.
        group_unused = 0
        allocations_needed = 0
        for gid, rights in group_rights.get(model, []):
            for name in sorted(profiles):
                n = profiles[name].grouped.get(gid, 0)
                take = min(n, rights)
                profiles[name].group_covered += take
                rights -= take
                allocations_needed += n - take  # group members the allocation leaves out
            group_unused += rights
        remaining: dict[str, int] = {}
        for name, unit in profiles.items():
            rest = unit.used - unit.group_covered
            from_profile = min(rest, unit.allocated)
            unit.allocated_in_use = unit.group_covered + from_profile
            remaining[name] = rest - from_profile
            if unit.allocated:
                allocations_needed += remaining[name]  # the profile's seats beyond its allocation
        # Lend the unallocated company-wide pool to the units still short, largest first.
        order = sorted(profiles, key=lambda p: (-(remaining[p] - profiles[p].own), p))
        for name in order:
            unit = profiles[name]
            short = max(0, remaining[name] - unit.own)
            unit.lent = min(short, pool)
            pool -= unit.lent
        pool += group_unused  # allocated to a group, not in use: available, lent to nobody
        rows = []
        for name in sorted(profiles):
            unit = profiles[name]
            row = _row(
                model,
                name,
                unit,
                owned=unit.group_covered + unit.allocated + unit.own + unit.lent,
                price=price,
                currency=currency,
                entitlement_count=sum(1 for e in ents if e.profile in (None, name)),
                price_at=day_price,
                now=now,
            )
            row = attrs.evolve(row, product=product_of.get(model, model))
            rows.append(row)
            profile_rows.append(row)
            remediation.extend(_options(row))
            unlicensed_count += row.rights_needed
            # the unit's first seats in UNLICENSED_ORDER, while the listing has room
            room = row.rights_needed
            if unlicensed_limit is not None:
                room = min(room, unlicensed_limit - len(unlicensed))
            if room > 0:
                unlicensed.extend(
                    unlicensed_records(model, newest(model, name, room), reason=_reason(ents))
                )
        model_row = _sum_rows(model, rows, pool_left=pool, price=price, currency=currency, now=now)
        model_row = attrs.evolve(
            model_row, entitlements_in_use=len(ents), product=product_of.get(model, model)
        )
        model_rows.append(model_row)
        metrics.append(_metric(model_row, allocated=allocated_of[model], needed=allocations_needed))
        buckets = dict.fromkeys(ACTIVITY_BUCKETS, 0)
        for unit in profiles.values():
            for label, n in unit.buckets.items():
                buckets[label] += n
        activity.append(
            ActivityBuckets(
                software_model=model,
                days_0_30=buckets["0-30"],
                days_30_60=buckets["30-60"],
                days_60_90=buckets["60-90"],
                days_90_plus=buckets["90+"],
                never=buckets["never"],
            )
        )
    skip = {m for m in units if m in free and not by_model.get(m)}
    opportunities = [_listed(o, priced) for o in top(skip, opportunity_limit)]
    return Reconciliation(
        as_of=now,
        timezone=timezone,
        savings_since=savings_since,
        models=tuple(model_rows),
        profiles=tuple(profile_rows),
        remediation=tuple(remediation),
        unlicensed=tuple(unlicensed),
        unmapped=tuple(
            UnrecognizedInProfile(identifier=i, profile=p, subscriptions=n)
            for (i, p), n in sorted(unmapped.items())
        ),
        activity=tuple(activity),
        opportunities=tuple(opportunities),
        data_as_of=dict(data_as_of or {}),
        products=_products(model_rows, now=now),
        metrics=tuple(metrics),
        opportunity_count=sum(r.open_candidates for r in model_rows),
        unlicensed_count=unlicensed_count,
    )


def _reason(ents: Sequence[Entitlement]) -> str:
    """Why a unit's seats are unlicensed: its model has no entitlement in force, or too few."""
    return "no entitlement" if not ents else "not enough rights"


def unlicensed_records(
    model: str, seats: Iterable[_Seat], *, reason: str
) -> list[UnlicensedSubscription]:
    """Seats of one model's unit as :class:`UnlicensedSubscription` records."""
    return [
        UnlicensedSubscription(
            subscription_id=s.id,
            profile=s.profile,
            software_model=model,
            user_principal_name=s.upn,
            identifier=s.identifier,
            reason=reason,
            last_activity=s.last_activity,
        )
        for s in seats
    ]


def unlicensed_units(result: Reconciliation) -> list[tuple[str, str, int, int, str]]:
    """(model, profile, seats no right covers, counted seats, reason) of every unit that lacks
    rights, in :data:`UNLICENSED_ORDER`: what a store needs to list, page or flag the
    unlicensed seats."""
    reasons = {
        r.software_model: "no entitlement" if not r.entitlements_in_use else "not enough rights"
        for r in result.models
    }
    return [
        (
            r.software_model,
            r.profile or "",
            r.rights_needed,
            r.rights_used,
            reasons[r.software_model],
        )
        for r in result.profiles
        if r.rights_needed
    ]


def _model_price(ents: Sequence[Entitlement]) -> tuple[Decimal | None, str | None]:
    """A model's unit price (the rights-weighted average of ``ents``, in force) and currency."""
    raw_price = average_annual_price(ents)
    return (
        None if raw_price is None else quantize_money(raw_price),
        ents[0].currency if ents else None,
    )


def _listed(
    o: _Opportunity, priced: Mapping[str, tuple[Decimal | None, str | None]]
) -> ReclaimOpportunity:
    price, currency = priced.get(o.model, (None, None))
    return ReclaimOpportunity(
        candidate_id=o.candidate_id,
        profile=o.profile,
        software_model=o.model,
        user_principal_name=o.upn,
        identifier=o.identifier,
        state=o.state,
        days_inactive=o.days,
        last_activity=o.last_activity,
        savings=price,
        currency=currency,
    )


def listing(
    models: Sequence[SoftwareModel],
    entitlements: Sequence[Entitlement],
    *,
    now: dt.datetime,
    timezone: str,
) -> tuple[set[str], dict[str, tuple[Decimal | None, str | None]]]:
    """(models whose seats are not reconciled, price and currency of every other model) as a
    reconciliation at ``now`` sees them: what paging through its opportunities needs."""
    by_model: dict[str, list[Entitlement]] = defaultdict(list)
    for ent in entitlements_in_use(entitlements, now, timezone):
        by_model[ent.software_model].append(ent)
    skip = {m.name for m in models if not m.paid and not by_model.get(m.name)}
    names = {m.name for m in models} | set(by_model)
    return skip, {m: _model_price(by_model.get(m, [])) for m in names - skip}


def page_of(
    found: Iterable[_Opportunity], priced: Mapping[str, tuple[Decimal | None, str | None]]
) -> list[ReclaimOpportunity]:
    """Opportunities a store read (:data:`_Top` rows) with their model's price."""
    return [_listed(o, priced) for o in found]


def _metric(row: ReconciliationRow, *, allocated: int, needed: int) -> MetricResult:
    """The license-metric tier of a model row (every right counts user subscriptions)."""
    not_allocated_owned = row.rights_owned - allocated
    return MetricResult(
        software_model=row.software_model,
        metric=LicenseMetric.USER_SUBSCRIPTION,
        rights_owned=row.rights_owned,
        rights_used=row.rights_used,
        rights_available=row.rights_available,
        rights_needed=row.rights_needed,
        allocated=allocated,
        allocated_in_use=row.allocated_in_use,
        allocated_not_in_use=allocated - row.allocated_in_use,
        not_allocated_in_use=row.not_allocated_in_use,
        not_allocated=not_allocated_owned - row.not_allocated_in_use,
        allocations_needed=needed,
        unlicensed_subscriptions=row.rights_needed,
        currency=row.currency,
        over_licensed_amount=row.over_licensed_amount,
        true_up_cost=row.true_up_cost,
        potential_savings=row.potential_savings,
        as_of=row.as_of,
    )


def _products(rows: Sequence[ReconciliationRow], *, now: dt.datetime) -> tuple[ProductResult, ...]:
    """The product tier: model rows grouped by product; money only when one currency."""
    by_product: dict[str, list[ReconciliationRow]] = defaultdict(list)
    for row in rows:
        by_product[row.product].append(row)
    out = []
    for product in sorted(by_product):
        group = by_product[product]
        currencies = {r.currency for r in group if r.currency is not None}
        currency = next(iter(currencies)) if len(currencies) == 1 else None

        def money(
            name: str, group: list[ReconciliationRow] = group, currency: str | None = currency
        ) -> Decimal | None:
            if currency is None:
                return None
            return sum(
                (getattr(r, name) for r in group if getattr(r, name) is not None), Decimal("0.00")
            )

        out.append(
            ProductResult(
                product=product,
                software_models=tuple(r.software_model for r in group),
                compliant=all(r.compliant for r in group),
                rights_owned=sum(r.rights_owned for r in group),
                rights_used=sum(r.rights_used for r in group),
                rights_needed=sum(r.rights_needed for r in group),
                unlicensed_subscriptions=sum(r.rights_needed for r in group),
                currency=currency,
                true_up_cost=money("true_up_cost"),
                over_licensed_amount=money("over_licensed_amount"),
                potential_savings=money("potential_savings"),
                actual_savings=money("actual_savings"),
                as_of=now,
            )
        )
    return tuple(out)


def _reclaimed_at(cand: RemovalCandidate | _Reclaim) -> dt.datetime | None:
    """When a closed-complete candidate's seat was taken back; None if the reclaim was undone
    or its seat reappeared in a later download (never saved)."""
    if cand.undone_at is not None or getattr(cand, "reappeared_at", None) is not None:
        return None
    reclaimed: dt.datetime | None = cand.reclaimed_at
    return reclaimed or cand.closed_at


def _price_per_day(
    entitlements: Sequence[Entitlement], model: str, *, timezone: str, currency: str | None
) -> Callable[[dt.datetime], Decimal | None]:
    """:func:`_price_at` for one model, computed once per calendar day (the price only changes
    with the entitlements in use, which change by day): thousands of reclaims, a few look-ups."""
    cache: dict[dt.date, Decimal | None] = {}

    def price(at: dt.datetime) -> Decimal | None:
        day = local_date(at, timezone)
        if day not in cache:
            cache[day] = _price_at(entitlements, model, at, timezone=timezone, currency=currency)
        return cache[day]

    return price


def _price_at(
    entitlements: Sequence[Entitlement],
    model: str,
    at: dt.datetime,
    *,
    timezone: str,
    currency: str | None,
) -> Decimal | None:
    """The model's price when a seat was reclaimed (same currency as today's, else None)."""
    then = [e for e in entitlements_in_use(entitlements, at, timezone) if e.software_model == model]
    price = average_annual_price(then)
    if price is None or then[0].currency != currency:
        return None
    return quantize_money(price)


def _row(
    model: str,
    profile: str,
    unit: _Unit,
    *,
    owned: int,
    price: Decimal | None,
    currency: str | None,
    entitlement_count: int,
    price_at: Callable[[dt.datetime], Decimal | None],
    now: dt.datetime,
) -> ReconciliationRow:
    used = unit.used
    inactive = unit.inactive
    actual = None if price is None else Decimal("0.00")
    for cand in unit.reclaimed:
        recorded = cand.actual_savings
        n = cand.count
        if recorded is not None and cand.currency == currency:
            paid: Decimal | None = quantize_money(recorded)  # priced when it was reclaimed
        else:
            when = _reclaimed_at(cand)
            paid = price_at(when) if when is not None else None
            paid = price if paid is None else paid
        if paid is not None:
            actual = (actual or Decimal("0.00")) + paid * n
    return ReconciliationRow(
        software_model=model,
        profile=profile,
        rights_owned=owned,
        rights_used=used,
        rights_available=max(0, owned - used),
        rights_needed=max(0, used - owned),
        compliant=used <= owned,
        excluded_seats=unit.excluded,
        active_seats=used - inactive,
        inactive_seats=inactive,
        entitlements_in_use=entitlement_count,
        unit_price=price,
        currency=currency,
        true_up_cost=_money(max(0, used - owned), price),
        over_licensed_amount=_money(max(0, owned - used), price),
        open_candidates=unit.open_candidates,
        potential_savings=_money(unit.open_candidates, price),
        reclaimed_seats=sum(r.count for r in unit.reclaimed),
        actual_savings=actual,
        as_of=now,
        allocated_in_use=unit.allocated_in_use,
        not_allocated_in_use=min(used, owned) - unit.allocated_in_use,
    )


def _sum_rows(
    model: str,
    rows: Sequence[ReconciliationRow],
    *,
    pool_left: int,
    price: Decimal | None,
    currency: str | None,
    now: dt.datetime,
) -> ReconciliationRow:
    def total(name: str) -> int:
        return sum(getattr(r, name) for r in rows)

    owned = total("rights_owned") + pool_left
    available = total("rights_available") + pool_left
    needed = total("rights_needed")
    actuals = [r.actual_savings for r in rows if r.actual_savings is not None]
    return ReconciliationRow(
        software_model=model,
        profile=None,
        rights_owned=owned,
        rights_used=total("rights_used"),
        rights_available=available,
        rights_needed=needed,
        compliant=needed == 0,
        excluded_seats=total("excluded_seats"),
        active_seats=total("active_seats"),
        inactive_seats=total("inactive_seats"),
        entitlements_in_use=0,
        unit_price=price,
        currency=currency,
        true_up_cost=_money(needed, price),
        over_licensed_amount=_money(available, price),
        open_candidates=total("open_candidates"),
        potential_savings=_money(total("open_candidates"), price),
        reclaimed_seats=total("reclaimed_seats"),
        actual_savings=sum(actuals, Decimal("0.00")) if actuals or price is not None else None,
        as_of=now,
        allocated_in_use=total("allocated_in_use"),
        not_allocated_in_use=total("not_allocated_in_use"),
    )


def _options(row: ReconciliationRow) -> list[RemediationOption]:
    out = []
    if row.rights_needed:
        out.append(
            RemediationOption(
                software_model=row.software_model,
                profile=row.profile,
                action=Remediation.PURCHASE_RIGHTS,
                rights=row.rights_needed,
                amount=row.true_up_cost,
                currency=row.currency,
                affects_compliance=True,
                note=f"buy {row.rights_needed} rights"
                + ("" if row.unit_price is not None else " (no unit cost recorded)"),
            )
        )
        if row.rights_needed > row.open_candidates:
            seats = row.rights_needed - row.open_candidates
            out.append(
                RemediationOption(
                    software_model=row.software_model,
                    profile=row.profile,
                    action=Remediation.REMOVE_UNLICENSED,
                    rights=seats,
                    amount=_money(seats, row.unit_price),
                    currency=row.currency,
                    affects_compliance=True,
                    note=f"propose the {seats} least-active seats for removal",
                )
            )
    if row.open_candidates:
        covers = min(row.open_candidates, row.rights_needed)
        out.append(
            RemediationOption(
                software_model=row.software_model,
                profile=row.profile,
                action=Remediation.RECLAIM_UNUSED,
                rights=row.open_candidates,
                amount=row.potential_savings,
                currency=row.currency,
                affects_compliance=covers > 0,
                note=f"reclaim {row.open_candidates} idle seats"
                + (f", covering {covers} of the shortfall" if covers else ""),
            )
        )
    if row.rights_available and row.unit_price is not None:
        out.append(
            RemediationOption(
                software_model=row.software_model,
                profile=row.profile,
                action=Remediation.REDUCE_RIGHTS,
                rights=row.rights_available,
                amount=row.over_licensed_amount,
                currency=row.currency,
                affects_compliance=False,
                note=f"renew {row.rights_available} fewer rights",
            )
        )
    return out


# -- tables ------------------------------------------------------------------------------------

_ROW_COLUMNS = (
    "software_model",
    "profile",
    "rights_owned",
    "rights_used",
    "rights_available",
    "rights_needed",
    "compliant",
    "excluded_seats",
    "active_seats",
    "inactive_seats",
    "entitlements_in_use",
    "unit_price",
    "currency",
    "true_up_cost",
    "over_licensed_amount",
    "open_candidates",
    "potential_savings",
    "reclaimed_seats",
    "actual_savings",
    "allocated_in_use",
    "not_allocated_in_use",
)


def _records(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [attrs.asdict(i, recurse=False) for i in items]


def _products_table(r: Reconciliation) -> Table:
    rows = [
        {**attrs.asdict(p, recurse=False), "software_models": ", ".join(p.software_models)}
        for p in r.products
    ]
    return Table.from_dicts(
        "products",
        [f.name for f in attrs.fields(ProductResult) if f.name != "as_of"],
        rows,
        title="Reconciliation per product",
        as_of=r.as_of,
    )


def _metrics_table(r: Reconciliation) -> Table:
    return Table.from_dicts(
        "metrics",
        [f.name for f in attrs.fields(MetricResult) if f.name != "as_of"],
        _records(r.metrics),
        title="Reconciliation per software model and license metric",
        as_of=r.as_of,
    )


def _models_table(r: Reconciliation) -> Table:
    return Table.from_dicts(
        "models",
        ["product", *(c for c in _ROW_COLUMNS if c != "profile")],
        _records(r.models),
        title="Reconciliation per software model",
        as_of=r.as_of,
    )


def _profiles_table(r: Reconciliation) -> Table:
    return Table.from_dicts(
        "profiles",
        _ROW_COLUMNS,
        _records(r.profiles),
        title="Reconciliation per software model and profile",
        as_of=r.as_of,
    )


def _remediation_table(r: Reconciliation) -> Table:
    return Table.from_dicts(
        "remediation",
        [
            "software_model",
            "profile",
            "action",
            "rights",
            "amount",
            "currency",
            "affects_compliance",
            "note",
            "status",
            "key",
        ],
        [{**attrs.asdict(o, recurse=False), "key": o.key} for o in r.remediation],
        title="Remediation options",
        as_of=r.as_of,
    )


def unlicensed_table(
    unlicensed: Iterable[UnlicensedSubscription], *, as_of: dt.datetime, note: str = ""
) -> Table:
    """Unlicensed seats as the reconciliation's ``unlicensed`` table (one page of them, say)."""
    return Table.from_dicts(
        "unlicensed",
        [
            "subscription_id",
            "profile",
            "software_model",
            "user_principal_name",
            "identifier",
            "reason",
            "last_activity",
        ],
        _records(unlicensed),
        title="Unlicensed subscriptions",
        as_of=as_of,
        note=note,
    )


def _unlicensed_table(r: Reconciliation) -> Table:
    return unlicensed_table(
        r.unlicensed,
        as_of=r.as_of,
        note=(
            f"the first {len(r.unlicensed):,} of {r.unlicensed_count:,} unlicensed seats"
            if len(r.unlicensed) < r.unlicensed_count
            else ""
        ),
    )


def _unmapped_table(r: Reconciliation) -> Table:
    return Table.from_dicts(
        "unmapped",
        ["identifier", "profile", "subscriptions"],
        _records(r.unmapped),
        title="Identifiers mapped to no software model (not reconciled)",
        as_of=r.as_of,
    )


def _activity_table(r: Reconciliation) -> Table:
    return Table.from_dicts(
        "activity",
        ["software_model", "days_0_30", "days_30_60", "days_60_90", "days_90_plus", "never"],
        _records(r.activity),
        title="Counted seats by days since last activity",
        as_of=r.as_of,
    )


def opportunities_table(
    opportunities: Iterable[ReclaimOpportunity], *, as_of: dt.datetime, note: str = ""
) -> Table:
    """Opportunities as the reconciliation's ``opportunities`` table (one page of them, say)."""
    return Table.from_dicts(
        "opportunities",
        [
            "candidate_id",
            "profile",
            "software_model",
            "user_principal_name",
            "identifier",
            "state",
            "days_inactive",
            "last_activity",
            "savings",
            "currency",
        ],
        _records(opportunities),
        title="Reclaim candidates (idlest first)",
        as_of=as_of,
        note=note,
    )


def _opportunities_table(r: Reconciliation) -> Table:
    return opportunities_table(
        r.opportunities,
        as_of=r.as_of,
        note=(
            f"the idlest {len(r.opportunities):,} of {r.opportunity_count:,} open candidates"
            if len(r.opportunities) < r.opportunity_count
            else ""
        ),
    )


def _totals_table(r: Reconciliation) -> Table:
    return Table.from_dicts(
        "totals",
        ["currency", "true_up_cost", "over_licensed_amount", "potential_savings", "actual_savings"],
        [{"currency": c, **sums} for c, sums in r.totals().items()],
        title="Totals per currency (per year)",
        as_of=r.as_of,
        note=f"actual savings count seats reclaimed since {format_instant(r.savings_since)}",
    )


_TABLES = {
    "products": _products_table,
    "models": _models_table,
    "metrics": _metrics_table,
    "profiles": _profiles_table,
    "remediation": _remediation_table,
    "unlicensed": _unlicensed_table,
    "unmapped": _unmapped_table,
    "activity": _activity_table,
    "opportunities": _opportunities_table,
    "totals": _totals_table,
}


# -- what the SQL path needs from the maths -----------------------------------------------------


def reconcile_units(
    units: _Units,
    unmapped: Mapping[tuple[str, str], int],
    newest: _Newest,
    top: _Top,
    *,
    opportunity_limit: int | None = DEFAULT_OPPORTUNITY_LIMIT,
    unlicensed_limit: int | None = DEFAULT_UNLICENSED_LIMIT,
    entitlements: Sequence[Entitlement],
    models: Sequence[SoftwareModel],
    now: dt.datetime,
    timezone: str,
    data_as_of: Mapping[str, dt.datetime | None] | None = None,
    allocations: Sequence[EffectiveAllocation] = (),
    products: Mapping[str, str] | None = None,
) -> Reconciliation:
    """The reconciliation from per-unit counts computed elsewhere (the SQLite store's aggregates);
    ``allocations`` as :func:`~saas_license._finance.allocations.effective_allocations` gives them."""
    return _finish(
        units,
        unmapped,
        newest,
        top,
        opportunity_limit=opportunity_limit,
        unlicensed_limit=unlicensed_limit,
        entitlements=entitlements,
        models=models,
        now=now,
        timezone=timezone,
        data_as_of=data_as_of,
        allocations=allocations,
        products=products,
    )


def new_units() -> _Units:
    """An empty units[model][profile] table for :func:`reconcile_units`."""
    return _units()


Opportunity = _Opportunity
Reclaim = _Reclaim
Seat = _Seat
Unit = _Unit
