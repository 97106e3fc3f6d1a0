"""Who approves a "keep": the rule's approver, else the seat's manager, else the rule's approver
group, else the profile's (the seed's assignment group, "Software managers").

Pure: given the rule, the seat's attributes, the profile's group and the group directory, the
answer is always the same. A route with nobody to send to is *unroutable*, with the reason.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = ["DEFAULT_APPROVER_GROUP", "ApproverRoute", "ApproverSource", "route_approval"]

#: The profile's approver group unless it names another (the seed's assignment group).
DEFAULT_APPROVER_GROUP = "Software managers"


class ApproverSource(str, enum.Enum):
    """Where the approver came from, in the order they are tried."""

    RULE = "rule"  # the reclamation rule's approver
    MANAGER = "manager"  # the seat's ``manager`` attribute
    RULE_GROUP = "rule_group"  # the reclamation rule's approver group
    PROFILE_GROUP = "profile_group"  # the profile's approver group


@attrs.frozen(kw_only=True)
class ApproverRoute:
    """Where a "keep" request goes: ``approver`` (a person's address or a group's name), the
    addresses notified (``recipients``), and where it came from. ``reason`` explains an empty
    route (``routable`` False)."""

    approver: str | None
    source: ApproverSource | None
    recipients: tuple[str, ...] = ()
    reason: str = ""

    @property
    def routable(self) -> bool:
        """True when the request has somebody to go to."""
        return bool(self.recipients)

    @property
    def label(self) -> str:
        """How a person reads it: the address, or "<group> (group)"."""
        if self.approver is None:
            return "nobody"
        if self.source in (ApproverSource.RULE_GROUP, ApproverSource.PROFILE_GROUP):
            return f"{self.approver} (group)"
        return self.approver


def _address(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text if "@" in text and not any(ch.isspace() for ch in text) else None


def route_approval(
    *,
    rule_approver: str | None,
    manager: Any,
    rule_group: str | None,
    profile_group: str | None,
    groups: Mapping[str, Sequence[str]],
) -> ApproverRoute:
    """The approver of one candidate, first match wins: the rule's approver, the seat's manager
    attribute, the rule's approver group, the profile's approver group.

    A person must be an e-mail address; a group must exist with at least one member. A group
    named but empty (or missing) stops the search with the reason: falling through to a wider
    group would ask people the organisation did not choose.
    """
    person = _address(rule_approver)
    if person:
        return ApproverRoute(approver=person, source=ApproverSource.RULE, recipients=(person,))
    boss = _address(manager)
    if boss:
        return ApproverRoute(approver=boss, source=ApproverSource.MANAGER, recipients=(boss,))
    for name, source in (
        (rule_group, ApproverSource.RULE_GROUP),
        (profile_group, ApproverSource.PROFILE_GROUP),
    ):
        if not name:
            continue
        members = tuple(m for m in (_address(x) for x in groups.get(name, ())) if m)
        if members:
            return ApproverRoute(approver=name, source=source, recipients=members)
        where = "the reclamation rule's" if source is ApproverSource.RULE_GROUP else "the profile's"
        return ApproverRoute(
            approver=name,
            source=source,
            reason=f"approval cannot be routed: {where} approver group {name!r} has no members",
        )
    return ApproverRoute(
        approver=None,
        source=None,
        reason="approval cannot be routed: no rule approver, no manager on the seat and no approver group",
    )
