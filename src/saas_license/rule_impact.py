"""What a reclamation rule change would do: how many seats would become removal candidates.

A change with a big effect must say so before it is stored: a rule that would turn seats of a
*free* software model into candidates, or more than :data:`BIG_CHANGE_SHARE` of a profile's
active seats, is refused with :class:`BigChangeError` unless the caller confirms it
(``allow_big_change=True`` in Python; a confirmation or ``--yes`` on the CLI).
"""

from __future__ import annotations

import datetime as dt

import attrs

from .candidates import OPEN_STATES
from .errors import ConfigError
from .evaluation import EvaluationPolicy, assess
from .profiles import IntegrationProfile
from .rules import ExclusionRule, ReclamationRule
from .store import Store
from .subscriptions import Subscription

__all__ = [
    "BIG_CHANGE_SHARE",
    "VERDICT_FIELDS",
    "BigChangeError",
    "RuleImpact",
    "may_add_candidates",
    "rule_impact",
]

#: A rule change that would make more than this share of one profile's active seats new
#: candidates needs confirmation (documented in docs/rules.md).
BIG_CHANGE_SHARE = 0.10


@attrs.frozen(kw_only=True)
class RuleImpact:
    """Seats that would *become* candidates (idle now under the new rule, not under the old one,
    no open candidate yet), per profile, with each profile's active seats."""

    software_model: str
    free_model: bool
    new_candidates: dict[str, int]
    seats: dict[str, int]

    @property
    def total(self) -> int:
        """New candidates over every profile."""
        return sum(self.new_candidates.values())

    @property
    def big(self) -> bool:
        """Whether the change needs confirmation: free seats, or more than the share of a profile."""
        if self.free_model and self.total > 0:
            return True
        return any(
            n > BIG_CHANGE_SHARE * self.seats.get(p, 0) for p, n in self.new_candidates.items()
        )

    def describe(self) -> str:
        """One line: ``N seats would become candidates`` and why that is big."""
        parts = ", ".join(
            f"{p}: {n} of {self.seats.get(p, 0)} seats" for p, n in self.new_candidates.items() if n
        )
        why = (
            f"{self.software_model!r} is a free model"
            if self.free_model
            else f"more than {BIG_CHANGE_SHARE:.0%} of a profile's seats"
        )
        return f"{self.total} seats would become candidates ({parts}; {why})"


class BigChangeError(ConfigError):
    """A rule change would turn many (or free) seats into candidates; confirm it to go ahead."""

    def __init__(self, impact: RuleImpact) -> None:
        super().__init__(
            impact.describe(),
            field="reclamation_rule",
            hint="confirm with allow_big_change=True (CLI: answer yes, or pass --yes)",
        )
        self.impact = impact


#: The fields of a reclamation rule that decide whether a seat is idle; a change to any other
#: field (notices, approver, cooldown…) cannot add candidates and is not measured.
VERDICT_FIELDS = (
    "active",
    "filter",
    "inactivity_days",
    "new_account_grace_days",
    "create_candidates",
)


def may_add_candidates(before: ReclamationRule | None, after: ReclamationRule) -> bool:
    """Whether going from ``before`` to ``after`` could make any seat newly idle."""
    if before is None:
        return after.active and after.create_candidates
    return any(getattr(before, f) != getattr(after, f) for f in VERDICT_FIELDS)


def rule_impact(
    store: Store,
    rule: ReclamationRule,
    *,
    now: dt.datetime,
    policy: EvaluationPolicy,
    free_model: bool = False,
) -> RuleImpact:
    """Count the seats of ``rule``'s model that it would newly make idle, profile by profile,
    with the same :func:`~saas_license.evaluation.assess` the daily run uses."""
    before = store.get_reclamation_rule(rule.software_model)
    exclusions = store.list_exclusion_rules()
    new: dict[str, int] = {}
    seats: dict[str, int] = {}
    for prof in store.list_profiles():
        already = {c.subscription_id for c in store.list_candidates(prof.name, states=OPEN_STATES)}
        cooldowns = store.cooldowns(prof.name, now=now)
        count = total = 0
        for sub in store.iter_subscriptions(prof.name, active_only=True):
            total += 1
            if sub.software_model != rule.software_model or sub.id in already:
                continue

            args = (sub, prof, exclusions, now, policy, cooldowns.get(sub.id))
            old = {rule.software_model: before} if before is not None else {}
            if _idle(*args, {rule.software_model: rule}) and not _idle(*args, old):
                count += 1
        new[prof.name] = count
        seats[prof.name] = total
    return RuleImpact(
        software_model=rule.software_model, free_model=free_model, new_candidates=new, seats=seats
    )


def _idle(
    sub: Subscription,
    prof: IntegrationProfile,
    exclusions: list[ExclusionRule],
    now: dt.datetime,
    policy: EvaluationPolicy,
    cooldown_until: dt.datetime | None,
    rules: dict[str, ReclamationRule],
) -> bool:
    return assess(
        sub,
        now=now,
        profile_type=prof.profile_type,
        exclusions=exclusions,
        rules=rules,
        integration_user_id=prof.integration_user_id,
        policy=policy,
        cooldown_until=cooldown_until,
    ).idle
