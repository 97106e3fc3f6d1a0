"""Reclaims verified by the next download: a seat that comes back is flagged, never counted saved.

The core confirms each reclaim with a fresh read right after it (:mod:`.confirm`). That read can
be wrong or overtaken: a spoke or vendor that answers from a cache, an identity provider that
re-provisions the user, an administrator who re-enables them by hand. So every confirmed reclaim
is watched until the first complete download after it. If that download does not list the seat,
the reclaim is *verified*; if it lists it again, the reclaim *reappeared*: its reclaim action
and candidates are flagged, the audit names the seat and the reclaim, the run reports it, and
savings show it as reappeared instead of saved.
"""

from __future__ import annotations

import datetime as dt
import logging

import attrs

from .._audit import AuditEntry
from .._candidates.workflow import CandidateWorkflow
from .._store import Store
from .._subscriptions import Subscription
from .records import ReclaimAction

__all__ = ["REAPPEARED", "Reappearance", "VerificationReport", "verify_reclaims"]

log = logging.getLogger("saas_license.reclaim")

#: Audit action of a reclaimed seat listed again by a later download.
REAPPEARED = "vendor.reclaim.reappeared"


@attrs.frozen(kw_only=True)
class Reappearance:
    """One confirmed reclaim whose seats a later download listed again."""

    reclaim_id: int
    external_user_id: str
    user_principal_name: str
    identifiers: tuple[str, ...]
    subscription_ids: tuple[int, ...]
    candidate_ids: tuple[int, ...]
    reclaimed_at: dt.datetime

    def __str__(self) -> str:
        return (
            f"{self.user_principal_name or self.external_user_id} "
            f"{', '.join(self.identifiers)}: reclaim {self.reclaim_id} of "
            f"{self.reclaimed_at:%Y-%m-%d %H:%M} UTC reappeared"
        )


@attrs.frozen(kw_only=True)
class VerificationReport:
    """What one complete download said about the reclaims it was the first to see after."""

    verified: int = 0
    reappeared: tuple[Reappearance, ...] = ()
    #: Reclaims left for a later download (this one had quarantined records: it cannot vouch
    #: that a seat is gone when the record naming it may have been set aside).
    pending: int = 0


def verify_reclaims(
    store: Store,
    workflow: CandidateWorkflow,
    profile: str,
    *,
    seen_at: dt.datetime,
    run_id: str,
    trusted: bool = True,
    actor: str = "system",
) -> VerificationReport:
    """Check every confirmed, not yet verified reclaim of ``profile`` made before the complete
    download that stored its seats at ``seen_at``.

    A seat that download listed (active again, last seen at ``seen_at``) reappeared: the action
    and its candidates get ``reappeared_at`` and the audit gets a :data:`REAPPEARED` entry naming
    the seats and the reclaim. Otherwise the reclaim is verified (``verified_at``) and no longer
    watched, unless ``trusted`` is False (the download quarantined records), when absence proves
    nothing and it stays pending.
    """
    now = workflow.clock()
    verified = pending = 0
    found: list[Reappearance] = []
    for action in store.reclaims_to_verify(profile):
        if action.at > seen_at:
            continue  # made after this download began: the next one checks it
        subs = [s for s in (store.get_subscription(i) for i in action.subscription_ids) if s]
        back = [
            s for s in subs if s.active and s.last_seen_at is not None and s.last_seen_at >= seen_at
        ]
        if not back:
            if trusted:
                store.update_reclaim_action(attrs.evolve(action, verified_at=now))
                verified += 1
            else:
                pending += 1
            continue
        found.append(_flag(store, workflow, action, back, run_id=run_id, now=now, actor=actor))
    for r in found[:20]:
        log.warning("a reclaimed seat reappeared: %s", r)
    return VerificationReport(verified=verified, reappeared=tuple(found), pending=pending)


def _flag(
    store: Store,
    workflow: CandidateWorkflow,
    action: ReclaimAction,
    back: list[Subscription],
    *,
    run_id: str,
    now: dt.datetime,
    actor: str,
) -> Reappearance:
    seats = back
    back_ids = {s.id for s in seats}
    identifiers = tuple(sorted({s.identifier for s in seats}))
    upn = seats[0].user_principal_name if seats else ""
    candidates = [
        c
        for c in (store.get_candidate(cid) for cid in action.candidate_ids)
        if c is not None and c.subscription_id in back_ids
    ]
    detail = (
        f"{upn or action.external_user_id}: {', '.join(identifiers)} listed again by the download "
        f"of run {run_id} after reclaim {action.id} ({action.status} at "
        f"{action.at:%Y-%m-%d %H:%M} UTC); not counted as saved"
    )
    with store.transaction():
        store.update_reclaim_action(attrs.evolve(action, reappeared_at=now))
        store.append_audit(
            AuditEntry(
                at=now,
                actor=actor,
                action=REAPPEARED,
                entity="user",
                entity_id=action.external_user_id,
                profile=action.profile,
                before={"reclaim_id": action.id, "status": action.status},
                after={
                    "reclaim_id": action.id,
                    "identifiers": list(identifiers),
                    "subscription_ids": sorted(back_ids),
                    "candidate_ids": [c.id for c in candidates],
                    "run_id": run_id,
                },
                detail=detail,
            )
        )
        for c in candidates:
            workflow.annotate(
                c,
                "reappeared",
                actor=actor,
                detail=f"reclaim {action.id}: the seat reappeared in run {run_id}",
                reappeared_at=now,
            )
    return Reappearance(
        reclaim_id=action.id or 0,
        external_user_id=action.external_user_id,
        user_principal_name=upn,
        identifiers=identifiers,
        subscription_ids=tuple(sorted(back_ids)),
        candidate_ids=tuple(c.id or 0 for c in candidates),
        reclaimed_at=action.at,
    )
