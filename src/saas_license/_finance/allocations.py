"""Allocations: part of a company-wide entitlement set aside for one profile or one group of users.

Allocated rights cover their profile's or group's seats before any company-wide right does,
and are reserved: rights allocated but not in use are not lent to anyone else. A group of
users is a list of principal-name patterns (``*`` and ``?``, case-insensitive, as in
exclusion rules); a directory department is the seam for a group kept by a user directory
(refused until one is configured).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

import attrs

from .._errors import ConfigError
from .._rules import ExclusionRule
from .entitlements import MAX_RIGHTS, Entitlement, EntitlementState, local_date

__all__ = ["Allocation", "EffectiveAllocation", "effective_allocations", "group_of"]


def _rights(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RIGHTS:
        raise ConfigError(
            f"{value!r} is not a number of rights to allocate",
            field="allocation.rights",
            hint=f"use a whole number from 1 to {MAX_RIGHTS:,}",
        )
    return value


def _users(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(
            f"{value!r} is not a list of user principal names or patterns",
            field="allocation.users",
            hint="e.g. ['ana@corp.com', '*@design.corp.com']",
        )
    out = []
    for item in value:
        text = str(item).strip().lower() if isinstance(item, str) else ""
        if not text:
            raise ConfigError(
                f"{item!r} is not a user principal name or pattern",
                field="allocation.users",
                hint="give names such as 'ana@corp.com' or patterns such as '*@design.corp.com'",
            )
        out.append(text)
    return tuple(dict.fromkeys(out))


def _optional(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@attrs.frozen(kw_only=True)
class Allocation:
    """``rights`` of a company-wide entitlement set aside for one target: a ``profile``, a
    group of ``users`` (principal names or ``*``/``?`` patterns) or a directory ``department``.

    Exactly one target is given. The allocation's model is its entitlement's.
    """

    entitlement_id: int
    rights: int = attrs.field(converter=_rights)
    profile: str | None = attrs.field(default=None, converter=_optional)
    users: tuple[str, ...] = attrs.field(default=(), converter=_users)
    department: str | None = attrs.field(default=None, converter=_optional)
    name: str = ""
    id: int | None = None

    def __attrs_post_init__(self) -> None:
        targets = sum(1 for t in (self.profile, self.users, self.department) if t)
        if targets != 1:
            raise ConfigError(
                "an allocation needs exactly one target",
                field="allocation",
                hint="give a profile, a list of users, or a department",
            )

    @property
    def target(self) -> str:
        """What the rights are set aside for, in words."""
        if self.profile:
            return f"profile {self.profile}"
        if self.department:
            return f"department {self.department}"
        return "users " + ", ".join(self.users)

    @property
    def is_group(self) -> bool:
        """True for a group of users (principal names or patterns), not a profile."""
        return bool(self.users)

    def member(self, user_principal_name: str) -> bool:
        """Whether a seat with this principal name belongs to the allocation's group of users."""
        return any(
            ExclusionRule(kind="user", value=p).matches(_Name(user_principal_name))
            for p in self.users
        )


@attrs.frozen
class _Name:
    user_principal_name: str
    identifier: str = ""
    attributes: dict[str, object] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class EffectiveAllocation:
    """An allocation as it counts on one day: its model and the rights its entitlement still
    holds for it (allocations of one entitlement are served in id order, up to its rights)."""

    allocation: Allocation
    software_model: str
    rights: int


def effective_allocations(
    allocations: Iterable[Allocation],
    entitlements: Sequence[Entitlement],
    at: dt.datetime,
    timezone: str,
) -> list[EffectiveAllocation]:
    """The allocations that count at ``at``: of a company-wide entitlement in use, with rights
    left to give (none allocate more than their entitlement holds), in id order."""
    day = local_date(at, timezone)
    ents = {
        e.id: e
        for e in entitlements
        if e.id is not None and e.profile is None and e.state_on(day) is EntitlementState.IN_USE
    }
    left: dict[int, int] = defaultdict(int)
    for ent_id, ent in ents.items():
        left[ent_id] = ent.purchased_rights
    out = []
    for alloc in sorted(allocations, key=lambda a: (a.id is None, a.id or 0)):
        source = ents.get(alloc.entitlement_id)
        if source is None or alloc.department:  # department groups need a user directory
            continue
        rights = min(alloc.rights, left[alloc.entitlement_id])
        if rights <= 0:
            continue
        left[alloc.entitlement_id] -= rights
        out.append(
            EffectiveAllocation(
                allocation=alloc, software_model=source.software_model, rights=rights
            )
        )
    return out


def group_of(
    groups: Sequence[EffectiveAllocation], software_model: str, user_principal_name: str
) -> int:
    """The id of the first group allocation (by id) of the model the user belongs to, else 0."""
    for eff in groups:
        if eff.software_model == software_model and eff.allocation.member(user_principal_name):
            return eff.allocation.id or 0
    return 0
