"""Building a reclaim plan (read-only) and the safety re-check that runs before every reclaim."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import attrs

from .._candidates.records import OPEN_STATES, CandidateState, RemovalCandidate
from .._candidates.states import Route
from .._directory.facts import reclaim_priority, with_person
from .._errors import ConfigError
from .._evaluation import Assessment, EvaluationPolicy, assess
from .._finance.pricing import NoPrices, PriceBook, UnitPrice
from .._profiles import IntegrationProfile
from .._rules import ReclamationRule
from .._store import Store
from .._subscriptions import Subscription
from .plan_sql import sql_plan_rows
from .records import HeldItem, PlanAction, PlanBasis, PlanItem, ReclaimPlan
from .stored import StoredPlan

if TYPE_CHECKING:
    from .._store import SqliteStore
    from .._store._sqlite.plans import PlanRow

__all__ = ["build_plan", "recheck", "reclaim_key", "stream_plan"]


def reclaim_key(scope: str, sub: Subscription | RemovalCandidate) -> str:
    """What one vendor reclaim frees, as the spoke declares it (:attr:`SpokeInfo.reclaim_scope`):
    one seat (``"seat"``) or every seat of the user (``"user"``, and anything unrecognised: the
    wider unit is the safe reading). Never a user setting."""
    if scope == "seat":
        seat_id = sub.id if isinstance(sub, Subscription) else sub.subscription_id
        return f"seat:{seat_id}"
    return f"user:{sub.external_user_id}"


def recheck(
    store: Store,
    profile: IntegrationProfile,
    sub: Subscription,
    *,
    now: dt.datetime,
    policy: EvaluationPolicy,
    integration_user_id: str | None,
    protective_fields: Sequence[str] = ("administrator",),
) -> Assessment:
    """Assess one seat again with the rules as they are *now* (the last check before a reclaim);
    ``sub`` is the vendor's fresh record of the seat (see :mod:`saas_license._reclaim.recheck`)."""
    rules = {r.software_model: r for r in store.list_reclamation_rules() if r.active}
    return assess(
        with_person(sub, store.find_person(sub.user_principal_name)),
        now=now,
        profile_type=profile.profile_type,
        exclusions=store.list_exclusion_rules(),
        rules=rules,
        integration_user_id=integration_user_id,
        policy=policy,
        protective_fields=protective_fields,
    )


def _route(
    candidate: RemovalCandidate,
    rules: dict[int, ReclamationRule],
    by_model: dict[str, ReclamationRule],
) -> Route:
    """The same decision as :meth:`CandidateWorkflow.route_for` (a ready candidate follows its rule)."""
    rule = rules.get(candidate.rule_id or -1) or by_model.get(candidate.software_model or "")
    if rule is None:
        return Route(notify_user=candidate.notify_user)
    if candidate.state in (CandidateState.READY, CandidateState.ATTENTION_REQUIRED):
        return rule.route
    return attrs.evolve(rule.route, notify_user=candidate.notify_user)


def _seats_of(
    store: Store, profile: str, scope: str, wanted: set[int], wanted_keys: set[str]
) -> tuple[dict[str, set[int]], dict[int, str], dict[int, Subscription]]:
    """The active seats behind ``wanted_keys`` (key → seat ids, seat id → identifier) and the
    candidates' own active seats (``wanted``), in one pass: memory follows the number of
    candidates, not the size of the account.

    A store that can list bare seat keys (``iter_seat_keys``: id, user, identifier of every
    active seat, as the SQLite store does) builds a full :class:`Subscription` only for the
    candidates' seats; any other store streams its seats once.
    """
    seats_by_key: dict[str, set[int]] = defaultdict(set)
    identifiers: dict[int, str] = {}
    subs: dict[int, Subscription] = {}
    seat_keys = getattr(store, "iter_seat_keys", None)
    if seat_keys is None:
        for sub in store.iter_subscriptions(profile):
            key = reclaim_key(scope, sub)
            if key in wanted_keys:
                seats_by_key[key].add(sub.id)
                identifiers[sub.id] = sub.identifier
            if sub.id in wanted:
                subs[sub.id] = sub
        return seats_by_key, identifiers, subs
    per_seat = scope == "seat"
    for seat_id, user, identifier in seat_keys(profile):
        key = f"seat:{seat_id}" if per_seat else f"user:{user}"
        if key in wanted_keys:
            seats_by_key[key].add(seat_id)
            identifiers[seat_id] = identifier
    # the candidates' seats as they are now; inactive or moved seats count as gone
    subs = {
        i: s
        for i, s in store.subscriptions_by_id(sorted(wanted)).items()
        if s.active and s.profile == profile
    }
    return seats_by_key, identifiers, subs


class _Decider:
    """What the plan does with one open candidate: a :class:`HeldItem` (with why), or a
    :class:`PlanItem` and its reclaim priority (leavers' seats first). One candidate at a time,
    so a plan can be built as a stream; the per-unit hold is decided once all are known."""

    def __init__(
        self,
        store: Store,
        profile: IntegrationProfile,
        *,
        now: dt.datetime,
        action: str,
        policy: EvaluationPolicy | None,
        prices: PriceBook | None,
        integration_user_id: str | None,
        protective_fields: Sequence[str],
    ) -> None:
        self.store, self.profile, self.now, self.action = store, profile, now, action
        self.policy = policy or EvaluationPolicy()
        self.prices = prices or NoPrices()
        self.me = integration_user_id or profile.integration_user_id
        self.protective_fields = protective_fields
        # the plan has one instant: a model's price is looked up once, not once a seat
        self._prices: dict[str, UnitPrice | None] = {}
        all_rules = store.list_reclamation_rules()
        self.rules_by_id = {r.id: r for r in all_rules if r.id is not None}
        self.by_model = {r.software_model: r for r in all_rules if r.active}
        self.exclusions = store.list_exclusion_rules()
        # no directory ever loaded: nobody to look up (one query a candidate saved)
        source = getattr(store, "directory_source", None)
        self.directory = source is None or source() is not None
        # A reclaim whose outcome was never seen is resolved by reading the vendor, never re-sent.
        self.unresolved = {
            cid: action.id
            for action in store.unresolved_reclaim_actions(profile.name)
            for cid in action.candidate_ids
        }

    def price_of(self, model: str) -> UnitPrice | None:
        """The unit price of ``model`` at the plan's instant (looked up once per model)."""
        if model not in self._prices:
            self._prices[model] = self.prices.unit_price(model, at=self.now)
        return self._prices[model]

    def __call__(
        self, candidate: RemovalCandidate, seat: Subscription | None
    ) -> HeldItem | tuple[PlanItem, int]:
        profile, now, state = self.profile, self.now, candidate.state
        if candidate.id in self.unresolved:
            return HeldItem(
                candidate=candidate,
                reason=f"the outcome of reclaim {self.unresolved[candidate.id]} is unknown: "
                f"settling them (CLI `reclaim {profile.name} --reconcile`, Python `ws.plans.reconcile({profile.name!r})`) reads the vendor",
            )
        if state is CandidateState.ATTENTION_REQUIRED:
            return HeldItem(candidate=candidate, reason=f"attention required: {candidate.message}")
        if state is CandidateState.AWAITING_APPROVAL:
            return HeldItem(
                candidate=candidate,
                reason=f"waiting for approval by {candidate.approver or 'an approver'}",
            )
        if state is CandidateState.AWAITING_USER and (
            candidate.respond_by is None or candidate.respond_by > now
        ):
            when = (
                candidate.respond_by.strftime("%Y-%m-%d %H:%M UTC") if candidate.respond_by else "?"
            )
            return HeldItem(
                candidate=candidate, reason=f"waiting for the user's answer until {when}"
            )
        if seat is None:
            return HeldItem(
                candidate=candidate, reason="the seat is gone; the next run closes the candidate"
            )
        sub = seat
        # with the person's facts: directory rules hold here exactly as in the evaluation
        person = self.store.find_person(sub.user_principal_name) if self.directory else None
        priority = reclaim_priority(person.facts() if person else {})
        verdict = assess(
            with_person(sub, person),
            now=now,
            profile_type=profile.profile_type,
            exclusions=self.exclusions,
            rules=self.by_model,
            integration_user_id=self.me,
            policy=self.policy,
            protective_fields=self.protective_fields,
        )
        if not verdict.idle:
            return HeldItem(
                candidate=candidate, reason=f"not reclaimable now: {verdict.verdict.value}"
            )
        price = self.price_of(sub.software_model) if sub.software_model else None
        kind = (
            PlanAction.NOTIFY
            if state is CandidateState.READY
            and _route(candidate, self.rules_by_id, self.by_model).asks_user
            else PlanAction.RECLAIM
        )
        item = PlanItem(
            candidate=candidate,
            subscription=sub,
            action="notify user" if kind is PlanAction.NOTIFY else self.action,
            kind=kind,
            potential_savings=price.amount if price else candidate.potential_savings,
            currency=price.currency if price else candidate.currency,
            basis=PlanBasis.of(candidate, sub),
        )
        return item, priority


def build_plan(
    store: Store,
    profile: IntegrationProfile,
    *,
    now: dt.datetime,
    action: str = "reclaim",
    policy: EvaluationPolicy | None = None,
    prices: PriceBook | None = None,
    integration_user_id: str | None = None,
    scope: str = "user",
    protective_fields: Sequence[str] = ("administrator",),
) -> ReclaimPlan:
    """The reclaim plan of ``profile`` as things stand, whole in memory: what an apply would do,
    item by item (:func:`stream_plan` builds the same plan straight into the store).

    Changes nothing. Open candidates it would not act on are listed in ``held`` with the reason
    (waiting for a person, no longer idle, or the user holds other seats a reclaim would take).
    """
    decide = _Decider(
        store,
        profile,
        now=now,
        action=action,
        policy=policy,
        prices=prices,
        integration_user_id=integration_user_id,
        protective_fields=protective_fields,
    )
    candidates = store.list_candidates(profile.name, states=OPEN_STATES)
    wanted = {c.subscription_id for c in candidates}
    wanted_keys = {reclaim_key(scope, c) for c in candidates}
    seats_by_key, identifiers, subs = _seats_of(store, profile.name, scope, wanted, wanted_keys)
    items: list[PlanItem] = []
    held: list[HeldItem] = []
    priority: dict[int, int] = {}
    for candidate in candidates:
        decided = decide(candidate, subs.get(candidate.subscription_id))
        if isinstance(decided, HeldItem):
            held.append(decided)
            continue
        item, priority[item.subscription.id] = decided
        items.append(item)
    # One vendor reclaim may free every seat a user holds: only act when all of them are planned.
    planned: dict[str, set[int]] = defaultdict(set)
    for item in items:
        if item.kind is PlanAction.RECLAIM:
            planned[reclaim_key(scope, item.subscription)].add(item.subscription.id)
    final: list[PlanItem] = []
    for item in items:
        key = reclaim_key(scope, item.subscription)
        if item.kind is PlanAction.RECLAIM and planned[key] != seats_by_key[key]:
            others = sorted(identifiers[i] for i in seats_by_key[key] - planned[key])
            held.append(
                HeldItem(
                    candidate=item.candidate,
                    reason="the user also holds "
                    + ", ".join(others)
                    + ", which a reclaim would take too and the plan does not cover",
                )
            )
            continue
        final.append(item)
    final.sort(
        key=lambda i: (
            i.kind is not PlanAction.NOTIFY,
            priority.get(i.subscription.id, 1),  # leavers' seats first
            reclaim_key(scope, i.subscription),
            i.candidate.id or 0,
        )
    )
    return ReclaimPlan(
        profile=profile.name,
        created_at=now,
        items=tuple(final),
        reclaim_enabled=profile.processes.reclaim,
        held=tuple(held),
    )


#: Open candidates (and their seats) read per page while a plan is streamed.
_STREAM_PAGE = 500


def stream_plan(
    store: Store,
    profile: IntegrationProfile,
    *,
    now: dt.datetime,
    plan_id: str,
    expires_at: dt.datetime,
    action: str = "reclaim",
    policy: EvaluationPolicy | None = None,
    prices: PriceBook | None = None,
    integration_user_id: str | None = None,
    scope: str = "user",
    protective_fields: Sequence[str] = ("administrator",),
) -> StoredPlan:
    """:func:`build_plan`'s plan, built straight into the store under ``plan_id``: candidates
    and their seats are read a page at a time and each decision is staged as it is made; the
    per-unit hold and the plan's order are computed by the store (in SQL). Memory does not
    follow the number of candidates (issue 13). Changes nothing but the stored plan."""
    pages = _plan_store(store)
    decide = _Decider(
        store,
        profile,
        now=now,
        action=action,
        policy=policy,
        prices=prices,
        integration_user_id=integration_user_id,
        protective_fields=protective_fields,
    )

    def decided(page: list[RemovalCandidate]) -> Iterator[tuple[int, PlanRow]]:
        # the candidates' seats as they are now; inactive or moved seats count as gone
        seats = {
            i: s
            for i, s in pages.subscriptions_by_id(sorted({c.subscription_id for c in page})).items()
            if s.active and s.profile == profile.name
        }
        for candidate in page:
            made = decide(candidate, seats.get(candidate.subscription_id))
            if isinstance(made, HeldItem):
                yield candidate.id or 0, (made, 0, "")
            else:
                item, priority = made
                yield candidate.id or 0, (item, priority, reclaim_key(scope, item.subscription))

    def slow(ids: list[int]) -> Iterator[tuple[int, PlanRow]]:
        if ids:
            yield from decided(store.list_candidates(profile.name, ids=ids, states=OPEN_STATES))

    fast = sql_plan_rows(
        store, decide, scope=scope, protective_fields=tuple(protective_fields), slow=slow
    )

    def rows() -> Iterator[PlanRow]:
        after: int | None = None
        while page := store.list_candidates(
            profile.name, states=OPEN_STATES, limit=_STREAM_PAGE, after=after
        ):
            for _, row in decided(page):
                yield row
            after = page[-1].id

    head = ReclaimPlan(
        profile=profile.name,
        created_at=now,
        items=(),
        reclaim_enabled=profile.processes.reclaim,
        id=plan_id,
        expires_at=expires_at,
    )
    return pages.save_plan_streamed(head, rows() if fast is None else fast, scope=scope)


def _plan_store(store: object) -> SqliteStore:
    """The store's streamed plan writes and paged reads (the SQL stores have them)."""
    if not hasattr(store, "save_plan_streamed") or not hasattr(store, "subscriptions_by_id"):
        raise ConfigError(
            f"{type(store).__name__} cannot store a plan as a stream",
            field="store",
            hint="use SqliteStore or PostgresStore, or add save_plan_streamed, plan_head, "
            "plan_items and subscriptions_by_id",
        )
    return store  # type: ignore[return-value]
