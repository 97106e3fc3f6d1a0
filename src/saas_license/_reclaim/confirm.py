"""The outcome of a reclaim as the vendor shows it, stored; and settling outcomes never seen.

:func:`confirm_reclaim` is the one place verification lives: it reads the user again after a
vendor call. :func:`settle_action` stores a seen outcome on the reclaim action and its
candidates. :func:`recover_locked` (and :func:`reconcile_reclaims`, which takes the run lock)
marks jobs of dead processes abandoned, adopts requests audited without an action, and resolves
every reclaim of ``unknown`` outcome by reading the vendor: never by re-sending it.
"""

from __future__ import annotations

import datetime as dt

import attrs

from .._audit import AuditEntry
from .._candidates.records import CandidateState
from .._candidates.states import CandidateEvent
from .._candidates.workflow import CandidateWorkflow
from .._evaluation import EvaluationPolicy
from .._plugins import Spoke
from .._scheduling import run_lock
from .._spokes import ReclaimResult, ReclaimStatus, SpokeContext
from .._store import Store
from .records import ReclaimAction

__all__ = [
    "REQUESTED",
    "ReconcileReport",
    "ResolvedReclaim",
    "confirm_reclaim",
    "one_line",
    "reconcile_reclaims",
    "recover_locked",
    "settle_action",
]

#: Status of a reclaim action between the request and its seen outcome.
REQUESTED = "requested"


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
            f"({one_line(exc)}): outcome unknown",
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
