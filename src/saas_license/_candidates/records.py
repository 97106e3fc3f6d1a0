"""Removal candidates: seats proposed for reclaim, and the states they move through."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import attrs

__all__ = ["OPEN_STATES", "CandidateState", "Justification", "RemovalCandidate", "UserResponse"]


class CandidateState(str, enum.Enum):
    """States of a removal candidate (see docs/candidates.md for the transitions)."""

    ATTENTION_REQUIRED = "attention_required"
    READY = "ready"
    AWAITING_USER = "awaiting_user"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_REVOCATION = "awaiting_revocation"
    CLOSED_COMPLETE = "closed_complete"
    CLOSED_SKIPPED = "closed_skipped"
    CLOSED_CANCELED = "closed_canceled"

    @property
    def is_closed(self) -> bool:
        """Closed states are final."""
        return self.value.startswith("closed_")


OPEN_STATES = frozenset(s for s in CandidateState if not s.is_closed)


class Justification(str, enum.Enum):
    """Why a seat was proposed for reclaim (the reference's list, plus our own ``manual``)."""

    LOW_USAGE = "low_usage"  # idle longer than its rule allows (rules' candidates)
    UNALLOCATED = "unallocated"  # uses rights its profile or group was not allocated
    UNLICENSED = "unlicensed"  # no right covers it (remediation "create candidates")
    RESTRICTED_SOFTWARE = "restricted_software"  # the organisation does not allow the product
    MANUAL = "manual"  # proposed by hand, no further reason recorded


class UserResponse(str, enum.Enum):
    """What the seat's user answered to a reclaim notice."""

    KEEP = "keep"
    FOREGO = "forego"


@attrs.frozen(kw_only=True)
class RemovalCandidate:
    """A seat proposed for reclaim, with the evidence that put it there and how it went since.

    ``recipient`` is who is notified (the seat's user by default), ``approver`` who decides a
    "keep" request (an address, or an approver group's name; ``approver_source`` says which). ``keep_until`` is the cooldown: no new candidate for the seat before then.
    Money is ``Decimal`` in ``currency``; ``actual_savings`` is set when the seat is reclaimed.
    """

    subscription_id: int
    profile: str
    external_user_id: str
    user_principal_name: str
    identifier: str
    software_model: str | None
    state: CandidateState
    inactive_days: int
    last_activity: dt.datetime | None
    opened_at: dt.datetime
    rule_id: int | None = None
    justification: Justification = Justification.LOW_USAGE
    notify_user: bool = False
    closed_at: dt.datetime | None = None
    message: str = ""
    potential_savings: Decimal | None = None
    id: int | None = None
    # -- lifecycle (issue 4) ---------------------------------------------------------------
    updated_at: dt.datetime | None = None
    recipient: str | None = None
    approver: str | None = None
    notified_at: dt.datetime | None = None
    reminded_at: dt.datetime | None = None
    respond_by: dt.datetime | None = None
    response: UserResponse | None = None
    responded_at: dt.datetime | None = None
    decided_by: str | None = None
    keep_until: dt.datetime | None = None
    reclaim_id: int | None = None
    reclaimed_at: dt.datetime | None = None
    undo_until: dt.datetime | None = None
    undone_at: dt.datetime | None = None
    currency: str | None = None
    actual_savings: Decimal | None = None
    # -- people (issue 12) -----------------------------------------------------------------
    #: Where ``approver`` came from: ``rule``, ``manager``, ``rule_group`` or ``profile_group``.
    approver_source: str | None = None
    #: When the approver's answer links expire (set when the "keep" goes to approval).
    approval_due: dt.datetime | None = None
    #: Set when the seat, reclaimed and confirmed, was listed again by a later download: the
    #: reclaim did not hold, so it is never counted as saved.
    reappeared_at: dt.datetime | None = None

    @property
    def is_open(self) -> bool:
        """True until the candidate reaches a closed state."""
        return not self.state.is_closed

    @property
    def reclaimed(self) -> bool:
        """True when the seat was taken back, the reclaim has not been undone and the seat did
        not reappear."""
        return (
            self.state is CandidateState.CLOSED_COMPLETE
            and self.undone_at is None
            and self.reappeared_at is None
        )
