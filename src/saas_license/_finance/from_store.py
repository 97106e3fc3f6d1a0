"""Glue between the workspace and the finance area: checks entitlements against the store and
feeds :func:`~saas_license._finance.reconciliation.reconcile` from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .._candidates.records import OPEN_STATES, CandidateState
from .._directory.facts import directory_of, with_directory
from .._errors import ConfigError, StoreError
from .._jobs import JobStatus
from .._store import Store
from .._store._finance import FinanceStore, keeps_entitlements
from .entitlements import Entitlement, EntitlementPriceBook, check_currency
from .pricing import NoPrices, PriceBook

#: Opportunities a reconciliation lists unless told otherwise (the same as
#: ``reconciliation.DEFAULT_OPPORTUNITY_LIMIT``, kept here so a daily run need not import it).
DEFAULT_OPPORTUNITY_LIMIT = 100
#: Unlicensed seats a reconciliation lists unless told otherwise (the same as
#: ``reconciliation.DEFAULT_UNLICENSED_LIMIT``).
DEFAULT_UNLICENSED_LIMIT = 100

if TYPE_CHECKING:
    from .allocations import EffectiveAllocation
    from .reconciliation import ReclaimOpportunity, Reconciliation, UnlicensedSubscription
    from .showback import Showback

__all__ = [
    "check_entitlement",
    "finance_store",
    "group_allocations",
    "inactivity_thresholds",
    "opportunities_store",
    "price_book_for",
    "reconcile_store",
    "showback_store",
    "unlicensed_store",
]


def finance_store(store: Store) -> FinanceStore:
    """The store as a :class:`FinanceStore`, or a clear error if it keeps no entitlements."""
    if not keeps_entitlements(store):
        raise StoreError(
            f"{type(store).__name__} does not keep entitlements",
            hint="use SqliteStore, or add the FinanceStore methods to your store",
        )
    return store


def price_book_for(store: Store, timezone: str) -> PriceBook:
    """Entitlement prices when the store keeps entitlements, else no prices."""
    if keeps_entitlements(store):
        return EntitlementPriceBook(store, timezone=timezone)
    return NoPrices()


def check_entitlement(store: Store, ent: Entitlement, pending: Sequence[Entitlement] = ()) -> None:
    """Refuse an entitlement for an unknown model or profile, or in a second currency."""
    models = {m.name for m in store.list_software_models()}
    if ent.software_model not in models:
        raise ConfigError(
            f"no software model named {ent.software_model!r}",
            field="entitlement.software_model",
            hint="known models: " + (", ".join(sorted(models)) or "none yet; run a profile first"),
        )
    if ent.profile is not None and store.get_profile(ent.profile) is None:
        raise ConfigError(
            f"no profile named {ent.profile!r}",
            field="entitlement.profile",
            hint="leave the profile empty for rights that cover every profile",
        )
    check_currency(ent, [*finance_store(store).list_entitlements(ent.software_model), *pending])


def reconcile_store(
    store: Store,
    *,
    now: dt.datetime,
    timezone: str,
    opportunity_limit: int | None = DEFAULT_OPPORTUNITY_LIMIT,
    unlicensed_limit: int | None = DEFAULT_UNLICENSED_LIMIT,
) -> Reconciliation:
    """Reconcile everything the store holds, as of ``now``, listing the idlest
    ``opportunity_limit`` opportunities and the first ``unlicensed_limit`` unlicensed seats
    (None: all)."""
    from .reconciliation import reconcile, reconcile_units  # not needed to start a daily run

    fin = finance_store(store)
    profiles = store.list_profiles()
    data_as_of: dict[str, dt.datetime | None] = {}
    for prof in profiles:
        done = [
            j
            for j in store.list_jobs(prof.name, limit=50)
            if j.process == "download" and j.status is JobStatus.COMPLETE
        ]
        data_as_of[prof.name] = done[0].finished_at if done else None
    thresholds: dict[str, int] = {}
    for rule in store.list_reclamation_rules():
        if rule.active:
            thresholds.setdefault(rule.software_model, rule.inactivity_days)
    exclusions = store.list_exclusion_rules()
    profile_types = {p.name: p.profile_type for p in profiles}
    entitlements = fin.list_entitlements()
    allocations = fin.list_allocations()
    products = fin.products()
    facts = getattr(fin, "reconcile_facts", None)
    if facts is not None:  # the SQLite store: aggregates, not one object per seat
        from .allocations import effective_allocations

        effective = effective_allocations(allocations, entitlements, now, timezone)
        units, unmapped, newest, top = facts(
            exclusions=exclusions,
            profile_types=profile_types,
            inactivity_days=thresholds,
            now=now,
            timezone=timezone,
            groups=[e for e in effective if e.allocation.is_group],
            price_days=price_change_days(entitlements),
        )
        return reconcile_units(
            units,
            unmapped,
            newest,
            top,
            opportunity_limit=opportunity_limit,
            unlicensed_limit=unlicensed_limit,
            entitlements=entitlements,
            models=store.list_software_models(),
            now=now,
            timezone=timezone,
            data_as_of=data_as_of,
            allocations=effective,
            products=products,
        )
    return reconcile(
        # each seat with its person's ``directory.*`` facts, for directory-based exclusions
        subscriptions=with_directory(store.iter_subscriptions(), directory_of(store)),
        entitlements=entitlements,
        allocations=allocations,
        products=products,
        candidates=store.list_candidates(states=[*OPEN_STATES, CandidateState.CLOSED_COMPLETE]),
        models=store.list_software_models(),
        exclusions=exclusions,
        profile_types=profile_types,
        now=now,
        timezone=timezone,
        inactivity_days=thresholds,
        data_as_of=data_as_of,
        opportunity_limit=opportunity_limit,
        unlicensed_limit=unlicensed_limit,
    )


def group_allocations(
    store: Store, *, now: dt.datetime, timezone: str
) -> list[EffectiveAllocation]:
    """The group allocations in effect at ``now``: they order a unit's unlicensed seats."""
    from .allocations import effective_allocations

    fin = finance_store(store)
    effective = effective_allocations(
        fin.list_allocations(), fin.list_entitlements(), now, timezone
    )
    return [e for e in effective if e.allocation.is_group]


def unlicensed_store(
    store: Store,
    *,
    now: dt.datetime,
    timezone: str,
    limit: int | None,
    after: UnlicensedSubscription | None = None,
    page_size: int = 20_000,
) -> Iterator[UnlicensedSubscription]:
    """The unlicensed seats a reconciliation at ``now`` lists, in its order: ``limit`` of them
    (None: all) after ``after`` (one of them, e.g. the last of the previous page), read
    ``page_size`` at a time. On a store that pages in SQL the reconciliation is counted once
    (no seat listed) and each unit's seats are read by queries that keep only a page;
    otherwise the reference reconciliation is computed and sliced."""
    from .reconciliation import unlicensed_records, unlicensed_units

    fin = finance_store(store)
    read = getattr(fin, "unlicensed_seats", None)
    if read is None:
        every = reconcile_store(
            store, now=now, timezone=timezone, opportunity_limit=0, unlicensed_limit=None
        )
        found = list(every.unlicensed)
        if after is not None:
            at = next(
                (k for k, u in enumerate(found) if u.subscription_id == after.subscription_id),
                None,
            )
            found = found[at + 1 :] if at is not None else _after_unit(found, after)
        yield from (found if limit is None else found[:limit])
        return
    counted = reconcile_store(
        store, now=now, timezone=timezone, opportunity_limit=0, unlicensed_limit=0
    )
    units = unlicensed_units(counted)
    reasons = {(m, p): r for m, p, _, _, r in units}
    profiles = store.list_profiles()
    exclusions = store.list_exclusion_rules()
    groups = group_allocations(store, now=now, timezone=timezone)
    needed = [u[:3] for u in units]
    mark = None if after is None else (after.software_model, after.profile, after.subscription_id)
    rank: int | None = None  # seats of the mark's unit up to it (None: the store counts them)
    left = limit
    while left is None or left > 0:
        take = page_size if left is None else min(page_size, left)
        rows = read(
            exclusions=exclusions,
            profile_types={p.name: p.profile_type for p in profiles},
            groups=groups,
            units=needed,
            limit=take,
            after=mark,
            rank=rank,
        )
        for model, seat in rows:
            yield from unlicensed_records(model, [seat], reason=reasons[(model, seat.profile)])
        if len(rows) < take:
            return
        if left is not None:
            left -= len(rows)
        # the next page starts after the last seat read, whose rank in its unit is known
        # unless the page stayed in the unit of an ``after`` the store counted itself
        model, seat = rows[-1]
        unit = (model, seat.profile)
        in_unit = sum(1 for m, s in rows if (m, s.profile) == unit)
        same = mark is not None and (mark[0], mark[1]) == unit
        rank = (None if rank is None else rank + in_unit) if same else in_unit
        mark = (model, seat.profile, seat.id)


def _after_unit(
    found: Sequence[UnlicensedSubscription], after: UnlicensedSubscription
) -> list[UnlicensedSubscription]:
    """The seats of the units after ``after``'s (model, profile), when it is no longer listed."""
    unit = (after.software_model, after.profile)
    return [u for u in found if (u.software_model, u.profile) > unit]


def opportunities_store(
    store: Store,
    *,
    now: dt.datetime,
    timezone: str,
    limit: int | None,
    after: ReclaimOpportunity | None = None,
) -> list[ReclaimOpportunity]:
    """The opportunities a reconciliation at ``now`` lists, idlest first: ``limit`` of them
    (None: all) after ``after`` (the last one of the previous page). On a store that pages
    in SQL each call is one query that keeps only ``limit`` rows; otherwise the reference
    reconciliation is computed and sliced."""
    from .._time import epoch_ms
    from .reconciliation import listing, opportunity_key, page_of

    fin = finance_store(store)
    read = getattr(fin, "reclaim_opportunities", None)
    if read is None:
        every = reconcile_store(store, now=now, timezone=timezone, opportunity_limit=None)
        found = list(every.opportunities)
        if after is not None:
            mark = opportunity_key(after)
            found = [o for o in found if opportunity_key(o) > mark]
        return found if limit is None else found[:limit]
    skip, priced = listing(
        store.list_software_models(), fin.list_entitlements(), now=now, timezone=timezone
    )
    key = None
    if after is not None:
        if after.candidate_id is None:
            raise ConfigError(
                "page after a stored opportunity (it has no candidate id)", field="after"
            )
        la = after.last_activity
        key = (
            0 if la is None else 1,
            0 if la is None else epoch_ms(la),
            after.profile,
            after.user_principal_name,
            after.software_model,
            after.candidate_id,
        )
    profiles = store.list_profiles()
    rows = read(
        exclusions=store.list_exclusion_rules(),
        profile_types={p.name: p.profile_type for p in profiles},
        skip=skip,
        now=now,
        timezone=timezone,
        limit=limit,
        after=key,
    )
    return page_of(rows, priced)


def price_change_days(entitlements: Sequence[Entitlement]) -> list[dt.date]:
    """The days on which an entitlement starts, ends or is retired: the only days a model's
    price in force can change (see ``Entitlement.state_on``)."""
    days: set[dt.date] = set()
    for ent in entitlements:
        days.add(ent.start)
        if ent.end is not None and ent.end < dt.date.max:
            days.add(ent.end + dt.timedelta(days=1))
        if ent.retired_on is not None:
            days.add(ent.retired_on)
    return sorted(days)


def inactivity_thresholds(store: Store) -> dict[str, int]:
    """Each model's idle threshold: the days of its active reclamation rule (the first one)."""
    thresholds: dict[str, int] = {}
    for rule in store.list_reclamation_rules():
        if rule.active:
            thresholds.setdefault(rule.software_model, rule.inactivity_days)
    return thresholds


def showback_store(
    store: Store, *, by: str, prices: PriceBook, now: dt.datetime, timezone: str
) -> Showback:
    """The showback of everything the store holds, each seat seen with its person's facts."""
    from .showback import check_dimension, compute_showback

    check_dimension(by)
    return compute_showback(
        with_directory(store.iter_subscriptions(), directory_of(store)),
        by=by,
        exclusions=store.list_exclusion_rules(),
        profile_types={p.name: p.profile_type for p in store.list_profiles()},
        prices=prices,
        now=now,
        timezone=timezone,
        inactivity_days=inactivity_thresholds(store),
    )
