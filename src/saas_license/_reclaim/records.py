"""Reclaim plans: exactly what a run would take back, from whom, and what it would save.

A plan is built read-only (a dry run), stored under an id, and ``apply`` executes *that* plan:
never more, and each item only after the safety checks pass again.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from decimal import Decimal
from typing import Any

import attrs

from .._candidates.records import CandidateState, RemovalCandidate
from .._subscriptions import Subscription

__all__ = [
    "PLANNABLE_STATES",
    "HeldItem",
    "PlanAction",
    "PlanItem",
    "ReclaimAction",
    "ReclaimPlan",
]

#: Candidates in these states can be acted on by an applied plan (awaiting user only once its
#: answer period has run out).
PLANNABLE_STATES = frozenset(
    {CandidateState.READY, CandidateState.AWAITING_REVOCATION, CandidateState.AWAITING_USER}
)


class PlanAction(str, enum.Enum):
    """What applying does to one item."""

    RECLAIM = "reclaim"  # call the spoke to take the seat back
    NOTIFY = "notify"  # send the user a notice; the reclaim waits for the answer or the deadline


@attrs.frozen(kw_only=True)
class PlanItem:
    """One seat the plan acts on: reclaim it, or notify its user first.

    ``action`` is the human description (the spoke's reclaim effect, e.g. "disable user", or
    "notify user"); ``kind`` is what apply does.
    """

    candidate: RemovalCandidate
    subscription: Subscription
    action: str
    potential_savings: Decimal | None = None
    kind: PlanAction = PlanAction.RECLAIM
    currency: str | None = None


@attrs.frozen(kw_only=True)
class HeldItem:
    """An open candidate the plan does *not* act on, and why (shown so nothing is a surprise)."""

    candidate: RemovalCandidate
    reason: str


@attrs.frozen(kw_only=True)
class ReclaimPlan:
    """What applying would do. ``reclaim_enabled`` False means detect-only: nothing would run.

    ``id`` is set once the plan is stored; ``apply`` takes that id and refuses a plan past
    ``expires_at`` or one already applied.
    """

    profile: str
    created_at: dt.datetime
    items: tuple[PlanItem, ...]
    reclaim_enabled: bool
    dry_run: bool = True
    id: str | None = None
    expires_at: dt.datetime | None = None
    held: tuple[HeldItem, ...] = ()

    @property
    def reclaims(self) -> tuple[PlanItem, ...]:
        """The items that call the vendor."""
        return tuple(i for i in self.items if i.kind is PlanAction.RECLAIM)

    @property
    def notices(self) -> tuple[PlanItem, ...]:
        """The items that only notify their user."""
        return tuple(i for i in self.items if i.kind is PlanAction.NOTIFY)

    @property
    def savings_by_currency(self) -> dict[str, Decimal]:
        """Potential savings of the reclaim items, summed per currency (unknown prices left out)."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        for item in self.reclaims:
            if item.potential_savings is not None:
                out[item.currency or ""] += item.potential_savings
        return dict(out)

    @property
    def total_potential_savings(self) -> Decimal | None:
        """Sum of the reclaim items' savings, or None when no unit cost is known for any of them.

        Mixing currencies makes no sense: with more than one, use :attr:`savings_by_currency`.
        """
        known = [i.potential_savings for i in self.reclaims if i.potential_savings is not None]
        return sum(known, Decimal(0)) if known else None

    def __len__(self) -> int:
        return len(self.items)


@attrs.frozen(kw_only=True)
class ReclaimAction:
    """One vendor call that reclaimed (and maybe later restored) one user's seats.

    A spoke like Aha! frees every seat of a user at once, so one action closes all of that
    user's planned candidates together; undo restores them together.
    """

    profile: str
    external_user_id: str
    at: dt.datetime
    status: str
    candidate_ids: tuple[int, ...]
    subscription_ids: tuple[int, ...]
    actor: str = "user"
    plan_id: str | None = None
    message: str = ""
    before: dict[str, Any] = attrs.Factory(dict)
    after: dict[str, Any] = attrs.Factory(dict)
    undo_until: dt.datetime | None = None
    undone_at: dt.datetime | None = None
    undo_message: str = ""
    id: int | None = None
    #: When the first complete download after the reclaim no longer listed its seats.
    verified_at: dt.datetime | None = None
    #: When a later download listed its seats again (see ``_reclaim/reappearance.py``).
    reappeared_at: dt.datetime | None = None
