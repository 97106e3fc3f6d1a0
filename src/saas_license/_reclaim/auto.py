"""Automatic reclaim: opt-in per profile, bounded, and only for candidates whose outcome is decided.

The scheduled run first resolves every reclaim of ``unknown`` outcome (by reading the vendor,
never by re-sending), then builds a plan and keeps only the *decided* items — the holder released
the seat, an approver approved the reclaim, or the answer deadline passed without an answer —
and applies it through the same fresh re-check as a plan applied by hand, with a cap per run
and per day, halting after repeated vendor failures. The audit's actor is ``scheduler``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs

from .._candidates.records import CandidateState, RemovalCandidate
from .._errors import ConfigError
from .records import PlanAction, PlanItem, ReclaimAction, ReclaimPlan

__all__ = [
    "SCHEDULER_ACTOR",
    "AutoReclaimPolicy",
    "AutoReclaimPreview",
    "AutoReclaimReport",
    "decided",
    "decided_items",
    "reclaimed_today",
]

#: The audit actor of everything the scheduled run does by itself.
SCHEDULER_ACTOR = "scheduler"


def _count(field: str, low: int, high: int):  # type: ignore[no-untyped-def]
    def check(_inst: object, _attr: object, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(
                f"{value!r} is out of range",
                field=f"auto_reclaim.{field}",
                hint=f"use a whole number from {low} to {high}",
            )

    return check


@attrs.frozen(kw_only=True)
class AutoReclaimPolicy:
    """A profile's automatic reclaim: off by default. When on, each scheduled run reclaims at
    most ``max_per_run`` seats and ``max_per_day`` per UTC day, and stops after
    ``halt_after_failures`` vendor failures in a row. ``send_notices`` lets the run also send
    the notices of ready candidates whose rule asks the user first (answerable links)."""

    enabled: bool = False
    max_per_run: int = attrs.field(default=10, validator=_count("max_per_run", 1, 10_000))
    max_per_day: int = attrs.field(default=50, validator=_count("max_per_day", 1, 100_000))
    halt_after_failures: int = attrs.field(
        default=3, validator=_count("halt_after_failures", 1, 100)
    )
    send_notices: bool = True


@attrs.frozen(kw_only=True)
class AutoReclaimPreview:
    """What the next scheduled run would do for one profile (``validate`` shows it)."""

    profile: str
    policy: AutoReclaimPolicy
    would_reclaim: tuple[int, ...]
    would_notify: tuple[int, ...]
    left_today: int
    unknown_outcomes: int
    reason: str = ""

    def describe(self) -> str:
        """One paragraph for a person."""
        if not self.policy.enabled:
            return "automatic reclaim is off: nothing is reclaimed without a person applying a plan"
        if self.reason:
            return f"automatic reclaim is on but would do nothing now: {self.reason}"
        parts = [
            f"automatic reclaim is on (at most {self.policy.max_per_run} seats a run, "
            f"{self.policy.max_per_day} a day; {self.left_today} left today)"
        ]
        if self.unknown_outcomes:
            parts.append(f"it first settles {self.unknown_outcomes} reclaim(s) of unknown outcome")
        parts.append(
            f"the next run would reclaim {min(len(self.would_reclaim), self.left_today, self.policy.max_per_run)}"
            f" of {len(self.would_reclaim)} decided seat(s)"
        )
        if self.policy.send_notices:
            parts.append(f"and send {len(self.would_notify)} notice(s)")
        return "; ".join(parts)


@attrs.frozen(kw_only=True)
class AutoReclaimReport:
    """What one automatic reclaim of one profile did (``status``: ``off``, ``done``, ``halted``,
    ``capped`` (the day's cap was reached before it started), ``failed`` or ``busy``)."""

    profile: str
    status: str
    reclaimed: int = 0
    notified: int = 0
    unknown_settled: int = 0
    outcomes: dict[str, int] = attrs.Factory(dict)
    plan_id: str | None = None
    message: str = ""


def decided(candidate: RemovalCandidate, now: dt.datetime) -> bool:
    """True when a person (or the deadline) decided the seat goes: released, approved, or no
    answer by the deadline. A ready candidate nobody was asked about is never decided."""
    if candidate.state is CandidateState.AWAITING_REVOCATION:
        return True
    return (
        candidate.state is CandidateState.AWAITING_USER
        and candidate.respond_by is not None
        and candidate.respond_by <= now
    )


def decided_items(plan: ReclaimPlan, now: dt.datetime) -> tuple[PlanItem, ...]:
    """The reclaim items of ``plan`` whose outcome is decided (:func:`decided`)."""
    return tuple(
        i for i in plan.items if i.kind is PlanAction.RECLAIM and decided(i.candidate, now)
    )


def reclaimed_today(actions: Iterable[ReclaimAction], now: dt.datetime) -> int:
    """Seats the scheduler asked a vendor to free since the start of ``now``'s UTC day."""
    start = now.astimezone(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return sum(
        len(a.subscription_ids) for a in actions if a.actor == SCHEDULER_ACTOR and a.at >= start
    )
