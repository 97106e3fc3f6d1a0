"""Applying a stored reclaim plan: the only code that asks a vendor to free seats.

Safety is re-checked item by item right before each vendor call: the pure ``assess()``, with the
rules as they are *now*, on the stored seat (:func:`.planning.recheck`) and then on the vendor's
fresh record of the user (:mod:`.recheck`, the spoke's current-user hook). The profile's reclaim
process must be on, and an optional cap stops a run after so many seats. Every vendor call is
recorded before it is made and confirmed by reading the user again after (:mod:`.confirm`); an
outcome not seen is ``unknown`` and resolved later by reading the vendor (never re-sent).
Undoing a reclaim lives in :mod:`.undo`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from .._audit import AuditEntry
from .._candidates.records import CandidateState, RemovalCandidate
from .._candidates.states import CandidateEvent
from .._candidates.workflow import CandidateWorkflow
from .._errors import ConfigError, ProfileStateError
from .._evaluation import EvaluationPolicy, Verdict
from .._faultpoints import kill_point
from .._jobs import JobResult, JobStatus
from .._plugins import Spoke
from .._profiles import IntegrationProfile
from .._scheduling import run_lock
from .._spokes import ReclaimResult, ReclaimStatus, SpokeContext
from .._store import Store
from .._subscriptions import Subscription
from .._time import utcnow
from .confirm import REQUESTED, confirm_reclaim, one_line, recover_locked, settle_action
from .planning import recheck, reclaim_key
from .recheck import Checked, activity_moved, read_fresh_facts
from .records import PlanAction, PlanItem, ReclaimAction
from .stored import StoredPlan

if TYPE_CHECKING:
    from .._store._sqlite.plans import SqlitePlanStore

__all__ = ["MAX_CONSECUTIVE_FAILURES", "ApplyOutcome", "ApplyReport", "apply_plan"]

#: After this many vendor failures in a row an apply stops (the rest is deferred).
MAX_CONSECUTIVE_FAILURES = 3


@attrs.frozen(kw_only=True)
class ApplyOutcome:
    """What happened to one plan item.

    ``outcome`` is one of ``reclaimed``, ``already_done``, ``notified``, ``failed``,
    ``refused``, ``unknown`` (the vendor may or may not have acted: resolved by the next apply,
    run or ``reclaim --reconcile``), ``canceled`` (activity came back), ``skipped`` (now
    protected or gone), ``held`` (left as it is) or ``deferred`` (cap reached or halted).
    """

    candidate_id: int
    subscription_id: int
    user_principal_name: str
    identifier: str
    outcome: str
    message: str = ""
    savings: Decimal | None = None
    currency: str | None = None


@attrs.frozen(kw_only=True)
class ApplyReport:
    """The result of applying one plan."""

    plan_id: str
    profile: str
    started_at: dt.datetime
    finished_at: dt.datetime
    outcomes: tuple[ApplyOutcome, ...]
    cap: int | None = None
    halted: str = ""

    @property
    def counts(self) -> dict[str, int]:
        """Items per outcome."""
        return dict(Counter(o.outcome for o in self.outcomes))

    @property
    def reclaimed(self) -> int:
        """Seats freed at the vendor by this apply (including ones already free)."""
        return sum(1 for o in self.outcomes if o.outcome in ("reclaimed", "already_done"))

    @property
    def savings_by_currency(self) -> dict[str, Decimal]:
        """Actual savings of the freed seats, per currency."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        for o in self.outcomes:
            if o.savings is not None and o.outcome in ("reclaimed", "already_done"):
                out[o.currency or ""] += o.savings
        return dict(out)


def _outcome(item: PlanItem, outcome: str, message: str = "", **kw: object) -> ApplyOutcome:
    return ApplyOutcome(
        candidate_id=item.candidate.id or 0,
        subscription_id=item.subscription.id,
        user_principal_name=item.subscription.user_principal_name,
        identifier=item.subscription.identifier,
        outcome=outcome,
        message=message,
        **kw,  # type: ignore[arg-type]
    )


def _load_plan(store: Store, plan_id: str, now: dt.datetime) -> StoredPlan:
    """The stored plan's head and counts (its items stay in the store, read a page at a time)."""
    found = _plan_store(store).plan_head(plan_id)
    if found is None:
        raise ConfigError(
            f"no reclaim plan with id {plan_id!r}",
            field="plan",
            hint="make a plan first (CLI `reclaim PROFILE --plan`, Python `ws.plans.create(profile)`) and apply its id",
        )
    plan, applied_at = found
    if applied_at is not None:
        raise ProfileStateError(
            f"plan {plan_id} was already applied at {applied_at:%Y-%m-%d %H:%M} UTC",
            hint="a plan is applied once; make a new one",
        )
    if plan.expires_at is not None and plan.expires_at <= now:
        raise ProfileStateError(
            f"plan {plan_id} expired at {plan.expires_at:%Y-%m-%d %H:%M} UTC",
            hint="things may have changed since; make a new plan and review it",
        )
    return plan


class _Applier:
    """One apply run: state, counters and the per-group logic."""

    def __init__(
        self,
        store: Store,
        spoke: Spoke,
        ctx: SpokeContext,
        workflow: CandidateWorkflow,
        plan: StoredPlan,
        *,
        policy: EvaluationPolicy,
        actor: str,
        cap: int | None,
        max_failures: int = MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        self.max_failures = max_failures
        self.store, self.spoke, self.ctx, self.workflow, self.plan = (
            store,
            spoke,
            ctx,
            workflow,
            plan,
        )
        self.profile: IntegrationProfile = ctx.profile
        self.policy, self.actor, self.cap = policy, actor, cap
        self.clock = workflow.clock
        self.outcomes: list[ApplyOutcome] = []
        self.attempted = 0
        self.failures_in_a_row = 0
        self.halted = ""
        self.me = ctx.integration_user_id or self.profile.integration_user_id
        self.info = spoke.info()
        self.scope = self.info.reclaim_scope

    # -- checks ----------------------------------------------------------------------------

    def _check(self, item: PlanItem) -> tuple[RemovalCandidate, Subscription] | None:
        """Re-read and re-assess one item; closes or holds it (recording the outcome) if unsafe."""
        now = self.clock()
        basis = item.planned()
        candidate = self.store.get_candidate(item.candidate.id or 0)
        sub = self.store.get_subscription(item.subscription.id)
        if candidate is None or candidate.state is not basis.state:
            state = candidate.state.value if candidate else "gone"
            self.outcomes.append(_outcome(item, "held", f"the candidate is {state} now"))
            return None
        if (
            candidate.state is CandidateState.AWAITING_USER
            and candidate.respond_by is not None
            and candidate.respond_by > now
        ):
            self.outcomes.append(_outcome(item, "held", "the user may still answer"))
            return None
        if sub is None or not sub.active:
            self.workflow.move(
                candidate,
                CandidateEvent.VANISHED,
                actor="system",
                reason="the seat is gone from the vendor",
            )
            self.outcomes.append(_outcome(item, "skipped", "the seat is gone"))
            return None
        if sub.external_user_id != basis.external_user_id or sub.identifier != basis.identifier:
            # never act on a seat that is not the one planned (the decision was about another)
            self.outcomes.append(
                _outcome(item, "held", "the seat is not the one planned any more: make a new plan")
            )
            return None
        if candidate.state is CandidateState.READY:
            asks = self.workflow.route_for(candidate).asks_user
            if asks != (item.kind is PlanAction.NOTIFY):
                self.outcomes.append(
                    _outcome(
                        item,
                        "held",
                        "its rule changed since the plan (the user is "
                        + ("now" if asks else "no longer")
                        + " notified first): make a new plan",
                    )
                )
                return None
        verdict = recheck(
            self.store,
            self.profile,
            sub,
            now=now,
            policy=self.policy,
            integration_user_id=self.me,
            protective_fields=self.info.protective_fields,
        )
        if verdict.idle:
            moved = activity_moved(basis.last_activity, sub.last_activity)
            if moved:
                self.outcomes.append(_outcome(item, "held", f"{moved}: make a new plan"))
                return None
            return candidate, sub
        reason = f"re-checked before reclaim: {verdict.verdict.value}"
        if verdict.verdict.protects:
            self.workflow.move(candidate, CandidateEvent.PROTECTED, actor="system", reason=reason)
            self.outcomes.append(_outcome(item, "skipped", reason))
        elif verdict.verdict in (Verdict.ACTIVE, Verdict.NEW_ACCOUNT_GRACE):
            self.workflow.move(
                candidate, CandidateEvent.ACTIVITY_RETURNED, actor="system", reason=reason
            )
            self.outcomes.append(_outcome(item, "canceled", reason))
        else:  # stale or missing data, rule gone: nothing proves it idle; leave it
            self.outcomes.append(_outcome(item, "held", reason))
        return None

    # -- notices ---------------------------------------------------------------------------

    def notify(self, items: list[PlanItem]) -> None:
        """Send the plan's notices (one per user): ready → awaiting user."""
        ok: list[tuple[PlanItem, RemovalCandidate]] = []
        for item in items:
            checked = self._check(item)
            if checked is not None:
                ok.append((item, checked[0]))
        if not ok:
            return
        try:
            moved = self.workflow.start([c for _, c in ok], actor=self.actor)
        except ConfigError as exc:  # no public_url: notices are refused, nothing moved
            for item, _ in ok:
                self.outcomes.append(_outcome(item, "held", f"notice refused: {exc}"))
            return
        for (item, _), new in zip(ok, moved, strict=True):
            due = f"{new.respond_by:%Y-%m-%d %H:%M} UTC" if new.respond_by else "?"
            self.outcomes.append(_outcome(item, "notified", f"answer due by {due}"))

    # -- reclaims --------------------------------------------------------------------------

    def reclaim_group(self, key: str, items: list[PlanItem]) -> None:
        """Reclaim one vendor unit (a user, or one seat): all its planned seats or none."""
        if self.halted:
            for item in items:
                self.outcomes.append(_outcome(item, "deferred", self.halted))
            return
        if self.cap is not None and self.attempted + len(items) > self.cap:
            for item in items:
                self.outcomes.append(
                    _outcome(item, "deferred", f"the cap of {self.cap} seats for this run")
                )
            return
        checked: list[tuple[PlanItem, RemovalCandidate, Subscription]] = []
        for item in items:
            got = self._check(item)
            if got is not None:
                checked.append((item, *got))
        if not checked:
            return
        # Everything the vendor call frees must be covered and safe, or nothing happens.
        covered = {sub.id for _, _, sub in checked}
        first = checked[0][2]
        same_unit = (
            self.store.user_subscriptions(self.profile.name, first.external_user_id)
            if key.startswith("user:")
            else [first]
        )
        held_by = sorted(
            s.identifier
            for s in same_unit
            if reclaim_key(self.scope, s) == key and s.id not in covered
        )
        if held_by:
            msg = "the user also holds " + ", ".join(held_by) + ", which a reclaim would take too"
            for item, _, _ in checked:
                self.outcomes.append(_outcome(item, "held", msg))
            return
        if not self._fresh_check(key, checked):
            return
        self.attempted += len(checked)
        to_revoke: list[RemovalCandidate] = []
        for item, candidate, _ in checked:
            if candidate.state is CandidateState.READY:
                candidate = self.workflow.move(
                    candidate,
                    CandidateEvent.START,
                    actor=self.actor,
                    expect={CandidateState.READY},
                    reason=f"reclaim by plan {self.plan.id}",
                )
            elif candidate.state is CandidateState.AWAITING_USER:
                candidate = self.workflow.move(
                    candidate,
                    CandidateEvent.TIMEOUT,
                    actor="system",
                    expect={CandidateState.AWAITING_USER},
                    reason="no answer in time: reclaim",
                )
            if candidate.state is not CandidateState.AWAITING_REVOCATION:  # pragma: no cover
                # Defensive: the route was checked above; never call the vendor for less than
                # the whole group.
                self.outcomes.append(_outcome(item, "held", f"now {candidate.state.value}"))
                return
            to_revoke.append(candidate)
        action, result = self._call_vendor([sub for _, _, sub in checked], to_revoke)
        self._record(checked, to_revoke, action, result)

    # -- fresh facts (issue 8, item 1) -----------------------------------------------------

    def _hold_all(self, checked: list[Checked], message: str) -> None:
        for item, _, _ in checked:
            self.outcomes.append(_outcome(item, "held", message))

    def _fresh_check(self, key: str, checked: list[Checked]) -> bool:
        """Read the user's current record from the vendor and assess every seat the reclaim
        would free on it (:func:`read_fresh_facts`). False (outcomes recorded) when anything
        would not propose the seat now: the vendor is never changed on stale facts."""
        facts = read_fresh_facts(
            self.store,
            self.spoke,
            self.ctx,
            key,
            checked,
            info=self.info,
            now=self.clock(),
            policy=self.policy,
            integration_user_id=self.me,
        )
        if facts.failure:
            self._note_failure(facts.failure)
        if facts.hold:
            self._hold_all(checked, facts.hold)
            return False
        if facts.safe:
            return True
        blocking = facts.blocking
        for (item, candidate, _), found, message in facts.verdicts:
            if found is None:
                self.outcomes.append(_outcome(item, "held", message))
                continue
            reason = f"re-checked on the vendor's current record: {found.verdict.value}"
            if found.idle:
                self.outcomes.append(
                    _outcome(
                        item, "held", f"another seat of the user is not reclaimable ({blocking})"
                    )
                )
            elif found.verdict.protects:
                self.workflow.move(
                    candidate, CandidateEvent.PROTECTED, actor="system", reason=reason
                )
                self.outcomes.append(_outcome(item, "skipped", reason))
            elif found.verdict in (Verdict.ACTIVE, Verdict.NEW_ACCOUNT_GRACE):
                self.workflow.move(
                    candidate, CandidateEvent.ACTIVITY_RETURNED, actor="system", reason=reason
                )
                self.outcomes.append(_outcome(item, "canceled", reason))
            else:  # unknown protection, missing or stale data: nothing proves it idle
                self.outcomes.append(_outcome(item, "held", reason))
        return False

    # -- the vendor call and its confirmation (issue 8, item 5) -----------------------------

    def _call_vendor(
        self, subs: list[Subscription], candidates: list[RemovalCandidate]
    ) -> tuple[ReclaimAction, ReclaimResult]:
        """Record the request (audit + a ``requested`` action, together), call the spoke, then
        confirm through the current-user read. Never re-sends; an outcome not seen is UNKNOWN."""
        sub = subs[0]
        now = self.clock()
        ids = [c.id for c in candidates]
        with self.store.transaction():
            self.store.append_audit(
                AuditEntry(
                    at=now,
                    actor=self.actor,
                    action="vendor.reclaim.requested",
                    entity="user",
                    entity_id=sub.external_user_id,
                    profile=self.profile.name,
                    before={"active": True},
                    after={"candidate_ids": ids, "plan_id": self.plan.id},
                    detail=f"{self.info.reclaim_effect}: {sub.user_principal_name}",
                )
            )
            action = self.store.add_reclaim_action(
                ReclaimAction(
                    profile=self.profile.name,
                    external_user_id=sub.external_user_id,
                    at=now,
                    status=REQUESTED,
                    candidate_ids=tuple(c.id for c in candidates if c.id is not None),
                    subscription_ids=tuple(s.id for s in subs),
                    actor=self.actor,
                    plan_id=self.plan.id,
                    message="sent to the vendor; outcome not seen yet",
                )
            )
        kill_point("apply.before_vendor_call")
        try:
            answer = self.spoke.reclaim(self.ctx, sub)
        except Exception as exc:  # the request may have been sent: the outcome is not known
            answer = ReclaimResult(status=ReclaimStatus.UNKNOWN, message=one_line(exc))
        kill_point("apply.after_vendor_call")
        if answer.status is ReclaimStatus.REFUSED:
            result = answer
        else:
            result = confirm_reclaim(
                self.spoke, self.ctx, sub.external_user_id, {s.identifier for s in subs}, answer
            )
        kill_point("apply.after_confirm")
        self.store.append_audit(
            AuditEntry(
                at=self.clock(),
                actor=self.actor,
                action=f"vendor.reclaim.{result.status.value}",
                entity="user",
                entity_id=sub.external_user_id,
                profile=self.profile.name,
                before=dict(result.before) or None,
                after={**dict(result.after), "reclaim_id": action.id},
                detail=result.message,
            )
        )
        return action, result

    def _note_failure(self, message: str) -> None:
        self.failures_in_a_row += 1
        if self.failures_in_a_row >= self.max_failures:
            self.halted = (
                f"stopped after {self.failures_in_a_row} vendor failures in a row (last: {message})"
            )

    def _record(
        self,
        checked: list[Checked],
        candidates: list[RemovalCandidate],
        action: ReclaimAction,
        result: ReclaimResult,
    ) -> None:
        now = self.clock()
        with self.store.transaction():
            action = settle_action(
                self.store,
                self.workflow,
                action,
                result,
                now=now,
                policy=self.policy,
                supports_undo=self.info.supports_undo,
                actor=self.actor,
            )
        kill_point("apply.after_record")
        closed: list[RemovalCandidate] = []
        for (item, _, _), candidate in zip(checked, candidates, strict=True):
            new = self.store.get_candidate(candidate.id or 0) or candidate
            if result.status.ok:
                closed.append(new)
                self.outcomes.append(
                    _outcome(
                        item,
                        "reclaimed" if result.status is ReclaimStatus.SUCCESS else "already_done",
                        result.message,
                        savings=new.actual_savings,
                        currency=new.currency,
                    )
                )
            else:
                self.outcomes.append(_outcome(item, result.status.value, result.message))
        if result.status in (ReclaimStatus.FAILED, ReclaimStatus.UNKNOWN):
            self._note_failure(result.message)
        else:
            self.failures_in_a_row = 0
        if closed:
            self.workflow.notify_reclaimed(closed)


def _reclaim_groups(plan: StoredPlan, scope: str) -> Iterator[tuple[str, list[PlanItem]]]:
    """The plan's reclaim items by vendor unit (a user, or one seat), in plan order.

    A plan stored with each unit's items next to each other (the usual case; the store says so)
    is read a page at a time; any other is grouped whole in memory, as it always was."""
    if plan.units_contiguous and plan.scope == scope:
        key = ""
        group: list[PlanItem] = []
        for item in plan.reclaims:
            unit = _planned_unit(scope, item)
            if group and unit != key:
                yield key, group
                group = []
            key = unit
            group.append(item)
        if group:
            yield key, group
        return
    groups: dict[str, list[PlanItem]] = defaultdict(list)
    for item in plan.reclaims:
        groups[_planned_unit(scope, item)].append(item)
    yield from groups.items()


def _planned_unit(scope: str, item: PlanItem) -> str:
    """The vendor unit an item was planned in (its seat's holder at plan time, for per-user
    reclaims): a seat that changed hands since is held by the re-check, never regrouped."""
    if scope == "seat":
        return f"seat:{item.subscription.id}"
    return f"user:{item.planned().external_user_id}"


def _plan_store(store: Store) -> SqlitePlanStore:
    """The store's plan head reads (the SQL stores have them)."""
    if not hasattr(store, "plan_head"):
        raise ConfigError(
            f"{type(store).__name__} cannot read a stored plan page by page",
            field="store",
            hint="use SqliteStore or PostgresStore, or add plan_head and plan_items",
        )
    return store  # type: ignore[return-value]


def apply_plan(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    plan_id: str,
    *,
    workflow: CandidateWorkflow,
    policy: EvaluationPolicy | None = None,
    cap: int | None = None,
    actor: str = "user",
    clock: Callable[[], dt.datetime] = utcnow,
    progress: Callable[[str, int], None] | None = None,
    max_failures: int = MAX_CONSECUTIVE_FAILURES,
) -> ApplyReport:
    """Execute exactly the stored plan ``plan_id`` for ``ctx.profile``: its notices, then its
    reclaims (one vendor call per user), at most ``cap`` seats. Returns what happened per item.

    Holds the profile's run lock: an apply never overlaps a daily run or another apply.
    ``progress("reclaim", seats_done)`` is called after each vendor call; ``max_failures``
    vendor failures in a row stop it (the rest is deferred).
    """
    policy = policy or EvaluationPolicy()
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
        raise ConfigError(f"{cap!r} is not a seat count", field="cap", hint="use 0 or more")
    profile = ctx.profile
    started = clock()
    plan = _load_plan(store, plan_id, started)
    if plan.profile != profile.name:
        raise ConfigError(
            f"plan {plan_id} is for profile {plan.profile!r}, not {profile.name!r}", field="plan"
        )
    if not profile.processes.reclaim:
        raise ProfileStateError(
            f"profile {profile.name!r} has its reclaim process off (detect only): nothing is applied",
            hint=f"switch the reclaim process of {profile.name!r} on first (CLI `profile edit {profile.name} --reclaim`, Python `ws.profiles.update({profile.name!r}, reclaim=True)`)",
        )
    if not profile.is_published:
        raise ProfileStateError(
            f"profile {profile.name!r} is {profile.status.value}; only published profiles reclaim",
            hint=f"validate and publish it first (CLI `publish {profile.name}`, Python `ws.profiles.publish({profile.name!r})`)",
        )
    with run_lock(store, profile.name, now=started, ttl=policy.run_lock_ttl):
        return _apply_locked(
            store,
            spoke,
            ctx,
            plan,
            workflow=workflow,
            policy=policy,
            cap=cap,
            actor=actor,
            progress=progress,
            max_failures=max_failures,
        )


def _apply_locked(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    plan: StoredPlan,
    *,
    workflow: CandidateWorkflow,
    policy: EvaluationPolicy,
    cap: int | None,
    actor: str,
    progress: Callable[[str, int], None] | None = None,
    max_failures: int = MAX_CONSECUTIVE_FAILURES,
) -> ApplyReport:
    profile, clock = ctx.profile, workflow.clock
    plan_id = plan.id or ""
    # First settle what a dead process left behind: its jobs, and reclaims never seen through.
    recover_locked(store, spoke, ctx, workflow=workflow, policy=policy, actor=actor)
    started = clock()
    if not store.mark_plan_applied(plan_id, started):
        raise ProfileStateError(f"plan {plan_id} was applied meanwhile by someone else")
    job = store.save_job(
        JobResult(
            profile=profile.name,
            process="reclaim",
            status=JobStatus.RUNNING,
            started_at=started,
            dry_run=False,
            run_id=plan_id,
            trigger="apply",
        )
    )
    applier = _Applier(
        store,
        spoke,
        ctx,
        workflow,
        plan,
        policy=policy,
        actor=actor,
        cap=cap,
        max_failures=max_failures,
    )
    error: str | None = None
    try:
        # notices together: one notice per recipient, however many seats it covers
        applier.notify(list(plan.notices))
        for key, items in _reclaim_groups(plan, applier.scope):
            applier.reclaim_group(key, items)
            if progress is not None:
                progress("reclaim", len(applier.outcomes))
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        counts = Counter(o.outcome for o in applier.outcomes)
        store.save_job(
            attrs.evolve(
                job,
                status=JobStatus.FAILED if error else JobStatus.COMPLETE,
                finished_at=clock(),
                counts=dict(counts),
                error=error or (applier.halted or None),
            )
        )
    return ApplyReport(
        plan_id=plan_id,
        profile=profile.name,
        started_at=started,
        finished_at=clock(),
        outcomes=tuple(applier.outcomes),
        cap=cap,
        halted=applier.halted,
    )
