"""Applying a stored reclaim plan, and undoing a reclaim: the only code that changes seats at a vendor.

Safety is re-checked item by item right before each vendor call: the pure ``assess()``, with the
rules as they are *now*, on the vendor's fresh record of the user (the spoke's current-user hook).
The profile's reclaim process must be on, and an optional cap stops a run after so many seats.
Every vendor call is recorded before it is made and confirmed by reading the user again after;
an outcome not seen is ``unknown`` and resolved later by reading the vendor (never re-sent).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal

import attrs

from .._audit import AuditEntry
from .._boundary import problem_with
from .._candidates.records import CandidateState, RemovalCandidate
from .._candidates.states import CandidateEvent
from .._candidates.workflow import CandidateWorkflow
from .._errors import ConfigError, ProfileStateError
from .._evaluation import Assessment, EvaluationPolicy, Verdict, assess
from .._faultpoints import kill_point
from .._jobs import JobResult, JobStatus
from .._plugins import Spoke
from .._profiles import IntegrationProfile
from .._scheduling import run_lock
from .._spokes import ReclaimResult, ReclaimStatus, SpokeContext
from .._store import Store
from .._subscriptions import Subscription, SubscriptionRecord
from .._time import utcnow
from .planning import recheck, reclaim_key
from .records import PlanAction, PlanItem, ReclaimAction, ReclaimPlan

__all__ = [
    "ApplyOutcome",
    "ApplyReport",
    "ReconcileReport",
    "ResolvedReclaim",
    "UndoResult",
    "apply_plan",
    "confirm_reclaim",
    "fresh_subscription",
    "reconcile_reclaims",
    "undo_reclaim",
]

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
        self.info = spoke.info()
        self.scope = self.info.reclaim_scope

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
            protective_fields=self.info.protective_fields,
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

    def _hold_all(self, checked: list[_Checked], message: str) -> None:
        for item, _, _ in checked:
            self.outcomes.append(_outcome(item, "held", message))

    def _fresh_check(self, key: str, checked: list[_Checked]) -> bool:
        """Read the user's current record from the vendor and assess every seat the reclaim
        would free on it, exactly as the evaluation would now. False (outcomes recorded) when
        anything would not propose the seat now: the vendor is never changed on stale facts."""
        now = self.clock()
        user_id = checked[0][2].external_user_id
        try:
            current = self.spoke.current_user(self.ctx, user_id)
        except Exception as exc:
            self._note_failure(f"could not read the user's current record: {_one_line(exc)}")
            self._hold_all(
                checked, f"held: could not read the user's current record ({_one_line(exc)})"
            )
            return False
        if not current.exists:
            self._hold_all(checked, "the vendor no longer knows the user; the next run closes it")
            return False
        fresh = {r.identifier: r for r in current.seats}
        planned = {sub.identifier for _, _, sub in checked}
        if key.startswith("user:"):
            extra = sorted(set(fresh) - planned)
            if extra:
                self._hold_all(
                    checked,
                    "the seat changed at the vendor: the user now also holds "
                    + ", ".join(extra)
                    + ", which a reclaim would take too",
                )
                return False
        rules = {r.software_model: r for r in self.store.list_reclamation_rules() if r.active}
        exclusions = self.store.list_exclusion_rules()
        verdicts: list[tuple[_Checked, Assessment | None, str]] = []
        for entry in checked:
            item, _, sub = entry
            record = fresh.get(sub.identifier)
            if record is None:
                verdicts.append(
                    (entry, None, f"the seat changed at the vendor: no {sub.identifier}")
                )
                continue
            problem = problem_with(record, now=now, protective_fields=self.info.protective_fields)
            if problem is not None:
                verdicts.append(
                    (entry, None, f"the vendor's current {problem[0]} is unusable: {problem[1]}")
                )
                continue
            seat = fresh_subscription(
                sub, record, now=now, activity=self.info.activity_from_download
            )
            verdict = assess(
                seat,
                now=now,
                profile_type=self.profile.profile_type,
                exclusions=exclusions,
                rules=rules,
                integration_user_id=self.me,
                policy=self.policy,
                protective_fields=self.info.protective_fields,
            )
            verdicts.append((entry, verdict, ""))
        if all(v is not None and v.idle for _, v, _ in verdicts):
            return True
        blocking = next(
            (f"{e[2].identifier}: {v.verdict.value}" if v else f"{e[2].identifier}: {m}")
            for e, v, m in verdicts
            if v is None or not v.idle
        )
        for (item, candidate, _), found, message in verdicts:
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
            answer = ReclaimResult(status=ReclaimStatus.UNKNOWN, message=_one_line(exc))
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
        if self.failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
            self.halted = (
                f"stopped after {self.failures_in_a_row} vendor failures in a row (last: {message})"
            )

    def _record(
        self,
        checked: list[_Checked],
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


_Checked = tuple[PlanItem, RemovalCandidate, Subscription]

#: Status of a reclaim action between the request and its seen outcome.
REQUESTED = "requested"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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


def confirm_reclaim(
    spoke: Spoke,
    ctx: SpokeContext,
    external_user_id: str,
    identifiers: set[str],
    answer: ReclaimResult,
) -> ReclaimResult:
    """The outcome of a reclaim as the vendor shows it: the one place verification lives.

    Reads the user through the current-user hook: seats gone → done (whatever the answer said);
    still held after a failure → failed; a read that fails, or a success the read contradicts,
    → UNKNOWN (resolved later by reading again, never by guessing or re-sending).
    """
    try:
        current = spoke.current_user(ctx, external_user_id)
    except Exception as exc:
        return attrs.evolve(
            answer,
            status=ReclaimStatus.UNKNOWN,
            message=f"{answer.message or answer.status.value}; the confirming read failed "
            f"({_one_line(exc)}): outcome unknown",
        )
    held = sorted(identifiers & {r.identifier for r in current.seats}) if current.exists else []
    if not held:
        status = (
            ReclaimStatus.ALREADY_DONE
            if answer.status is ReclaimStatus.ALREADY_DONE
            else ReclaimStatus.SUCCESS
        )
        message = (
            answer.message
            if answer.status.ok
            else (f"confirmed by reading the user: the seats are free ({answer.message})")
        )
        return attrs.evolve(answer, status=status, message=message)
    if answer.status.ok:
        return attrs.evolve(
            answer,
            status=ReclaimStatus.UNKNOWN,
            message=f"the spoke reported {answer.status.value} but the vendor still shows "
            f"{', '.join(held)}: outcome unknown",
        )
    return attrs.evolve(
        answer,
        status=ReclaimStatus.FAILED,
        message=f"{answer.message or 'not applied'} (the vendor still shows {', '.join(held)})",
    )


def settle_action(
    store: Store,
    workflow: CandidateWorkflow,
    action: ReclaimAction,
    result: ReclaimResult,
    *,
    now: dt.datetime,
    policy: EvaluationPolicy,
    supports_undo: bool,
    actor: str,
) -> ReclaimAction:
    """Store a reclaim's seen outcome on its action and its candidates (call in a transaction).

    Done: candidates closed complete (undo-able), seats inactive. Refused: skipped. Failed: a
    person must look. Unknown: candidates stay awaiting revocation until the vendor is read.
    """
    undo_until = (
        now + policy.undo_window
        if supports_undo and result.status is ReclaimStatus.SUCCESS
        else None
    )
    action = attrs.evolve(
        action,
        status=result.status.value,
        message=result.message,
        before=dict(result.before),
        after=dict(result.after),
        undo_until=undo_until,
    )
    store.update_reclaim_action(action)
    for cid in action.candidate_ids:
        candidate = store.get_candidate(cid)
        if candidate is None:
            continue
        if candidate.state is not CandidateState.AWAITING_REVOCATION:
            if (
                result.status.ok
                and candidate.state is CandidateState.CLOSED_COMPLETE
                and candidate.reclaim_id is None
            ):  # closed as "vanished" by a run before the outcome was resolved: link it
                workflow.annotate(
                    candidate,
                    "reclaim_resolved",
                    actor="system",
                    detail=f"reclaim {action.id}: {result.message}",
                    reclaim_id=action.id,
                    reclaimed_at=action.at,
                    undo_until=undo_until,
                )
            continue
        if result.status.ok:
            workflow.move(
                candidate,
                CandidateEvent.RECLAIMED,
                actor=actor,
                expect={CandidateState.AWAITING_REVOCATION},
                reason=result.message or "reclaimed",
                reclaim_id=action.id,
                reclaimed_at=action.at,
                undo_until=undo_until,
            )
        elif result.status is ReclaimStatus.REFUSED:
            workflow.move(
                candidate,
                CandidateEvent.RECLAIM_REFUSED,
                actor="system",
                reason=f"the spoke refused: {result.message}",
            )
        elif result.status is ReclaimStatus.FAILED:
            workflow.move(
                candidate,
                CandidateEvent.RECLAIM_FAILED,
                actor="system",
                reason=f"reclaim failed: {result.message}",
            )
        else:
            workflow.annotate(
                candidate,
                "reclaim_unknown",
                actor="system",
                detail=result.message,
                message=f"reclaim {action.id}: outcome unknown ({result.message})",
            )
    if result.status.ok:
        for sid in action.subscription_ids:
            store.deactivate_subscription(sid)
    return action


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
) -> ApplyReport:
    """Execute exactly the stored plan ``plan_id`` for ``ctx.profile``: its notices, then its
    reclaims (one vendor call per user), at most ``cap`` seats. Returns what happened per item.

    Holds the profile's run lock: an apply never overlaps a daily run or another apply.
    ``progress("reclaim", seats_done)`` is called after each vendor call.
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
    progress: Callable[[str, int], None] | None = None,
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
    applier = _Applier(store, spoke, ctx, workflow, plan, policy=policy, actor=actor, cap=cap)
    error: str | None = None
    try:
        applier.notify(list(plan.notices))
        groups: dict[str, list[PlanItem]] = defaultdict(list)
        for item in plan.reclaims:
            groups[reclaim_key(applier.scope, item.subscription)].append(item)
        for key, items in groups.items():
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


@attrs.frozen(kw_only=True)
class ResolvedReclaim:
    """One reclaim whose outcome was not seen, and what reading the vendor found.

    ``status`` is the action's status now: ``success``/``already_done`` (the seats are free),
    ``failed`` (the vendor still shows them), or still ``unknown`` (the vendor could not be read).
    """

    reclaim_id: int
    external_user_id: str
    candidate_ids: tuple[int, ...]
    previous: str
    status: str
    message: str


@attrs.frozen(kw_only=True)
class ReconcileReport:
    """What one recovery step found: abandoned jobs and resolved reclaims."""

    profile: str
    abandoned_jobs: int
    resolved: tuple[ResolvedReclaim, ...]

    @property
    def unresolved(self) -> int:
        """Reclaims still of unknown outcome (the vendor could not be read)."""
        return sum(1 for r in self.resolved if r.status == ReclaimStatus.UNKNOWN.value)


def _adopt_orphans(store: Store, profile: str) -> None:
    """Give every ``vendor.reclaim.requested`` audit entry with no reclaim action (written by a
    version that audited before recording) a ``requested`` action, so it gets resolved too.

    Only candidates awaiting revocation can have one, so only their users' entries are read
    (an indexed lookup, not a scan of the whole audit log).
    """
    waiting = store.list_candidates(profile, states={CandidateState.AWAITING_REVOCATION})
    if not waiting:
        return
    # a candidate still awaiting revocation after a recorded reclaim has an unresolved action
    known = {cid for a in store.unresolved_reclaim_actions(profile) for cid in a.candidate_ids}
    orphans = {c.id: c for c in waiting if c.id not in known}
    for user_id in sorted({c.external_user_id for c in orphans.values()}):
        for entry in store.list_audit(
            profile=profile,
            entity="user",
            entity_id=user_id,
            action="vendor.reclaim.requested",
            limit=1_000,
            last=True,
        ):
            raw = (entry.after or {}).get("candidate_ids") or []
            ids = tuple(int(i) for i in raw if i is not None)
            candidates = [orphans[i] for i in ids if i in orphans]
            if not ids or len(candidates) != len(ids) or known.intersection(ids):
                continue
            store.add_reclaim_action(
                ReclaimAction(
                    profile=profile,
                    external_user_id=user_id,
                    at=entry.at,
                    status=REQUESTED,
                    candidate_ids=ids,
                    subscription_ids=tuple(c.subscription_id for c in candidates),
                    actor=entry.actor,
                    plan_id=(entry.after or {}).get("plan_id"),
                    message=f"adopted from audit entry {entry.id}",
                )
            )
            known.update(ids)


def recover_locked(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    *,
    workflow: CandidateWorkflow,
    policy: EvaluationPolicy,
    actor: str = "system",
) -> ReconcileReport:
    """Under the profile's run lock: mark jobs of dead processes abandoned, then resolve every
    reclaim of unknown outcome by reading the vendor (never by re-sending it)."""
    profile = ctx.profile.name
    now = workflow.clock()
    abandoned = store.abandon_running_jobs(
        profile, now=now, reason="abandoned: the process running it died (found by the next run)"
    )
    _adopt_orphans(store, profile)
    resolved: list[ResolvedReclaim] = []
    supports_undo = spoke.info().supports_undo
    for action in store.unresolved_reclaim_actions(profile):
        subs = [store.get_subscription(i) for i in action.subscription_ids]
        identifiers = {s.identifier for s in subs if s is not None}
        answer = ReclaimResult(
            status=ReclaimStatus.UNKNOWN, message=f"resolving reclaim {action.id} ({action.status})"
        )
        result = confirm_reclaim(spoke, ctx, action.external_user_id, identifiers, answer)
        if result.status is not ReclaimStatus.UNKNOWN or action.status == REQUESTED:
            with store.transaction():
                store.append_audit(
                    AuditEntry(
                        at=workflow.clock(),
                        actor=actor,
                        action=f"vendor.reclaim.{result.status.value}",
                        entity="user",
                        entity_id=action.external_user_id,
                        profile=profile,
                        after={"reclaim_id": action.id, "resolved_from": action.status},
                        detail=f"resolved by reading the vendor: {result.message}",
                    )
                )
                settle_action(
                    store,
                    workflow,
                    attrs.evolve(action, at=action.at),
                    result,
                    now=workflow.clock(),
                    policy=policy,
                    supports_undo=supports_undo,
                    actor=actor,
                )
        resolved.append(
            ResolvedReclaim(
                reclaim_id=action.id or 0,
                external_user_id=action.external_user_id,
                candidate_ids=action.candidate_ids,
                previous=action.status,
                status=result.status.value,
                message=result.message,
            )
        )
    return ReconcileReport(profile=profile, abandoned_jobs=abandoned, resolved=tuple(resolved))


def reconcile_reclaims(
    store: Store,
    spoke: Spoke,
    ctx: SpokeContext,
    *,
    workflow: CandidateWorkflow,
    policy: EvaluationPolicy | None = None,
    actor: str = "user",
) -> ReconcileReport:
    """``reclaim PROFILE --reconcile``: take the run lock and run :func:`recover_locked`."""
    policy = policy or EvaluationPolicy()
    with run_lock(store, ctx.profile.name, now=workflow.clock(), ttl=policy.run_lock_ttl):
        return recover_locked(store, spoke, ctx, workflow=workflow, policy=policy, actor=actor)


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
