"""Software models (the products seats are for) and the identifiers that map to none."""

from __future__ import annotations

import datetime as dt

import attrs

__all__ = ["SoftwareModel", "UnrecognizedIdentifier"]


@attrs.frozen(kw_only=True)
class SoftwareModel:
    """The product a seat is for; created automatically for identifiers the spoke knows."""

    name: str
    publisher: str
    paid: bool = True
    created_at: dt.datetime | None = None


@attrs.frozen(kw_only=True)
class UnrecognizedIdentifier:
    """A subscription identifier that maps to no software model, so its seats cannot be
    reconciled or reclaimed until someone maps it (``ws.subscriptions.map_identifier``)."""

    identifier: str
    subscriptions: int
    profiles: dict[str, int] = attrs.Factory(dict)
