"""Removal candidates: seats proposed for reclaim, and the states they move through."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import attrs

__all__ = ["OPEN_STATES", "CandidateState", "Justification", "RemovalCandidate"]


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
    """Why a seat was proposed for reclaim."""

    LOW_USAGE = "low_usage"
    UNLICENSED = "unlicensed"


@attrs.frozen(kw_only=True)
class RemovalCandidate:
    """A seat proposed for reclaim, with the evidence that put it there."""

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

    @property
    def is_open(self) -> bool:
        """True until the candidate reaches a closed state."""
        return not self.state.is_closed
