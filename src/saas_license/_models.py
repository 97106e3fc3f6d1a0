"""Software models and unrecognized identifiers, as the workspace reports them."""

from __future__ import annotations

import attrs

__all__ = ["UnrecognizedIdentifier"]


@attrs.frozen(kw_only=True)
class UnrecognizedIdentifier:
    """A subscription identifier that maps to no software model, so its seats cannot be
    reconciled or reclaimed until someone maps it (``Workspace.map_identifier``)."""

    identifier: str
    subscriptions: int
    profiles: dict[str, int] = attrs.Factory(dict)
