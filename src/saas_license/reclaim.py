"""Reclaim plans: exactly what a run would take back, from whom, and what it would save."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

from .candidates import CandidateState, RemovalCandidate
from .subscriptions import Subscription

__all__ = ["PLANNABLE_STATES", "PlanItem", "ReclaimPlan"]

#: Candidates in these states are reclaimed by the next applied run.
PLANNABLE_STATES = frozenset({CandidateState.READY, CandidateState.AWAITING_REVOCATION})


@attrs.frozen(kw_only=True)
class PlanItem:
    """One seat the plan would reclaim."""

    candidate: RemovalCandidate
    subscription: Subscription
    action: str
    potential_savings: Decimal | None = None


@attrs.frozen(kw_only=True)
class ReclaimPlan:
    """What applying would do. ``reclaim_enabled`` False means detect-only: nothing would run."""

    profile: str
    created_at: dt.datetime
    items: tuple[PlanItem, ...]
    reclaim_enabled: bool
    dry_run: bool = True

    @property
    def total_potential_savings(self) -> Decimal | None:
        """Sum of the items' savings, or None when no unit cost is known for any of them."""
        known = [i.potential_savings for i in self.items if i.potential_savings is not None]
        return sum(known, Decimal(0)) if known else None

    def __len__(self) -> int:
        return len(self.items)
