"""The removal-candidate state machine, as pure functions: which event moves which state where.

Nothing here touches a store. :func:`transition` returns the new candidate *and* the audit entry
that records the move, so a driver that persists one without the other is easy to spot.
See docs/candidates.md for the diagram.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs

from .._audit import AuditEntry
from .._convert import converter
from .._errors import SaasLicenseError
from .records import CandidateState, RemovalCandidate

__all__ = [
    "TRANSITIONS",
    "CandidateEvent",
    "InvalidTransitionError",
    "Route",
    "initial_state",
    "next_state",
    "transition",
]

S = CandidateState


class CandidateEvent(str, enum.Enum):
    """Everything that can happen to an open candidate."""

    RESOLVE = "resolve"  # attention required → ready (recipient filled in, error fixed)
    START = "start"  # ready → awaiting user (notice sent) or awaiting revocation ("Reclaim")
    KEEP = "keep"  # the user wants to keep the seat
    FOREGO = "forego"  # the user does not need the seat
    TIMEOUT = "timeout"  # the user did not answer in time: reclaim anyway
    APPROVE = "approve"  # the approver lets the reclaim go ahead despite "keep"
    DECLINE = "decline"  # the approver lets the user keep the seat
    UNROUTABLE = "unroutable"  # a "keep" has no approver to go to: a person must look
    RECLAIMED = "reclaimed"  # the vendor freed the seat
    RECLAIM_FAILED = "reclaim_failed"  # the vendor call failed: a person must look
    RECLAIM_REFUSED = "reclaim_refused"  # the spoke refused (administrator, own user…)
    CLOSE_COMPLETE = "close_complete"  # freed by hand (vendors without a reclaim API)
    ACTIVITY_RETURNED = "activity_returned"  # the user was active again: never reclaim
    PROTECTED = "protected"  # now excluded, an administrator or the integration user
    VANISHED = "vanished"  # the seat is gone from the vendor
    SKIP = "skip"  # closed by hand without reclaiming
    PROFILE_DELETED = "profile_deleted"  # the profile was deleted


#: Events every open state accepts, and where they lead.
_ANY_OPEN: dict[CandidateEvent, CandidateState] = {
    CandidateEvent.ACTIVITY_RETURNED: S.CLOSED_CANCELED,
    CandidateEvent.PROTECTED: S.CLOSED_SKIPPED,
    CandidateEvent.VANISHED: S.CLOSED_SKIPPED,
    CandidateEvent.SKIP: S.CLOSED_SKIPPED,
    CandidateEvent.PROFILE_DELETED: S.CLOSED_SKIPPED,
}

#: The transition table. START and KEEP have two targets; :func:`next_state` picks one.
TRANSITIONS: Mapping[CandidateState, Mapping[CandidateEvent, CandidateState]] = {
    S.ATTENTION_REQUIRED: {**_ANY_OPEN, CandidateEvent.RESOLVE: S.READY},
    S.READY: {**_ANY_OPEN, CandidateEvent.START: S.AWAITING_REVOCATION},
    S.AWAITING_USER: {
        **_ANY_OPEN,
        CandidateEvent.KEEP: S.AWAITING_APPROVAL,
        CandidateEvent.FOREGO: S.AWAITING_REVOCATION,
        CandidateEvent.TIMEOUT: S.AWAITING_REVOCATION,
    },
    S.AWAITING_APPROVAL: {
        **_ANY_OPEN,
        CandidateEvent.APPROVE: S.AWAITING_REVOCATION,
        CandidateEvent.DECLINE: S.CLOSED_CANCELED,
        CandidateEvent.UNROUTABLE: S.ATTENTION_REQUIRED,
    },
    S.AWAITING_REVOCATION: {
        **_ANY_OPEN,
        # A seat that vanished while awaiting revocation was removed, as intended.
        CandidateEvent.VANISHED: S.CLOSED_COMPLETE,
        CandidateEvent.RECLAIMED: S.CLOSED_COMPLETE,
        CandidateEvent.RECLAIM_FAILED: S.ATTENTION_REQUIRED,
        CandidateEvent.RECLAIM_REFUSED: S.CLOSED_SKIPPED,
        CandidateEvent.CLOSE_COMPLETE: S.CLOSED_COMPLETE,
    },
    S.CLOSED_COMPLETE: {},
    S.CLOSED_SKIPPED: {},
    S.CLOSED_CANCELED: {},
}


class InvalidTransitionError(SaasLicenseError):
    """The event is not allowed in the candidate's current state (closed states accept none)."""


@attrs.frozen(kw_only=True)
class Route:
    """The rule settings that decide between the two targets of START and KEEP."""

    notify_user: bool = False
    days_before_auto_reclaim: int = 7
    keep_requires_approval: bool = True

    @property
    def asks_user(self) -> bool:
        """START sends a notice and waits for an answer (otherwise it goes straight to revocation)."""
        return self.notify_user and self.days_before_auto_reclaim > 0


def initial_state(*, notify_user: bool, recipient: str | None) -> CandidateState:
    """Where a new candidate starts: attention required when a notice has nobody to go to."""
    if notify_user and not (recipient and "@" in recipient):
        return S.ATTENTION_REQUIRED
    return S.READY


def next_state(
    state: CandidateState, event: CandidateEvent, route: Route = Route()
) -> CandidateState:
    """The state ``event`` leads to from ``state``; raises :class:`InvalidTransitionError`."""
    target = TRANSITIONS[state].get(event)
    if target is None:
        allowed = ", ".join(sorted(e.value for e in TRANSITIONS[state])) or "none (closed is final)"
        raise InvalidTransitionError(
            f"a candidate in state {state.value!r} cannot take {event.value!r}",
            hint=f"events allowed in {state.value}: {allowed}",
        )
    if event is CandidateEvent.START and route.asks_user:
        return S.AWAITING_USER
    if event is CandidateEvent.KEEP and not route.keep_requires_approval:
        return S.CLOSED_CANCELED
    return target


def _plain(value: Any) -> Any:
    return converter.unstructure(value)


def transition(
    candidate: RemovalCandidate,
    event: CandidateEvent,
    *,
    now: dt.datetime,
    actor: str,
    reason: str = "",
    route: Route = Route(),
    **changes: Any,
) -> tuple[RemovalCandidate, AuditEntry]:
    """Move ``candidate`` by ``event``; returns the new candidate and its audit entry.

    ``changes`` are other fields to set in the same step (``respond_by``, ``message``…); they
    are recorded in the entry's ``after``. Closing stamps ``closed_at``.
    """
    if candidate.id is None:
        raise InvalidTransitionError("only a stored candidate (with an id) can change state")
    new_state = next_state(candidate.state, event, route)
    fields: dict[str, Any] = {"state": new_state, "updated_at": now, **changes}
    if new_state.is_closed:
        fields["closed_at"] = now
    if reason and "message" not in changes:
        fields["message"] = reason
    updated = attrs.evolve(candidate, **fields)
    entry = AuditEntry(
        at=now,
        actor=actor,
        action=f"candidate.{event.value}",
        entity="candidate",
        entity_id=str(candidate.id),
        profile=candidate.profile,
        before={"state": candidate.state.value},
        after={"state": new_state.value, **{k: _plain(v) for k, v in changes.items()}},
        detail=reason,
    )
    return updated, entry
