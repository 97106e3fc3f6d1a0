"""Showback: what each department or cost centre holds, uses and leaves idle, and what it costs.

Built beside the reconciliation with its definitions: a seat counts when it is active, mapped to
a software model and not excluded from cost (directory-based exclusions included); it is idle
when its days without activity reach its model's inactivity threshold (or it was never used);
money is per year at the model's unit price (the average annual cost of the rights in use).
Seats whose user the directory does not know are their own row, :data:`NOT_IN_DIRECTORY`:
they are shown, never guessed into a department.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import attrs

from .._errors import ConfigError
from .._rules import ExclusionRule, first_exclusion
from .._subscriptions import Subscription
from .._tables import Table
from .._time import days_between
from .pricing import PriceBook
from .reconciliation import DEFAULT_INACTIVITY_DAYS

__all__ = [
    "NOT_IN_DIRECTORY",
    "NO_VALUE",
    "SHOWBACK_DIMENSIONS",
    "Showback",
    "ShowbackRow",
    "compute_showback",
]

#: What a showback can be broken down by: a person's fact in the directory.
SHOWBACK_DIMENSIONS = ("department", "cost_center")
#: The row of seats whose user is not in the directory.
NOT_IN_DIRECTORY = "(not in directory)"
#: The row of seats whose person has no value for the dimension (e.g. no cost centre).
NO_VALUE = "(none)"

COLUMNS = (
    "group",
    "currency",
    "people",
    "seats",
    "active_seats",
    "idle_seats",
    "excluded_seats",
    "cost",
    "idle_cost",
)


@attrs.frozen(kw_only=True)
class ShowbackRow:
    """One department (or cost centre) in one currency: its people, counted seats (active and
    idle), seats excluded from cost, and the yearly cost of its seats and of its idle seats.

    ``currency`` is None for seats of models without a price (their cost is None); a group
    holding priced and unpriced seats has a row for each.
    """

    group: str
    currency: str | None
    people: int
    seats: int
    active_seats: int
    idle_seats: int
    excluded_seats: int
    cost: Decimal | None
    idle_cost: Decimal | None


@attrs.frozen(kw_only=True)
class Showback:
    """Reconciliation's seats and money broken down by ``by`` (a directory fact), as of ``as_of``."""

    by: str
    as_of: dt.datetime
    rows: tuple[ShowbackRow, ...]

    def row(self, group: str, currency: str | None = None) -> ShowbackRow | None:
        """The row of ``group`` (in ``currency`` when the workspace prices in several)."""
        for r in self.rows:
            if r.group == group and (currency is None or r.currency == currency):
                return r
        return None

    def table(self) -> Table:
        """The rows as a :class:`Table` (``showback_<by>``), for reports, CSV and JSON."""
        label = "department" if self.by == "department" else "cost centre"
        return Table(
            name=f"showback_{self.by}",
            columns=COLUMNS,
            rows=tuple(tuple(getattr(r, c) for c in COLUMNS) for r in self.rows),
            title=f"Showback by {label}",
            as_of=self.as_of,
            note=f"{NOT_IN_DIRECTORY}: seats whose user the directory does not know; money per year",
        )


def check_dimension(by: str) -> str:
    """``by`` if a showback can be broken down by it, else a clear error."""
    if by not in SHOWBACK_DIMENSIONS:
        raise ConfigError(
            f"{by!r} is not a showback dimension",
            field="showback.by",
            hint="use one of " + ", ".join(SHOWBACK_DIMENSIONS),
        )
    return by


@attrs.define
class _Acc:
    people: set[str] = attrs.Factory(set)
    seats: int = 0
    idle: int = 0
    excluded: int = 0
    cost: Decimal = Decimal("0.00")
    idle_cost: Decimal = Decimal("0.00")


def compute_showback(
    seats: Iterable[Subscription],
    *,
    by: str,
    exclusions: Sequence[ExclusionRule],
    profile_types: Mapping[str, str],
    prices: PriceBook,
    now: dt.datetime,
    timezone: str = "UTC",
    inactivity_days: Mapping[str, int] | None = None,
) -> Showback:
    """Break the counted seats down by ``by``; ``seats`` carry their person's ``directory.*``
    facts (see :func:`saas_license._directory.facts.with_directory`)."""
    check_dimension(by)
    thresholds = inactivity_days or {}
    price_of: dict[str, tuple[Decimal | None, str | None]] = {}
    groups: dict[tuple[str, str | None], _Acc] = defaultdict(_Acc)
    for seat in seats:
        if not seat.active or seat.software_model is None:
            continue
        model = seat.software_model
        facts = seat.attributes
        if "directory.email" in facts:
            group = str(facts.get(f"directory.{by}") or NO_VALUE)
        else:
            group = NOT_IN_DIRECTORY
        if model not in price_of:
            found = prices.unit_price(model, at=now)
            price_of[model] = (found.amount, found.currency) if found else (None, None)
        price, currency = price_of[model]
        acc = groups[(group, currency)]
        if first_exclusion(exclusions, seat, profile_types.get(seat.profile), reclaim=False):
            acc.excluded += 1
            continue
        acc.people.add(str(facts.get("directory.email") or seat.user_principal_name).casefold())
        acc.seats += 1
        days = (
            None
            if seat.last_activity is None
            else max(0, days_between(seat.last_activity, now, timezone))
        )
        idle = days is None or days >= thresholds.get(model, DEFAULT_INACTIVITY_DAYS)
        if idle:
            acc.idle += 1
        if price is not None:
            acc.cost += price
            if idle:
                acc.idle_cost += price
    rows = [
        ShowbackRow(
            group=group,
            currency=currency,
            people=len(acc.people),
            seats=acc.seats,
            active_seats=acc.seats - acc.idle,
            idle_seats=acc.idle,
            excluded_seats=acc.excluded,
            cost=None if currency is None else acc.cost,
            idle_cost=None if currency is None else acc.idle_cost,
        )
        for (group, currency), acc in groups.items()
    ]
    # the directory's groups by name; the seats it does not know, then no value, last
    rows.sort(
        key=lambda r: (
            r.group in (NO_VALUE, NOT_IN_DIRECTORY),
            r.group == NOT_IN_DIRECTORY,
            r.group.casefold(),
            r.currency or "",
        )
    )
    return Showback(by=by, as_of=now, rows=tuple(rows))
