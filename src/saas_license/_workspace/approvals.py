"""Approver groups and who approves each candidate (``ws.approvals``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._candidates.approvers import DEFAULT_APPROVER_GROUP, ApproverRoute
from .._errors import ConfigError
from ._change import changing

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Approvals"]

_GROUPS = "approver_groups"
_PROFILE_GROUP = "approver_group:"


class Approvals:
    """Approver groups (name → members' addresses), each profile's group, and the approver a
    candidate's "keep" goes to (``ws.approvals``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Every approver group and its members."""
        raw = self._ws.store.get_meta(_GROUPS)
        data = json.loads(raw) if raw else {}
        return {str(k): tuple(v) for k, v in sorted(data.items())}

    def set_group(
        self, name: str, members: Iterable[str], *, actor: str = "user"
    ) -> tuple[str, ...]:
        """Create or replace an approver group; members are e-mail addresses (an empty list
        leaves the group with nobody: approvals routed to it wait in attention required)."""
        label = name.strip() if isinstance(name, str) else ""
        if not label or any(ord(ch) < 32 for ch in label):
            raise ConfigError(f"{name!r} is not a group name", field="approver_group")
        cleaned: list[str] = []
        for member in members:
            text = str(member).strip()
            if "@" not in text or any(ch.isspace() for ch in text):
                raise ConfigError(
                    f"{member!r} is not an e-mail address",
                    field=f"approver_group {label!r} member",
                )
            if text not in cleaned:
                cleaned.append(text)
        groups = self.groups()
        before = groups.get(label)
        groups[label] = tuple(cleaned)
        with changing(
            self._ws,
            "approver_group.set",
            "approver_group",
            entity_id=label,
            before=None if before is None else {"members": list(before)},
            actor=actor,
        ) as change:
            self._ws.store.set_meta(_GROUPS, json.dumps({k: list(v) for k, v in groups.items()}))
            change.done(label, after={"members": cleaned})
        return tuple(cleaned)

    def delete_group(self, name: str, *, actor: str = "user") -> bool:
        """Forget an approver group; True if it existed."""
        groups = self.groups()
        before = groups.pop(name, None)
        if before is None:
            return False
        with changing(
            self._ws,
            "approver_group.deleted",
            "approver_group",
            entity_id=name,
            before={"members": list(before)},
            actor=actor,
        ) as change:
            self._ws.store.set_meta(_GROUPS, json.dumps({k: list(v) for k, v in groups.items()}))
            change.done(name)
        return True

    def profile_group(self, profile: str) -> str:
        """The approver group of ``profile`` (default "Software managers")."""
        return self._ws.store.get_meta(_PROFILE_GROUP + profile) or DEFAULT_APPROVER_GROUP

    def set_profile_group(self, profile: str, group: str, *, actor: str = "user") -> None:
        """Make ``group`` the approver group of ``profile`` (used when neither the rule nor the
        seat names an approver)."""
        self._ws.profiles.get(profile)
        if not isinstance(group, str) or not group.strip():
            raise ConfigError(f"{group!r} is not a group name", field="approver_group")
        before = self.profile_group(profile)
        with changing(
            self._ws,
            "profile.approver_group",
            "profile",
            entity_id=profile,
            before={"approver_group": before},
            profile=profile,
            actor=actor,
        ) as change:
            self._ws.store.set_meta(_PROFILE_GROUP + profile, group.strip())
            change.done(profile, after={"approver_group": group.strip()})

    def route(self, candidate_id: int) -> ApproverRoute:
        """Who a "keep" on ``candidate_id`` would go to now, or why nobody."""
        workflow = self._ws.candidates.workflow
        return workflow.approver_route(workflow.get(candidate_id))
