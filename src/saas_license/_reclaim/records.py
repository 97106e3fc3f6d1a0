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
    "PlanBasis",
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
class PlanBasis:
    """What a plan item's decision rested on, kept with the stored item: the candidate's state
    and the seat's holder and activity when the plan was made. Apply refuses an item whose seat
    moved on since (another holder, activity seen or lost), whatever the re-check says."""

    state: CandidateState
    external_user_id: str
    identifier: str
    last_activity: dt.datetime | None = None
    activity_checked_at: dt.datetime | None = None

    @classmethod
    def of(cls, candidate: RemovalCandidate, seat: Subscription) -> PlanBasis:
        """The basis of a decision made now on ``candidate`` and its ``seat``."""
        return cls(
            state=candidate.state,
            external_user_id=seat.external_user_id,
            identifier=seat.identifier,
            last_activity=seat.last_activity,
            activity_checked_at=seat.activity_checked_at,
        )


@attrs.frozen(kw_only=True)
class PlanItem:
    """One seat the plan acts on: reclaim it, or notify its user first.

    ``action`` is the human description (the spoke's reclaim effect, e.g. "disable user", or
    "notify user"); ``kind`` is what apply does. An item read from a stored plan shows its
    candidate and seat as they are *now*; ``basis`` is what the plan saw (:meth:`planned`).
    """

    candidate: RemovalCandidate
    subscription: Subscription
    action: str
    potential_savings: Decimal | None = None
    kind: PlanAction = PlanAction.RECLAIM
    currency: str | None = None
    #: The candidate's state and the seat's holder and activity at plan time (None: an item
    #: whose ``candidate`` and ``subscription`` are themselves the plan-time copies).
    basis: PlanBasis | None = None

    def planned(self) -> PlanBasis:
        """What the plan saw of this item (what apply compares the seat with before acting)."""
        return self.basis or PlanBasis.of(self.candidate, self.subscription)


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
