"""Checks on what a spoke hands the core, before anything is stored (issue 8, item 3).

A record the core cannot trust (empty ids, naive or future timestamps, attributes that are not
JSON, a non-boolean ``administrator``, the same seat twice) is *quarantined*: kept in a table
with the spoke, user and field named, shown by ``jobs``, and never allowed to close or change
the seat it refers to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from ._attributes_text import checked_text
from ._subscriptions import ActivityRecord, SubscriptionRecord

__all__ = [
    "CLOCK_SKEW",
    "BoundaryCheck",
    "QuarantinedRecord",
    "activity_problem_with",
    "problem_with",
]

_UTC = dt.timezone.utc

#: How far in the future a vendor timestamp may be (clock skew) before it is refused.
CLOCK_SKEW = dt.timedelta(minutes=5)


@attrs.frozen(kw_only=True)
class QuarantinedRecord:
    """One spoke record the core refused, and why (naming the spoke, the user and the field)."""

    profile: str
    run_id: str
    at: dt.datetime
    spoke: str
    external_user_id: str
    identifier: str
    field: str
    reason: str
    id: int | None = None

    def __str__(self) -> str:
        user = self.external_user_id or "(no id)"
        return f"spoke {self.spoke!r}, user {user}, field {self.field}: {self.reason}"


def _json_ok(value: dict[str, Any]) -> bool:
    try:
        checked_text(value)  # the text the store then writes, encoded once
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def problem_with(
    record: Any, *, now: dt.datetime, protective_fields: Iterable[str] = ("administrator",)
) -> tuple[str, str] | None:
    """The first reason ``record`` cannot be trusted, as ``(field, reason)``; None if it is fine."""
    if not isinstance(record, SubscriptionRecord):
        return "record", f"expected a SubscriptionRecord, got {type(record).__name__}"
    for field in ("external_user_id", "user_principal_name", "identifier"):
        value = getattr(record, field)
        if not isinstance(value, str) or not value.strip():
            return field, f"empty or not text ({value!r})"
    limit = now + CLOCK_SKEW
    for field in ("last_activity", "external_created", "assigned_at"):
        value = getattr(record, field)
        if value is None:
            continue
        if not isinstance(value, dt.datetime):
            return field, f"not a datetime ({type(value).__name__})"
        if value.tzinfo is not _UTC and (value.tzinfo is None or value.utcoffset() is None):
            return field, f"naive timestamp {value.isoformat()} (no time zone)"
        if value > limit:
            return field, f"in the future ({value.isoformat()})"
    if not isinstance(record.attributes, dict) or not _json_ok(record.attributes):
        return "attributes", "not a JSON object (only text, numbers, booleans, lists, objects)"
    # what is unknown first: the protective fields are read through it
    if not isinstance(record.unknown, frozenset) or not all(
        isinstance(f, str) for f in record.unknown
    ):
        return "unknown", "not a set of field names"
    for field in protective_fields:
        if field in record.attributes and field not in record.unknown:
            value = record.attributes[field]
            if not isinstance(value, bool):
                return field, f"not true or false ({value!r})"
    return None


def activity_problem_with(record: Any, *, now: dt.datetime) -> tuple[str, str] | None:
    """As :func:`problem_with`, for one record of the activity hook."""
    if not isinstance(record, ActivityRecord):
        return "record", f"expected an ActivityRecord, got {type(record).__name__}"
    if not isinstance(record.external_user_id, str) or not record.external_user_id.strip():
        return "external_user_id", f"empty or not text ({record.external_user_id!r})"
    value: Any = record.last_activity  # typed, but spokes are third-party code
    if value is not None:
        if not isinstance(value, dt.datetime):
            return "last_activity", f"not a datetime ({type(value).__name__})"
        if value.tzinfo is None or value.utcoffset() is None:
            return "last_activity", f"naive timestamp {value.isoformat()} (no time zone)"
        if value > now + CLOCK_SKEW:
            return "last_activity", f"in the future ({value.isoformat()})"
    return None


class BoundaryCheck:
    """Filters one download's records: trusted ones pass, the others are kept in
    :attr:`quarantined` (with :attr:`seen` the seats they name, which must stay open)."""

    def __init__(
        self,
        *,
        spoke: str,
        profile: str,
        run_id: str,
        now: dt.datetime,
        protective_fields: Iterable[str] = ("administrator",),
    ) -> None:
        self.spoke, self.profile, self.run_id, self.now = spoke, profile, run_id, now
        self.protective_fields = tuple(protective_fields)
        self._limit = now + CLOCK_SKEW
        #: ``unknown`` sets already found to be sets of names, by identity (held, so an id is
        #: never reused): spokes share a few such sets between all their records.
        self._names: dict[int, frozenset[str]] = {}
        self.quarantined: list[QuarantinedRecord] = []
        self._keys: set[int] = set()  # hashes of (user, identifier): memory per seat stays small

    def _refuse(self, record: Any, field: str, reason: str) -> None:
        user = getattr(record, "external_user_id", "")
        ident = getattr(record, "identifier", "")
        self.quarantined.append(
            QuarantinedRecord(
                profile=self.profile,
                run_id=self.run_id,
                at=self.now,
                spoke=self.spoke,
                external_user_id=user if isinstance(user, str) else repr(user),
                identifier=ident if isinstance(ident, str) else repr(ident),
                field=field,
                reason=reason,
            )
        )

    @property
    def seen(self) -> list[tuple[str, str]]:
        """(user, identifier) of the quarantined records that name a seat."""
        return [
            (q.external_user_id, q.identifier)
            for q in self.quarantined
            if q.external_user_id.strip() and q.identifier.strip()
        ]

    def _plainly_fine(self, record: Any) -> bool:
        """True only for a record :func:`problem_with` finds nothing wrong with, checked in one
        pass for the common shape (exact types, UTC instants); False means "ask problem_with"."""
        if type(record) is not SubscriptionRecord:
            return False
        user, principal, ident = (
            record.external_user_id,
            record.user_principal_name,
            record.identifier,
        )
        if not (
            type(user) is str
            and type(principal) is str
            and type(ident) is str
            and user.strip()
            and principal.strip()
            and ident.strip()
        ):
            return False
        limit = self._limit
        for value in (record.last_activity, record.external_created, record.assigned_at):
            if value is not None and not (
                type(value) is dt.datetime and value.tzinfo is _UTC and value <= limit
            ):
                return False
        attributes, unknown = record.attributes, record.unknown
        if type(attributes) is not dict or not _json_ok(attributes):
            return False
        if type(unknown) is not frozenset or self._names.get(id(unknown)) is not unknown:
            if type(unknown) is not frozenset or not all(type(f) is str for f in unknown):
                return False  # (None, a list…: problem_with names it)
            if len(self._names) < 1024:  # bounded: a spoke may make a new set per record
                self._names[id(unknown)] = unknown
        for field in self.protective_fields:
            if field in attributes and field not in unknown and type(attributes[field]) is not bool:
                return False
        return True

    def filter(self, records: Iterable[Any]) -> Iterator[SubscriptionRecord]:
        """Yield the records the core can trust; quarantine the rest."""
        for record in records:
            if not self._plainly_fine(record):
                problem = problem_with(
                    record, now=self.now, protective_fields=self.protective_fields
                )
                if problem is not None:
                    self._refuse(record, *problem)
                    continue
            key = hash((record.external_user_id, record.identifier))
            if key in self._keys:
                self._refuse(record, "identifier", "the same seat twice in one download")
                continue
            self._keys.add(key)
            yield record

    def filter_activity(self, records: Iterable[Any]) -> Iterator[ActivityRecord]:
        """Yield the activity records the core can trust; quarantine the rest."""
        for record in records:
            problem = activity_problem_with(record, now=self.now)
            if problem is not None:
                self._refuse(record, *problem)
                continue
            yield record
