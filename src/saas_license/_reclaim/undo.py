"""Undoing a reclaim: give back the seats of one vendor call, within the undo window.

Only reclaims this library made can be undone (not seats that were already free). The restore
is audited before and after the vendor call; restored seats get a cooldown so the next run does
not propose them again.
"""

from __future__ import annotations

import datetime as dt

import attrs

from .._audit import AuditEntry
from .._candidates.records import CandidateState
from .._candidates.workflow import CandidateWorkflow
from .._errors import ProfileStateError
from .._plugins import Spoke
from .._scheduling import run_lock
from .._spokes import ReclaimResult, ReclaimStatus, SpokeContext
from .._store import Store
from .._subscriptions import Subscription
from .records import ReclaimAction

__all__ = ["UndoResult", "undo_reclaim"]


@attrs.frozen(kw_only=True)
class UndoResult:
    """The result of undoing one reclaim (all seats of that vendor call)."""

    status: ReclaimStatus
    message: str
    candidate_ids: tuple[int, ...]
    reclaim_id: int


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
