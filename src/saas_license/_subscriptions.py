"""Seats as the spoke reports them (records) and as the store keeps them (subscriptions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

__all__ = [
    "ActivityRecord",
    "CurrentUser",
    "KnownIdentifier",
    "Subscription",
    "SubscriptionRecord",
    "SubscriptionRow",
]


@attrs.frozen(kw_only=True)
class SubscriptionRecord:
    """One user holding one seat type, as a spoke yields it during download.

    ``attributes`` carries whatever else rules may filter on (administrator flag, roles,
    identity provider, group…); values must be JSON-compatible.
    """

    external_user_id: str
    user_principal_name: str
    identifier: str
    display_name: str = ""
    last_activity: dt.datetime | None = None
    external_created: dt.datetime | None = None
    assigned_at: dt.datetime | None = None
    attributes: dict[str, Any] = attrs.Factory(dict)
    #: Fields the vendor did not report, or reported in a form that cannot be trusted (e.g.
    #: ``"administrator"``, ``"last_activity"``). An unknown protective field (see
    #: ``SpokeInfo.protective_fields``) never counts as "not protected"; an unknown
    #: ``last_activity`` never counts as "never active" (``last_activity=None`` with
    #: ``"last_activity"`` absent from this set means the vendor says: never active).
    unknown: frozenset[str] = frozenset()

    @property
    def is_administrator(self) -> bool:
        """Whether the vendor marks this user as an administrator of the account."""
        return bool(self.attributes.get("administrator"))


@attrs.frozen(kw_only=True)
class CurrentUser:
    """A user as the vendor reports them *right now*: the fresh facts the core re-assesses right
    before every reclaim and reads again right after it to confirm the outcome.

    ``exists`` is False when the vendor no longer knows the user; ``seats`` are the seats the
    user holds now (empty for a disabled user), with the same fields as a download's records.
    """

    external_user_id: str
    exists: bool = True
    seats: tuple[SubscriptionRecord, ...] = ()


@attrs.frozen(kw_only=True)
class ActivityRecord:
    """When one user was last active, as the activity process reports it (None = never)."""

    external_user_id: str
    last_activity: dt.datetime | None
    user_principal_name: str | None = None
    source: str = "vendor"


@attrs.frozen(kw_only=True)
class KnownIdentifier:
    """A subscription identifier the spoke understands and the software model it maps to."""

    identifier: str
    software_model: str
    publisher: str
    paid: bool = True
    description: str = ""


@attrs.frozen(kw_only=True)
class Subscription:
    """A seat as stored: the vendor's record plus what the library learned about it."""

    id: int
    profile: str
    external_user_id: str
    user_principal_name: str
    identifier: str
    software_model: str | None
    display_name: str = ""
    last_activity: dt.datetime | None = None
    activity_checked_at: dt.datetime | None = None
    external_created: dt.datetime | None = None
    assigned_at: dt.datetime | None = None
    first_seen_at: dt.datetime | None = None
    last_seen_at: dt.datetime | None = None
    active: bool = True
    attributes: dict[str, Any] = attrs.Factory(dict)
    #: As :attr:`SubscriptionRecord.unknown`, as of the latest download.
    unknown: frozenset[str] = frozenset()

    @property
    def is_administrator(self) -> bool:
        """Whether the vendor marks this user as an administrator of the account."""
        return bool(self.attributes.get("administrator"))


@attrs.frozen(kw_only=True)
class SubscriptionRow:
    """One seat as ``ws.subscriptions.rows()`` lists it: the stored subscription, how many days
    it has been inactive, and what the exclusion rules keep it out of.

    ``inactive_days`` counts from the last activity (from the creation or assignment date for a
    seat never used, as evaluation does); None when nothing tells. ``excluded_from`` is a sorted
    subset of ``("cost", "reclaim")``. ``reconciled`` and ``unlicensed`` are what the last
    saved reconciliation said: counted against rights, and counted but covered by none.
    """

    subscription: Subscription
    inactive_days: int | None
    excluded_from: tuple[str, ...] = ()
    reconciled: bool = False
    unlicensed: bool = False

    @property
    def excluded(self) -> bool:
        """True when some exclusion rule covers the seat (from cost, reclaim or both)."""
        return bool(self.excluded_from)
