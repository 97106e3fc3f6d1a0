"""Applying a stored reclaim plan, and undoing a reclaim: the only code that changes seats at a vendor.

Safety is re-checked item by item right before each vendor call (the pure ``assess()`` with the
rules as they are *now*), the profile's reclaim process must be on, and an optional cap stops a
run after so many seats. Every vendor call is audited before and after it happens.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal

import attrs

from ._plugins import Spoke
from ._time import utcnow
from .audit import AuditEntry
from .candidates import CandidateState, RemovalCandidate
from .errors import ConfigError, ProfileStateError
from .evaluation import EvaluationPolicy, Verdict
from .jobs import JobResult, JobStatus
from .lifecycle import CandidateEvent
from .planning import recheck, reclaim_key
from .profiles import IntegrationProfile
from .reclaim import PlanAction, PlanItem, ReclaimAction, ReclaimPlan
from .scheduling import run_lock
from .spokes import ReclaimResult, ReclaimStatus, SpokeContext
from .store import Store
from .subscriptions import Subscription
from .workflow import CandidateWorkflow

__all__ = ["ApplyOutcome", "ApplyReport", "UndoResult", "apply_plan", "undo_reclaim"]

#: After this many vendor failures in a row an apply stops (the rest is deferred).
MAX_CONSECUTIVE_FAILURES = 3


@attrs.frozen(kw_only=True)
class ApplyOutcome:
    """What happened to one plan item.

    ``outcome`` is one of ``reclaimed``, ``already_done``, ``notified``, ``failed``,
    ``refused``, ``canceled`` (activity came back), ``skipped`` (now protected or gone),
    ``held`` (left as it is) or ``deferred`` (cap reached or the run was halted).
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


@attrs.frozen(kw_only=True)
class UndoResult:
    """The result of undoing one reclaim (all seats of that vendor call)."""

    status: ReclaimStatus
    message: str
    candidate_ids: tuple[int, ...]
    reclaim_id: int


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


def _load_plan(store: Store, plan_id: str, now: dt.datetime) -> ReclaimPlan:
    found = store.get_plan(plan_id)
    if found is None:
        raise ConfigError(
            f"no reclaim plan with id {plan_id!r}",
            field="plan",
            hint="make one with `saas-license reclaim <profile> --plan` and apply the id it prints",
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
        plan: ReclaimPlan,
        *,
        policy: EvaluationPolicy,
        actor: str,
        cap: int | None,
    ) -> None:
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

    # -- checks ----------------------------------------------------------------------------

    def _check(self, item: PlanItem) -> tuple[RemovalCandidate, Subscription] | None:
        """Re-read and re-assess one item; closes or holds it (recording the outcome) if unsafe."""
        now = self.clock()
        candidate = self.store.get_candidate(item.candidate.id or 0)
        sub = self.store.get_subscription(item.subscription.id)
        if candidate is None or candidate.state is not item.candidate.state:
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
        )
        if verdict.idle:
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
        moved = self.workflow.start([c for _, c in ok], actor=self.actor)
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
            if reclaim_key(self.profile, s) == key and s.id not in covered
        )
        if held_by:
            msg = "the user also holds " + ", ".join(held_by) + ", which a reclaim would take too"
            for item, _, _ in checked:
                self.outcomes.append(_outcome(item, "held", msg))
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
        subs = [sub for _, _, sub in checked]
        result = self._call_vendor(subs[0], to_revoke)
        self._record(checked, to_revoke, result)

    def _call_vendor(self, sub: Subscription, candidates: list[RemovalCandidate]) -> ReclaimResult:
        now = self.clock()
        ids = [c.id for c in candidates]
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
                detail=f"{self.spoke.info().reclaim_effect}: {sub.user_principal_name}",
            )
        )
        try:
            result = self.spoke.reclaim(self.ctx, sub)
        except Exception as exc:  # a broken spoke must not leave the candidate unrecorded
            result = ReclaimResult(
                status=ReclaimStatus.FAILED, message=f"{type(exc).__name__}: {exc}"
            )
        self.store.append_audit(
            AuditEntry(
                at=self.clock(),
                actor=self.actor,
                action=f"vendor.reclaim.{result.status.value}",
                entity="user",
                entity_id=sub.external_user_id,
                profile=self.profile.name,
                before=dict(result.before) or None,
                after=dict(result.after) or None,
                detail=result.message,
            )
        )
        return result

    def _record(
        self,
        checked: list[tuple[PlanItem, RemovalCandidate, Subscription]],
        candidates: list[RemovalCandidate],
        result: ReclaimResult,
    ) -> None:
        now = self.clock()
        first = checked[0][2]
        supports_undo = self.spoke.info().supports_undo
        action = self.store.add_reclaim_action(
            ReclaimAction(
                profile=self.profile.name,
                external_user_id=first.external_user_id,
                at=now,
                status=result.status.value,
                candidate_ids=tuple(c.id for c in candidates if c.id is not None),
                subscription_ids=tuple(s.id for _, _, s in checked),
                actor=self.actor,
                plan_id=self.plan.id,
                message=result.message,
                before=dict(result.before),
                after=dict(result.after),
                undo_until=(
                    now + self.policy.undo_window
                    if supports_undo and result.status is ReclaimStatus.SUCCESS
                    else None
                ),
            )
        )
        closed: list[RemovalCandidate] = []
        for (item, _, sub), candidate in zip(checked, candidates, strict=True):
            if result.status.ok:
                new = self.workflow.move(
                    candidate,
                    CandidateEvent.RECLAIMED,
                    actor=self.actor,
                    expect={CandidateState.AWAITING_REVOCATION},
                    reason=result.message or "reclaimed",
                    reclaim_id=action.id,
                    reclaimed_at=now,
                    undo_until=action.undo_until,
                )
                self.store.deactivate_subscription(sub.id)
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
            elif result.status is ReclaimStatus.REFUSED:
                self.workflow.move(
                    candidate,
                    CandidateEvent.RECLAIM_REFUSED,
                    actor="system",
                    reason=f"the spoke refused: {result.message}",
                )
                self.outcomes.append(_outcome(item, "refused", result.message))
            else:
                self.workflow.move(
                    candidate,
                    CandidateEvent.RECLAIM_FAILED,
                    actor="system",
                    reason=f"reclaim failed: {result.message}",
                )
                self.outcomes.append(_outcome(item, "failed", result.message))
        if result.status is ReclaimStatus.FAILED:
            self.failures_in_a_row += 1
            if self.failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                self.halted = (
                    f"stopped after {self.failures_in_a_row} vendor failures in a row "
                    f"(last: {result.message})"
                )
        else:
            self.failures_in_a_row = 0
        if closed:
            self.workflow.notify_reclaimed(closed)


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
) -> ApplyReport:
    """Execute exactly the stored plan ``plan_id`` for ``ctx.profile``: its notices, then its
    reclaims (one vendor call per user), at most ``cap`` seats. Returns what happened per item.

    Holds the profile's run lock: an apply never overlaps a daily run or another apply.
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
            hint=f"switch it on with `saas-license profile edit {profile.name} --reclaim` first",
        )
    if not profile.is_published:
        raise ProfileStateError(
            f"profile {profile.name!r} is {profile.status.value}; only published profiles reclaim",
            hint=f"validate and publish it: `saas-license publish {profile.name}`",
        )
    with run_lock(store, profile.name, now=started, ttl=policy.run_lock_ttl):
        return _apply_locked(
            store, spoke, ctx, plan, workflow=workflow, policy=policy, cap=cap, actor=actor
        )


def _apply_locked(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    plan: ReclaimPlan,
    *,
    workflow: CandidateWorkflow,
    policy: EvaluationPolicy,
    cap: int | None,
    actor: str,
) -> ApplyReport:
    profile, clock = ctx.profile, workflow.clock
    plan_id = plan.id or ""
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
    applier = _Applier(store, spoke, ctx, workflow, plan, policy=policy, actor=actor, cap=cap)
    error: str | None = None
    try:
        applier.notify(list(plan.notices))
        groups: dict[str, list[PlanItem]] = defaultdict(list)
        for item in plan.reclaims:
            groups[reclaim_key(profile, item.subscription)].append(item)
        for key, items in groups.items():
            applier.reclaim_group(key, items)
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


def undo_reclaim(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    candidate_id: int,
    *,
    workflow: CandidateWorkflow,
    actor: str = "user",
) -> UndoResult:
    """Give back the seats of the reclaim that closed ``candidate_id``, through the spoke.

    Allowed within the undo window, for reclaims this library made (not seats that were
    already free). Restored seats get a cooldown so the next run does not propose them again.
    """
    now = workflow.clock()
    candidate = workflow.get(candidate_id)
    if candidate.state is not CandidateState.CLOSED_COMPLETE or candidate.reclaim_id is None:
        raise ProfileStateError(
            f"candidate {candidate_id} is {candidate.state.value}: only a completed reclaim "
            "can be undone"
        )
    if candidate.undone_at is not None:
        raise ProfileStateError(
            f"candidate {candidate_id}'s reclaim was already undone at "
            f"{candidate.undone_at:%Y-%m-%d %H:%M} UTC"
        )
    if not spoke.info().supports_undo:
        raise ProfileStateError(f"spoke {spoke.name!r} cannot undo a reclaim")
    action = store.get_reclaim_action(candidate.reclaim_id)
    if action is None or action.status != ReclaimStatus.SUCCESS.value:
        raise ProfileStateError(
            f"candidate {candidate_id}'s seat was already free at the vendor when it was closed; "
            "there is no reclaim of ours to undo"
        )
    if action.undo_until is None or action.undo_until < now:
        until = (
            f" (window ended {action.undo_until:%Y-%m-%d %H:%M} UTC)" if action.undo_until else ""
        )
        raise ProfileStateError(
            f"candidate {candidate_id}'s reclaim can no longer be undone{until}",
            hint="restore the user at the vendor by hand",
        )
    sub = store.get_subscription(action.subscription_ids[0]) if action.subscription_ids else None
    if sub is None:
        raise ProfileStateError(
            f"the seat of candidate {candidate_id} is no longer in the workspace (profile deleted?)"
        )
    with run_lock(store, sub.profile, now=now, ttl=dt.timedelta(hours=1)):
        return _undo_locked(store, spoke, ctx, action, sub, workflow=workflow, actor=actor)


def _undo_locked(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    action: ReclaimAction,
    sub: Subscription,
    *,
    workflow: CandidateWorkflow,
    actor: str,
) -> UndoResult:
    now = workflow.clock()
    store.append_audit(
        AuditEntry(
            at=now,
            actor=actor,
            action="vendor.restore.requested",
            entity="user",
            entity_id=sub.external_user_id,
            profile=sub.profile,
            after={"reclaim_id": action.id, "candidate_ids": list(action.candidate_ids)},
            detail=f"undo reclaim {action.id}: {sub.user_principal_name}",
        )
    )
    try:
        result = spoke.restore(ctx, sub)
    except Exception as exc:
        result = ReclaimResult(status=ReclaimStatus.FAILED, message=f"{type(exc).__name__}: {exc}")
    store.append_audit(
        AuditEntry(
            at=workflow.clock(),
            actor=actor,
            action=f"vendor.restore.{result.status.value}",
            entity="user",
            entity_id=sub.external_user_id,
            profile=sub.profile,
            before=dict(result.before) or None,
            after=dict(result.after) or None,
            detail=result.message,
        )
    )
    if result.status.ok:
        restored = []
        for cid in action.candidate_ids:
            c = store.get_candidate(cid)
            if c is None:
                continue
            restored.append(
                workflow.annotate(
                    c,
                    "undone",
                    actor=actor,
                    detail=f"reclaim {action.id} undone: {result.message}",
                    undone_at=now,
                    keep_until=workflow.cooldown_end(c, now),
                )
            )
        for sid in action.subscription_ids:
            store.reactivate_subscription(sid)
        store.update_reclaim_action(
            attrs.evolve(action, undone_at=now, undo_message=result.message)
        )
        workflow.notify_reclaimed(restored, restored=True)
    return UndoResult(
        status=result.status,
        message=result.message,
        candidate_ids=action.candidate_ids,
        reclaim_id=action.id or 0,
    )
